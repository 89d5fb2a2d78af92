"""What the console needs from the scheduler: the ``JobsView`` protocol.

The scheduler (built apart from the console) exposes an object with these methods and
puts it where the console looks::

    app.extensions["govhub_jobs"] = my_jobs_view

Without one, the Jobs page says that no scheduler is configured. The console records
run/pause/resume in the audit trail itself, with who did it; ``actor`` is passed on so the
scheduler can also note who started a run.

Health: a view may also offer ``health() -> dict | None``, which ``/readyz`` then uses
as the scheduler check as it is (``None``: no scheduler here).

Heartbeat: otherwise, when the scheduler runs in this process, ``heartbeat_age_s()`` returns the
seconds since its loop last turned over and ``/readyz`` checks it against
``heartbeat_limit_s``; it returns ``None`` when the scheduler does not run here (a
``govhub serve`` node), and then ``/readyz`` leaves the scheduler out.

Metrics: the scheduler emits a :class:`hub.events.RunEnded` once per finished run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["JOBS_EXTENSION", "JobLogLine", "JobRunView", "JobView", "JobsView"]

JOBS_EXTENSION = "govhub_jobs"
#: Outcomes the console colours; others are shown as they are.
OK_OUTCOMES = frozenset({"ok", "succeeded", "success"})
FAILED_OUTCOMES = frozenset({"failed", "error", "timeout", "timed_out"})


@dataclass(frozen=True, slots=True)
class JobLogLine:
    """One line a run logged."""

    at: dt.datetime
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class JobRunView:
    """One run of a job.

    Attributes:
        id: The run's id.
        job_id: The job's id.
        started_at: When it started.
        finished_at: When it ended; ``None`` while running.
        outcome: ``running``, ``ok``, ``failed``, ``timeout``, ``skipped``...
        trigger: ``schedule`` or ``manual``.
        counts: What it did, e.g. ``{"read": 120, "published": 118}``.
        error: Why it failed, safe to show ops.
        log: Its log lines (filled by :meth:`JobsView.run`; lists may leave it empty).
    """

    id: str
    job_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    trigger: str = "schedule"
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    log: tuple[JobLogLine, ...] = ()

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end; ``None`` while running."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def failed(self) -> bool:
        """Whether the run ended badly."""
        return self.outcome in FAILED_OUTCOMES


@dataclass(frozen=True, slots=True)
class JobView:
    """A scheduled job as ops see it.

    Attributes:
        id: The job's id, e.g. ``hall.pull_applications``.
        description: What it does.
        schedule: The schedule in words or cron (``every 1 min``, ``0 2 * * *``).
        timezone: IANA name of the schedule's timezone.
        paused: Whether ops paused it.
        next_due: When it runs next (``None`` while paused).
        last_run: Its latest run, if any.
        late: True when a due time passed without a run starting (the scheduler is
            behind or down).
        trigger: The schedule as data (``{"kind": "interval", "every_s": 60}`` or
            ``{"kind": "cron", "cron": "0 2 * * *"}``), so the console can say it in the
            reader's language; without it, ``schedule`` is shown as it is.
    """

    id: str
    description: str
    schedule: str
    timezone: str
    paused: bool
    next_due: dt.datetime | None
    last_run: JobRunView | None = None
    late: bool = False
    trigger: Mapping[str, object] | None = None


@runtime_checkable
class JobsView(Protocol):
    """The scheduler as the console sees it. Unknown ids raise ``KeyError``."""

    heartbeat_limit_s: float

    def jobs(self) -> Sequence[JobView]:
        """Every job, in a stable order."""
        ...

    def job(self, job_id: str) -> JobView | None:
        """One job, or ``None``."""
        ...

    def runs(self, job_id: str, *, limit: int = 20) -> Sequence[JobRunView]:
        """A job's runs, newest first."""
        ...

    def run(self, run_id: str) -> JobRunView | None:
        """One run with its log lines, or ``None``."""
        ...

    def run_now(self, job_id: str, *, actor: str) -> str | None:
        """Start a run now (even if paused); the run's id when known at once."""
        ...

    def pause(self, job_id: str, *, actor: str) -> None:
        """Stop scheduling the job (a running run finishes)."""
        ...

    def resume(self, job_id: str, *, actor: str) -> None:
        """Schedule the job again."""
        ...

    def heartbeat_age_s(self) -> float | None:
        """Seconds since the scheduler loop last turned here; ``None`` if it runs elsewhere."""
        ...
