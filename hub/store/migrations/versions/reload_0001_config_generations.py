"""Route reload: configuration generations, and which one each process runs.

Revision ID: reload_0001
Revises: enrich_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import JSONType, UTCDateTime

revision = "reload_0001"
down_revision = "enrich_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_generations",
        sa.Column("number", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document", JSONType, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("file", sa.String(500)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_config_generations"),
    )
    op.create_table(
        "config_nodes",
        sa.Column("node", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("node", name="pk_config_nodes"),
    )


def downgrade() -> None:
    op.drop_table("config_nodes")
    op.drop_table("config_generations")
