"""What happened in the hub, told to whoever listens: one mechanism for every part.

Ingest emits :class:`MessageAccepted`, the dispatcher :class:`AttemptRecorded`, the
scheduler :class:`RunEnded`; metrics listen to all three and the dispatcher wakes on the
first. Handlers run in the emitting thread, after the change they hear of is committed, so
they must be quick; one that fails is logged and never fails the emitter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hub.core.envelope import Envelope
from hub.store.records import Claim, Outcome

__all__ = ["AttemptRecorded", "Events", "MessageAccepted", "RunEnded"]

log = logging.getLogger("govhub.events")

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class MessageAccepted:
    """A new message is stored with its deliveries.

    Attributes:
        envelope: The message.
        channel: How it came in (``rest``, ``soap``, ``job``, ``notify``...).
        routed: Whether it has deliveries (something for the dispatcher to do).
    """

    envelope: Envelope
    channel: str
    routed: bool


@dataclass(frozen=True, slots=True)
class AttemptRecorded:
    """A delivery attempt ended and its outcome is stored."""

    claim: Claim
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class RunEnded:
    """A job's run ended.

    Attributes:
        job_id: The job.
        outcome: ``ok``, ``failed``, ``timed_out``, ``skipped``...
        duration_s: Wall-clock seconds from start to end.
    """

    job_id: str
    outcome: str
    duration_s: float


class Events:
    """Handlers by event type."""

    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        """Call ``handler`` with every event of ``kind`` from now on."""
        self._handlers.setdefault(kind, []).append(handler)

    def emit(self, event: object) -> None:
        """Tell every handler of the event's type; a failing handler is logged, not raised."""
        for handler in self._handlers.get(type(event), ()):
            try:
                handler(event)
            except Exception:
                log.exception("a handler of %s failed", type(event).__name__)
