"""Submit once (免提交): each case's look-ups in the e-license library, kept for the case.

Revision ID: enrich_0001
Revises: trust_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import JSONType, UTCDateTime

revision = "enrich_0001"
down_revision = "trust_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_enrichments",
        sa.Column("case_no", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(26), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result", JSONType, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("published_id", sa.String(26)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("case_no", name="pk_case_enrichments"),
    )
    op.create_index(
        "ix_case_enrichments_status_next_attempt_at",
        "case_enrichments",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_case_enrichments_status_next_attempt_at", "case_enrichments")
    op.drop_table("case_enrichments")
