"""What case and project timelines share: events written with their messages, then taken
in by a record (``applied``) by the job that folds them.

Both ``case_events`` and ``flow_events`` have ``message_id``, ``received_at`` and
``applied``; the key column (``case_no``, ``project_no``) names whose timeline it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Connection, Table, select, update

from hub.store.database import Database

__all__ = ["CHUNK", "mark_applied", "pending_keys"]

#: Ids per ``IN (...)``: far below every database's limit of bound parameters.
CHUNK = 500


def pending_keys(db: Database, key: Column[str], limit: int) -> list[str]:
    """Keys of the timelines with events not yet taken in, oldest event first.

    Args:
        db: The database.
        key: The key column of an events table (``case_events.c.case_no``).
        limit: How many keys at most.
    """
    events = key.table
    with db.read() as connection:
        rows = connection.execute(
            select(key)
            .where(events.c.applied.is_(False))
            .order_by(events.c.received_at)
            # a timeline often has several pending events: read more rows than keys wanted
            .limit(limit * 4)
        ).scalars()
        found = list(dict.fromkeys(rows))
    return found[:limit]


def mark_applied(connection: Connection, events: Table, message_ids: Sequence[str]) -> None:
    """Mark events as taken in by their record (in the transaction that writes the record)."""
    ids = list(message_ids)
    for start in range(0, len(ids), CHUNK):
        connection.execute(
            update(events)
            .where(events.c.message_id.in_(ids[start : start + CHUNK]))
            .values(applied=True)
        )
