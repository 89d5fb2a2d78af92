"""The courier adapter's tables: shipments (waybills) and their route events.

Revision ID: courier_0001
Revises: (base of the ``courier`` branch)
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import BigId, UTCDateTime

revision = "courier_0001"
down_revision = None
branch_labels = ("courier",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("order_no", sa.String(64), nullable=False),
        sa.Column("case_no", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("waybill_no", sa.String(20)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("last_code", sa.String(8)),
        sa.Column("last_event_at", UTCDateTime()),
        sa.Column("message_id", sa.String(26)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("destination", "order_no", name="uq_shipments_destination_order_no"),
        sa.UniqueConstraint(
            "destination", "waybill_no", name="uq_shipments_destination_waybill_no"
        ),
    )
    op.create_index("ix_shipments_destination_state", "shipments", ["destination", "state"])
    op.create_table(
        "shipment_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("waybill_no", sa.String(20), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("place", sa.String(200)),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("message_id", sa.String(26)),
        sa.UniqueConstraint(
            "destination",
            "waybill_no",
            "code",
            "occurred_at",
            name="uq_shipment_events_destination_waybill_no_code_occurred_at",
        ),
    )


def downgrade() -> None:
    op.drop_table("shipment_events")
    op.drop_index("ix_shipments_destination_state", table_name="shipments")
    op.drop_table("shipments")
