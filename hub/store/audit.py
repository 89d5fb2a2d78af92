"""The audit trail: who did what to what, and when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from hub.core.clock import utcnow
from hub.store.database import Database
from hub.store.records import AuditRecord
from hub.store.tables import audit

__all__ = ["AuditLog", "write_audit"]


class AuditLog:
    """Records of every change a person or a client made.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self, actor: str, action: str, target: str | None, detail: Mapping[str, Any] | None = None
    ) -> None:
        """Record who did what to what (its own transaction)."""
        with self.db.write() as connection:
            write_audit(connection, actor, action, target, detail, utcnow())

    def trail(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit records, as plain dictionaries."""
        with self.db.read() as connection:
            rows = connection.execute(select(audit).order_by(audit.c.id.desc()).limit(limit)).all()
        return [dict(row._mapping) for row in rows]

    def about(self, targets: Sequence[str], *, limit: int = 200) -> list[AuditRecord]:
        """Records about any of ``targets`` (e.g. a message and its deliveries), oldest first."""
        if not targets:
            return []
        with self.db.read() as connection:
            rows = connection.execute(
                select(audit)
                .where(audit.c.target.in_(list(targets)))
                .order_by(audit.c.id)
                .limit(limit)
            ).all()
        return [_record(row) for row in rows]

    def recent(
        self,
        *,
        actor: str = "",
        action: str = "",
        before: int | None = None,
        limit: int = 100,
    ) -> tuple[list[AuditRecord], int | None]:
        """The newest records, filtered by actor and action prefix; and the ``before`` of
        the next page (``None`` on the last)."""
        query = select(audit).order_by(audit.c.id.desc()).limit(limit + 1)
        if actor:
            query = query.where(audit.c.actor == actor)
        if action:
            query = query.where(audit.c.action.like(action.replace("%", "") + "%"))
        if before is not None:
            query = query.where(audit.c.id < before)
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        more = rows[limit - 1].id if len(rows) > limit else None
        return [_record(row) for row in rows[:limit]], more


def write_audit(
    connection: Connection,
    actor: str,
    action: str,
    target: str | None,
    detail: Mapping[str, Any] | None,
    now: dt.datetime,
) -> None:
    """Append an audit record in the caller's transaction (with the change it records)."""
    connection.execute(
        insert(audit),
        {
            "at": now,
            "actor": actor,
            "action": action,
            "target": target,
            "detail": dict(detail) if detail else None,
        },
    )


def _record(row: Any) -> AuditRecord:
    return AuditRecord(row.id, row.at, row.actor, row.action, row.target, row.detail)
