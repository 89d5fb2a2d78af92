"""Case queues: order per case, kept by the rows themselves.

For one destination, the deliveries of one case (correlation id) go out one at a time in
the order they were accepted. Only the head of a case's queue is ``pending`` (or
``inflight``); the deliveries behind it are ``waiting``, and each transaction that ends the
head (delivered, dead, discarded) makes the next one ``pending`` in the same transaction.
So a claim never looks past the head of a queue and never scans the backlog: it reads the
due ``pending`` rows of a destination from an index, and a stuck case holds back only
itself. A delivery without a correlation id is in no queue: it is ``pending`` at once.

Every transaction that changes a queue takes the dialect's case locks first
(:meth:`~hub.store.dialects.Dialect.lock_cases`), so an accept that queues behind a head
and a finish that moves the head on never interleave, on any number of nodes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, exists, or_, select, update

from hub.core.columns import UTCDateTime
from hub.store.tables import deliveries

__all__ = ["ACTIVE", "OPEN", "case_key", "open_cases", "promote_next", "queue_rows"]

#: A case's head: what the dispatcher works or may claim.
ACTIVE = ("pending", "inflight")
#: Not yet ended: the head and what waits behind it.
OPEN = ("pending", "inflight", "waiting")


def case_key(destination: str, correlation_id: str | None) -> tuple[str, str] | None:
    """The queue a delivery belongs to; ``None`` for one without a correlation id."""
    return None if correlation_id is None else (destination, correlation_id)


def open_cases(connection: Connection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these case queues hold an open delivery (so a new one must wait)."""
    cases: dict[str, list[str]] = {}
    for destination, correlation_id in sorted(set(keys)):
        cases.setdefault(destination, []).append(correlation_id)
    found: set[tuple[str, str]] = set()
    # One destination at a time: "destination = ? AND correlation_id IN (...)" reads the
    # (destination, correlation_id) index, where a list of (destination, case) pairs makes
    # PostgreSQL test every pair against every open row of the destination.
    for destination, correlation_ids in cases.items():
        for start in range(0, len(correlation_ids), 400):
            rows = connection.execute(
                select(deliveries.c.correlation_id)
                .where(
                    deliveries.c.destination == destination,
                    deliveries.c.correlation_id.in_(correlation_ids[start : start + 400]),
                    deliveries.c.status.in_(OPEN),
                )
                .distinct()
            ).scalars()
            found.update((destination, correlation_id) for correlation_id in rows)
    return found


def queue_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Set the status of new delivery rows (in order): ``pending`` at the head of its
    case's queue, ``waiting`` behind an open delivery of the same case."""
    keys = [key for row in rows if (key := case_key(row["destination"], row["correlation_id"]))]
    busy = open_cases(connection, keys) if keys else set()
    for row in rows:
        key = case_key(row["destination"], row["correlation_id"])
        if key is None:
            row["status"] = "pending"
        elif key in busy:
            row["status"] = "waiting"
        else:
            row["status"] = "pending"
            busy.add(key)


def _promote_statement() -> Any:
    waiting = deliveries.alias("waiting")
    oldest = (
        select(waiting.c.seq)
        .where(
            waiting.c.destination == bindparam("p_destination"),
            waiting.c.correlation_id == bindparam("p_correlation_id"),
            waiting.c.status == "waiting",
        )
        .order_by(waiting.c.seq)
        .limit(1)
        .scalar_subquery()
    )
    head = deliveries.alias("head")
    has_head = exists().where(
        head.c.destination == bindparam("p_destination"),
        head.c.correlation_id == bindparam("p_correlation_id"),
        # spelled out, not IN (...): a literal list is an expanding parameter, which
        # executemany cannot take
        or_(*(head.c.status == status for status in ACTIVE)),
    )
    return (
        update(deliveries)
        .where(deliveries.c.seq == oldest, ~has_head)
        .values(status="pending", updated_at=bindparam("p_now", type_=UTCDateTime()))
    )


# Built once: building SQLAlchemy expressions costs more CPU than running them.
_PROMOTE = _promote_statement()


def promote_next(connection: Connection, keys: Iterable[tuple[str, str]], now: dt.datetime) -> int:
    """Make the oldest waiting delivery of each case the head, unless the case has one.

    Returns:
        How many deliveries became ``pending``.
    """
    rows = [
        {"p_destination": destination, "p_correlation_id": correlation_id, "p_now": now}
        for destination, correlation_id in sorted(set(keys))
    ]
    if not rows:
        return 0
    # one statement for the group; a driver that cannot count an executemany says -1
    promoted = connection.execute(_PROMOTE, rows).rowcount
    return len(rows) if promoted < 0 else int(promoted)
