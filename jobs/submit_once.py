"""``submit_once.retry``: cases that reached their department "not enriched" are looked up again.

When the e-license library or the identity service could not answer while a case was on
its way to its department, the case went out marked ``submit_once.status =
not_enriched`` and its row waits here (``[submit_once]``, see
``hub.pipeline.enrichment``). Each run looks up the cases whose retry time has come
(waits double from ``retry_initial_s`` up to ``retry_max_s``); a case now enriched
becomes ``case.enriched`` (keyed by its case number, so it is published once), which the
routes take to the department with the licences it can reuse. A case whose counterpart
is still down waits for the next round: nothing is given up.
"""

from __future__ import annotations

from hub.scheduler import JobContext, job, minutes

__all__ = ["retry"]


@job(
    "submit_once.retry",
    every=minutes(5),
    publishes=("case.enriched",),
    timeout=minutes(5),
    settings={
        "batch": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "default": 100,
            "description": "Cases looked up again per run.",
        },
    },
)
def retry(ctx: JobContext) -> None:
    """Cases delivered not enriched are looked up again; those enriched become case.enriched."""
    step = ctx.submit_once
    if step is None:
        ctx.log.info("no [submit_once] in the configuration: nothing to retry")
        return
    for waiting in ctx.store.enrichments.due(ctx.now(), limit=ctx.settings["batch"]):
        ctx.check()
        ctx.count_read()
        view = ctx.store.messages.get(waiting.message_id)
        if view is None:  # removed by retention: the case is long closed
            ctx.count_failed(reason=f"case {waiting.case_no}: its message is gone")
            continue
        done = step.look_up(view.envelope, attempts=waiting.attempts + 1)
        if done.status != "enriched":
            ctx.log.info("case %s still not enriched (%s)", done.case_no, done.result.get("reason"))
            continue
        payload = {
            "case_no": done.case_no,
            "item_code": str(view.envelope.payload.get("item_code", "")),
            "reused": done.result.get("reused", []),
            "enriched_at": done.result["checked_at"],
        }
        if "identity" in done.result:
            payload["identity"] = done.result["identity"]
        published = ctx.publish("case.enriched", payload, key=f"submit-once:{done.case_no}")
        step.published(done, published.message_id)
        ctx.log.info(
            "case %s enriched: %d material(s) reused", done.case_no, len(payload["reused"])
        )
