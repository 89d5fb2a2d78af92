"""The envelope: one shape for every message, whatever channel it came in on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ulid import ULID

__all__ = ["HUB_TZ", "Envelope", "format_time", "new_id", "parse_time", "utcnow"]

#: The zone the hub speaks in: times leave the hub as RFC 3339 with this offset.
HUB_TZ = ZoneInfo("Asia/Shanghai")


def new_id() -> str:
    """A new sortable identifier (ULID, 26 characters of Crockford base32)."""
    return str(ULID())


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def format_time(moment: dt.datetime | None) -> str | None:
    """RFC 3339 with the hub's offset, millisecond precision; ``None`` stays ``None``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(HUB_TZ).isoformat(timespec="milliseconds")


def parse_time(text: str) -> dt.datetime:
    """Parse RFC 3339 text that carries an offset.

    Raises:
        ValueError: The text is not a date-time or has no offset.
    """
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time needs an offset, e.g. +08:00")
    return moment


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message as the hub carries it.

    Attributes:
        id: The hub's id (ULID).
        type: Dotted message type naming a schema, e.g. ``case.submitted``.
        source: The client, job or adapter that produced it.
        payload: The validated body.
        created_at: When the hub accepted it (UTC, timezone-aware).
        client_ref: The sender's own id for it: the ingress idempotency key.
        correlation_id: The business key (usually the case number); orders deliveries.
        headers: Free-form metadata (trace ids, signature info).
    """

    id: str
    type: str
    source: str
    payload: dict[str, Any]
    created_at: dt.datetime
    client_ref: str | None = None
    correlation_id: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The envelope as the JSON object that webhooks and the API show."""
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "client_ref": self.client_ref,
            "correlation_id": self.correlation_id,
            "created_at": format_time(self.created_at),
            "payload": self.payload,
            "headers": self.headers,
        }
