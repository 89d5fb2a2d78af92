"""The console's tables: people who sign in, their sessions, failed sign-ins, settings.

They are the console's own tables, migrated by its Alembic branch ``console``
(``faces/console/migrations/``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from hub.core.columns import BigId, UTCDateTime, plugin_metadata

__all__ = ["MIGRATIONS", "hub_settings", "login_failures", "metadata", "user_sessions", "users"]

#: This plugin's own tables (not the engine's), migrated by its own Alembic branch.
metadata = plugin_metadata()
#: Its Alembic version folder (entry point group ``govhub.migrations``).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    # viewer | operator | admin
    Column("role", String(20), nullable=False),
    # argon2id, with its parameters in the string (re-hashed when they change)
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("password_changed_at", UTCDateTime(), nullable=False),
    Column("last_login_at", UTCDateTime()),
    Column("disabled_at", UTCDateTime()),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    # SHA-256 of the token in the (signed) cookie: a database leak gives no live session
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("remote_addr", String(64)),
    Index(None, "user_id"),
    Index(None, "expires_at"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("remote_addr", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index(None, "name", "at"),
    Index(None, "remote_addr", "at"),
    Index(None, "at"),
)

hub_settings = Table(
    "hub_settings",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)
