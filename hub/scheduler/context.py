"""What a job sees while it runs: its adapter, cursor, log, counts, and a deadline.

A run is a function call in a worker thread. Python cannot stop a thread from outside,
so cancellation is cooperative: when the run's timeout passes (or the hub stops), the
run's cancel event is set; every call a job makes into its context (``publish``,
``cursor.advance``, ``count_*``, ``check``, ``sleep``) then raises :class:`JobCancelled`,
and long loops should call ``ctx.check()``. Jobs pass ``ctx.remaining_s`` as the
timeout of their own network calls. Until the thread has really ended, the scheduler
keeps the job's lease, so the job is not started again meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hub.core.clock import format_time
from hub.core.identifiers import mask_text
from hub.events import Events
from hub.pipeline.ingest import Ingest, Submission
from hub.store import Acceptance, Store
from hub.workdays import WorkingCalendar

if TYPE_CHECKING:
    from adapters.sdk import Adapter
    from hub.cases import CaseClocks
    from hub.flows import ApprovalFlows
    from hub.pipeline.enrichment import SubmitOnce

__all__ = [
    "Counts",
    "Cursor",
    "JobCancelled",
    "JobContext",
    "JobServices",
    "RunLog",
]

#: Longest log line kept.
MAX_LINE_CHARS = 2000


class JobCancelled(BaseException):
    """The run must stop now: it timed out, lost its lease, or the hub is stopping.

    A ``BaseException`` (like ``asyncio.CancelledError``), so that a job's
    ``except Exception`` around one record does not swallow it and carry on.
    """


@dataclass(frozen=True, slots=True)
class JobServices:
    """What the hub lends every job.

    Attributes:
        store: The message store (jobs that read the hub's own records use it).
        ingest: Where ``ctx.publish`` goes: validated, routed, stored, idempotent.
        adapters: The configured destinations' adapters, by destination name.
        calendar: Working days.
        events: Told of every run that ends (:class:`~hub.events.RunEnded`).
        cases: The case clocks (the supervision job keeps and evaluates them).
        flows: The approval flows (the ``flows.advance`` job runs them).
        submit_once: The submit-once step (its retry job looks cases up again).
    """

    store: Store
    ingest: Ingest
    adapters: Mapping[str, Adapter]
    calendar: WorkingCalendar
    events: Events
    cases: CaseClocks | None = None
    flows: ApprovalFlows | None = None
    submit_once: SubmitOnce | None = None


@dataclass
class Counts:
    """What a run did: records read, messages published, records that failed."""

    read: int = 0
    published: int = 0
    failed: int = 0

    def as_tuple(self) -> tuple[int, int, int]:
        """``(read, published, failed)``."""
        return self.read, self.published, self.failed


class RunLog:
    """A run's log lines, bounded: the first half and the last half are kept.

    The beginning says what the run set out to do; the end says how it failed.
    Lines are masked (resident ID numbers) and clipped.

    Args:
        max_lines: Lines kept at most (plus one line saying how many were dropped).
        clock: The current time.
    """

    def __init__(self, max_lines: int, clock: Callable[[], dt.datetime]) -> None:
        self._head_size = max_lines - max_lines // 2
        self._head: list[dict[str, Any]] = []
        self._tail: deque[dict[str, Any]] = deque(maxlen=max_lines // 2)
        self._dropped = 0
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, level: str, message: str) -> None:
        """Keep one line."""
        text = mask_text(message)
        if len(text) > MAX_LINE_CHARS:
            text = text[: MAX_LINE_CHARS - 1] + "…"
        line = {"at": format_time(self._clock()), "level": level, "message": text}
        with self._lock:
            if len(self._head) < self._head_size:
                self._head.append(line)
                return
            if self._tail.maxlen == 0 or len(self._tail) == self._tail.maxlen:
                self._dropped += 1
            if self._tail.maxlen:
                self._tail.append(line)

    def lines(self) -> list[dict[str, Any]]:
        """The kept lines, with a marker where lines were dropped."""
        with self._lock:
            kept = list(self._head)
            if self._dropped:
                kept.append(
                    {
                        "at": None,
                        "level": "INFO",
                        "message": f"… {self._dropped} line(s) dropped …",
                    }
                )
            return kept + list(self._tail)


class Cursor:
    """Where the job left off, persisted by the framework.

    ``get()`` returns the stored JSON value (``None`` before the first advance);
    ``advance(value)`` stores a new one at once. Call it only after what was read up
    to there has been published: :meth:`JobContext.publish` returns once the message
    is committed, so the order "publish, then advance" means a crash in between
    re-reads and re-publishes, which the record key makes harmless (the same key is
    stored once), and never skips.
    """

    def __init__(
        self,
        initial: Any,
        persist: Callable[[Any], bool],
        check: Callable[[], None],
    ) -> None:
        self._value = initial
        self._persist = persist
        self._check = check

    def get(self) -> Any:
        """The current position (JSON: string, number, list or object), or ``None``."""
        return self._value

    def advance(self, value: Any) -> None:
        """Store a new position (a datetime is stored as RFC 3339 text).

        Raises:
            JobCancelled: The run was cancelled, or lost the job's lease (another node
                took over after this one stopped renewing it): it must stop.
        """
        self._check()
        if isinstance(value, dt.datetime):
            value = format_time(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        if not self._persist(value):
            raise JobCancelled("the job's lease was lost; the cursor was not moved")
        self._value = value


class JobContext:
    """The job's view of the hub for one run.

    Attributes:
        job_id: The job.
        run_id: This run (also sent as the ``job_run`` header of what it publishes).
        due_at: The due time this run is for, in the job's timezone.
        trigger: ``schedule`` or ``manual``.
        timezone: The job's timezone.
        settings: The job's own settings (``[jobs."<id>"]``, defaults filled in).
        cursor: Where the job left off.
        counts: What the run did so far.
        log: A logger whose lines are kept with the run (and go to the hub's log).
        calendar: Working days.
        store: The hub's message store.
        cases: The case clocks, where the hub keeps them (``None`` otherwise).
    """

    def __init__(
        self,
        *,
        job_id: str,
        run_id: str,
        due_at: dt.datetime,
        trigger: str,
        timezone: ZoneInfo,
        settings: Mapping[str, Any],
        destination: str | None,
        services: JobServices,
        cursor: Cursor,
        cancel: threading.Event,
        deadline: float,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.job_id = job_id
        self.run_id = run_id
        self.due_at = due_at.astimezone(timezone)
        self.trigger = trigger
        self.timezone = timezone
        self.settings = settings
        self.cursor = cursor
        self.counts = Counts()
        self.log = logging.getLogger(f"govhub.jobs.{job_id}")
        self.calendar = services.calendar
        self.store = services.store
        self.cases = services.cases
        self.flows = services.flows
        self.submit_once = services.submit_once
        self._destination = destination
        self._services = services
        self._cancel = cancel
        self._deadline = deadline
        self._clock = clock
        self._counting = threading.Lock()  # publish may be called from several threads
        self.cancel_reason = "cancelled"

    # ------------------------------------------------------------------ what it uses

    @property
    def adapter(self) -> Any:
        """The adapter of the destination the job declared (``adapter=`` in ``@job``).

        Typed ``Any`` because each job knows which adapter class it talks to.

        Raises:
            RuntimeError: The job declared no adapter.
        """
        if self._destination is None:
            raise RuntimeError(f"job {self.job_id} declared no adapter")
        return self._services.adapters[self._destination]

    def adapter_for(self, destination: str) -> Any:
        """Another destination's adapter, by destination or adapter name; ``None`` if absent."""
        adapters = self._services.adapters
        if destination in adapters:
            return adapters[destination]
        matches = [a for a in adapters.values() if a.name == destination]
        return matches[0] if len(matches) == 1 else None

    def now(self) -> dt.datetime:
        """The current time (UTC)."""
        return self._clock()

    # ------------------------------------------------------------------ what it does

    def publish(
        self,
        message_type: str,
        payload: dict[str, Any],
        *,
        key: str,
        correlation_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> Acceptance:
        """Publish a message as this job: validated, routed, stored; idempotent by ``key``.

        Safe to call from several threads at once (their commits then share fsyncs).

        Args:
            message_type: The canonical type.
            payload: Valid against the type's schema.
            key: The record's stable key (the counterpart's id for it): publishing the
                same key again stores nothing and returns the first acceptance (whose
                ``differs`` says the body changed since; the run's log says so too).
            correlation_id: The business key; defaults to ``payload.case_no``.
            headers: Extra metadata.

        Returns:
            The acceptance (``created`` is false for a key published before).

        Raises:
            hub.pipeline.ingest.Invalid: The payload does not fit its schema.
            JobCancelled: The run must stop.
        """
        self.check()
        acceptance = self._services.ingest.publish(
            self.job_id,
            Submission(
                type=message_type,
                payload=payload,
                client_ref=key,
                correlation_id=correlation_id,
                headers={**(headers or {}), "job_run": self.run_id},
            ),
            channel="job",
        )
        if acceptance.created:
            with self._counting:
                self.counts.published += 1
        elif not acceptance.differs:  # a changed body: ingest has warned, in this log too
            self.log.info("%s %s was published before; not again", message_type, key)
        return acceptance

    def count_read(self, count: int = 1) -> None:
        """Count records read from the counterpart."""
        self.check()
        with self._counting:
            self.counts.read += count

    def count_published(self, count: int = 1) -> None:
        """Count messages published on the job's behalf (by an adapter it drives)."""
        self.check()
        with self._counting:
            self.counts.published += count

    def count_failed(self, count: int = 1, reason: str | None = None) -> None:
        """Count records that could not be handled (and log why)."""
        self.check()
        with self._counting:
            self.counts.failed += count
        if reason:
            self.log.warning("%s", reason)

    # ------------------------------------------------------------------ cancellation

    @property
    def cancelled(self) -> bool:
        """True once the run must stop."""
        return self._cancel.is_set()

    @property
    def remaining_s(self) -> float:
        """Seconds left before the timeout (at least a little, for a last call)."""
        return max(0.05, self._deadline - time.monotonic())

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the run must stop."""
        if self._cancel.is_set():
            raise JobCancelled(self.cancel_reason)

    def sleep(self, seconds: float) -> None:
        """Wait, but stop waiting (raising :class:`JobCancelled`) when cancelled."""
        if self._cancel.wait(seconds):
            raise JobCancelled(self.cancel_reason)
