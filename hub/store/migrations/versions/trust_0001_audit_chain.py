"""The audit trail becomes a hash chain: seq, prev_hash and hash on every record, and its head.

Existing records are chained in id order as they are, so ``govhub audit verify`` vouches
for them from this migration on.

Revision ID: trust_0001
Revises: flows_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.core.columns import BigId
from hub.store.audit import GENESIS, chain_hash

revision = "trust_0001"
down_revision = "flows_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("seq", BigId))
        batch.add_column(sa.Column("prev_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
        batch.create_unique_constraint("uq_audit_seq", ["seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", BigId, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    connection = op.get_bind()
    audit = sa.table(
        "audit",
        sa.column("id"),
        sa.column("at"),
        sa.column("actor"),
        sa.column("action"),
        sa.column("target"),
        sa.column("detail"),
        sa.column("seq"),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    from hub.store.tables import audit as typed  # for the column types of at and detail

    previous, seq = GENESIS, 0
    rows = connection.execute(sa.select(typed).order_by(typed.c.id)).all()
    for row in rows:
        seq += 1
        digest = chain_hash(previous, seq, row.at, row.actor, row.action, row.target, row.detail)
        connection.execute(
            audit.update()
            .where(audit.c.id == row.id)
            .values(seq=seq, prev_hash=previous, hash=digest)
        )
        previous = digest
    connection.execute(head.insert().values(id=1, seq=seq, hash=previous))


def downgrade() -> None:
    op.drop_table("audit_head")
    with op.batch_alter_table("audit") as batch:
        batch.drop_constraint("uq_audit_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
