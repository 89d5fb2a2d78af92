"""The store's tables, in SQLAlchemy Core, portable between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from hub.core.columns import NAMING_CONVENTION, BigId, JSONType, UTCDateTime

__all__ = [
    "adapter_checks",
    "attempts",
    "audit",
    "audit_head",
    "clients",
    "deliveries",
    "message_keys",
    "messages",
    "metadata",
    "replays",
    "wsse_nonces",
]


metadata = MetaData(naming_convention=NAMING_CONVENTION)

messages = Table(
    "messages",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("source", String(100), nullable=False),
    Column("client_ref", String(200)),
    Column("correlation_id", String(200)),
    Column("channel", String(20), nullable=False),
    # pending | delivered | dead | discarded | unrouted: derived from the deliveries
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("payload", JSONType, nullable=False),
    Column("headers", JSONType, nullable=False),
    UniqueConstraint("source", "client_ref"),
    Index(None, "type", "id"),
    Index(None, "correlation_id", "id"),
    Index(None, "status", "id"),
    Index(None, "source", "id"),
    Index(None, "created_at", "channel"),  # traffic charts, index-only (migration ops_0001)
)

# The business keys of a message besides its case number (licence ids, order and waybill
# numbers...), so that "every message about this licence" is one indexed look-up; written
# with the message, gone with it.
message_keys = Table(
    "message_keys",
    metadata,
    Column(
        "message_id",
        String(26),
        ForeignKey("messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(40), primary_key=True),
    Column("value", String(200), primary_key=True),
    Index(None, "value", "message_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    # seq orders deliveries by acceptance; id is what the outside world sees
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(26), nullable=False, unique=True),
    Column("message_id", String(26), ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("destination", String(100), nullable=False),
    Column("route", String(200)),
    Column("correlation_id", String(200)),
    # waiting (behind an earlier open delivery of its case) | pending | inflight | delivered
    # | dead | discarded (ops gave up, with a reason in audit); see hub.store.queues
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime()),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTCDateTime()),
    Column("last_error", Text),
    Column("receipt", JSONType),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
    # A replay's delivery (migration replay_0001): the replay that made it, and the
    # delivery of the same message to the same destination it sends again, if any.
    Column("replay_id", String(26)),
    Column("replay_of", String(26)),
    Index(None, "status", "next_attempt_at"),
    Index(None, "destination", "correlation_id", "seq"),
    Index(None, "message_id"),
    # What a claim reads: a destination's due heads, oldest due first (migration spine_0001).
    Index(
        "ix_deliveries_due",
        "destination",
        "next_attempt_at",
        "seq",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # Leases to take back from dead workers.
    Index(
        "ix_deliveries_leases",
        "lease_expires_at",
        sqlite_where=text("status = 'inflight'"),
        postgresql_where=text("status = 'inflight'"),
    ),
    # One delivery per message and destination in a replay: a replay run again after an
    # interruption cannot send a message twice.
    Index(
        "uq_deliveries_replay",
        "replay_id",
        "message_id",
        "destination",
        unique=True,
        sqlite_where=text("replay_id IS NOT NULL"),
        postgresql_where=text("replay_id IS NOT NULL"),
    ),
)

# Replays of stored messages (hub.store.replays): what was asked, by whom, and how far it
# got; ``cursor`` is the last message done, so a replay interrupted goes on from there.
replays = Table(
    "replays",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("actor", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    # MessageFilter fields (times as RFC 3339)
    Column("filter", JSONType, nullable=False),
    # {"to": [destination, ...]} or {"routes": true}
    Column("target", JSONType, nullable=False),
    Column("missing_only", Boolean, nullable=False),
    # running | done
    Column("status", String(20), nullable=False),
    Column("total", Integer, nullable=False),
    # the newest message matching when the replay began: later ones are not replayed
    Column("upto", String(26)),
    Column("cursor", String(26)),
    Column("scanned", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Index(None, "created_at"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        String(26),
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("worker", String(64), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    # delivered | retry | dead
    Column("outcome", String(20), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Index(None, "delivery_id", "number"),
    Index(None, "finished_at", "outcome"),  # traffic charts, index-only (migration ops_0001)
)

clients = Table(
    "clients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    # The API key again, encrypted with the server key (hub.keyring): WS-Security
    # PasswordDigest needs the plaintext to recompute the digest.
    Column("key_sealed", Text),
    Column("allow", JSONType, nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(50), nullable=False),
    Column("target", String(200)),
    Column("detail", JSONType),
    # The hash chain (hub.store.audit): seq counts records without a gap, hash covers this
    # record and the one before, so an edited or deleted record breaks the chain.
    Column("seq", BigId, unique=True),
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    Index(None, "at"),
)

# The chain's end: the last record's seq and hash, one row (id 1). Appending locks it, so
# records are chained one after the other on every node; deleting the newest records
# leaves it pointing past the end.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigId, nullable=False),
    Column("hash", String(64), nullable=False),
)

# WS-Security nonces seen, so a captured request cannot be replayed; the unique key makes
# the check hold across processes and nodes. Rows expire with the timestamp window.
wsse_nonces = Table(
    "wsse_nonces",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("username", String(100), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index(None, "expires_at"),
)

#: The last check of each destination (one row each; a new check replaces it).
adapter_checks = Table(
    "adapter_checks",
    metadata,
    Column("destination", String(100), primary_key=True),
    Column("checked_at", UTCDateTime(), nullable=False),
    Column("ok", Boolean, nullable=False),
    # configuration | retriable | rejected | internal; NULL when ok
    Column("error_kind", String(20)),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Column("checked_by", String(100), nullable=False),
)
# Lets "the last delivery of a destination" be found without scanning its history.
Index("ix_deliveries_destination_updated_at", deliveries.c.destination, deliveries.c.updated_at)
