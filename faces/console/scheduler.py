"""The scheduler as the ops console sees it (``app.extensions[JOBS_EXTENSION]``).

The console (built apart from the scheduler) reads jobs through a small protocol,
``faces.console.jobs.JobsView``: ``jobs()``, ``job()``, ``runs()``, ``run()``, ``run_now()``,
``pause()``, ``resume()``, ``heartbeat_age_s()`` and ``heartbeat_limit_s``. This module
implements it over the job catalog, returning the console's own records (``JobView``,
``JobRunView``, ``JobLogLine``). The console writes the audit trail for what it does, so
nothing is audited twice.

Only jobs that schedulers run (enabled, with their destination configured) are shown;
the REST API and ``govhub jobs list`` show the others too, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from faces.console.jobs import JobLogLine as LogLine
from faces.console.jobs import JobRunView as Run
from faces.console.jobs import JobView as Job
from hub.core.clock import parse_time
from hub.store.job_records import RunView

if TYPE_CHECKING:
    from hub.runtime import Hub

__all__ = ["ConsoleJobs"]


class ConsoleJobs:
    """The console's view of this hub's jobs.

    Args:
        hub: The hub whose catalog (and scheduler, when it runs here) is shown.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.heartbeat_limit_s = max(10.0, 5 * hub.jobs.settings.poll_interval_s)

    def jobs(self) -> Sequence[Job]:
        """Every job schedulers run, by id."""
        catalog = self._hub.jobs
        return [self._job(job_id) for job_id in sorted(catalog.jobs) if catalog.jobs[job_id].active]

    def job(self, job_id: str) -> Job | None:
        """One job, or ``None``."""
        found = self._hub.jobs.jobs.get(job_id)
        return self._job(job_id) if found is not None and found.active else None

    def runs(self, job_id: str, *, limit: int = 20) -> Sequence[Run]:
        """A job's runs, newest first, without their log lines."""
        page = self._hub.jobs.runs(job_id, limit=limit)
        return [_run(run, with_log=False) for run in page.items]

    def run(self, run_id: str) -> Run | None:
        """One run with its log lines."""
        found = self._hub.jobs.run(run_id)
        return _run(found, with_log=True) if found is not None else None

    def run_now(self, job_id: str, *, actor: str) -> str | None:
        """Queue a run now (even while paused); its id.

        Raises:
            KeyError: No job schedulers run is called that.
        """
        self._active(job_id)
        run = self._hub.jobs.request_run(job_id, actor=actor, audit=False)
        if self._hub.scheduler is not None:
            self._hub.scheduler.wake()
        return run.id

    def pause(self, job_id: str, *, actor: str) -> None:
        """Stop scheduling the job (a run in progress finishes)."""
        self._active(job_id)
        self._hub.jobs.pause(job_id, actor=actor, audit=False)

    def resume(self, job_id: str, *, actor: str) -> None:
        """Schedule the job again."""
        self._active(job_id)
        self._hub.jobs.resume(job_id, actor=actor, audit=False)

    def heartbeat_age_s(self) -> float | None:
        """Seconds since this node's scheduler last turned; ``None`` if none runs here."""
        scheduler = self._hub.scheduler
        if scheduler is None:
            return None
        return max(0.0, time.monotonic() - scheduler.runner.heartbeat)

    def health(self) -> dict[str, Any] | None:
        """For ``/readyz``: the scheduler's own judgement; ``None`` if none runs here."""
        scheduler = self._hub.scheduler
        return scheduler.health() if scheduler is not None else None

    def _active(self, job_id: str) -> None:
        if not self._hub.jobs.get(job_id).active:
            raise KeyError(job_id)

    def _job(self, job_id: str) -> Job:
        catalog = self._hub.jobs
        [view] = catalog.describe([job_id])
        last = catalog.run(view["last_run"]["id"]) if view["last_run"] else None
        return Job(
            id=job_id,
            description=view["description"],
            schedule=view["schedule"]["text"],
            trigger=view["schedule"],
            timezone=view["timezone"],
            paused=view["paused"],
            next_due=parse_time(view["next_due"]) if view["next_due"] else None,
            last_run=_run(last, with_log=False) if last is not None else None,
            late=catalog.late(job_id),
        )


def _run(run: RunView, *, with_log: bool) -> Run:
    lines: tuple[LogLine, ...] = ()
    if with_log:
        lines = tuple(
            LogLine(
                at=parse_time(line["at"]) if line.get("at") else run.created_at,
                level=line["level"],
                message=line["message"],
            )
            for line in run.log or ()
        )
    return Run(
        id=run.id,
        job_id=run.job_id,
        started_at=run.started_at or run.created_at,
        finished_at=run.finished_at,
        outcome=run.status,
        trigger=run.trigger,
        counts={"read": run.read, "published": run.published, "failed": run.failed},
        error=run.error,
        log=lines,
    )
