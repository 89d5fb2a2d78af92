"""The scheduler: APScheduler keeps the time; GovHub keeps the guarantees.

APScheduler 3 computes due times from each job's trigger and fires them. It does not
run anything itself: a small executor (the APScheduler plug-in point for "how a job is
run") hands each due time to :class:`~hub.scheduler.runner.JobRunner`, which claims it
in the store and runs it with a lease and a timeout. APScheduler's own job store is
the in-memory one: what must survive a restart (runs, cursors, pauses) is in GovHub's.

At start, a due time missed while no scheduler ran (the hub was down) is found from the
last claimed due time in the store and handed over like any other; the job's misfire
policy then runs it once or records it skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from hub.core.clock import utcnow
from hub.scheduler.catalog import JobCatalog
from hub.scheduler.context import JobServices
from hub.scheduler.runner import JobRunner

__all__ = ["Scheduler"]

log = logging.getLogger("govhub.scheduler")


class _ClaimingExecutor(BaseExecutor):  # type: ignore[misc]
    """Hands due times to the runner instead of calling the job function.

    ``submit_job`` is overridden whole: APScheduler's instance counting does not apply,
    because overlap is prevented by the job's lease in the store, across nodes.
    """

    def __init__(self, runner: JobRunner) -> None:
        super().__init__()
        self._runner = runner

    def submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        # With coalesce, APScheduler passes the latest of any missed due times.
        self._runner.due(job.id, run_times[-1])

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        raise NotImplementedError  # pragma: no cover - submit_job does the work


def _never_called() -> None:  # pragma: no cover - the executor never calls job functions
    raise AssertionError("GovHub jobs are run by the JobRunner")


class Scheduler:
    """Fires the active jobs' due times on this node.

    Args:
        catalog: The configured jobs.
        services: What jobs get from the hub.
        clock: The current time (tests inject one).
        node: This scheduler's name.
    """

    def __init__(
        self,
        catalog: JobCatalog,
        services: JobServices,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        node: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.runner = JobRunner(catalog, services, clock=clock, node=node)
        self._clock: Any = None

    @property
    def node(self) -> str:
        """This scheduler's name in the store."""
        return self.runner.node

    def start(self) -> None:
        """Start the runner, the clock, and catch up on due times missed while down."""
        self.runner.start()
        clock = BackgroundScheduler(
            timezone=self.catalog.settings.zone,
            executors={"default": _ClaimingExecutor(self.runner)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            daemon=True,
        )
        for job in self.catalog.active():
            clock.add_job(
                _never_called,
                trigger=job.settings.trigger.build(job.settings.zone),
                id=job.id,
                name=job.id,
            )
        clock.start()
        self._clock = clock
        self.catch_up()
        active = ", ".join(job.id for job in self.catalog.active()) or "none"
        log.info("scheduler %s started; jobs: %s", self.node, active)

    def catch_up(self) -> list[str]:
        """Hand over the latest due time each job missed while no scheduler ran.

        Returns:
            The runs claimed (run once) or recorded skipped here.
        """
        now = self.clock()
        states = self.runner.store.states()
        claimed: list[str] = []
        for job in self.catalog.active():
            state = states.get(job.id)
            if state is not None and state.paused:
                continue
            last = self.runner.store.last_scheduled_due(job.id)
            if last is None:
                continue  # never ran here: start with the next due time
            if state is not None and state.resumed_at is not None:
                last = max(last, state.resumed_at)  # paused time is not missed time
            missed = job.settings.trigger.latest_due(job.settings.zone, last, now)
            if missed is None:
                continue
            log.info("job %s missed its due time %s while no scheduler ran", job.id, missed)
            run_id = self.runner.due(job.id, missed)
            if run_id is not None:
                claimed.append(run_id)
        return claimed

    def stop(self) -> None:
        """Stop firing, then stop the runner (running jobs are cancelled and recorded)."""
        if self._clock is not None:
            self._clock.shutdown(wait=False)
            self._clock = None
        self.runner.stop()

    def wake(self) -> None:
        """Look for queued runs now."""
        self.runner.wake()

    @property
    def alive(self) -> bool:
        """True while the clock runs and housekeeping turns over."""
        return self._clock is not None and bool(self._clock.running) and self.runner.alive

    def health(self) -> dict[str, Any]:
        """For ``/readyz``."""
        if self.alive:
            return {"ok": True, "node": self.node, "running": self.runner.live_runs()}
        return {"ok": False, "error": "no recent scheduler heartbeat", "node": self.node}
