"""Indexes the traffic charts count from (messages by time and channel, attempts by time
and outcome). Deliveries gain the terminal status ``discarded`` (a string column: no
schema change).

Revision ID: charts_0001
Revises: soap_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "charts_0001"
down_revision = "soap_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The overview charts count by time and channel/outcome straight from these indexes.
    op.create_index("ix_attempts_finished_at_outcome", "attempts", ["finished_at", "outcome"])
    op.create_index("ix_messages_created_at_channel", "messages", ["created_at", "channel"])


def downgrade() -> None:
    op.drop_index("ix_messages_created_at_channel", "messages")
    op.drop_index("ix_attempts_finished_at_outcome", "attempts")
