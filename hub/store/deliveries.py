"""Deliveries: the outbox. Claimed with a lease, finished by the lease holder, replayed or
discarded by ops when dead.

A delivery is due when it is pending and its time has come, or in flight with an expired
lease (its worker died). It is held back while an earlier delivery of the same destination
and correlation id is still open: order per case. A dead letter does not hold its case back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement

from hub.core.clock import new_id, utcnow
from hub.store.audit import write_audit
from hub.store.database import Database
from hub.store.messages import envelope_of
from hub.store.records import Claim, DeadLetterFilter, DeliveryView, Outcome, Page
from hub.store.tables import attempts, deliveries, messages

__all__ = ["Deliveries"]

_OPEN = ("pending", "inflight")


class Deliveries:
    """The deliveries of every stored message.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ dispatching

    def claim(
        self,
        owner: str,
        *,
        capacity: Mapping[str, int],
        lease_s: float,
        limit: int,
    ) -> list[Claim]:
        """Lease due deliveries, in acceptance order, keeping order per case.

        Args:
            owner: This worker's id; outcomes are only accepted from the lease owner.
            capacity: Free slots per destination; destinations absent or at 0 are skipped
                (circuit open, or busy).
            lease_s: How long the lease lasts unless renewed.
            limit: At most this many claims.

        Returns:
            The claimed deliveries with their messages.
        """
        open_destinations = [name for name, free in capacity.items() if free > 0]
        if not open_destinations or limit <= 0:
            return []
        now = utcnow()
        d = deliveries.alias("d")
        claimable = _claimable(d, now)
        ranked = (
            select(
                d.c.seq,
                d.c.destination,
                func.row_number()
                .over(partition_by=d.c.destination, order_by=d.c.seq)
                .label("rank"),
            )
            .where(claimable, d.c.destination.in_(open_destinations))
            .subquery()
        )
        most = max(capacity[name] for name in open_destinations)
        with self.db.write() as connection:
            candidates = connection.execute(
                select(ranked.c.seq, ranked.c.destination)
                .where(ranked.c.rank <= most)
                .order_by(ranked.c.seq)
                .limit(limit * 4)
            ).all()
            free = dict(capacity)
            chosen: list[int] = []
            for seq, destination in candidates:
                if free.get(destination, 0) > 0 and len(chosen) < limit:
                    free[destination] -= 1
                    chosen.append(seq)
            if not chosen:
                return []
            lockable = (
                select(d.c.seq)
                .where(d.c.seq.in_(chosen), claimable)
                .with_for_update(skip_locked=True)
            )
            claimed = (
                connection.execute(
                    update(deliveries)
                    .where(deliveries.c.seq.in_(lockable.scalar_subquery()))
                    .values(
                        status="inflight",
                        lease_owner=owner,
                        lease_expires_at=now + dt.timedelta(seconds=lease_s),
                        updated_at=now,
                    )
                    .returning(deliveries.c.id)
                )
                .scalars()
                .all()
            )
            if not claimed:
                return []
            rows = connection.execute(
                select(
                    deliveries.c.id.label("delivery_id"),
                    deliveries.c.destination,
                    deliveries.c.attempts,
                    deliveries.c.seq,
                    deliveries.c.route.label("delivery_route"),
                    messages,
                )
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(deliveries.c.id.in_(claimed))
                .order_by(deliveries.c.seq)
            ).all()
        return [
            Claim(
                delivery_id=row.delivery_id,
                destination=row.destination,
                attempts=row.attempts,
                envelope=envelope_of(row),
                route=row.delivery_route,
            )
            for row in rows
        ]

    def renew_leases(self, owner: str, delivery_ids: Iterable[str], lease_s: float) -> None:
        """Extend this worker's leases on deliveries it is still working."""
        ids = list(delivery_ids)
        if not ids:
            return
        now = utcnow()
        with self.db.write() as connection:
            connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.id.in_(ids),
                    deliveries.c.lease_owner == owner,
                    deliveries.c.status == "inflight",
                )
                .values(lease_expires_at=now + dt.timedelta(seconds=lease_s))
            )

    def release(self, owner: str, delivery_ids: Iterable[str] | None = None) -> int:
        """Give leases back without an attempt (shutting down, or a circuit opened)."""
        now = utcnow()
        condition = and_(deliveries.c.lease_owner == owner, deliveries.c.status == "inflight")
        if delivery_ids is not None:
            condition = and_(condition, deliveries.c.id.in_(list(delivery_ids)))
        with self.db.write() as connection:
            result = connection.execute(
                update(deliveries)
                .where(condition)
                .values(status="pending", lease_owner=None, lease_expires_at=None, updated_at=now)
            )
        return result.rowcount

    def finish(self, claim: Claim, owner: str, worker: str, outcome: Outcome) -> bool:
        """Record an attempt and the delivery's new state.

        Returns:
            False when the lease was lost (another worker took the delivery over); then
            nothing is written, because that worker's outcome counts.
        """
        values: dict[str, Any] = {
            "status": "pending" if outcome.status == "retry" else outcome.status,
            "attempts": deliveries.c.attempts + 1,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": outcome.finished_at,
            "last_error": outcome.error,
        }
        if outcome.status == "retry":
            values["next_attempt_at"] = outcome.next_attempt_at or outcome.finished_at
        if outcome.status == "delivered":
            values["delivered_at"] = outcome.finished_at
            values["receipt"] = outcome.receipt
        with self.db.write() as connection:
            changed = connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == claim.delivery_id,
                    deliveries.c.lease_owner == owner,
                    deliveries.c.status == "inflight",
                )
                .values(**values)
            ).rowcount
            if not changed:
                return False
            number = connection.execute(
                select(func.count())
                .select_from(attempts)
                .where(attempts.c.delivery_id == claim.delivery_id)
            ).scalar_one()
            connection.execute(
                insert(attempts),
                {
                    "delivery_id": claim.delivery_id,
                    "number": number + 1,
                    "worker": worker,
                    "started_at": outcome.started_at,
                    "finished_at": outcome.finished_at,
                    "duration_ms": int(
                        (outcome.finished_at - outcome.started_at).total_seconds() * 1000
                    ),
                    "outcome": outcome.status,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                },
            )
            if outcome.status != "retry":
                refresh_message_status(connection, claim.envelope.id, outcome.finished_at)
        return True

    def next_due(self) -> dt.datetime | None:
        """When the earliest pending delivery falls due (for the dispatcher's sleep)."""
        with self.db.read() as connection:
            value: dt.datetime | None = connection.execute(
                select(func.min(deliveries.c.next_attempt_at)).where(
                    deliveries.c.status == "pending"
                )
            ).scalar_one()
        return value

    def backlog(self) -> dict[str, int]:
        """Open (pending or in-flight) deliveries per destination."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(deliveries.c.destination, func.count())
                .where(deliveries.c.status.in_(_OPEN))
                .group_by(deliveries.c.destination)
            ).all()
        return dict(rows)

    # ------------------------------------------------------------------ adding

    def add(self, message_id: str, destination: str, *, route: str, actor: str) -> str | None:
        """Add a delivery of a stored message to ``destination`` (a job filling a gap in
        the outbox); it is due now, behind the case's open deliveries there. Audited as
        ``delivery.add`` by ``actor``.

        Returns:
            The new delivery's id; ``None`` when the message has one to that destination.

        Raises:
            KeyError: No such message.
        """
        now = utcnow()
        with self.db.write() as connection:
            correlation = connection.execute(
                select(messages.c.correlation_id).where(messages.c.id == message_id)
            ).first()
            if correlation is None:
                raise KeyError(message_id)
            present = connection.execute(
                select(deliveries.c.id).where(
                    deliveries.c.message_id == message_id, deliveries.c.destination == destination
                )
            ).first()
            if present is not None:
                return None
            delivery_id = new_id()
            connection.execute(
                insert(deliveries),
                {
                    "id": delivery_id,
                    "message_id": message_id,
                    "destination": destination,
                    "route": route,
                    "correlation_id": correlation.correlation_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            refresh_message_status(connection, message_id, now)
            write_audit(
                connection,
                actor,
                "delivery.add",
                message_id,
                {"destination": destination, "delivery_id": delivery_id},
                now,
            )
        return delivery_id

    # ------------------------------------------------------------------ reading

    def get(self, delivery_id: str) -> tuple[DeliveryView, str] | None:
        """A delivery and the source of its message, or ``None``."""
        with self.db.read() as connection:
            row = connection.execute(
                select(deliveries, messages.c.type.label("message_type"), messages.c.source)
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(deliveries.c.id == delivery_id)
            ).first()
        if row is None:
            return None
        return DeliveryView.from_row(row, message_type=row.message_type), row.source

    def dead_letters(
        self, where: DeadLetterFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> Page:
        """Dead letters matching ``where``, newest first, as :class:`DeliveryView`."""
        query = (
            _dead(where or DeadLetterFilter(), deliveries, messages.c.type.label("message_type"))
            .order_by(deliveries.c.id.desc())
            .limit(limit + 1)
        )
        if after:
            query = query.where(deliveries.c.id < after)
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        items = [DeliveryView.from_row(row, message_type=row.message_type) for row in rows[:limit]]
        return Page(items=items, next=items[-1].id if len(rows) > limit else None)

    def count_dead(self, where: DeadLetterFilter | None = None) -> int:
        """How many dead letters match ``where``."""
        with self.db.read() as connection:
            query = _dead(where or DeadLetterFilter(), func.count())
            return int(connection.execute(query).scalar_one())

    def dead_letter_ids(self, where: DeadLetterFilter, *, limit: int = 10_000) -> list[str]:
        """Ids of the dead letters matching ``where``, oldest first (replay keeps case order)."""
        query = _dead(where, deliveries.c.id).order_by(deliveries.c.seq).limit(limit)
        with self.db.read() as connection:
            return list(connection.execute(query).scalars())

    # ------------------------------------------------------------------ repairing

    def replay(
        self, delivery_ids: Sequence[str], *, actor: str, reason: str | None = None
    ) -> list[str]:
        """Send dead letters again: back to pending, due now, with a fresh attempt budget.

        Returns:
            The ids that were dead and are now pending (others are left alone).
        """
        now = utcnow()
        return self._settle(
            delivery_ids,
            {"status": "pending", "attempts": 0, "next_attempt_at": now, "updated_at": now},
            actor=actor,
            action="dlq.replay",
            detail={"reason": reason} if reason else None,
            now=now,
        )

    def discard(self, delivery_ids: Sequence[str], *, actor: str, reason: str) -> list[str]:
        """Give up on dead letters for good: ``discarded`` is terminal and never replayed.

        The reason goes to the audit trail, with who decided.

        Returns:
            The ids that were dead and are now discarded (others are left alone).

        Raises:
            ValueError: The reason is empty.
        """
        if not reason.strip():
            raise ValueError("discarding needs a reason")
        now = utcnow()
        return self._settle(
            delivery_ids,
            {"status": "discarded", "next_attempt_at": None, "updated_at": now},
            actor=actor,
            action="dlq.discard",
            detail={"reason": reason},
            now=now,
        )

    def _settle(
        self,
        delivery_ids: Sequence[str],
        values: dict[str, Any],
        *,
        actor: str,
        action: str,
        detail: dict[str, Any] | None,
        now: dt.datetime,
    ) -> list[str]:
        """Move dead letters on (``values``), refresh their messages and audit each."""
        if not delivery_ids:
            return []
        with self.db.write() as connection:
            changed = connection.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(list(delivery_ids)), deliveries.c.status == "dead")
                .values(**values)
                .returning(deliveries.c.id, deliveries.c.message_id)
            ).all()
            for message_id in {row.message_id for row in changed}:
                refresh_message_status(connection, message_id, now)
            for row in changed:
                write_audit(connection, actor, action, row.id, detail, now)
        return [row.id for row in changed]


def _claimable(d: Any, now: dt.datetime) -> ColumnElement[bool]:
    earlier = deliveries.alias("earlier")
    held_back = exists().where(
        earlier.c.destination == d.c.destination,
        earlier.c.correlation_id == d.c.correlation_id,
        earlier.c.seq < d.c.seq,
        earlier.c.status.in_(_OPEN),
    )
    due = or_(
        and_(d.c.status == "pending", d.c.next_attempt_at <= now),
        and_(d.c.status == "inflight", d.c.lease_expires_at < now),
    )
    return and_(due, ~held_back)


def _dead(where: DeadLetterFilter, *columns: Any) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(deliveries.join(messages, messages.c.id == deliveries.c.message_id))
        .where(deliveries.c.status == "dead")
    )
    if where.destination:
        query = query.where(deliveries.c.destination == where.destination)
    if where.type:
        query = query.where(messages.c.type == where.type)
    if where.source:
        query = query.where(messages.c.source == where.source)
    if where.error:
        escaped = where.error.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(deliveries.c.last_error.like(f"%{escaped}%", escape="\\"))
    if where.correlation_id:
        query = query.where(deliveries.c.correlation_id == where.correlation_id)
    return query


def refresh_message_status(connection: Connection, message_id: str, now: dt.datetime) -> None:
    """Derive a message's status from its deliveries again (in the caller's transaction)."""

    def having(*statuses: str) -> ColumnElement[bool]:
        return exists().where(
            deliveries.c.message_id == message_id, deliveries.c.status.in_(statuses)
        )

    connection.execute(
        update(messages)
        .where(messages.c.id == message_id)
        .values(
            status=case(
                (having(*_OPEN), "pending"),
                (having("dead"), "dead"),
                # every delivery ended, none delivered: ops gave up on all of them
                (~having("delivered"), "discarded"),
                else_="delivered",
            ),
            updated_at=now,
        )
    )
