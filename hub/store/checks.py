"""Connection checks: the last ``check()`` of each destination, and its last delivery.

One row per destination, in the store, so every node shows the same.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, desc, insert, select

from hub.core.clock import format_time
from hub.store.database import Database
from hub.store.records import CheckResult
from hub.store.tables import adapter_checks, attempts, deliveries

__all__ = ["Checks"]


class Checks:
    """What is known of each destination's health.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, result: CheckResult, *, actor: str) -> None:
        """Keep ``result`` as the destination's last check."""
        with self.db.write() as connection:
            connection.execute(
                delete(adapter_checks).where(adapter_checks.c.destination == result.destination)
            )
            connection.execute(
                insert(adapter_checks),
                {
                    "destination": result.destination,
                    "checked_at": result.checked_at,
                    "ok": result.ok,
                    "error_kind": result.error_kind,
                    "error": result.error,
                    "duration_ms": result.duration_ms,
                    "checked_by": actor,
                },
            )

    def last_checks(self) -> dict[str, dict[str, Any]]:
        """The last recorded check of every destination that has one."""
        with self.db.read() as connection:
            rows = connection.execute(select(adapter_checks)).all()
        return {
            row.destination: {
                "at": format_time(row.checked_at),
                "ok": row.ok,
                "error_kind": row.error_kind,
                "error": row.error,
                "duration_ms": row.duration_ms,
                "by": row.checked_by,
            }
            for row in rows
        }

    def last_delivery(self, destination: str) -> dict[str, Any] | None:
        """The outcome of the most recent delivery attempt to ``destination``, if any."""
        with self.db.read() as connection:
            delivery = connection.execute(
                select(deliveries.c.id, deliveries.c.status)
                .where(deliveries.c.destination == destination, deliveries.c.attempts > 0)
                .order_by(desc(deliveries.c.updated_at))
                .limit(1)
            ).first()
            if delivery is None:
                return None
            attempt = connection.execute(
                select(attempts)
                .where(attempts.c.delivery_id == delivery.id)
                .order_by(desc(attempts.c.number))
                .limit(1)
            ).first()
        if attempt is None:  # pragma: no cover - attempts > 0 says there is one
            return None
        return {
            "delivery_id": delivery.id,
            "at": format_time(attempt.finished_at),
            "outcome": attempt.outcome,
            "status_code": attempt.status_code,
            "error": attempt.error,
        }
