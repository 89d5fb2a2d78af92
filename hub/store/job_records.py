"""What the scheduler's store hands out: plain, immutable records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.core.clock import format_time

__all__ = [
    "FINAL",
    "OUTCOMES",
    "RUN_STATUSES",
    "JobState",
    "NodeView",
    "RunPage",
    "RunView",
    "Started",
]

#: How a run ended.
OUTCOMES = ("ok", "failed", "timed_out", "skipped")
#: Every status a run passes through.
RUN_STATUSES = ("queued", "running", *OUTCOMES)
FINAL = frozenset(OUTCOMES)


@dataclass(frozen=True, slots=True)
class RunView:
    """One run of a job: a claimed due time (or a manual request) and how it went."""

    id: str
    job_id: str
    due_at: dt.datetime
    trigger: str
    status: str
    created_at: dt.datetime
    node: str | None = None
    requested_by: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    read: int = 0
    published: int = 0
    failed: int = 0
    error: str | None = None
    log: tuple[dict[str, Any], ...] | None = None
    cursor_before: Any = None
    cursor_after: Any = None

    @property
    def finished(self) -> bool:
        """True once the run has an outcome."""
        return self.status in FINAL

    @property
    def duration_ms(self) -> int | None:
        """How long it ran, once it has ended."""
        if self.started_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)

    def to_json(self, *, with_log: bool = True) -> dict[str, Any]:
        """For the API and ``--json``; the log only when asked for."""
        document: dict[str, Any] = {
            "id": self.id,
            "job_id": self.job_id,
            "due_at": format_time(self.due_at),
            "trigger": self.trigger,
            "status": self.status,
            "node": self.node,
            "requested_by": self.requested_by,
            "created_at": format_time(self.created_at),
            "started_at": format_time(self.started_at),
            "finished_at": format_time(self.finished_at),
            "duration_ms": self.duration_ms,
            "counts": {"read": self.read, "published": self.published, "failed": self.failed},
            "error": self.error,
            "cursor_before": self.cursor_before,
            "cursor_after": self.cursor_after,
            "log_lines": len(self.log or ()),
        }
        if with_log:
            document["log"] = list(self.log or ())
        return document


@dataclass(frozen=True, slots=True)
class RunPage:
    """Runs, newest first; ``next`` continues the listing."""

    items: list[RunView] = field(default_factory=list)
    next: str | None = None


@dataclass(frozen=True, slots=True)
class JobState:
    """What the store keeps about a job between runs."""

    job_id: str
    paused: bool = False
    paused_at: dt.datetime | None = None
    paused_by: str | None = None
    pause_reason: str | None = None
    resumed_at: dt.datetime | None = None
    cursor: Any = None
    cursor_updated_at: dt.datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: dt.datetime | None = None
    lease_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """A run this node has just started: it holds the job's lease."""

    run_id: str
    job_id: str
    due_at: dt.datetime
    trigger: str
    cursor: Any


@dataclass(frozen=True, slots=True)
class NodeView:
    """A process running a scheduler, with its last heartbeat."""

    node: str
    host: str
    pid: int
    started_at: dt.datetime
    beat_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "node": self.node,
            "host": self.host,
            "pid": self.pid,
            "started_at": format_time(self.started_at),
            "beat_at": format_time(self.beat_at),
        }
