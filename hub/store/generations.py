"""Configuration generations: the routes and destinations the hub runs, numbered.

A reload (or a node starting with another file) records a generation; every process
follows the newest one and reports the number it applied, so that whoever reloaded can
tell when every process runs it. A reload is audited in the same transaction as the
generation it records: there is never one without the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.core.clock import format_time, utcnow
from hub.store.audit import write_audit
from hub.store.database import Database
from hub.store.generation_tables import config_generations, config_nodes

__all__ = ["Generation", "GenerationConflict", "Generations", "ProcessGeneration"]


class GenerationConflict(Exception):
    """Another generation was recorded at the same moment (two reloads at once)."""


@dataclass(frozen=True, slots=True)
class Generation:
    """One recorded routing configuration.

    Attributes:
        number: 1, 2, 3… in the order they were recorded.
        sha256: Of the document's canonical JSON.
        document: ``{"destinations": [...], "routes": [...]}`` as written in the file.
        source: ``start`` (a node started with it) or ``reload``.
        actor: Who recorded it (``os:<user>``, an operator client's name).
        file: The file it was read from.
        created_at: When.
    """

    number: int
    sha256: str
    document: Mapping[str, Any]
    source: str
    actor: str
    file: str | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ProcessGeneration:
    """What one running process applied.

    Attributes:
        node: ``host:pid:suffix``.
        kind: ``web``, ``delivery`` or ``all``.
        generation: The generation it runs.
        error: Why it could not apply a newer one, if it could not.
        seen_at: Its last report.
    """

    node: str
    kind: str
    generation: int
    error: str | None
    seen_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """For the API and ``--json``."""
        return {
            "node": self.node,
            "kind": self.kind,
            "generation": self.generation,
            "error": self.error,
            "seen_at": format_time(self.seen_at),
        }


class Generations:
    """The generations and the processes following them.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def latest(self) -> Generation | None:
        """The newest generation, if any was recorded."""
        with self.db.read() as connection:
            row = connection.execute(
                select(config_generations).order_by(config_generations.c.number.desc()).limit(1)
            ).first()
        return None if row is None else _generation(row)

    def latest_number(self) -> int:
        """The newest generation's number (0 before the first); one indexed read."""
        with self.db.read() as connection:
            number = connection.execute(select(func.max(config_generations.c.number))).scalar()
        return int(number or 0)

    def record(
        self,
        document: Mapping[str, Any],
        sha256: str,
        *,
        source: str,
        actor: str,
        file: str | None,
        audit: Mapping[str, Any] | None = None,
    ) -> Generation:
        """Record a new generation (and, with ``audit``, its ``config.reload`` record).

        Raises:
            GenerationConflict: Another process recorded one at the same moment.
        """
        now = utcnow()
        try:
            with self.db.write() as connection:
                latest = connection.execute(select(func.max(config_generations.c.number))).scalar()
                number = int(latest or 0) + 1
                connection.execute(
                    insert(config_generations),
                    {
                        "number": number,
                        "sha256": sha256,
                        "document": dict(document),
                        "source": source,
                        "actor": actor[:200],
                        "file": file[:500] if file else None,
                        "created_at": now,
                    },
                )
                if audit is not None:
                    detail = {"generation": number, "sha256": sha256, **audit}
                    write_audit(connection, actor, "config.reload", file, detail, now)
        except IntegrityError as error:
            if self.db.is_unique_violation(error):
                raise GenerationConflict("another generation was recorded meanwhile") from None
            raise
        return Generation(number, sha256, dict(document), source, actor, file, now)

    def report(self, node: str, kind: str, generation: int, error: str | None = None) -> None:
        """Say which generation this process runs (and, if so, why not a newer one)."""
        now = utcnow()
        values = {"kind": kind, "generation": generation, "error": error, "seen_at": now}
        with self.db.write(durable=False) as connection:
            changed = connection.execute(
                update(config_nodes).where(config_nodes.c.node == node).values(**values)
            ).rowcount
            if not changed:
                connection.execute(insert(config_nodes), {"node": node, **values})
            # processes killed without saying goodbye: forget them after a day
            connection.execute(
                delete(config_nodes).where(config_nodes.c.seen_at < now - dt.timedelta(days=1))
            )

    def forget(self, node: str) -> None:
        """A process that stops cleanly is no longer waited for."""
        with self.db.write(durable=False) as connection:
            connection.execute(delete(config_nodes).where(config_nodes.c.node == node))

    def processes(self, *, since: dt.datetime) -> list[ProcessGeneration]:
        """The processes that reported since ``since``."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(config_nodes)
                .where(config_nodes.c.seen_at >= since)
                .order_by(config_nodes.c.node)
            ).all()
        return [
            ProcessGeneration(row.node, row.kind, row.generation, row.error, row.seen_at)
            for row in rows
        ]


def _generation(row: Any) -> Generation:
    return Generation(
        number=row.number,
        sha256=row.sha256,
        document=row.document,
        source=row.source,
        actor=row.actor,
        file=row.file,
        created_at=row.created_at,
    )
