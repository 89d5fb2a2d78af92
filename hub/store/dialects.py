"""Everything that differs between SQLite and PostgreSQL lives here and nowhere else."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, insert, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

__all__ = ["Dialect", "dialect_for"]

WRITE_OPTION = "govhub_write"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Dialect:
    """How the store talks to one kind of database."""

    name = "generic"
    #: Appended to the row-locking claim query.
    skip_locked = ""

    def create_engine(self, url: str) -> Engine:
        """An engine configured for the hub's workload."""
        return create_engine(url, json_serializer=_dumps, pool_pre_ping=True)

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        """``INSERT`` that skips rows violating a unique key (``ON CONFLICT DO NOTHING``)."""
        raise NotImplementedError

    def insert_accepted(
        self,
        connection: Connection,
        messages: Table,
        deliveries: Table,
        message_rows: Sequence[dict[str, Any]],
        delivery_rows: Sequence[dict[str, Any]],
    ) -> set[str]:
        """Insert messages (skipping duplicate client refs) and the deliveries of those inserted.

        Returns:
            The ids of the messages actually inserted.
        """
        inserted = set(
            connection.execute(
                self.insert_ignoring_duplicates(messages).returning(messages.c.id),
                list(message_rows),
            ).scalars()
        )
        rows = [row for row in delivery_rows if row["message_id"] in inserted]
        if rows:
            # RETURNING makes SQLAlchemy send one multi-row INSERT, not a row-by-row executemany
            connection.execute(insert(deliveries).returning(deliveries.c.seq), rows).all()
        return inserted

    def insert_rows(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]]
    ) -> None:
        """Insert rows beside accepted messages (the same hot path: kept cheap)."""
        if rows:
            connection.execute(insert(table), list(rows))

    @contextmanager
    def write_guard(self) -> Iterator[None]:
        """Held around a write transaction; a no-op where the database queues writers well."""
        yield

    def lock_migrations(self, connection: Connection) -> None:
        """Keep two processes from migrating the same database at once."""

    @staticmethod
    def is_unique_violation(error: IntegrityError) -> bool:
        """True when ``error`` is a unique-constraint violation (a duplicate)."""
        text_ = str(error.orig).lower()
        return "unique" in text_ or "duplicate key" in text_


class SQLiteDialect(Dialect):
    """Embedded SQLite: WAL, ``synchronous=FULL``, one writer at a time per process.

    SQLite allows one writer. Its busy handler sleeps in steps of up to 100 ms when
    writers collide, which ruins latency, so writers in this process queue on a lock
    instead, and each write transaction starts with ``BEGIN IMMEDIATE`` so it never has
    to upgrade a read lock (the cause of "database is locked" under load).
    """

    name = "sqlite"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def create_engine(self, url: str) -> Engine:
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            json_serializer=_dumps,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=32,
            max_overflow=32,
        )

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the driver: BEGIN is ours (see "begin" below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            writing = connection.get_execution_options().get(WRITE_OPTION, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

        return engine

    @contextmanager
    def write_guard(self) -> Iterator[None]:
        with self._lock:
            yield

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        return sqlite_insert(table).on_conflict_do_nothing()

    def insert_accepted(
        self,
        connection: Connection,
        messages: Table,
        deliveries: Table,
        message_rows: Sequence[dict[str, Any]],
        delivery_rows: Sequence[dict[str, Any]],
    ) -> set[str]:
        # The ingest hot path, written as plain multi-row INSERTs: SQLAlchemy's per-row
        # parameter processing costs more CPU than SQLite itself here, and every driver
        # call is a chance to lose the GIL under load. Values are stored exactly as
        # SQLAlchemy's SQLite types store them, so reads go through SQLAlchemy unchanged.
        inserted = set(
            _insert_many(connection, messages, message_rows, "ON CONFLICT DO NOTHING RETURNING id")
        )
        rows = [row for row in delivery_rows if row["message_id"] in inserted]
        if rows:
            _insert_many(connection, deliveries, rows, "")
        return inserted

    def insert_rows(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]]
    ) -> None:
        if rows:
            _insert_many(connection, table, rows, "")


class PostgresDialect(Dialect):
    """PostgreSQL: row locks with ``SKIP LOCKED`` let many workers claim side by side."""

    name = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def create_engine(self, url: str) -> Engine:
        return create_engine(
            url, json_serializer=_dumps, pool_pre_ping=True, pool_size=20, max_overflow=20
        )

    def lock_migrations(self, connection: Connection) -> None:
        connection.execute(text("SELECT pg_advisory_xact_lock(7003001)"))

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        return postgresql_insert(table).on_conflict_do_nothing()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # SQLAlchemy's SQLite DATETIME storage format, in UTC like UTCDateTime
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict | list):
        return _dumps(value)
    return value


def _insert_many(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], suffix: str
) -> list[Any]:
    columns = list(rows[0])
    group = "(" + ",".join("?" * len(columns)) + ")"
    # Table and column names come from our own Table objects, never from input.
    names = ",".join(columns)
    sql = f"INSERT INTO {table.name} ({names}) VALUES {','.join([group] * len(rows))} {suffix}"  # noqa: S608
    values = [_sqlite_value(row[column]) for row in rows for column in columns]
    result = connection.exec_driver_sql(sql, tuple(values))
    return [row[0] for row in result] if suffix else []


def dialect_for(url: str) -> Dialect:
    """The dialect for a database URL."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return SQLiteDialect()
    if backend == "postgresql":
        return PostgresDialect()
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
