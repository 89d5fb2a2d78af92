"""SOAP ingress: sealed API keys for PasswordDigest, and seen WS-Security nonces.

Revision ID: soap_0001
Revises: adapters_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import UTCDateTime

revision = "soap_0001"
down_revision = "adapters_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("key_sealed", sa.Text))
    op.create_table(
        "wsse_nonces",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_wsse_nonces_expires_at", "wsse_nonces", ["expires_at"])


def downgrade() -> None:
    op.drop_table("wsse_nonces")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("key_sealed")
