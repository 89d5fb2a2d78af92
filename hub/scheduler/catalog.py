"""The jobs this hub knows: found by entry point, configured, and shown to people.

Jobs are found ONLY through the entry-point group ``govhub.jobs`` (name → ``JobSpec``),
like adapters: ``hub`` never imports a concrete job. The catalog applies
``[jobs."<id>"]`` to each, resolves the destination it uses, and answers what the API
and the CLI ask: the schedule, the next due time, the last outcome, the runs; it also
records operators' requests (run now, pause, resume). Running jobs is the scheduler's
business (:mod:`hub.scheduler.runner`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from hub.config import Config, ConfigError
from hub.core.clock import format_time, utcnow
from hub.scheduler.settings import JobSettings, SchedulerSettings, job_settings, scheduler_settings
from hub.scheduler.spec import JobSpec
from hub.store import Store
from hub.store.job_records import JobState, NodeView, RunPage, RunView

__all__ = [
    "ENTRY_POINT_GROUP",
    "JobCatalog",
    "JobUnavailable",
    "ScheduledJob",
    "installed_jobs",
]

ENTRY_POINT_GROUP = "govhub.jobs"


class JobUnavailable(Exception):
    """The job cannot run here: disabled, or its destination is not configured."""


def installed_jobs() -> list[JobSpec]:
    """Every job installed (entry-point group ``govhub.jobs``).

    Raises:
        TypeError: An entry point is not a ``JobSpec``, or its name is not the job's id.
    """
    found: list[JobSpec] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        spec = entry.load()
        if not isinstance(spec, JobSpec):
            raise TypeError(
                f"entry point {entry.name} = {entry.value} is not a job (decorate it with @job)"
            )
        if spec.id != entry.name:
            raise TypeError(f"entry point {entry.name} = {entry.value} declares job {spec.id!r}")
        found.append(spec)
    return sorted(found, key=lambda s: s.id)


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A job as configured here.

    Attributes:
        spec: The job's declaration.
        settings: The declaration with ``[jobs."<id>"]`` applied.
        destination: The configured destination it uses (resolved), if any.
        unavailable: Why it cannot run (its destination is not configured), or ``None``.
    """

    spec: JobSpec
    settings: JobSettings
    destination: str | None = None
    unavailable: str | None = None

    @property
    def id(self) -> str:
        """The job's id."""
        return self.spec.id

    @property
    def active(self) -> bool:
        """Whether schedulers run it: enabled and available."""
        return self.settings.enabled and self.unavailable is None

    def next_due(self, now: dt.datetime) -> dt.datetime | None:
        """The first due time at or after ``now``."""
        return self.settings.trigger.next_due(self.settings.zone, now)


