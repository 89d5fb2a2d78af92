"""Messages: accepting them with their deliveries, finding them, forgetting the old ones.

One message is stored with all its deliveries in one transaction; concurrent accepts share
that transaction (group commit, one fsync for many messages).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, delete, exists, or_, select

from hub.core.clock import new_id
from hub.core.envelope import Envelope
from hub.store.case_tables import case_enrichments, case_events
from hub.store.cases import case_event_row
from hub.store.database import Database
from hub.store.flow_tables import flow_events
from hub.store.flows import flow_event_row
from hub.store.group_commit import GroupCommitter
from hub.store.keys import business_keys
from hub.store.queues import case_key, queue_rows
from hub.store.records import (
    Acceptance,
    AttemptView,
    DeliveryView,
    MessageBody,
    MessageFilter,
    MessageView,
    Page,
)
from hub.store.tables import attempts, deliveries, message_keys, messages

if TYPE_CHECKING:
    from hub.store.protection import PayloadProtector

__all__ = ["Messages", "envelope_of", "message_conditions", "rekey_payloads"]


class _PendingMessage:
    """A message on its way into the store, with the rows that represent it."""

    __slots__ = ("channel", "delivery_rows", "envelope", "key_rows", "protector")

    def __init__(
        self,
        envelope: Envelope,
        channel: str,
        targets: tuple[tuple[str, str], ...],
        protector: PayloadProtector | None = None,
    ) -> None:
        self.envelope = envelope
        self.channel = channel
        self.protector = protector
        now = envelope.created_at
        self.delivery_rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "message_id": envelope.id,
                "destination": destination,
                "route": route,
                "correlation_id": envelope.correlation_id,
                "status": "pending",  # or "waiting": decided when stored (hub.store.queues)
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for destination, route in targets
        ]
        self.key_rows = [
            {"message_id": envelope.id, "name": name, "value": value}
            for name, value in business_keys(envelope.payload, envelope.headers)
        ]
        if protector is not None:
            # a resident ID is found by its keyed blind index, never stored in the clear
            self.key_rows += [
                {"message_id": envelope.id, "name": "resident_id", "value": index}
                for index in dict.fromkeys(protector.resident_ids(envelope.payload))
            ]

    def message_row(self) -> dict[str, Any]:
        envelope = self.envelope
        return {
            "id": envelope.id,
            "type": envelope.type,
            "source": envelope.source,
            "client_ref": envelope.client_ref,
            "correlation_id": envelope.correlation_id,
            "channel": self.channel,
            "status": "pending" if self.delivery_rows else "unrouted",
            "created_at": envelope.created_at,
            "updated_at": envelope.created_at,
            "payload": (
                envelope.payload
                if self.protector is None
                else self.protector.protect(envelope.payload)
            ),
            "headers": envelope.headers,
        }

    def acceptance(self) -> Acceptance:
        return Acceptance(
            message_id=self.envelope.id,
            correlation_id=self.envelope.correlation_id,
            deliveries=tuple((row["id"], row["destination"]) for row in self.delivery_rows),
            created=True,
            warnings=tuple(self.envelope.headers.get("warnings", ())),
        )


class Messages:
    """The stored messages.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._committer: GroupCommitter[_PendingMessage, Acceptance | None] = GroupCommitter(
            self._write
        )

    def close(self) -> None:
        """Finish the accepts under way."""
        self._committer.close()

    def accept(
        self,
        envelope: Envelope,
        *,
        channel: str,
        targets: Sequence[tuple[str, str]],
    ) -> Acceptance:
        """Store a message and one delivery per target, in one transaction.

        Concurrent calls share transactions (group commit); each returns once its own
        rows are committed.

        Args:
            envelope: The validated message.
            channel: How it came in (``rest``, ``soap``, ``job``, ``notify``...).
            targets: ``(destination, route name)`` pairs from routing.

        Returns:
            The acceptance; for a ``client_ref`` already stored from the same source, the
            first acceptance with ``created`` false (and nothing written).
        """
        pending = _PendingMessage(envelope, channel, tuple(targets), self.db.protector)
        acceptance = self._committer.submit(pending)
        if acceptance is not None:
            return acceptance
        assert envelope.client_ref is not None  # only a client_ref can collide
        first = self.find_acceptance(
            envelope.source, envelope.client_ref, compared_to=MessageBody.of(envelope)
        )
        if first is None:  # pragma: no cover - the unique key said it exists
            raise RuntimeError("duplicate client_ref vanished")
        return first

    def _write(self, batch: Sequence[_PendingMessage]) -> list[Acceptance | None]:
        """Insert a batch of messages with their deliveries; ``None`` for a duplicate."""
        message_rows = [pending.message_row() for pending in batch]
        dialect = self.db.dialect
        with self.db.write() as connection:
            inserted = dialect.insert_new(connection, messages, message_rows, "id")
            rows = [
                row
                for pending in batch
                if pending.envelope.id in inserted
                for row in pending.delivery_rows
            ]
            if rows:
                keys = [k for r in rows if (k := case_key(r["destination"], r["correlation_id"]))]
                dialect.lock_cases(connection, keys)
                queue_rows(connection, rows)
                dialect.insert_all(connection, deliveries, rows)
                dialect.notify(connection)
            key_rows = [row for p in batch if p.envelope.id in inserted for row in p.key_rows]
            if key_rows:
                dialect.insert_all(connection, message_keys, key_rows)
            # A case event joins its case's timeline in the message's own transaction:
            # accepted means on the timeline, even across a crash (see hub.store.cases).
            timeline = [
                row
                for pending in batch
                if pending.envelope.id in inserted
                and (row := case_event_row(pending.envelope)) is not None
            ]
            if timeline:
                dialect.insert_all(connection, case_events, timeline)
            # Likewise an opinion (or acceptance) joins its project's timeline.
            project_events = [
                row
                for pending in batch
                if pending.envelope.id in inserted
                and (row := flow_event_row(pending.envelope, self.db.protector)) is not None
            ]
            if project_events:
                dialect.insert_all(connection, flow_events, project_events)
        return [p.acceptance() if p.envelope.id in inserted else None for p in batch]

    def find_acceptance(
        self, source: str, client_ref: str, *, compared_to: MessageBody | None = None
    ) -> Acceptance | None:
        """The acceptance of the message ``source`` sent as ``client_ref``, if any.

        Args:
            source: The sender.
            client_ref: The sender's id for the message.
            compared_to: A message sent again with this ``client_ref``: the acceptance's
                ``differs`` says whether it is another message than the stored one. The
                stored one is read back only here, when an id repeats, so the common path
                pays nothing for the comparison.
        """
        columns = [messages.c.id, messages.c.correlation_id, messages.c.headers]
        if compared_to is not None:
            columns += [messages.c.type, messages.c.payload]
        with self.db.read() as connection:
            row = connection.execute(
                select(*columns).where(
                    messages.c.source == source, messages.c.client_ref == client_ref
                )
            ).first()
            if row is None:
                return None
            targets = connection.execute(
                select(deliveries.c.id, deliveries.c.destination)
                .where(deliveries.c.message_id == row.id)
                .order_by(deliveries.c.seq)
            ).all()
        return Acceptance(
            message_id=row.id,
            correlation_id=row.correlation_id,
            deliveries=tuple((t.id, t.destination) for t in targets),
            created=False,
            warnings=tuple((row.headers or {}).get("warnings", ())),
            differs=compared_to is not None
            and not compared_to.same_as(
                MessageBody(row.type, row.correlation_id, _revealed(self.db, row.payload))
            ),
        )

    def get(self, message_id: str) -> MessageView | None:
        """A message with every delivery and every attempt, or ``None``."""
        with self.db.read() as connection:
            row = connection.execute(select(messages).where(messages.c.id == message_id)).first()
            if row is None:
                return None
            delivery_rows = connection.execute(
                select(deliveries)
                .where(deliveries.c.message_id == message_id)
                .order_by(deliveries.c.seq)
            ).all()
            attempt_rows = connection.execute(
                select(attempts)
                .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
                .where(deliveries.c.message_id == message_id)
                .order_by(attempts.c.delivery_id, attempts.c.number)
            ).all()
        history: dict[str, list[AttemptView]] = {}
        for attempt in attempt_rows:
            history.setdefault(attempt.delivery_id, []).append(AttemptView.from_row(attempt))
        return MessageView(
            envelope=envelope_of(row, self.db),
            channel=row.channel,
            status=row.status,
            updated_at=row.updated_at,
            deliveries=tuple(
                DeliveryView.from_row(d, tuple(history.get(d.id, ()))) for d in delivery_rows
            ),
        )

    def search(
        self, where: MessageFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> Page:
        """Messages matching ``where``, newest first; ``after`` is the last id of the
        previous page. Items are :class:`MessageView` without deliveries."""
        where = where or MessageFilter()
        protector = self.db.protector
        if where.key and protector is not None:
            # a resident ID is searched for by its blind index (hub.store.protection)
            index = protector.blind_index(where.key)
            if index is not None:
                where = dataclasses.replace(where, key=index)
        query = select(messages).order_by(messages.c.id.desc()).limit(limit + 1)
        for condition in message_conditions(where):
            query = query.where(condition)
        if after:
            query = query.where(messages.c.id < after)
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        items = [
            MessageView(
                envelope=envelope_of(row, self.db),
                channel=row.channel,
                status=row.status,
                updated_at=row.updated_at,
            )
            for row in rows[:limit]
        ]
        return Page(items=items, next=items[-1].envelope.id if len(rows) > limit else None)

    def with_deliveries_to(
        self, types: Sequence[str], destination: str, *, since: dt.datetime
    ) -> list[tuple[Envelope, list[tuple[str, str | None]]]]:
        """Messages of ``types`` accepted since ``since``, oldest first, each with the
        ``(status, last_error)`` of its deliveries to ``destination`` (what a sync job
        needs to see which of them reached a counterpart)."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(messages)
                .where(messages.c.type.in_(list(types)), messages.c.created_at >= since)
                .order_by(messages.c.id)
            ).all()
            sent: dict[str, list[tuple[str, str | None]]] = {row.id: [] for row in rows}
            ids = list(sent)
            for start in range(0, len(ids), 500):
                for delivery in connection.execute(
                    select(deliveries.c.message_id, deliveries.c.status, deliveries.c.last_error)
                    .where(
                        deliveries.c.message_id.in_(ids[start : start + 500]),
                        deliveries.c.destination == destination,
                    )
                    .order_by(deliveries.c.seq)
                ):
                    sent[delivery.message_id].append((delivery.status, delivery.last_error))
        return [(envelope_of(row, self.db), sent[row.id]) for row in rows]

    def purge(
        self,
        *,
        before: dt.datetime,
        include_unrouted: bool = True,
        batch: int = 500,
        between_batches: Callable[[], None] = lambda: None,
    ) -> int:
        """Forget finished messages last changed before ``before``, with their deliveries.

        Delivered messages (every delivery delivered) and, optionally, unrouted ones go;
        a message with any delivery pending, in flight or dead is never touched (it is
        work or evidence). Each batch is one transaction, so the store keeps serving. A
        message's ``client_ref`` goes with it: the idempotency window of a sender's ids is
        the retention age.

        Args:
            before: Messages whose last change is older are deleted.
            include_unrouted: Also delete unrouted messages (no destination wanted them).
            batch: Messages per transaction.
            between_batches: Called between batches (a job checks for cancellation there).

        Returns:
            How many messages were deleted.
        """
        statuses = ["delivered", "unrouted"] if include_unrouted else ["delivered"]
        unfinished = exists().where(
            deliveries.c.message_id == messages.c.id, deliveries.c.status != "delivered"
        )
        total = 0
        while True:
            with self.db.write() as connection:
                ids = list(
                    connection.execute(
                        select(messages.c.id)
                        .where(
                            messages.c.status.in_(statuses),
                            messages.c.updated_at < before,
                            ~unfinished,
                        )
                        .order_by(messages.c.id)
                        .limit(batch)
                    ).scalars()
                )
                if ids:
                    delivery_ids = select(deliveries.c.id).where(deliveries.c.message_id.in_(ids))
                    connection.execute(
                        delete(attempts).where(attempts.c.delivery_id.in_(delivery_ids))
                    )
                    connection.execute(delete(deliveries).where(deliveries.c.message_id.in_(ids)))
                    connection.execute(
                        delete(message_keys).where(message_keys.c.message_id.in_(ids))
                    )
                    connection.execute(delete(messages).where(messages.c.id.in_(ids)))
            total += len(ids)
            if len(ids) < batch:
                return total
            between_batches()


def message_conditions(where: MessageFilter) -> list[Any]:
    """The WHERE conditions of a message search (also what a replay selects)."""
    found: list[Any] = []
    if where.any_id:
        found.append(
            or_(
                messages.c.id == where.any_id,
                messages.c.client_ref == where.any_id,
                exists().where(
                    deliveries.c.message_id == messages.c.id, deliveries.c.id == where.any_id
                ),
            )
        )
    if where.source:
        found.append(messages.c.source == where.source)
    if where.type.endswith("*"):
        found.append(messages.c.type.like(_escape(where.type[:-1]) + "%", escape="\\"))
    elif where.type:
        found.append(messages.c.type == where.type)
    if where.correlation_id:
        found.append(messages.c.correlation_id == where.correlation_id)
    if where.key:
        found.append(
            exists().where(
                message_keys.c.message_id == messages.c.id, message_keys.c.value == where.key
            )
        )
    if where.status:
        found.append(messages.c.status == where.status)
    if where.destination:
        found.append(
            exists().where(
                deliveries.c.message_id == messages.c.id,
                deliveries.c.destination == where.destination,
            )
        )
    if where.since:
        found.append(messages.c.created_at >= where.since)
    if where.until:
        found.append(messages.c.created_at < where.until)
    return found


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def rekey_payloads(db: Database, *, batch: int = 500) -> int:
    """Seal every stored payload again under the current data key (after a rotation).

    Every copy is resealed: the messages, the project timelines' copies (``flow_events``)
    and what submit once found for a case (``case_enrichments.result``).

    Returns:
        How many payloads were rewritten.

    Raises:
        hub.store.protection.ProtectionError: No protector, or a field opens with no key.
    """
    protector = db.protector
    if protector is None:
        raise ValueError("personal data protection is off ([security] protect_personal_data)")
    done = 0
    for key, column in (
        (messages.c.id, messages.c.payload),
        (flow_events.c.message_id, flow_events.c.payload),
        (case_enrichments.c.case_no, case_enrichments.c.result),
    ):
        after = ""
        while True:
            with db.write() as connection:
                rows = connection.execute(
                    select(key, column).where(key > after).order_by(key).limit(batch)
                ).all()
                for row_key, document in rows:
                    resealed = protector.rekey(document)
                    if resealed != document:
                        connection.execute(
                            column.table.update()
                            .where(key == row_key)
                            .values({column.name: resealed})
                        )
                        done += 1
            if len(rows) < batch:
                break
            after = rows[-1][0]
    return done


def _revealed(db: Database, payload: Any) -> Any:
    return payload if db.protector is None else db.protector.reveal(payload)


def envelope_of(row: Row[Any], db: Database | None = None) -> Envelope:
    """The envelope of a ``messages`` row (or of a row joined to one).

    Args:
        row: The row.
        db: Its database, whose protector opens the sealed personal fields.
    """
    return Envelope(
        id=row.id,
        type=row.type,
        source=row.source,
        payload=row.payload if db is None else _revealed(db, row.payload),
        created_at=row.created_at,
        client_ref=row.client_ref,
        correlation_id=row.correlation_id,
        headers=row.headers or {},
    )
