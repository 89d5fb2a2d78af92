"""The envelope: one shape for every message, whatever channel it came in on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.core.clock import format_time

__all__ = ["SCHEMA_VERSION_HEADER", "Envelope"]

#: Envelope header: the version of its type's schema the payload was validated against
#: (set by the hub for a type with several versions; absent means version 1).
SCHEMA_VERSION_HEADER = "schema_version"


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

    @property
    def schema_version(self) -> int:
        """The version of its type's schema the payload follows (1 unless the headers say)."""
        version = self.headers.get(SCHEMA_VERSION_HEADER, 1)
        return version if isinstance(version, int) and not isinstance(version, bool) else 1

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
