"""The sync jobs' own tables: the payment reconciliation reports.

Not the engine's: they are migrated by the jobs' Alembic branch ``payment_reconcile``
(``jobs/migrations/``), found through the entry point group ``govhub.migrations``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Boolean, Column, Integer, String, Table, UniqueConstraint

from hub.core.columns import JSONType, UTCDateTime, plugin_metadata

__all__ = ["MIGRATIONS", "metadata", "payment_reconciliations"]

metadata = plugin_metadata()
#: The jobs' Alembic version folder.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: One report per payment destination and day, replaced when the day is reconciled again.
payment_reconciliations = Table(
    "payment_reconciliations",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("destination", String(100), nullable=False),
    Column("day", String(10), nullable=False),
    Column("balanced", Boolean, nullable=False),
    Column("matched", Integer, nullable=False),
    Column("missing_at_hub", Integer, nullable=False),
    Column("missing_at_platform", Integer, nullable=False),
    Column("amount_differs", Integer, nullable=False),
    Column("report", JSONType, nullable=False),
    Column("run_id", String(26)),
    Column("reconciled_at", UTCDateTime(), nullable=False),
    UniqueConstraint("destination", "day"),
)
