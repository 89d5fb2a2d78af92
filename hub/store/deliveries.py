"""Deliveries: the outbox. Claimed with a lease, finished by the lease holder, replayed or
discarded by ops when dead.

A delivery is due when it is pending and its time has come, or in flight with an expired
lease (its worker died). It is held back while an earlier delivery of the same destination
and correlation id is still open: order per case. A dead letter does not hold its case back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    case,
    func,
    insert,
    select,
    update,
)

from hub.core.clock import new_id, utcnow
from hub.store.audit import write_audit
from hub.store.database import Database
from hub.store.delivery_statements import (
    ATTEMPT_NUMBERS,
    CLAIM,
    FINISH,
    LEASES,
    MESSAGES,
    NEXT_DUE,
    REFRESH,
    recover_expired,
    refresh_message_status,
)
from hub.store.group_commit import GroupCommitter
from hub.store.messages import envelope_of
from hub.store.queues import OPEN, case_key, promote_next
from hub.store.records import Claim, DeadLetterFilter, DeliveryView, Outcome, Page
from hub.store.tables import attempts, deliveries, messages

__all__ = ["Deliveries"]


@dataclass(frozen=True, slots=True)
class _Finished:
    """One attempt's outcome on its way into the store."""

    claim: Claim
    owner: str
    worker: str
    outcome: Outcome


def _parameters(finished: _Finished) -> dict[str, Any]:
    """The bound values of ``FINISH[status]`` for one outcome."""
    outcome = finished.outcome
    parameters: dict[str, Any] = {
        "p_delivery_id": finished.claim.delivery_id,
        "p_owner": finished.owner,
        "p_finished_at": outcome.finished_at,
        "p_error": outcome.error,
    }
    if outcome.status == "retry":
        parameters["p_next_attempt_at"] = outcome.next_attempt_at or outcome.finished_at
    elif outcome.status == "delivered":
        parameters["p_receipt"] = outcome.receipt
    return parameters


def _attempt_row(finished: _Finished, numbers: Mapping[str, int]) -> dict[str, Any]:
    outcome = finished.outcome
    return {
        "delivery_id": finished.claim.delivery_id,
        "number": (numbers.get(finished.claim.delivery_id) or 0) + 1,
        "worker": finished.worker,
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
        "duration_ms": int((outcome.finished_at - outcome.started_at).total_seconds() * 1000),
        "outcome": outcome.status,
        "status_code": outcome.status_code,
        "error": outcome.error,
    }


