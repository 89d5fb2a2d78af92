"""Modular approval flows: project timelines and records.

Revision ID: flows_0001
Revises: cases_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import JSONType, UTCDateTime

revision = "flows_0001"
down_revision = "cases_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_events",
        sa.Column("message_id", sa.String(26), primary_key=True),
        sa.Column("project_no", sa.String(64), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("module", sa.String(64), nullable=False),
        sa.Column("department_code", sa.String(18)),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("applied", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_flow_events_project_no_occurred_at", "flow_events", ["project_no", "occurred_at"]
    )
    op.create_index("ix_flow_events_applied_received_at", "flow_events", ["applied", "received_at"])
    op.create_table(
        "flow_projects",
        sa.Column("project_no", sa.String(64), primary_key=True),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("light", sa.String(10), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("due_on", sa.Date),
        sa.Column("working_days", sa.Integer),
        sa.Column("modules", JSONType, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_flow_projects_state_light", "flow_projects", ["state", "light"])


def downgrade() -> None:
    op.drop_table("flow_projects")
    op.drop_table("flow_events")
