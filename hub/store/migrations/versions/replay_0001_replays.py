"""Replays of stored messages: the replays, and which delivery each replay made.

Revision ID: replay_0001
Revises: reload_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import JSONType, UTCDateTime

revision = "replay_0001"
down_revision = "reload_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replays",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("filter", JSONType, nullable=False),
        sa.Column("target", JSONType, nullable=False),
        sa.Column("missing_only", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("upto", sa.String(26)),
        sa.Column("cursor", sa.String(26)),
        sa.Column("scanned", sa.Integer, nullable=False),
        sa.Column("created", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_replays"),
    )
    op.create_index("ix_replays_created_at", "replays", ["created_at"])
    # nullable columns: no table rewrite on either database
    op.add_column("deliveries", sa.Column("replay_id", sa.String(26)))
    op.add_column("deliveries", sa.Column("replay_of", sa.String(26)))
    op.create_index(
        "uq_deliveries_replay",
        "deliveries",
        ["replay_id", "message_id", "destination"],
        unique=True,
        sqlite_where=sa.text("replay_id IS NOT NULL"),
        postgresql_where=sa.text("replay_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_deliveries_replay", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("replay_of")
        batch.drop_column("replay_id")
    op.drop_index("ix_replays_created_at", "replays")
    op.drop_table("replays")
