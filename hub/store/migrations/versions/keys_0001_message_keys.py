"""The business keys of messages (licence ids, order and waybill numbers), for searching.

Messages already stored are read once to fill the table, so a search finds them too.

Revision ID: keys_0001
Revises: jobs_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "keys_0001"
down_revision = "jobs_0001"
branch_labels = None
depends_on = None


# The key fields as of this revision (hub.store.keys.KEY_FIELDS may grow later; a later
# revision then fills what it adds).
_FIELDS = ("license_id", "license_ids", "order_no", "waybill_no", "card_no", "decision_no")


def _keys(payload: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    if not isinstance(payload, dict):
        return found
    for field in _FIELDS:
        value = payload.get(field)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and 0 < len(item) <= 200:
                found.add(("license_id" if field == "license_ids" else field, item))
    return found


def upgrade() -> None:
    op.create_table(
        "message_keys",
        sa.Column("message_id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_keys_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "name", "value", name="pk_message_keys"),
    )
    op.create_index("ix_message_keys_value_message_id", "message_keys", ["value", "message_id"])
    connection = op.get_bind()
    keys = sa.table("message_keys", sa.column("message_id"), sa.column("name"), sa.column("value"))
    rows: list[dict[str, Any]] = []
    for message_id, payload in connection.execute(sa.text("SELECT id, payload FROM messages")):
        document = json.loads(payload) if isinstance(payload, str) else payload
        rows.extend(
            {"message_id": message_id, "name": name, "value": value}
            for name, value in sorted(_keys(document))
        )
        if len(rows) >= 1000:
            connection.execute(keys.insert(), rows)
            rows = []
    if rows:
        connection.execute(keys.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_message_keys_value_message_id", "message_keys")
    op.drop_table("message_keys")
