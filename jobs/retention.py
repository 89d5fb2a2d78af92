"""``hub.retention``: forget delivered messages and old run logs, daily."""

from __future__ import annotations

import datetime as dt

from hub.scheduler import JobContext, Misfire, hours, job


@job(
    "hub.retention",
    cron="30 3 * * *",
    timeout=hours(1),
    misfire=Misfire.RUN_ONCE,
    settings={
        "keep_messages_days": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 90,
            "description": "Delivered (and unrouted) messages older than this are deleted.",
        },
        "keep_runs_days": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 30,
            "description": "Job runs (with their logs) older than this are deleted.",
        },
        "include_unrouted": {"type": "boolean", "default": True},
    },
)
def retention(ctx: JobContext) -> None:
    """Delete delivered messages and job runs past their age; never undelivered or dead ones."""
    now = ctx.now()
    message_days = ctx.settings["keep_messages_days"]
    run_days = ctx.settings["keep_runs_days"]
    messages = ctx.store.messages.purge(
        before=now - dt.timedelta(days=message_days),
        include_unrouted=ctx.settings["include_unrouted"],
        between_batches=ctx.check,
    )
    ctx.log.info("deleted %d finished message(s) older than %g days", messages, message_days)
    runs = ctx.store.runs.purge_runs(now - dt.timedelta(days=run_days))
    ctx.log.info("deleted %d job run(s) older than %g days", runs, run_days)
