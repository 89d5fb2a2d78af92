"""``supervision.evaluate``: case clocks kept up to date and watched (电子监察), every 5 min.

Each run first folds every case event accepted since the last run into its case's record
(the events were stored with their messages, so a crash anywhere loses none), then reads
every open case's clock at the run's due time: a case that has used ``warn_ratio`` of its
committed limit (``[supervision]``, 0.8) turns yellow and ``supervision.warning`` is
published; one past its due day turns red and ``supervision.overdue`` is published. Each
is published once per case and due day (keyed by both), however many runs see it; routes
take them to the supervision office's system. Closed cases are never read.
"""

from __future__ import annotations

from typing import Any

from hub.scheduler import JobContext, job, minutes

__all__ = ["evaluate"]


@job(
    "supervision.evaluate",
    every=minutes(5),
    publishes=("supervision.warning", "supervision.overdue"),
    timeout=minutes(5),
    settings={
        "page": {
            "type": "integer",
            "minimum": 100,
            "maximum": 20000,
            "default": 2000,
            "description": "Open cases read per page of the evaluation.",
        },
    },
)
def evaluate(ctx: JobContext) -> None:
    """Case records catch up with their events; open cases' lights are evaluated and warned of."""
    clocks = ctx.cases
    if clocks is None:
        raise RuntimeError("this hub keeps no case clocks")
    moment = ctx.due_at
    taken = clocks.catch_up(moment, check=ctx.check)
    ctx.count_read(taken)

    def notify(message_type: str, payload: dict[str, Any], key: str) -> bool:
        # Called from several threads at once (their commits share fsyncs); what they did
        # is logged below, from the run's own thread, where the run log collects it.
        return ctx.publish(message_type, payload, key=key).created

    result = clocks.evaluate(moment, notify, check=ctx.check, page=ctx.settings["page"])
    ctx.log.info(
        "%d event(s) taken in; %d open case(s) evaluated at %s: %d changed, %d warned,"
        " %d overdue, %d item(s) found in the catalogue since",
        taken,
        result.examined,
        moment.isoformat(),
        result.changed,
        result.warnings,
        result.overdue,
        result.bound,
    )
