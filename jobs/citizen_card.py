"""``citizen_card.sync_status``: card status changes from the citizen card platform, every 30 min.

The platform's feed of changes (lost, frozen, cancelled, active again) is read from the
job's cursor (the platform's change sequence) and each change is published as
``citizen_card.status_changed``, keyed by the platform's change id and correlated by card
number, so one card's changes reach subscribers in order and a re-read stores nothing twice.
"""

from __future__ import annotations

from hub.scheduler import JobContext, job, minutes, pull


@job(
    "citizen_card.sync_status",
    every=minutes(30),
    adapter="citizen_card",
    publishes=("citizen_card.status_changed",),
    timeout=minutes(10),
    settings={
        "batch": {
            "type": "integer",
            "minimum": 1,
            "maximum": 500,
            "default": 200,
            "description": "Changes read per request (the platform gives at most 500).",
        },
    },
)
def sync_status(ctx: JobContext) -> None:
    """Card status changes on the citizen card platform become citizen_card.status_changed."""
    pull(ctx, "status_changes", limit=ctx.settings["batch"])
