"""The hub's record of payment orders and the notifications that paid them.

They live in the hub's database as the payment adapter's own tables, migrated by its
Alembic branch ``payment`` (``adapters/payment/migrations/``). The unique keys
are the idempotency records: one order per order number, one paying notification per
order.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, UniqueConstraint

from hub.core.columns import BigId, UTCDateTime, plugin_metadata

__all__ = ["MIGRATIONS", "metadata", "payment_notifications", "payment_orders"]

#: This plugin's own tables (not the engine's), migrated by its own Alembic branch.
metadata = plugin_metadata()
#: Its Alembic version folder (entry point group ``govhub.migrations``).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

payment_orders = Table(
    "payment_orders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("destination", String(100), nullable=False),
    Column("order_no", String(64), nullable=False),
    Column("case_no", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("item", String(128), nullable=False),
    # created | paid | closed
    Column("state", String(20), nullable=False),
    Column("trade_no", String(64)),
    Column("pay_code", String(64)),
    Column("pay_channel", String(20)),
    Column("message_id", String(26)),
    Column("expires_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("paid_at", UTCDateTime()),
    UniqueConstraint("destination", "order_no"),
    Index(None, "destination", "paid_at"),
)

payment_notifications = Table(
    "payment_notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("destination", String(100), nullable=False),
    Column("notify_id", String(64), nullable=False),
    Column("order_no", String(64), nullable=False),
    Column("trade_no", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("trade_status", String(32), nullable=False),
    Column("notify_time", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    # sha256 of the signed parameters: tells a duplicate from a replay with other content
    Column("digest", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    UniqueConstraint("destination", "notify_id"),
    UniqueConstraint("destination", "order_no"),
)
