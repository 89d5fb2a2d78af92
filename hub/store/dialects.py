"""Everything that differs between SQLite and PostgreSQL lives here and nowhere else."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, insert, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

__all__ = ["WAKE_CHANNEL", "Dialect", "create_private_file", "dialect_for"]

log = logging.getLogger("govhub.store")

WRITE_OPTION = "govhub_write"
#: How much of a SQLite file is read through a memory map.
MMAP_BYTES = 1 << 30
#: The value of :data:`WRITE_OPTION` for a transaction that need not survive a power cut.
RELAXED = "relaxed"
#: The PostgreSQL channel dispatchers LISTEN on: deliveries became due.
WAKE_CHANNEL = "govhub_deliveries"
#: ``Connection.info`` key: this transaction made deliveries due.
WAKE_PENDING = "govhub_wake"


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

    def insert_new(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]], key: str
    ) -> set[Any]:
        """Insert rows, skipping those that violate a unique key; the ``key`` of each inserted.

        The accept path's messages: a repeated ``(source, client_ref)`` is skipped.
        """
        column = table.c[key]
        return set(
            connection.execute(
                self.insert_ignoring_duplicates(table).returning(column), list(rows)
            ).scalars()
        )

    def insert_all(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]]
    ) -> None:
        """Insert rows (one multi-row statement where the driver allows)."""
        if rows:
            # RETURNING makes SQLAlchemy send one multi-row INSERT, not a row-by-row executemany
            primary = next(iter(table.primary_key.columns))
            connection.execute(insert(table).returning(primary), list(rows)).all()

    def lock_cases(self, connection: Connection, keys: Iterable[tuple[str, str]]) -> None:
        """Serialise the transactions that change the queue of the same cases.

        A case's queue (``destination``, ``correlation_id``) has one head at a time; an
        accept that queues behind it and a finish that moves it on must not interleave.
        Where writers are serialised anyway (SQLite), nothing to do.
        """

    def notify(self, connection: Connection) -> None:
        """Tell dispatchers elsewhere, once this transaction commits, that deliveries
        became due (:meth:`wake_waiters` runs after the commit)."""
        connection.info[WAKE_PENDING] = True

    def wake_waiters(self) -> None:
        """After a commit that called :meth:`notify`: wake the dispatchers that listen."""

    def listen(self, on_wake: Callable[[], None], stopping: threading.Event) -> bool:
        """Call ``on_wake`` whenever another process notified, until ``stopping`` is set.

        Returns:
            False when this dispatcher cannot listen (it polls instead).
        """
        return False

    @contextmanager
    def write_guard(self) -> Iterator[None]:
        """Held around a write transaction; a no-op where the database queues writers well."""
        yield

    def relax(self, connection: Connection) -> None:
        """Let this transaction's commit return before it is on disk (see ``Database.write``)."""

    def lock_migrations(self, connection: Connection) -> None:
        """Keep two processes from migrating the same database at once."""

    def close(self) -> None:
        """Release what the dialect holds (files, sockets)."""

    @staticmethod
    def is_unique_violation(error: IntegrityError) -> bool:
        """True when ``error`` is a unique-constraint violation (a duplicate)."""
        text_ = str(error.orig).lower()
        return "unique" in text_ or "duplicate key" in text_


