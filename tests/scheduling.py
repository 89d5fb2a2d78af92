"""Test helpers for scheduled jobs: probe jobs, hubs with injected jobs, fast scheduler settings."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faces.app import create_app
from faces.serving import serve_in_thread
from hub.config import Config
from hub.core.clock import utcnow
from hub.runtime import Hub
from hub.scheduler import JobContext, JobSpec, Misfire, job, seconds
from hub.scheduler.context import JobServices
from hub.scheduler.runner import JobRunner
from hub.store.job_records import RunView
from tests.support import RunningHub, hub_config, wait_for

#: Scheduler settings that make tests quick: fast polling, short leases.
FAST = {"poll_interval_s": 0.05, "lease_s": 1.5, "misfire_grace_s": 60, "shutdown_grace_s": 2}

MINUTE = seconds(60)
TWENTY_SECONDS = seconds(20)
T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


@dataclass
class Probe:
    """What a test job saw: each call's context, and how many ran at once.

    ``gate`` holds every call while cleared (a long-running job); ``body`` runs inside
    each call (after the gate).
    """

    calls: list[JobContext] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    gate: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    body: Callable[[JobContext], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    def __call__(self, ctx: JobContext) -> None:
        with self.lock:
            self.calls.append(ctx)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.entered.set()
        try:
            self.gate.wait(30)
            if self.body is not None:
                self.body(ctx)
        finally:
            with self.lock:
                self.running -= 1


def probe_job(
    probe: Probe,
    job_id: str = "test.probe",
    *,
    every: dt.timedelta = MINUTE,
    misfire: Misfire = Misfire.RUN_ONCE,
    timeout: dt.timedelta | None = TWENTY_SECONDS,
    adapter: str | None = None,
    settings: dict[str, Any] | None = None,
) -> JobSpec:
    """A job that calls ``probe``."""

    def run(ctx: JobContext) -> None:
        probe(ctx)

    run.__doc__ = f"A test job ({job_id})."
    return job(
        job_id,
        every=every,
        misfire=misfire,
        timeout=timeout,
        adapter=adapter,
        settings=settings,
    )(run)


def scheduler_config(
    tmp_path: Path, *, jobs: dict[str, Any] | None = None, **sections: Any
) -> Config:
    """A hub configuration with fast scheduler settings."""
    scheduler = {**FAST, **sections.pop("scheduler", {})}
    return hub_config(tmp_path, scheduler=scheduler, jobs=jobs or {}, **sections)


def services(hub: Hub) -> JobServices:
    """What ``hub`` lends its jobs."""
    return JobServices(
        store=hub.store,
        ingest=hub.ingest,
        adapters=hub.adapters,
        calendar=hub.calendar,
        events=hub.events,
        cases=hub.cases,
        flows=hub.flows,
        submit_once=hub.submit_once,
    )


def make_runner(
    hub: Hub, *, clock: Callable[[], dt.datetime] = utcnow, node: str | None = None
) -> JobRunner:
    """A started runner for ``hub`` (no APScheduler clock: tests call ``due`` themselves)."""
    runner = JobRunner(hub.jobs, services(hub), clock=clock, node=node)
    runner.start()
    return runner


@contextmanager
def hub_with_jobs(config: Config, specs: Sequence[JobSpec]) -> Iterator[Hub]:
    """A hub that knows ``specs`` (instead of the installed jobs), closed at the end."""
    hub = Hub(config, job_specs=specs)
    try:
        yield hub
    finally:
        hub.close()


@contextmanager
def serving_hub(
    config: Config, specs: Sequence[JobSpec], *, scheduler: bool = False
) -> Iterator[RunningHub]:
    """A hub with ``specs`` serving HTTP; its scheduler too when asked."""
    hub = Hub(config, job_specs=specs)
    server = serve_in_thread(create_app(hub), "127.0.0.1", 0, threads=8)
    if scheduler:
        hub.start_scheduler()
    try:
        yield RunningHub(hub=hub, server=server)
    finally:
        server.stop()
        hub.close()


def wait_run(hub: Hub, run_id: str, timeout: float = 10.0) -> RunView:
    """Wait until a run has an outcome; the run."""

    def finished() -> RunView | None:
        run = hub.jobs.run(run_id)
        return run if run is not None and run.finished else None

    return wait_for(finished, timeout, f"run {run_id} to finish")


def runs_of(hub: Hub, job_id: str) -> list[RunView]:
    """Every run of a job, oldest first."""
    return list(reversed(hub.jobs.runs(job_id, limit=1000).items))
