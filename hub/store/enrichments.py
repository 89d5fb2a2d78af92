"""Submit once (免提交): each case's look-ups, kept for the case, and the ones to retry.

One row per case number: what the e-license library and the identity service said about
the applicant (``result``, the ``payload.submit_once`` a department gets), or that they
could not answer (``not_enriched``, with when the retry job tries again). Every look-up
made is written to the audit trail in the same transaction, about the case's message, so
the message's trace shows which licences were looked up, for what, and what came of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select, update

from hub.store.audit import write_audit
from hub.store.case_tables import case_enrichments
from hub.store.database import Database
from hub.store.protection import PayloadProtector

__all__ = ["Enrichment", "Enrichments"]

#: The statuses a case's row takes.
ENRICHMENT_STATUSES = ("enriched", "not_enriched", "declined")


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What submit once found for a case.

    Attributes:
        case_no: The case.
        message_id: The ``case.submitted`` it looked up for.
        status: ``enriched``, ``not_enriched`` or ``declined``.
        result: ``payload.submit_once`` as the department gets it.
        attempts: Look-up rounds made (the first on delivery, then the job's).
        next_attempt_at: When the retry job tries a ``not_enriched`` case again.
        published_id: The ``case.enriched`` the job published, once it did.
        updated_at: When the row last changed.
    """

    case_no: str
    message_id: str
    status: str
    result: dict[str, Any]
    attempts: int
    next_attempt_at: dt.datetime | None
    published_id: str | None
    updated_at: dt.datetime


class Enrichments:
    """The submit-once rows.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, case_no: str) -> Enrichment | None:
        """The case's row, if it was looked up."""
        with self.db.read() as connection:
            row = connection.execute(
                select(case_enrichments).where(case_enrichments.c.case_no == case_no)
            ).first()
        return _enrichment(row, self.db.protector) if row is not None else None

    def save(
        self,
        enrichment: Enrichment,
        lookups: Sequence[Mapping[str, Any]],
        *,
        actor: str = "submit_once",
    ) -> None:
        """Store the case's row (replacing an earlier one) and audit every look-up made.

        Args:
            enrichment: The row.
            lookups: One audit detail per look-up (what, why, for which item, found).
            actor: Who looked up (the audit's actor).
        """
        values = {
            "message_id": enrichment.message_id,
            "status": enrichment.status,
            "result": (
                enrichment.result
                if self.db.protector is None
                else self.db.protector.protect(enrichment.result)
            ),
            "attempts": enrichment.attempts,
            "next_attempt_at": enrichment.next_attempt_at,
            "published_id": enrichment.published_id,
            "updated_at": enrichment.updated_at,
        }
        with self.db.write() as connection:
            changed = connection.execute(
                update(case_enrichments)
                .where(case_enrichments.c.case_no == enrichment.case_no)
                .values(**values)
            ).rowcount
            if not changed:
                connection.execute(
                    self.db.dialect.insert_ignoring_duplicates(case_enrichments),
                    {"case_no": enrichment.case_no, **values},
                )
            for detail in lookups:
                write_audit(
                    connection,
                    actor,
                    str(detail.get("action", "license.lookup")),
                    enrichment.message_id,
                    detail,
                    enrichment.updated_at,
                )

    def published(self, case_no: str, message_id: str) -> None:
        """Note the ``case.enriched`` published for the case."""
        with self.db.write() as connection:
            connection.execute(
                update(case_enrichments)
                .where(case_enrichments.c.case_no == case_no)
                .values(published_id=message_id)
            )

    def due(self, now: dt.datetime, *, limit: int = 100) -> list[Enrichment]:
        """``not_enriched`` cases whose retry time has come, oldest first."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(case_enrichments)
                .where(
                    case_enrichments.c.status == "not_enriched",
                    case_enrichments.c.next_attempt_at <= now,
                )
                .order_by(case_enrichments.c.next_attempt_at)
                .limit(limit)
            ).all()
        return [_enrichment(row, self.db.protector) for row in rows]

    def pending(self) -> int:
        """How many cases wait for a retry."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(case_enrichments.c.case_no).where(
                    case_enrichments.c.status == "not_enriched"
                )
            ).all()
        return len(rows)


def _enrichment(row: Row[Any], protector: PayloadProtector | None) -> Enrichment:
    result = dict(row.result or {})
    return Enrichment(
        case_no=row.case_no,
        message_id=row.message_id,
        status=row.status,
        result=result if protector is None else protector.reveal(result),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        published_id=row.published_id,
        updated_at=row.updated_at,
    )
