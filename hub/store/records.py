"""What the store hands out: plain, immutable records."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from hub.core.clock import format_time
from hub.core.envelope import Envelope

__all__ = [
    "DELIVERY_STATUSES",
    "MESSAGE_STATUSES",
    "OPERATOR",
    "ROLES",
    "Acceptance",
    "AttemptView",
    "AuditRecord",
    "CheckResult",
    "Claim",
    "Client",
    "DeadLetterFilter",
    "DeliveryView",
    "MessageBody",
    "MessageFilter",
    "MessageView",
    "Outcome",
    "Page",
]

#: A message's status, derived from its deliveries.
MESSAGE_STATUSES = ("pending", "delivered", "dead", "discarded", "unrouted")
#: A delivery's status: ``discarded`` is terminal (ops gave up, with a reason in the audit).
DELIVERY_STATUSES = ("pending", "inflight", "delivered", "dead", "discarded")

OPERATOR = "operator"
#: ``client`` posts and reads its own messages; ``operator`` reads everything and repairs.
ROLES = ("client", OPERATOR)


@dataclass(frozen=True, slots=True)
class Client:
    """A caller of the hub: a departmental system, an operator's tool, a job."""

    id: int
    name: str
    allow: tuple[str, ...]
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def is_operator(self) -> bool:
        """Operators read every message and replay dead letters."""
        return self.role == OPERATOR

    def may_send(self, message_type: str) -> bool:
        """Whether this client may send ``message_type`` (its allow list takes globs)."""
        return any(fnmatch.fnmatchcase(message_type, pattern) for pattern in self.allow)

    def to_json(self) -> dict[str, Any]:
        """For ``clients list --json`` (no key material)."""
        return {
            "name": self.name,
            "allow": list(self.allow),
            "role": self.role,
            "created_at": format_time(self.created_at),
            "revoked_at": format_time(self.revoked_at),
        }


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The answer to an accepted message; the same answer comes back for a duplicate."""

    message_id: str
    correlation_id: str | None
    deliveries: tuple[tuple[str, str], ...]
    created: bool
    warnings: tuple[dict[str, str], ...] = ()
    #: For a repeated ``client_ref`` (``created`` false): the first message had another
    #: type, correlation id or payload than the one sent now, which was not stored.
    differs: bool = False

    def to_json(self) -> dict[str, Any]:
        """The body of ``202 Accepted`` (and of ``200`` for a duplicate)."""
        body: dict[str, Any] = {
            "id": self.message_id,
            "status": "accepted",
            "correlation_id": self.correlation_id,
            "deliveries": [{"id": d, "destination": name} for d, name in self.deliveries],
        }
        if self.warnings:
            body["warnings"] = list(self.warnings)
        return body


@dataclass(frozen=True, slots=True)
class MessageBody:
    """What makes two messages with one ``client_ref`` the same message.

    Headers are metadata (trace ids, a retry's own time) and do not count; the correlation
    id is the effective one (``payload.case_no`` when none was given).
    """

    type: str
    correlation_id: str | None
    payload: Any

    @classmethod
    def of(cls, envelope: Envelope) -> MessageBody:
        """The body of an envelope."""
        return cls(envelope.type, envelope.correlation_id, envelope.payload)

    def same_as(self, other: MessageBody) -> bool:
        """Whether ``other`` is this message again.

        Payloads are compared as JSON (RFC 8785 canonical form): key order and ``1`` vs
        ``1.0`` do not matter, ``true`` vs ``1`` does (Python's ``==`` would not tell).
        """
        return (
            self.type == other.type
            and self.correlation_id == other.correlation_id
            and _canonical(self.payload) == _canonical(other.payload)
        )


def _canonical(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:  # integers beyond 2^53: plain sorted JSON
        return json.dumps(value, sort_keys=True, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One try at delivering."""

    number: int
    worker: str
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_ms: int
    outcome: str
    status_code: int | None
    error: str | None

    @classmethod
    def from_row(cls, row: Any) -> AttemptView:
        """A view of an ``attempts`` row."""
        return cls(
            number=row.number,
            worker=row.worker,
            started_at=row.started_at,
            finished_at=row.finished_at,
            duration_ms=row.duration_ms,
            outcome=row.outcome,
            status_code=row.status_code,
            error=row.error,
        )

    def to_json(self) -> dict[str, Any]:
        """As shown by the API."""
        return {
            "number": self.number,
            "started_at": format_time(self.started_at),
            "finished_at": format_time(self.finished_at),
            "duration_ms": self.duration_ms,
            "outcome": self.outcome,
            "status_code": self.status_code,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A message's journey to one destination."""

    id: str
    message_id: str
    destination: str
    route: str | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    delivered_at: dt.datetime | None
    receipt: dict[str, Any] | None = None
    history: tuple[AttemptView, ...] = ()
    message_type: str | None = None
    correlation_id: str | None = None
    #: The replay that made this delivery (``hub.store.replays``), if one did.
    replay_id: str | None = None
    #: The delivery of the same message to the same destination it sends again, if any.
    replay_of: str | None = None

    @classmethod
    def from_row(
        cls,
        row: Any,
        history: tuple[AttemptView, ...] = (),
        *,
        message_type: str | None = None,
    ) -> DeliveryView:
        """A view of a ``deliveries`` row; with ``message_type``, of a row joined to its
        message (then the correlation id is shown too)."""
        return cls(
            id=row.id,
            message_id=row.message_id,
            destination=row.destination,
            route=row.route,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
            delivered_at=row.delivered_at,
            receipt=row.receipt,
            history=history,
            message_type=message_type,
            correlation_id=row.correlation_id if message_type is not None else None,
            replay_id=row._mapping.get("replay_id"),
            replay_of=row._mapping.get("replay_of"),
        )

    def to_json(self, *, with_history: bool = True) -> dict[str, Any]:
        """As shown by the API."""
        body: dict[str, Any] = {
            "id": self.id,
            "message_id": self.message_id,
            "destination": self.destination,
            "route": self.route,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": format_time(self.next_attempt_at)
            if self.status == "pending"
            else None,
            "last_error": self.last_error,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "delivered_at": format_time(self.delivered_at),
        }
        if self.message_type is not None:
            body["message_type"] = self.message_type
            body["correlation_id"] = self.correlation_id
        if self.replay_id is not None:
            body["replay_id"] = self.replay_id
            body["replay_of"] = self.replay_of
        if with_history:
            body["history"] = [a.to_json() for a in self.history]
        return body


@dataclass(frozen=True, slots=True)
class MessageView:
    """A stored message, its status and (when asked for) its deliveries."""

    envelope: Envelope
    channel: str
    status: str
    updated_at: dt.datetime
    deliveries: tuple[DeliveryView, ...] = ()

    def to_json(self, *, with_payload: bool = True) -> dict[str, Any]:
        """As shown by the API."""
        body = self.envelope.to_json()
        if not with_payload:
            body.pop("payload")
            body.pop("headers")
        body["channel"] = self.channel
        body["status"] = self.status
        body["updated_at"] = format_time(self.updated_at)
        if with_payload:
            body["deliveries"] = [d.to_json() for d in self.deliveries]
        return body


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker holds a lease on, with the message to deliver."""

    delivery_id: str
    destination: str
    attempts: int
    envelope: Envelope
    route: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of one attempt.

    Attributes:
        status: ``delivered``, ``retry`` or ``dead``.
        started_at: When the attempt began.
        finished_at: When it ended.
        next_attempt_at: For ``retry``: when to try again.
        status_code: The counterpart's HTTP status, when there was one.
        error: What went wrong, safe to show ops.
        receipt: What the counterpart gave back (ids, waybills...), for ``delivered``.
    """

    status: str
    started_at: dt.datetime
    finished_at: dt.datetime
    next_attempt_at: dt.datetime | None = None
    status_code: int | None = None
    error: str | None = None
    receipt: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a keyset-paginated list; ``next`` is the ``after`` of the next page."""

    items: list[Any] = field(default_factory=list)
    next: str | None = None


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Which messages: empty fields do not filter.

    Attributes:
        any_id: A message id, the sender's ``client_ref``, or one of its delivery ids.
        source: The client (or job, adapter) that sent it.
        type: Exact type, or a prefix glob such as ``case.*``.
        correlation_id: The business key (usually the case number).
        key: Another business key in the payload: a licence id, an order, waybill or
            card number, a decision number (see :mod:`hub.store.keys`).
        status: Message status (one of :data:`MESSAGE_STATUSES`).
        destination: Has a delivery to this destination.
        since: Accepted at or after.
        until: Accepted before.
    """

    any_id: str = ""
    source: str = ""
    type: str = ""
    correlation_id: str = ""
    key: str = ""
    status: str = ""
    destination: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters: empty fields do not filter.

    Attributes:
        destination: Exact destination.
        type: Exact message type.
        source: The client that sent the message.
        error: Text the last error contains.
        correlation_id: Exact correlation id (the case number).
    """

    destination: str = ""
    type: str = ""
    source: str = ""
    error: str = ""
    correlation_id: str = ""

    @property
    def empty(self) -> bool:
        """True when nothing is filtered (every dead letter matches)."""
        return not (
            self.destination or self.type or self.source or self.error or self.correlation_id
        )


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what to what, when."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one ``check()``."""

    destination: str
    adapter: str
    ok: bool
    checked_at: dt.datetime
    duration_ms: int
    error_kind: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the API and ``--json`` show it."""
        return {
            "destination": self.destination,
            "adapter": self.adapter,
            "ok": self.ok,
            "at": format_time(self.checked_at),
            "duration_ms": self.duration_ms,
            "error_kind": self.error_kind,
            "error": self.error,
        }