class JobCatalog:
    """The configured jobs and what the store knows about them.

    Args:
        config: The checked configuration (``[scheduler]`` and ``[jobs]`` are read here).
        store: The hub's store.
        specs: The jobs to know; ``None`` finds the installed ones by entry point.
        clock: The current time (tests inject one).

    Raises:
        ConfigError: ``[scheduler]`` or ``[jobs]`` is wrong: an unknown job id, a bad
            trigger, timezone or misfire policy, a job's own settings that do not fit
            its schema, or an explicitly enabled job whose destination is missing.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        specs: Iterable[JobSpec] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        file = str(config.path or "<config>")
        self.settings: SchedulerSettings = scheduler_settings(config)
        self.clock = clock
        self.store = store.jobs
        self.run_history = store.runs
        self.scheduler_nodes = store.nodes
        declared = installed_jobs() if specs is None else list(specs)
        by_id: dict[str, JobSpec] = {}
        for spec in declared:
            if spec.id in by_id:
                raise ValueError(f"two jobs are called {spec.id!r}")
            by_id[spec.id] = spec
        raw: Mapping[str, Any] = config.sections.get("jobs", {})
        for job_id in raw:
            if job_id not in by_id:
                known = ", ".join(sorted(by_id)) or "none are installed"
                raise ConfigError(
                    file, f'jobs."{job_id}"', f"no job is called that (known: {known})"
                )
        destinations = {d.name: d.adapter for d in config.destinations}
        self.jobs: dict[str, ScheduledJob] = {}
        for job_id, spec in sorted(by_id.items()):
            table = raw.get(job_id, {})
            effective = job_settings(spec, table, self.settings, file)
            destination, unavailable = _resolve(effective.destination, destinations)
            if unavailable is not None and isinstance(table, Mapping) and table.get("enabled"):
                raise ConfigError(file, f'jobs."{job_id}".destination', unavailable)
            self.jobs[job_id] = ScheduledJob(spec, effective, destination, unavailable)

    # ------------------------------------------------------------------ looking up

    def get(self, job_id: str) -> ScheduledJob:
        """The job called ``job_id``.

        Raises:
            KeyError: There is none.
        """
        return self.jobs[job_id]

    def active(self) -> list[ScheduledJob]:
        """The jobs schedulers run."""
        return [job for job in self.jobs.values() if job.active]

    def nodes(self) -> list[NodeView]:
        """Schedulers that beat recently (within three leases)."""
        since = self.clock() - dt.timedelta(seconds=3 * self.settings.lease_s)
        return self.scheduler_nodes.nodes(since=since)

    # ------------------------------------------------------------------ describing

    def describe(self, job_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The jobs as the API shows them: schedule, state, next due, last outcome."""
        chosen = (
            [self.jobs[j] for j in job_ids] if job_ids is not None else list(self.jobs.values())
        )
        states = self.store.states()
        last = self.run_history.last_finished(job.id for job in chosen)
        now = self.clock()
        return [
            self._view(job, states.get(job.id, JobState(job.id)), last.get(job.id), now)
            for job in chosen
        ]

    def _view(
        self, job: ScheduledJob, state: JobState, last: RunView | None, now: dt.datetime
    ) -> dict[str, Any]:
        settings = job.settings
        running = None
        if state.lease_owner and state.lease_expires_at and state.lease_expires_at >= now:
            running = {"run_id": state.lease_run_id, "node": state.lease_owner}
        if not settings.enabled:
            condition = "disabled"
        elif job.unavailable:
            condition = "unavailable"
        elif state.paused:
            condition = "paused"
        elif running:
            condition = "running"
        else:
            condition = "scheduled"
        scheduled = condition in ("scheduled", "running")
        return {
            "id": job.id,
            "description": job.spec.description,
            "adapter": job.spec.adapter,
            "destination": job.destination,
            "publishes": list(job.spec.publishes),
            "schedule": settings.trigger.to_json(),
            "timezone": settings.timezone,
            "timeout_s": settings.timeout_s,
            "misfire": settings.misfire.value,
            "misfire_grace_s": settings.misfire_grace_s,
            "enabled": settings.enabled,
            "unavailable_reason": job.unavailable,
            "state": condition,
            "paused": state.paused,
            "paused_at": format_time(state.paused_at),
            "paused_by": state.paused_by,
            "pause_reason": state.pause_reason,
            "next_due": format_time(job.next_due(now)) if scheduled else None,
            "late": scheduled and self._late(job, state, now),
            "running": running,
            "last_run": last.to_json(with_log=False) if last else None,
            "cursor": state.cursor,
            "cursor_updated_at": format_time(state.cursor_updated_at),
        }

    def late(self, job_id: str) -> bool:
        """True when a due time passed (beyond the misfire grace) and nobody claimed it.

        That means no scheduler is running the job, or it is far behind.
        """
        job = self.get(job_id)
        state = self.store.state(job_id)
        return job.active and not state.paused and self._late(job, state, self.clock())

    def _late(self, job: ScheduledJob, state: JobState, now: dt.datetime) -> bool:
        last = self.store.last_scheduled_due(job.id)
        if last is None:
            return False  # never ran here yet: nothing to be late against
        if state.resumed_at is not None:
            last = max(last, state.resumed_at)
        settings = job.settings
        horizon = now - dt.timedelta(seconds=settings.misfire_grace_s)
        return settings.trigger.latest_due(settings.zone, last, horizon) is not None

    # ------------------------------------------------------------------ runs

    def runs(
        self, job_id: str, *, status: str | None = None, after: str | None = None, limit: int = 50
    ) -> RunPage:
        """A job's runs, newest first."""
        self.get(job_id)
        return self.run_history.list_runs(job_id, status=status, after=after, limit=limit)

    def run(self, run_id: str) -> RunView | None:
        """One run with its log."""
        return self.run_history.get_run(run_id)

    # ------------------------------------------------------------------ operators' requests

    def request_run(self, job_id: str, *, actor: str, audit: bool = True) -> RunView:
        """Queue a run now; a scheduler (here or on another node) starts it.

        A manual run is queued even while the job is paused: pausing stops the
        schedule, not an operator.

        Raises:
            KeyError: No such job.
            JobUnavailable: The job is disabled or its destination is missing.
        """
        job = self.get(job_id)
        if not job.settings.enabled:
            raise JobUnavailable(f"job {job_id} is disabled in the configuration")
        if job.unavailable:
            raise JobUnavailable(f"job {job_id} cannot run: {job.unavailable}")
        self.store.ensure([job_id], self.clock())
        for _ in range(5):  # two requests in the same microsecond: take the next one
            now = self.clock()
            run_id = self.store.claim(
                job_id, now, node=None, now=now, trigger="manual", requested_by=actor
            )
            if run_id is not None:
                if audit:
                    self.store.audit.record(actor, "job.run", job_id, {"run_id": run_id})
                run = self.run_history.get_run(run_id)
                assert run is not None
                return run
        raise RuntimeError("could not queue the run; try again")  # pragma: no cover

    def pause(
        self, job_id: str, *, actor: str, reason: str | None = None, audit: bool = True
    ) -> dict[str, Any]:
        """Stop scheduling a job (a running run finishes); survives restarts.

        Args:
            job_id: The job.
            actor: Who asked (stored with the pause).
            reason: Why, for people.
            audit: Write the audit trail (callers that audit themselves say no).

        Raises:
            KeyError: No such job.
        """
        self.get(job_id)
        self.store.set_paused(
            job_id, True, actor=actor, reason=reason, now=self.clock(), audit=audit
        )
        return self.describe([job_id])[0]

    def resume(self, job_id: str, *, actor: str, audit: bool = True) -> dict[str, Any]:
        """Schedule a paused job again from its next due time.

        Raises:
            KeyError: No such job.
        """
        self.get(job_id)
        self.store.set_paused(job_id, False, actor=actor, now=self.clock(), audit=audit)
        return self.describe([job_id])[0]


def _resolve(wanted: str | None, destinations: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The destination a job uses: by name, else the only one of that adapter."""
    if wanted is None:
        return None, None
    if wanted in destinations:
        return wanted, None
    of_adapter = [name for name, adapter in destinations.items() if adapter == wanted]
    if len(of_adapter) == 1:
        return of_adapter[0], None
    if of_adapter:
        return None, (
            f"several destinations use adapter {wanted!r} ({', '.join(sorted(of_adapter))});"
            " name one with destination = ..."
        )
    return None, f"no destination {wanted!r} is configured"