class SQLiteDialect(Dialect):
    """Embedded SQLite: WAL, ``synchronous=FULL``, one writer at a time.

    SQLite allows one writer. Its busy handler sleeps in steps of up to 100 ms when
    writers collide, which ruins latency, so writers queue instead: threads of this
    process on a lock, processes on the same database (``govhub run``'s web workers and
    its dispatcher) on an exclusive ``flock`` of ``<database>-writer.lock``, which the
    kernel hands to the next waiter the moment it is released. Each write transaction
    starts with ``BEGIN IMMEDIATE`` so it never has to upgrade a read lock (the cause of
    "database is locked" under load).
    """

    name = "sqlite"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock_path: Path | None = None
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self._closer: weakref.finalize[Any, Any] | None = None
        # Linux abstract socket named after the database: no file, no path length limit.
        self._wake_address: bytes | None = None
        self._wake_socket: socket.socket | None = None
        self._wake_pid = 0

    def create_engine(self, url: str) -> Engine:
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            create_private_file(Path(parsed.database))
            self._lock_path = Path(f"{parsed.database}-writer.lock")
            if sys.platform == "linux":
                name = hashlib.sha256(str(Path(parsed.database).resolve()).encode()).hexdigest()
                self._wake_address = b"\0govhub-wake-" + name[:32].encode()
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
            # Reads through the OS page cache, shared by every connection and process,
            # rather than each connection's own 2 MB cache: an outbox of 100,000 rows
            # touches index pages all over the file.
            cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            writing = connection.get_execution_options().get(WRITE_OPTION, False)
            if writing:
                # Per connection, and only outside a transaction: set before BEGIN. A later
                # FULL commit syncs the write-ahead log up to itself, relaxed frames too.
                wanted = "NORMAL" if writing == RELAXED else "FULL"
                if connection.info.get("synchronous") != wanted:
                    connection.exec_driver_sql(f"PRAGMA synchronous={wanted}")
                    connection.info["synchronous"] = wanted
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

        return engine

    @contextmanager
    def write_guard(self) -> Iterator[None]:
        with self._lock:
            lock_fd = self._process_lock()
            if lock_fd is None:
                yield
                return
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)

    def wake_waiters(self) -> None:
        if self._wake_address is None:
            return
        with contextlib.suppress(OSError):  # nobody listens: the dispatcher polls
            if self._wake_socket is None or self._wake_pid != os.getpid():
                self._wake_socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._wake_socket.setblocking(False)
                self._wake_pid = os.getpid()
            self._wake_socket.sendto(b"!", self._wake_address)

    def listen(self, on_wake: Callable[[], None], stopping: threading.Event) -> bool:
        # One dispatcher per database can bind the address (the others poll): on one
        # machine that is govhub run's delivery process.
        if self._wake_address is None:
            return False
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            listener.bind(self._wake_address)
        except OSError:
            listener.close()
            return False
        listener.settimeout(0.5)

        def receive() -> None:
            with listener:
                while not stopping.is_set():
                    try:
                        listener.recv(64)
                    except TimeoutError:
                        continue
                    except OSError:
                        return
                    on_wake()

        threading.Thread(target=receive, name="govhub-wake", daemon=True).start()
        return True

    def close(self) -> None:
        with self._lock:
            if self._lock_fd is not None:
                if self._closer is not None:
                    self._closer.detach()
                os.close(self._lock_fd)
                self._lock_fd = None
        if self._wake_socket is not None:
            self._wake_socket.close()
            self._wake_socket = None

    def _process_lock(self) -> int | None:
        """This process's descriptor of the writer lock file (a forked child opens its own:
        a shared open file would be one lock for both)."""
        if self._lock_path is None:
            return None
        if self._lock_fd is not None and self._lock_pid != os.getpid():
            if self._closer is not None:  # the parent's descriptor, inherited: not ours to lock
                self._closer.detach()
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
            self._lock_pid = os.getpid()
            # a store nobody closed still gives its descriptor back when collected
            self._closer = weakref.finalize(self, os.close, self._lock_fd)
        return self._lock_fd

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        return sqlite_insert(table).on_conflict_do_nothing()

    def insert_new(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]], key: str
    ) -> set[Any]:
        # The ingest hot path, written as plain multi-row INSERTs: SQLAlchemy's per-row
        # parameter processing costs more CPU than SQLite itself here, and every driver
        # call is a chance to lose the GIL under load. Values are stored exactly as
        # SQLAlchemy's SQLite types store them, so reads go through SQLAlchemy unchanged.
        return set(_insert_many(connection, table, rows, f"ON CONFLICT DO NOTHING RETURNING {key}"))

    def insert_all(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]]
    ) -> None:
        if rows:
            _insert_many(connection, table, rows, "")


class PostgresDialect(Dialect):
    """PostgreSQL: row locks with ``SKIP LOCKED`` let many workers claim side by side."""

    name = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self) -> None:
        self._url: str | None = None

    def create_engine(self, url: str) -> Engine:
        engine = create_engine(
            url, json_serializer=_dumps, pool_pre_ping=True, pool_size=20, max_overflow=20
        )
        # psycopg's own form of the URL, for the LISTEN connection
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return engine

    def lock_migrations(self, connection: Connection) -> None:
        connection.execute(text("SELECT pg_advisory_xact_lock(7003001)"))

    def lock_cases(self, connection: Connection, keys: Iterable[tuple[str, str]]) -> None:
        names = sorted({f"{destination}\x1f{case}" for destination, case in keys})
        if names:
            # One transaction-scoped advisory lock per case, always taken in the same order,
            # so two transactions on overlapping cases wait for each other and never deadlock.
            connection.execute(
                text(
                    "SELECT pg_advisory_xact_lock(h) FROM ("
                    " SELECT hashtextextended(k, 7003) AS h FROM unnest(CAST(:keys AS text[])) AS k"
                    " ORDER BY 1) AS ordered"
                ),
                {"keys": names},
            )

    def relax(self, connection: Connection) -> None:
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    def notify(self, connection: Connection) -> None:
        # NOTIFY is transactional: listeners hear it when (and only if) this commits.
        connection.execute(text(f"NOTIFY {WAKE_CHANNEL}"))

    def listen(self, on_wake: Callable[[], None], stopping: threading.Event) -> bool:
        if self._url is None:
            return False
        url = self._url

        def receive() -> None:
            import psycopg

            delay = 0.5
            while not stopping.is_set():
                try:
                    with psycopg.connect(url, autocommit=True) as connection:
                        connection.execute(f"LISTEN {WAKE_CHANNEL}")
                        delay = 0.5
                        on_wake()  # whatever became due while not listening
                        while not stopping.is_set():
                            for _ in connection.notifies(timeout=0.5):
                                on_wake()
                except Exception:  # the database went away: listen again, poll meanwhile
                    log.warning("LISTEN %s lost; reconnecting", WAKE_CHANNEL, exc_info=True)
                    stopping.wait(delay)
                    delay = min(delay * 2, 10.0)

        threading.Thread(target=receive, name="govhub-listen", daemon=True).start()
        return True

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        return postgresql_insert(table).on_conflict_do_nothing()


def create_private_file(path: Path) -> None:
    """Create the database file (and its folder) readable by its owner only, if missing.

    The file holds every message, personal identifiers included. SQLite would create it
    ``0644`` (less the umask); created here first as ``0600``, it keeps that, and SQLite
    gives the ``-wal`` and ``-shm`` files the database file's own mode. A file or folder
    that exists is left as it is (``govhub run`` warns when it is wider).
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


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
