"""The hub's record of courier orders (waybills) and their route events.

In the hub's database as the courier adapter's own tables, migrated by its Alembic
branch ``courier`` (``adapters/courier/migrations/``). ``shipment_events`` has the dedup key the
courier's pushes need: one row per waybill + event code + event time.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Index, String, Table, UniqueConstraint

from hub.core.columns import BigId, UTCDateTime, plugin_metadata

__all__ = ["MIGRATIONS", "metadata", "shipment_events", "shipments"]

#: This plugin's own tables (not the engine's), migrated by its own Alembic branch.
metadata = plugin_metadata()
#: Its Alembic version folder (entry point group ``govhub.migrations``).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

shipments = Table(
    "shipments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("destination", String(100), nullable=False),
    Column("order_no", String(64), nullable=False),
    Column("case_no", String(64), nullable=False),
    # pickup | delivery
    Column("direction", String(10), nullable=False),
    Column("waybill_no", String(20)),
    # ordered | in_transit | delivered | returned
    Column("state", String(20), nullable=False),
    Column("last_code", String(8)),
    Column("last_event_at", UTCDateTime()),
    Column("message_id", String(26)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("destination", "order_no"),
    UniqueConstraint("destination", "waybill_no"),
    Index(None, "destination", "state"),
)

shipment_events = Table(
    "shipment_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("destination", String(100), nullable=False),
    Column("waybill_no", String(20), nullable=False),
    Column("code", String(8), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("description", String(200), nullable=False),
    Column("place", String(200)),
    # push | poll
    Column("channel", String(10), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("message_id", String(26)),
    UniqueConstraint("destination", "waybill_no", "code", "occurred_at"),
)
