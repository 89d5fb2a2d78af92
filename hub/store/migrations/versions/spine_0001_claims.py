"""Claims read from an index: a destination's due heads; leases to take back.

Deliveries gain the status ``waiting`` (behind an earlier open delivery of their case; a
string column, no schema change): only the head of a case's queue is ``pending``. Open
deliveries of databases made before are queued once here.

Revision ID: spine_0001
Revises: keys_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "spine_0001"
down_revision = "keys_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # dispatchers beat beside schedulers, so a web-only process can tell one works
    op.add_column(
        "scheduler_nodes",
        sa.Column("kind", sa.String(20), nullable=False, server_default="scheduler"),
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["destination", "next_attempt_at", "seq"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_deliveries_leases",
        "deliveries",
        ["lease_expires_at"],
        sqlite_where=sa.text("status = 'inflight'"),
        postgresql_where=sa.text("status = 'inflight'"),
    )
    # Pending deliveries behind an earlier open one of the same case wait their turn.
    op.execute(
        "UPDATE deliveries SET status = 'waiting' WHERE status = 'pending'"
        " AND correlation_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM deliveries AS earlier WHERE earlier.destination = deliveries.destination"
        " AND earlier.correlation_id = deliveries.correlation_id"
        " AND earlier.seq < deliveries.seq AND earlier.status IN ('pending', 'inflight'))"
    )


def downgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'waiting'")
    op.drop_index("ix_deliveries_leases", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    with op.batch_alter_table("scheduler_nodes") as batch:
        batch.drop_column("kind")