class Deliveries:
    """The deliveries of every stored message.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._finisher: GroupCommitter[_Finished, bool] = GroupCommitter(self._write_outcomes)

    def close(self) -> None:
        """Finish the outcomes being written."""
        self._finisher.close()

    # ------------------------------------------------------------------ dispatching

    def claim(
        self,
        owner: str,
        *,
        capacity: Mapping[str, int],
        lease_s: float,
        limit: int,
        recover: bool = True,
    ) -> list[Claim]:
        """Lease due deliveries, the heads of their cases' queues, oldest due first.

        Each destination's share is read from its index of due ``pending`` rows, so a claim
        costs the same whatever the backlog; on PostgreSQL the rows are locked with ``FOR
        UPDATE SKIP LOCKED``, so several workers claim side by side without waiting.

        Args:
            owner: This worker's id; outcomes are only accepted from the lease owner.
            capacity: Free slots per destination; destinations absent or at 0 are skipped
                (circuit open, or busy).
            lease_s: How long the lease lasts unless renewed.
            limit: At most this many claims.
            recover: First put back the deliveries whose lease expired (their worker
                died). A dispatcher does it every few seconds, not on every claim.

        Returns:
            The claimed deliveries with their messages.
        """
        wanted = [(name, free) for name, free in capacity.items() if free > 0]
        if not wanted or limit <= 0:
            return []
        now = utcnow()
        claimed: list[Any] = []
        with self.db.write(durable=False) as connection:
            # Leases of workers that died first: they stay the heads of their cases, so
            # they are claimed again before anything behind them (the index finds none
            # at all cost when no worker died).
            if recover:
                recover_expired(connection, now)
            for destination, free in wanted:
                take = min(free, limit - len(claimed))
                if take <= 0:
                    break
                claimed.extend(
                    connection.execute(
                        CLAIM,
                        {
                            "p_destination": destination,
                            "p_now": now,
                            "p_take": take,
                            "p_owner": owner,
                            "p_expires": now + dt.timedelta(seconds=lease_s),
                        },
                    ).all()
                )
            if not claimed:
                return []
            message_ids = list({row.message_id for row in claimed})
            envelopes = {
                row.id: envelope_of(row, self.db)
                for row in connection.execute(MESSAGES, {"p_ids": message_ids})
            }
        claimed.sort(key=lambda row: row.seq)
        return [
            Claim(
                delivery_id=row.id,
                destination=row.destination,
                attempts=row.attempts,
                envelope=envelopes[row.message_id],
                route=row.route,
            )
            for row in claimed
        ]

    def renew_leases(self, owner: str, delivery_ids: Iterable[str], lease_s: float) -> None:
        """Extend this worker's leases on deliveries it is still working."""
        ids = list(delivery_ids)
        if not ids:
            return
        now = utcnow()
        with self.db.write(durable=False) as connection:
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
        with self.db.write(durable=False) as connection:
            result = connection.execute(
                update(deliveries)
                .where(condition)
                .values(status="pending", lease_owner=None, lease_expires_at=None, updated_at=now)
            )
            if result.rowcount:
                self.db.dialect.notify(connection)
        return int(result.rowcount)

    def finish(self, claim: Claim, owner: str, worker: str, outcome: Outcome) -> bool:
        """Record an attempt and the delivery's new state; when it ended (delivered, dead),
        the next delivery of its case becomes due.

        Concurrent calls share one transaction (group commit): the outcomes of many
        deliveries, with their attempts, cost one commit. Each call returns once its own
        outcome is committed, so a retry's ``next_attempt_at`` is stored before the caller
        lets the delivery go.

        Returns:
            False when the lease was lost (another worker took the delivery over); then
            nothing is written, because that worker's outcome counts.
        """
        return self._finisher.submit(_Finished(claim, owner, worker, outcome))

    def _write_outcomes(self, batch: Sequence[_Finished]) -> list[bool]:
        ended = [f for f in batch if f.outcome.status != "retry"]
        keys = [
            k
            for f in ended
            if (k := case_key(f.claim.destination, f.claim.envelope.correlation_id))
        ]
        with self.db.write(durable=False) as connection:
            self.db.dialect.lock_cases(connection, keys)
            written = self._write_outcome_rows(connection, batch)
            done = [f for f, ok in zip(batch, written, strict=True) if ok]
            if done:
                numbers = dict(
                    connection.execute(
                        ATTEMPT_NUMBERS, {"p_ids": [f.claim.delivery_id for f in done]}
                    ).all()
                )
                self.db.dialect.insert_all(
                    connection, attempts, [_attempt_row(f, numbers) for f in done]
                )
            now = utcnow()
            finished = [f for f in done if f.outcome.status != "retry"]
            moved = promote_next(
                connection,
                [
                    k
                    for f in finished
                    if (k := case_key(f.claim.destination, f.claim.envelope.correlation_id))
                ],
                now,
            )
            ended_messages = sorted({f.claim.envelope.id for f in finished})
            if ended_messages:
                connection.execute(
                    REFRESH, [{"p_message_id": m, "p_now": now} for m in ended_messages]
                )
            if moved:
                self.db.dialect.notify(connection)
        return written

    @staticmethod
    def _write_outcome_rows(connection: Connection, batch: Sequence[_Finished]) -> list[bool]:
        """Each outcome whose lease still holds, one statement per status for the batch.

        Which leases hold is read first (locked on PostgreSQL; on SQLite this writer holds
        the database), so each status's UPDATE runs once over all its rows: one prepared
        statement for the group instead of one round of SQLAlchemy per delivery.
        """
        owners = dict(
            connection.execute(LEASES, {"p_ids": [f.claim.delivery_id for f in batch]}).all()
        )
        written: list[bool] = []
        by_status: dict[str, list[dict[str, Any]]] = {}
        for finished in batch:
            # the lease fences it; a delivery's first outcome in the batch ends the lease
            ok = owners.pop(finished.claim.delivery_id, None) == finished.owner
            written.append(ok)
            if ok:
                by_status.setdefault(finished.outcome.status, []).append(_parameters(finished))
        for status, rows in by_status.items():
            connection.execute(FINISH[status], rows)
        return written

    def next_due(self) -> dt.datetime | None:
        """When the earliest pending delivery falls due (for the dispatcher's sleep)."""
        with self.db.read() as connection:
            value: dt.datetime | None = connection.execute(NEXT_DUE).scalar_one()
        return value

    def backlog(self) -> dict[str, int]:
        """Open (pending, in flight or waiting their turn) deliveries per destination."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(deliveries.c.destination, func.count())
                .where(deliveries.c.status.in_(OPEN))
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
            key = case_key(destination, correlation.correlation_id)
            self.db.dialect.lock_cases(connection, [key] if key else [])
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
                    # behind its case's open deliveries, if any (promoted below otherwise)
                    "status": "pending" if key is None else "waiting",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if key is not None:
                promote_next(connection, [key], now)
            refresh_message_status(connection, message_id, now)
            self.db.dialect.notify(connection)
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
        # back in its case's queue: the head at once if the case has none (see _settle)
        queued = case((deliveries.c.correlation_id.is_(None), "pending"), else_="waiting")
        return self._settle(
            delivery_ids,
            {"status": queued, "attempts": 0, "next_attempt_at": now, "updated_at": now},
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
        ids = list(delivery_ids)
        with self.db.write() as connection:
            cases = connection.execute(
                select(deliveries.c.destination, deliveries.c.correlation_id).where(
                    deliveries.c.id.in_(ids), deliveries.c.status == "dead"
                )
            ).all()
            keys = [k for row in cases if (k := case_key(row.destination, row.correlation_id))]
            self.db.dialect.lock_cases(connection, keys)
            changed = connection.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids), deliveries.c.status == "dead")
                .values(**values)
                .returning(deliveries.c.id, deliveries.c.message_id)
            ).all()
            if promote_next(connection, keys, now) or changed:
                self.db.dialect.notify(connection)
            for message_id in {row.message_id for row in changed}:
                refresh_message_status(connection, message_id, now)
            for row in changed:
                write_audit(connection, actor, action, row.id, detail, now)
        return [row.id for row in changed]


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
