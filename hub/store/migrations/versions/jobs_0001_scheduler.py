"""Scheduled jobs: runs (claimed by job and due time), job state, scheduler nodes.

Revision ID: jobs_0001
Revises: charts_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import JSONType, UTCDateTime

revision = "jobs_0001"
down_revision = "charts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("job_id", sa.String(100), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("node", sa.String(100)),
        sa.Column("requested_by", sa.String(100)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("read_count", sa.Integer, nullable=False),
        sa.Column("published_count", sa.Integer, nullable=False),
        sa.Column("failed_count", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("log", JSONType),
        sa.Column("cursor_before", JSONType),
        sa.Column("cursor_after", JSONType),
        sa.UniqueConstraint("job_id", "due_at", name="uq_job_runs_job_id_due_at"),
    )
    op.create_index("ix_job_runs_job_id_id", "job_runs", ["job_id", "id"])
    op.create_index("ix_job_runs_status_job_id", "job_runs", ["status", "job_id"])
    op.create_index("ix_job_runs_finished_at", "job_runs", ["finished_at"])

    op.create_table(
        "job_state",
        sa.Column("job_id", sa.String(100), primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("paused_at", UTCDateTime()),
        sa.Column("paused_by", sa.String(100)),
        sa.Column("pause_reason", sa.Text),
        sa.Column("resumed_at", UTCDateTime()),
        sa.Column("cursor", JSONType),
        sa.Column("cursor_updated_at", UTCDateTime()),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("lease_run_id", sa.String(26)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )

    op.create_table(
        "scheduler_nodes",
        sa.Column("node", sa.String(100), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("beat_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("scheduler_nodes", "job_state", "job_runs"):
        op.drop_table(table)
