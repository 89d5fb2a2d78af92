"""One database behind one SQLAlchemy engine: transactions, the dialect, migrations.

The engine's tables are migrated by the Alembic branch in ``hub/store/migrations``; every
plugin (an adapter, a job, a face) that keeps tables of its own ships its own branch and
names its folder in the entry-point group ``govhub.migrations``. :meth:`Database.migrate`
brings every installed branch to its head.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from hub.store.dialects import RELAXED, WAKE_PENDING, WRITE_OPTION, Dialect, dialect_for

if TYPE_CHECKING:
    from hub.store.protection import PayloadProtector

__all__ = ["MIGRATION_GROUP", "Database", "migration_folders"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Entry-point group naming the Alembic version folder of each plugin's own tables.
MIGRATION_GROUP = "govhub.migrations"

# Before each plugin had its own branch, one linear chain held every table. A database
# that chain migrated records one head; these are the branch heads it already has.
_LEGACY_HEADS = {
    "fullonline_0001": ("soap_0001", "payment_0001", "courier_0001"),
    "ops_0001": ("charts_0001", "payment_0001", "courier_0001", "console_0001"),
    "jobs_0001": ("jobs_0001", "payment_0001", "courier_0001", "console_0001"),
    "jobs_0002": (
        "jobs_0001",
        "payment_0001",
        "courier_0001",
        "console_0001",
        "payment_reconcile_0001",
    ),
}


def migration_folders() -> list[Path]:
    """The engine's version folder, then every installed plugin's (entry points)."""
    folders = [MIGRATIONS / "versions"]
    for entry in sorted(entry_points(group=MIGRATION_GROUP), key=lambda e: e.name):
        folder = Path(entry.load())
        if not folder.is_dir():
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a folder")
        folders.append(folder)
    return folders


class Database:
    """Transactions on one database, SQLite or PostgreSQL.

    Args:
        url: SQLAlchemy database URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        #: Seals personal fields of stored payloads (``hub.store.protection``), if set.
        self.protector: PayloadProtector | None = None
        self.dialect: Dialect = dialect_for(url)
        self.engine = self.dialect.create_engine(url)

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error.

        Args:
            durable: The commit is on disk when this returns (an fsync; SQLite's
                ``synchronous=FULL``). ``False`` for what may be lost in a power cut but not
                in a crash of the process: a delivery's claim or outcome (lost, the
                delivery is sent again with the same ``Idempotency-Key``, as after any
                lost lease). Nothing accepted is ever written so.
        """
        committed = False
        with self.dialect.write_guard(), self.engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True if durable else RELAXED})
            try:
                with connection.begin():
                    if not durable:
                        self.dialect.relax(connection)
                    yield connection
                committed = True
            finally:
                wake = connection.info.pop(WAKE_PENDING, False)
        if committed and wake:
            self.dialect.wake_waiters()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    def is_unique_violation(self, error: IntegrityError) -> bool:
        """True when ``error`` is a unique-key violation (a duplicate)."""
        return self.dialect.is_unique_violation(error)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.read() as connection:
            connection.execute(text("SELECT 1"))

    def alembic_config(self) -> AlembicConfig:
        """Alembic's configuration for this database: every installed branch."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("path_separator", "os")
        config.set_main_option(
            "version_locations", os.pathsep.join(str(f) for f in migration_folders())
        )
        return config

    def migrate(self) -> None:
        """Bring every installed branch to its head (safe to run from two processes)."""
        config = self.alembic_config()
        with self.write() as connection:
            self.dialect.lock_migrations(connection)
            _adopt_legacy_head(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
        self.dialect.close()


def _adopt_legacy_head(connection: Connection) -> None:
    if not connection.dialect.has_table(connection, "alembic_version"):
        return
    heads = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    if len(heads) != 1 or heads[0] not in _LEGACY_HEADS:
        return
    connection.execute(text("DELETE FROM alembic_version"))
    for head in _LEGACY_HEADS[heads[0]]:
        connection.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head}
        )
