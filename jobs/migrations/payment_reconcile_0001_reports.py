"""Payment reconciliation reports (the ``payment.reconcile`` job).

Revision ID: payment_reconcile_0001
Revises: (base of the ``payment_reconcile`` branch)
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import JSONType, UTCDateTime

revision = "payment_reconcile_0001"
down_revision = None
branch_labels = ("payment_reconcile",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_reconciliations",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("balanced", sa.Boolean, nullable=False),
        sa.Column("matched", sa.Integer, nullable=False),
        sa.Column("missing_at_hub", sa.Integer, nullable=False),
        sa.Column("missing_at_platform", sa.Integer, nullable=False),
        sa.Column("amount_differs", sa.Integer, nullable=False),
        sa.Column("report", JSONType, nullable=False),
        sa.Column("run_id", sa.String(26)),
        sa.Column("reconciled_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "destination", "day", name="uq_payment_reconciliations_destination_day"
        ),
    )


def downgrade() -> None:
    op.drop_table("payment_reconciliations")
