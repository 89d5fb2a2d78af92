"""Messages, deliveries, attempts, clients and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import BigId, JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = ("hub",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("client_ref", sa.String(200)),
        sa.Column("correlation_id", sa.String(200)),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("headers", JSONType, nullable=False),
        sa.UniqueConstraint("source", "client_ref", name="uq_messages_source_client_ref"),
    )
    op.create_index("ix_messages_type_id", "messages", ["type", "id"])
    op.create_index("ix_messages_correlation_id_id", "messages", ["correlation_id", "id"])
    op.create_index("ix_messages_status_id", "messages", ["status", "id"])
    op.create_index("ix_messages_source_id", "messages", ["source", "id"])

    op.create_table(
        "deliveries",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(26), nullable=False, unique=True),
        sa.Column(
            "message_id",
            sa.String(26),
            sa.ForeignKey(
                "messages.id", ondelete="CASCADE", name="fk_deliveries_message_id_messages"
            ),
            nullable=False,
        ),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("route", sa.String(200)),
        sa.Column("correlation_id", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("last_error", sa.Text),
        sa.Column("receipt", JSONType),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
    )
    op.create_index(
        "ix_deliveries_status_next_attempt_at", "deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_deliveries_destination_correlation_id_seq",
        "deliveries",
        ["destination", "correlation_id", "seq"],
    )
    op.create_index("ix_deliveries_message_id", "deliveries", ["message_id"])

    op.create_table(
        "attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.String(26),
            sa.ForeignKey(
                "deliveries.id", ondelete="CASCADE", name="fk_attempts_delivery_id_deliveries"
            ),
            nullable=False,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_attempts_delivery_id_number", "attempts", ["delivery_id", "number"])

    op.create_table(
        "clients",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("allow", JSONType, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
    )

    op.create_table(
        "audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("detail", JSONType),
    )
    op.create_index("ix_audit_at", "audit", ["at"])


def downgrade() -> None:
    for table in ("audit", "clients", "attempts", "deliveries", "messages"):
        op.drop_table(table)
