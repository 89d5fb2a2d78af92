"""Column types every table of GovHub uses, the engine's and the plugins' alike.

Portable between SQLite and PostgreSQL: timezone-aware times stored as UTC, JSON (JSONB on
PostgreSQL), and 64-bit ids that are SQLite's rowid there. :func:`plugin_metadata` gives a
plugin (an adapter, a job, a face) the naming convention of the engine's tables for its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["NAMING_CONVENTION", "BigId", "JSONType", "UTCDateTime", "plugin_metadata"]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes, stored as UTC (SQLite keeps no offset of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store only takes timezone-aware datetimes")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = value
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


def plugin_metadata() -> MetaData:
    """A :class:`MetaData` for a plugin's own tables, named as the engine names its own."""
    return MetaData(naming_convention=NAMING_CONVENTION)
