"""The console's searches over the store: messages, dead letters, audit records.

They go beyond the REST API's filters (time ranges, error text, any id), so they live
with the console rather than in :class:`~hub.store.Store`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, or_, select

from hub.store import DeliveryView, Page, Store
from hub.store.tables import audit, deliveries, messages

__all__ = [
    "AuditRecord",
    "DeadLetterFilter",
    "MessageFilter",
    "audit_for",
    "count_dead_letters",
    "dead_letter_ids",
    "dead_letters",
    "recent_audit",
    "search_messages",
]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """A message search; empty fields do not filter.

    Attributes:
        any_id: A message id, the sender's ``client_ref``, or one of its delivery ids.
        type: Exact message type.
        case_no: The correlation id (usually the case number).
        status: Message status.
        destination: Has a delivery to this destination.
        since: Accepted at or after.
        until: Accepted before.
    """

    any_id: str = ""
    type: str = ""
    case_no: str = ""
    status: str = ""
    destination: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def search_messages(
    store: Store, where: MessageFilter, *, after: str | None = None, limit: int = 50
) -> Page:
    """Messages matching ``where``, newest first; items are rows of ``messages``."""
    query = select(messages).order_by(messages.c.id.desc()).limit(limit + 1)
    if where.any_id:
        query = query.where(
            or_(
                messages.c.id == where.any_id,
                messages.c.client_ref == where.any_id,
                exists().where(
                    deliveries.c.message_id == messages.c.id, deliveries.c.id == where.any_id
                ),
            )
        )
    if where.type:
        query = query.where(messages.c.type == where.type)
    if where.case_no:
        query = query.where(messages.c.correlation_id == where.case_no)
    if where.status:
        query = query.where(messages.c.status == where.status)
    if where.destination:
        query = query.where(
            exists().where(
                deliveries.c.message_id == messages.c.id,
                deliveries.c.destination == where.destination,
            )
        )
    if where.since:
        query = query.where(messages.c.created_at >= where.since)
    if where.until:
        query = query.where(messages.c.created_at < where.until)
    if after:
        query = query.where(messages.c.id < after)
    with store.read() as connection:
        rows = connection.execute(query).all()
    items = list(rows[:limit])
    return Page(items=items, next=items[-1].id if len(rows) > limit else None)


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters: empty fields do not filter.

    Attributes:
        destination: Exact destination.
        error: Text the last error contains.
        type: Exact message type.
        case_no: Exact correlation id.
    """

    destination: str = ""
    error: str = ""
    type: str = ""
    case_no: str = ""

    @property
    def empty(self) -> bool:
        """True when nothing is filtered (every dead letter matches)."""
        return not (self.destination or self.error or self.type or self.case_no)


def _dead(where: DeadLetterFilter, *columns: Any) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(deliveries.join(messages, messages.c.id == deliveries.c.message_id))
        .where(deliveries.c.status == "dead")
    )
    if where.destination:
        query = query.where(deliveries.c.destination == where.destination)
    if where.error:
        query = query.where(deliveries.c.last_error.like(_like(where.error), escape="\\"))
    if where.type:
        query = query.where(messages.c.type == where.type)
    if where.case_no:
        query = query.where(deliveries.c.correlation_id == where.case_no)
    return query


def dead_letters(
    store: Store, where: DeadLetterFilter, *, after: str | None = None, limit: int = 50
) -> Page:
    """Dead letters matching ``where``, newest first, as :class:`DeliveryView`."""
    query = (
        _dead(where, deliveries, messages.c.type.label("message_type"))
        .order_by(deliveries.c.id.desc())
        .limit(limit + 1)
    )
    if after:
        query = query.where(deliveries.c.id < after)
    with store.read() as connection:
        rows = connection.execute(query).all()
    items = [DeliveryView.from_row(row, message_type=row.message_type) for row in rows[:limit]]
    return Page(items=items, next=items[-1].id if len(rows) > limit else None)


def count_dead_letters(store: Store, where: DeadLetterFilter) -> int:
    """How many dead letters match ``where``."""
    with store.read() as connection:
        return int(connection.execute(_dead(where, func.count())).scalar_one())


def dead_letter_ids(store: Store, where: DeadLetterFilter, *, limit: int = 10_000) -> list[str]:
    """Ids of the dead letters matching ``where``, oldest first (replay keeps case order)."""
    query = _dead(where, deliveries.c.id).order_by(deliveries.c.seq).limit(limit)
    with store.read() as connection:
        return list(connection.execute(query).scalars())


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what to what, when."""

    at: dt.datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] | None


def _records(rows: Sequence[Any]) -> list[AuditRecord]:
    return [AuditRecord(r.at, r.actor, r.action, r.target, r.detail) for r in rows]


def audit_for(store: Store, targets: Sequence[str], *, limit: int = 200) -> list[AuditRecord]:
    """Audit records about any of ``targets`` (e.g. a message's deliveries), oldest first."""
    if not targets:
        return []
    with store.read() as connection:
        rows = connection.execute(
            select(audit).where(audit.c.target.in_(list(targets))).order_by(audit.c.id).limit(limit)
        ).all()
    return _records(rows)


def recent_audit(
    store: Store, *, actor: str = "", action: str = "", before: int | None = None, limit: int = 100
) -> tuple[list[AuditRecord], int | None]:
    """The newest audit records, filtered; and the ``before`` of the next page."""
    query = select(audit).order_by(audit.c.id.desc()).limit(limit + 1)
    if actor:
        query = query.where(audit.c.actor == actor)
    if action:
        query = query.where(audit.c.action.like(action.replace("%", "") + "%"))
    if before is not None:
        query = query.where(audit.c.id < before)
    with store.read() as connection:
        rows = connection.execute(query).all()
    more = rows[limit - 1].id if len(rows) > limit else None
    return _records(rows[:limit]), more
