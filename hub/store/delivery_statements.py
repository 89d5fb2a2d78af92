"""The outbox's hot statements, built once: building SQLAlchemy expressions costs more CPU
than running them. Claiming, recording an outcome, recovering expired leases, and deriving
a message's status from its deliveries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, bindparam, case, exists, func, or_, select, update
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter

from hub.core.columns import JSONType, UTCDateTime
from hub.store.queues import OPEN
from hub.store.tables import attempts, deliveries, messages

__all__ = [
    "ATTEMPT_NUMBERS",
    "CLAIM",
    "FINISH",
    "LEASES",
    "MESSAGES",
    "NEXT_DUE",
    "REFRESH",
    "recover_expired",
    "refresh_message_status",
]


def _finish_statement(status: str) -> Any:
    """The UPDATE that records an outcome, fenced by the lease (built once per status)."""
    values: dict[str, Any] = {
        "status": "pending" if status == "retry" else status,
        "attempts": deliveries.c.attempts + 1,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": bindparam("p_finished_at", type_=UTCDateTime()),
        "last_error": bindparam("p_error"),
    }
    if status == "retry":
        values["next_attempt_at"] = bindparam("p_next_attempt_at", type_=UTCDateTime())
    if status == "delivered":
        values["delivered_at"] = bindparam("p_finished_at", type_=UTCDateTime())
        values["receipt"] = bindparam("p_receipt", type_=JSONType)
    return (
        update(deliveries)
        .where(
            deliveries.c.id == bindparam("p_delivery_id"),
            deliveries.c.lease_owner == bindparam("p_owner"),
            deliveries.c.status == "inflight",
        )
        .values(**values)
    )


def _claim_statement() -> Any:
    """Lease a destination's oldest due heads (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""
    due = (
        select(deliveries.c.seq)
        .where(
            deliveries.c.destination == bindparam("p_destination"),
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= bindparam("p_now", type_=UTCDateTime()),
        )
        .order_by(deliveries.c.next_attempt_at, deliveries.c.seq)
        .limit(bindparam("p_take"))
        .with_for_update(skip_locked=True)
    )
    return (
        update(deliveries)
        .where(deliveries.c.seq.in_(due.scalar_subquery()))
        .values(
            status="inflight",
            lease_owner=bindparam("p_owner"),
            lease_expires_at=bindparam("p_expires", type_=UTCDateTime()),
            updated_at=bindparam("p_now", type_=UTCDateTime()),
        )
        .returning(
            deliveries.c.id,
            deliveries.c.seq,
            deliveries.c.message_id,
            deliveries.c.destination,
            deliveries.c.attempts,
            deliveries.c.route,
        )
    )


CLAIM = _claim_statement()
FINISH = {status: _finish_statement(status) for status in ("delivered", "retry", "dead")}


def recover_expired(connection: Connection, now: dt.datetime) -> int:
    """Put deliveries whose lease expired (their worker died) back as due now."""
    return int(
        connection.execute(
            update(deliveries)
            .where(deliveries.c.status == "inflight", deliveries.c.lease_expires_at < now)
            .values(
                status="pending",
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=now,
                updated_at=now,
            )
        ).rowcount
    )


def _refresh_statement() -> Any:
    def having(*statuses: str) -> ColumnElement[bool]:
        return exists().where(
            deliveries.c.message_id == bindparam("p_message_id"),
            # not IN (...): executemany cannot take a literal list's expanding parameter
            or_(*(deliveries.c.status == status for status in statuses)),
        )

    return (
        update(messages)
        .where(messages.c.id == bindparam("p_message_id"))
        .values(
            status=case(
                (having(*OPEN), "pending"),
                (having("dead"), "dead"),
                # every delivery ended, none delivered: ops gave up on all of them
                (~having("delivered"), "discarded"),
                else_="delivered",
            ),
            updated_at=bindparam("p_now", type_=UTCDateTime()),
        )
    )


REFRESH = _refresh_statement()


def refresh_message_status(connection: Connection, message_id: str, now: dt.datetime) -> None:
    """Derive a message's status from its deliveries again (in the caller's transaction)."""
    connection.execute(REFRESH, {"p_message_id": message_id, "p_now": now})


_IDS: BindParameter[Any] = bindparam("p_ids", expanding=True)
#: The messages of claimed deliveries.
MESSAGES = select(messages).where(messages.c.id.in_(_IDS))
#: Who holds the lease of each delivery still in flight (locked until the outcome is written).
LEASES = (
    select(deliveries.c.id, deliveries.c.lease_owner)
    .where(deliveries.c.id.in_(_IDS), deliveries.c.status == "inflight")
    .with_for_update()
)
#: The last attempt number of each delivery.
ATTEMPT_NUMBERS = (
    select(attempts.c.delivery_id, func.max(attempts.c.number))
    .where(attempts.c.delivery_id.in_(_IDS))
    .group_by(attempts.c.delivery_id)
)
#: When the earliest pending delivery falls due.
NEXT_DUE = select(func.min(deliveries.c.next_attempt_at)).where(deliveries.c.status == "pending")
