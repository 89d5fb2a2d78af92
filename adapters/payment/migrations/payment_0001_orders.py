"""The payment adapter's tables: orders the hub sent and the notifications that paid them.

Revision ID: payment_0001
Revises: (base of the ``payment`` branch)
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import BigId, UTCDateTime

revision = "payment_0001"
down_revision = None
branch_labels = ("payment",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_orders",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("order_no", sa.String(64), nullable=False),
        sa.Column("case_no", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("item", sa.String(128), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("trade_no", sa.String(64)),
        sa.Column("pay_code", sa.String(64)),
        sa.Column("pay_channel", sa.String(20)),
        sa.Column("message_id", sa.String(26)),
        sa.Column("expires_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("paid_at", UTCDateTime()),
        sa.UniqueConstraint(
            "destination", "order_no", name="uq_payment_orders_destination_order_no"
        ),
    )
    op.create_index(
        "ix_payment_orders_destination_paid_at", "payment_orders", ["destination", "paid_at"]
    )
    op.create_table(
        "payment_notifications",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("notify_id", sa.String(64), nullable=False),
        sa.Column("order_no", sa.String(64), nullable=False),
        sa.Column("trade_no", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("trade_status", sa.String(32), nullable=False),
        sa.Column("notify_time", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.UniqueConstraint(
            "destination", "notify_id", name="uq_payment_notifications_destination_notify_id"
        ),
        sa.UniqueConstraint(
            "destination", "order_no", name="uq_payment_notifications_destination_order_no"
        ),
    )


def downgrade() -> None:
    op.drop_table("payment_notifications")
    op.drop_index("ix_payment_orders_destination_paid_at", table_name="payment_orders")
    op.drop_table("payment_orders")
