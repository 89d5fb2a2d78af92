"""The business keys of a message besides its case number, kept for searching.

A case's messages share its case number as their correlation id; the other things people
look for (a licence, a payment order, a parcel, a citizen card, a decision) are keys of
their own: top-level payload fields named here, one row each in ``message_keys``, found
with ``MessageFilter(key=...)`` (``GET /api/v1/messages?key=``, the console's key search).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["KEY_FIELDS", "MAX_KEY_LENGTH", "business_keys"]

#: Payload fields that hold a business key (a string, or a list of strings), by name.
#: Personal identifiers (resident ids, holder codes) are never keys: they are not indexed
#: in the clear.
KEY_FIELDS = (
    "license_id",
    "license_ids",
    "order_no",
    "waybill_no",
    "card_no",
    "decision_no",
)
MAX_KEY_LENGTH = 200


def business_keys(
    payload: Mapping[str, Any] | Any, headers: Mapping[str, Any] | None = None
) -> Iterator[tuple[str, str]]:
    """``(field, value)`` for every business key of a payload, each pair once.

    ``license_ids`` (a list) yields one ``license_id`` per element, so a licence is
    found under one name whichever message names it. A correlation id the sender gave a
    case's message (kept in ``headers["sender_correlation_id"]``) is a key too.
    """
    if not isinstance(payload, Mapping):
        return
    seen: set[tuple[str, str]] = set()
    sender_key = (headers or {}).get("sender_correlation_id")
    if isinstance(sender_key, str) and 0 < len(sender_key) <= MAX_KEY_LENGTH:
        seen.add(("correlation_id", sender_key))
        yield ("correlation_id", sender_key)
    for field in KEY_FIELDS:
        value = payload.get(field)
        values = value if isinstance(value, list) else [value]
        name = "license_id" if field == "license_ids" else field
        for item in values:
            if isinstance(item, str) and 0 < len(item) <= MAX_KEY_LENGTH:
                pair = (name, item)
                if pair not in seen:
                    seen.add(pair)
                    yield pair
