"""Filling and reading a hub's database quickly, for the benchmarks of big stores and backlogs.

:func:`duplicate` copies what the hub wrote for the messages it took in (the message, its
deliveries, their attempts, its keys and case event) with new ids, so a store of a million
messages takes a minute to build instead of an hour of ingest, in exactly the shape the hub
writes: every column comes from a row the hub wrote, only ids, client references, case
numbers and correlation ids change (each copy is its own case, as in real traffic).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["checkpoint", "count", "duplicate", "flush", "pg_count", "postgres_database"]

#: Copies' ids start with "000" and a 3-digit copy number: a ULID of today starts with "01",
#: so a copy never collides with an original and sorts before it, as older messages do.
_ORIGINAL = "substr({col}, 1, 3) <> '000'"


def _new_id(column: str, copy: int) -> str:
    return f"'000' || '{copy:03d}' || substr({column}, 7)"


def count(database: Path, table: str, where: str = "1 = 1") -> int:
    """Rows of ``table`` matching ``where`` (read-only, while the hub writes)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        (found,) = connection.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()  # noqa: S608 - our own names
        return int(found)
    finally:
        connection.close()


def checkpoint(database: Path) -> None:
    """Fold the WAL into the file, so that copying the file copies everything."""
    connection = sqlite3.connect(database, timeout=60)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def flush(directory: Path) -> None:
    """fsync every file in ``directory`` (a hub's folder just copied or filled).

    Otherwise the kernel still holds the copy's pages dirty, and the hub's first commits
    (each an fsync) pay for writing them out: measured, that made a freshly copied store
    look up to 1.6× slower than one filled a minute earlier.
    """
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row[0] for row in rows}


def _copy(
    connection: sqlite3.Connection,
    table: str,
    overrides: dict[str, str],
    where: str,
    skip: tuple[str, ...] = (),
) -> None:
    columns = [c for c in _columns(connection, table) if c not in skip]
    selected = ", ".join(overrides.get(c, c) for c in columns)
    connection.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {selected} FROM {table}"  # noqa: S608
        f" WHERE {where}"
    )


def duplicate(database: Path, copies: Iterable[int]) -> None:
    """Add a copy of every original message (and what belongs to it) per number in ``copies``
    (1–999), each in its own transaction; the hub must be stopped."""
    connection = sqlite3.connect(database, timeout=60, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous = OFF")
        tables = _tables(connection)
        for copy in copies:
            suffix = f"'-{copy}'"
            connection.execute("BEGIN")
            _copy(
                connection,
                "messages",
                {
                    "id": _new_id("id", copy),
                    "client_ref": f"client_ref || {suffix}",
                    "correlation_id": f"correlation_id || {suffix}",
                },
                _ORIGINAL.format(col="id"),
            )
            _copy(
                connection,
                "deliveries",
                {
                    "id": _new_id("id", copy),
                    "message_id": _new_id("message_id", copy),
                    "correlation_id": f"correlation_id || {suffix}",
                },
                _ORIGINAL.format(col="message_id"),
                skip=("seq",),
            )
            _copy(
                connection,
                "attempts",
                {"delivery_id": _new_id("delivery_id", copy)},
                _ORIGINAL.format(col="delivery_id"),
                skip=("id",),
            )
            _copy(
                connection,
                "message_keys",
                {"message_id": _new_id("message_id", copy)},
                _ORIGINAL.format(col="message_id"),
            )
            if "case_events" in tables:
                _copy(
                    connection,
                    "case_events",
                    {
                        "message_id": _new_id("message_id", copy),
                        "case_no": f"case_no || {suffix}",
                    },
                    _ORIGINAL.format(col="message_id"),
                )
            connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


# ---------------------------------------------------------------- PostgreSQL

_SERVER = "127.0.0.1:5432"


@contextlib.contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """A fresh database on the local PostgreSQL (user postgres, or root), dropped after the
    block; its SQLAlchemy URL."""
    import psycopg

    last: Exception | None = None
    for user in ("postgres", "root"):
        try:
            admin = psycopg.connect(f"postgresql://{user}@{_SERVER}/postgres", autocommit=True)
        except psycopg.OperationalError as error:
            last = error
            continue
        break
    else:
        raise RuntimeError(f"cannot connect to PostgreSQL on {_SERVER}: {last}")
    try:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{user}@{_SERVER}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def pg_count(url: str, where: str = "1 = 1") -> int:
    """Deliveries matching ``where`` in the database at ``url``."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        row = connection.execute(f"SELECT count(*) FROM deliveries WHERE {where}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0
