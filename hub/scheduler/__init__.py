"""Scheduled jobs: the SDK jobs are written with, and the scheduler that runs them.

A job module needs only this package::

    from hub.scheduler import JobContext, job, minutes

    @job("hall.pull_applications", every=minutes(1), adapter="provincial_hall",
         publishes=("case.submitted",))
    def pull_applications(ctx: JobContext) -> None:
        for application in ctx.adapter.applications_since(ctx.cursor.get()):
            ctx.publish("case.submitted", to_case(application), key=application.sblsh)
            ctx.cursor.advance(application.submitted_at)

and an entry point in the group ``govhub.jobs`` naming it. The scheduler itself lives
in :mod:`hub.scheduler.scheduler` (clock), :mod:`hub.scheduler.runner` (runs),
:mod:`hub.store.jobs` (the guarantees) and :mod:`hub.scheduler.catalog` (config).
"""

from __future__ import annotations

from hub.scheduler.context import Counts, Cursor, JobCancelled, JobContext, JobServices
from hub.scheduler.spec import JobSpec, Misfire, Trigger, days, hours, job, minutes, seconds
from hub.scheduler.sync import pull

__all__ = [
    "Counts",
    "Cursor",
    "JobCancelled",
    "JobContext",
    "JobServices",
    "JobSpec",
    "Misfire",
    "Trigger",
    "days",
    "hours",
    "job",
    "minutes",
    "pull",
    "seconds",
]
