"""Service items and case clocks: the catalogue with its versions, case timelines and records.

Revision ID: cases_0001
Revises: spine_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import JSONType, UTCDateTime

revision = "cases_0001"
down_revision = "spine_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("department_code", sa.String(18), nullable=False),
        sa.Column("department_name", sa.String(200), nullable=False),
        sa.Column("item_type", sa.String(2), nullable=False),
        sa.Column("case_kind", sa.String(1), nullable=False),
        sa.Column("legal_limit_days", sa.Integer),
        sa.Column("committed_limit_days", sa.Integer, nullable=False),
        sa.Column("materials", JSONType, nullable=False),
        sa.Column("online_depth", sa.String(20), nullable=False),
        sa.Column("area_code", sa.String(6)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("hall_version", sa.Integer),
        sa.Column("hall_updated_at", UTCDateTime()),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_items_department_code_code", "items", ["department_code", "code"])

    op.create_table(
        "item_versions",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", JSONType, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("hall_version", sa.Integer),
        sa.Column("hall_updated_at", UTCDateTime()),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("run_id", sa.String(26)),
    )

    op.create_table(
        "case_events",
        sa.Column("message_id", sa.String(26), primary_key=True),
        sa.Column("case_no", sa.String(64), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("status", sa.String(2)),
        sa.Column("result", sa.String(1)),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("item_code", sa.String(64)),
        sa.Column("item_name", sa.String(200)),
        sa.Column("department_code", sa.String(18)),
        sa.Column("department_name", sa.String(200)),
        sa.Column("applied", sa.Boolean, nullable=False),
    )
    op.create_index("ix_case_events_case_no_occurred_at", "case_events", ["case_no", "occurred_at"])
    op.create_index("ix_case_events_applied_received_at", "case_events", ["applied", "received_at"])

    op.create_table(
        "cases",
        sa.Column("case_no", sa.String(64), primary_key=True),
        sa.Column("item_code", sa.String(64)),
        sa.Column("item_name", sa.String(200)),
        sa.Column("item_known", sa.Boolean, nullable=False),
        sa.Column("item_version", sa.Integer),
        sa.Column("department_code", sa.String(18)),
        sa.Column("department_name", sa.String(200)),
        sa.Column("case_kind", sa.String(1)),
        sa.Column("limit_days", sa.Integer),
        sa.Column("status", sa.String(2)),
        sa.Column("submitted_at", UTCDateTime()),
        sa.Column("accepted_at", UTCDateTime()),
        sa.Column("stops", JSONType, nullable=False),
        sa.Column("stopped", sa.Boolean, nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("result", sa.String(1)),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("light", sa.String(10), nullable=False),
        sa.Column("due_on", sa.Date),
        sa.Column("used_days", sa.Integer),
        sa.Column("on_time", sa.Boolean),
        sa.Column("warned_for", sa.Date),
        sa.Column("overdue_for", sa.Date),
        sa.Column("last_event_at", UTCDateTime()),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_cases_open_case_no", "cases", ["open", "case_no"])
    op.create_index(
        "ix_cases_open_light_department_code", "cases", ["open", "light", "department_code"]
    )
    op.create_index(
        "ix_cases_department_code_finished_at", "cases", ["department_code", "finished_at"]
    )
    op.create_index("ix_cases_finished_at", "cases", ["finished_at"])
    op.create_index("ix_cases_accepted_at", "cases", ["accepted_at"])


def downgrade() -> None:
    for table in ("cases", "case_events", "item_versions", "items"):
        op.drop_table(table)
