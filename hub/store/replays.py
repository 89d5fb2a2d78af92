"""Replays: stored messages sent again, chosen by a filter, in batches that survive a stop.

A replay makes *new* deliveries (new ids, hence new ``Idempotency-Key`` values): a
receiver that honours the key must not drop a message ops send again on purpose (a new
destination that never had it, a department that lost its copy). Each new delivery names
its replay (``replay_id``) and, when the destination had the message before, the delivery
it sends again (``replay_of``), so the message's history shows both.

The messages are read in acceptance order (their sortable ids), a batch at a time by
keyset, never all at once; each batch is one transaction that adds its deliveries to the
tails of their case queues (``hub.store.queues``: order per case holds) and moves the
replay's ``cursor`` on. A replay stopped half-way (a crash, Ctrl-C) goes on from its
cursor when run again, and the unique key ``(replay_id, message_id, destination)`` keeps
two runners of one replay from sending a message twice. Messages accepted after the
replay began are not part of it (``upto``): routing sends them anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from hub.core.clock import format_time, new_id, parse_time, utcnow
from hub.core.envelope import Envelope
from hub.store.audit import write_audit
from hub.store.database import Database
from hub.store.messages import envelope_of, message_conditions
from hub.store.queues import case_key, queue_rows
from hub.store.records import MessageFilter
from hub.store.tables import deliveries, messages, replays

__all__ = ["ReplayPreview", "ReplayRecord", "Replays", "Targets", "filter_from_json", "filter_json"]

#: Where a message goes in a replay: ``(destination, route name)`` pairs.
Targets = Callable[[Envelope], Sequence[tuple[str, str | None]]]

_FILTER_FIELDS = ("type", "correlation_id", "source", "status", "destination")


def filter_json(where: MessageFilter) -> dict[str, Any]:
    """A message filter as stored with its replay (only the fields that filter)."""
    document: dict[str, Any] = {
        name: getattr(where, name) for name in _FILTER_FIELDS if getattr(where, name)
    }
    if where.since is not None:
        document["since"] = format_time(where.since)
    if where.until is not None:
        document["until"] = format_time(where.until)
    return document


def filter_from_json(document: Mapping[str, Any]) -> MessageFilter:
    """The message filter a replay was stored with."""
    since, until = document.get("since"), document.get("until")
    return MessageFilter(
        **{name: document.get(name, "") for name in _FILTER_FIELDS},
        since=parse_time(since) if since else None,
        until=parse_time(until) if until else None,
    )


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    """A replay: what was asked, by whom, and how far it got.

    Attributes:
        id: The replay's id.
        actor: Who asked.
        reason: Why (also in the audit trail).
        where: Which messages.
        to: The destinations, or ``None`` for "where the current routes say".
        missing_only: Only to destinations that never had the message.
        status: ``running`` or ``done``.
        total: Messages that matched when the replay began.
        scanned: Messages done so far.
        created: Deliveries made so far.
        created_at: When it began.
        updated_at: Its last batch.
        finished_at: When it was done.
    """

    id: str
    actor: str
    reason: str
    where: MessageFilter
    to: tuple[str, ...] | None
    missing_only: bool
    status: str
    total: int
    scanned: int
    created: int
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> ReplayRecord:
        """The record of a ``replays`` row."""
        to = row.target.get("to")
        return cls(
            id=row.id,
            actor=row.actor,
            reason=row.reason,
            where=filter_from_json(row.filter),
            to=tuple(to) if to is not None else None,
            missing_only=bool(row.missing_only),
            status=row.status,
            total=row.total,
            scanned=row.scanned,
            created=row.created,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
        )

    def to_json(self) -> dict[str, Any]:
        """As shown by the API and ``--json``."""
        return {
            "id": self.id,
            "status": self.status,
            "filter": filter_json(self.where),
            "target": {"to": list(self.to)} if self.to is not None else {"routes": True},
            "missing_only": self.missing_only,
            "total": self.total,
            "scanned": self.scanned,
            "created": self.created,
            "actor": self.actor,
            "reason": self.reason,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "finished_at": format_time(self.finished_at),
        }


@dataclass(slots=True)
class ReplayPreview:
    """What a replay would do (a dry run), counted as it goes.

    Attributes:
        total: Messages that match.
        scanned: Messages looked at so far.
        by_destination: Deliveries it would make, per destination.
        had_before: Of those, how many go to a destination that had the message.
        unrouted: Messages no target takes (the current routes send them nowhere).
    """

    total: int
    scanned: int = 0
    by_destination: dict[str, int] = field(default_factory=dict)
    had_before: dict[str, int] = field(default_factory=dict)
    unrouted: int = 0

    def to_json(self) -> dict[str, Any]:
        """As shown by the API and ``--json``."""
        return {
            "total": self.total,
            "scanned": self.scanned,
            "deliveries": sum(self.by_destination.values()),
            "by_destination": [
                {
                    "destination": name,
                    "deliveries": count,
                    "had_before": self.had_before.get(name, 0),
                }
                for name, count in sorted(self.by_destination.items())
            ],
            "unrouted": self.unrouted,
        }


class Replays:
    """Replays of stored messages.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ measuring

    def measure(self, where: MessageFilter) -> tuple[int, str | None, list[str]]:
        """How many messages match, the newest one's id, and their types."""
        conditions = message_conditions(where)
        with self.db.read() as connection:
            count, newest = connection.execute(
                select(func.count(), func.max(messages.c.id)).where(*conditions)
            ).one()
            types = list(
                connection.execute(
                    select(messages.c.type).where(*conditions).distinct().order_by(messages.c.type)
                ).scalars()
            )
        return int(count), newest, types

    # ------------------------------------------------------------------ replaying

    def begin(
        self,
        where: MessageFilter,
        *,
        to: Sequence[str] | None,
        missing_only: bool,
        actor: str,
        reason: str,
    ) -> ReplayRecord:
        """Record a replay (nothing sent yet) and audit it once, as ``messages.replay``.

        Args:
            where: Which messages (those accepted later are not replayed).
            to: The destinations; ``None`` for where the routes say when it runs.
            missing_only: Only to destinations that never had the message.
            actor: Who asks.
            reason: Why.

        Returns:
            The replay, ``running``; :meth:`run` carries it out.
        """
        total, upto, _types = self.measure(where)
        now = utcnow()
        replay_id = new_id()
        target: dict[str, Any] = {"to": list(to)} if to is not None else {"routes": True}
        row = {
            "id": replay_id,
            "actor": actor,
            "reason": reason,
            "filter": filter_json(where),
            "target": target,
            "missing_only": missing_only,
            "status": "running" if total else "done",
            "total": total,
            "upto": upto,
            "cursor": None,
            "scanned": 0,
            "created": 0,
            "created_at": now,
            "updated_at": now,
            "finished_at": None if total else now,
        }
        with self.db.write() as connection:
            connection.execute(insert(replays), row)
            write_audit(
                connection,
                actor,
                "messages.replay",
                replay_id,
                {
                    "filter": row["filter"],
                    "target": target,
                    "missing_only": missing_only,
                    "count": total,
                    "reason": reason,
                },
                now,
            )
        found = self.get(replay_id)
        assert found is not None
        return found

    def run(self, replay_id: str, targets: Targets, *, batch: int = 500) -> Iterator[ReplayRecord]:
        """Carry a replay out (or on, from where it stopped), one batch per transaction.

        Args:
            replay_id: The replay.
            targets: Where each message goes.
            batch: Messages per transaction.

        Yields:
            The replay after each committed batch; the last one is ``done``.

        Raises:
            KeyError: No such replay.
        """
        while True:
            with self.db.write() as connection:
                row = connection.execute(
                    select(replays).where(replays.c.id == replay_id).with_for_update()
                ).first()
                if row is None:
                    raise KeyError(replay_id)
                if row.status == "done":
                    break
                chosen = self._next_batch(connection, row, batch)
                created = self._add_deliveries(
                    connection, replay_id, chosen, targets, missing_only=row.missing_only
                )
                now = utcnow()
                finished = len(chosen) < batch
                connection.execute(
                    update(replays)
                    .where(replays.c.id == replay_id)
                    .values(
                        cursor=chosen[-1].id if chosen else row.cursor,
                        scanned=replays.c.scanned + len(chosen),
                        created=replays.c.created + created,
                        status="done" if finished else "running",
                        updated_at=now,
                        finished_at=now if finished else None,
                    )
                )
            record = self.get(replay_id)
            assert record is not None
            yield record
            if record.status == "done":
                return

    def preview(
        self, where: MessageFilter, targets: Targets, *, missing_only: bool, batch: int = 500
    ) -> Iterator[ReplayPreview]:
        """What a replay would do, reading as it would and writing nothing.

        Yields:
            The counts so far, after each batch.
        """
        total, upto, _types = self.measure(where)
        found = ReplayPreview(total=total)
        cursor: str | None = None
        while upto is not None:
            with self.db.read() as connection:
                chosen = _select(connection, where, cursor, upto, batch)
                had = _had_before(connection, chosen)
            for row in chosen:
                wanted = _targets_of(row, targets, self.db)
                if not wanted:
                    found.unrouted += 1
                for destination, _route in wanted:
                    before = (row.id, destination) in had
                    if missing_only and before:
                        continue
                    found.by_destination[destination] = found.by_destination.get(destination, 0) + 1
                    if before:
                        found.had_before[destination] = found.had_before.get(destination, 0) + 1
            found.scanned += len(chosen)
            if len(chosen) < batch:
                break
            yield found
            cursor = chosen[-1].id
        yield found  # the last batch, or none at all

    def _next_batch(self, connection: Connection, row: Row[Any], batch: int) -> list[Row[Any]]:
        if row.upto is None:
            return []
        return _select(connection, filter_from_json(row.filter), row.cursor, row.upto, batch)

    def _add_deliveries(
        self,
        connection: Connection,
        replay_id: str,
        chosen: Sequence[Row[Any]],
        targets: Targets,
        *,
        missing_only: bool,
    ) -> int:
        """The batch's new deliveries, at the tails of their case queues."""
        if not chosen:
            return 0
        had = _had_before(connection, chosen)
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for message in chosen:
            for destination, route in _targets_of(message, targets, self.db):
                original = had.get((message.id, destination))
                if missing_only and original is not None:
                    continue
                rows.append(
                    {
                        "id": new_id(),
                        "message_id": message.id,
                        "destination": destination,
                        "route": route,
                        "correlation_id": message.correlation_id,
                        "status": "pending",  # or waiting: queue_rows decides
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                        "replay_id": replay_id,
                        "replay_of": original,
                    }
                )
        if not rows:
            return 0
        dialect = self.db.dialect
        keys = [k for r in rows if (k := case_key(r["destination"], r["correlation_id"]))]
        dialect.lock_cases(connection, keys)
        queue_rows(connection, rows)
        dialect.insert_all(connection, deliveries, rows)
        # each of these messages now has an open delivery: pending, whatever it was
        connection.execute(
            update(messages)
            .where(messages.c.id.in_(sorted({r["message_id"] for r in rows})))
            .values(status="pending", updated_at=now)
        )
        dialect.notify(connection)
        return len(rows)

    # ------------------------------------------------------------------ reading

    def get(self, replay_id: str) -> ReplayRecord | None:
        """A replay, or ``None``."""
        with self.db.read() as connection:
            row = connection.execute(select(replays).where(replays.c.id == replay_id)).first()
        return ReplayRecord.from_row(row) if row is not None else None

    def recent(self, *, limit: int = 20, after: str | None = None) -> list[ReplayRecord]:
        """The newest replays first; ``after`` is the last id of the previous page."""
        query = select(replays).order_by(replays.c.id.desc()).limit(limit)
        if after:
            query = query.where(replays.c.id < after)
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        return [ReplayRecord.from_row(row) for row in rows]


def _select(
    connection: Connection, where: MessageFilter, cursor: str | None, upto: str, batch: int
) -> list[Row[Any]]:
    """The next ``batch`` messages after ``cursor``, oldest first (a keyset page)."""
    query = (
        select(messages)
        .where(*message_conditions(where), messages.c.id <= upto)
        .order_by(messages.c.id)
        .limit(batch)
    )
    if cursor is not None:
        query = query.where(messages.c.id > cursor)
    return list(connection.execute(query).all())


def _had_before(connection: Connection, chosen: Sequence[Row[Any]]) -> dict[tuple[str, str], str]:
    """The first delivery of each of these messages to each destination it had."""
    found: dict[tuple[str, str], str] = {}
    ids = [row.id for row in chosen]
    if not ids:
        return found
    for row in connection.execute(
        select(deliveries.c.message_id, deliveries.c.destination, deliveries.c.id)
        .where(deliveries.c.message_id.in_(ids))
        .order_by(deliveries.c.seq.desc())
    ):
        found[(row.message_id, row.destination)] = row.id  # the oldest wins: read last
    return found


def _targets_of(row: Row[Any], targets: Targets, db: Database) -> Sequence[tuple[str, str | None]]:
    return targets(envelope_of(row, db))
