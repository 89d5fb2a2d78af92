"""The last check of each destination; an index to find a destination's last delivery.

Revision ID: adapters_0001
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import UTCDateTime

revision = "adapters_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapter_checks",
        sa.Column("destination", sa.String(100), primary_key=True),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error_kind", sa.String(20)),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("checked_by", sa.String(100), nullable=False),
    )
    op.create_index(
        "ix_deliveries_destination_updated_at", "deliveries", ["destination", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_destination_updated_at", table_name="deliveries")
    op.drop_table("adapter_checks")
