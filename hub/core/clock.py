"""Ids and the clock: sortable ids, the hub's time zone, RFC 3339 times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ulid import ULID

__all__ = ["HUB_TZ", "format_time", "new_id", "parse_time", "utcnow"]

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
