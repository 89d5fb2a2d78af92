"""The durable store (SQLite embedded, PostgreSQL for several nodes)."""

from __future__ import annotations

from hub.store.records import (
    OPERATOR,
    ROLES,
    Acceptance,
    AttemptView,
    Claim,
    Client,
    DeliveryView,
    MessageView,
    Outcome,
    Page,
)
from hub.store.store import DuplicateClientError, Store

__all__ = [
    "OPERATOR",
    "ROLES",
    "Acceptance",
    "AttemptView",
    "Claim",
    "Client",
    "DeliveryView",
    "DuplicateClientError",
    "MessageView",
    "Outcome",
    "Page",
    "Store",
]
