"""The audit trail: who did what to what, and when; a hash chain, so tampering shows.

Every record carries ``seq`` (1, 2, 3… without a gap), the ``hash`` of the record before
it (``prev_hash``) and its own ``hash`` = SM3(prev_hash + "\n" + canonical JSON of seq,
at, actor, action, target, detail). The chain's end is kept in ``audit_head``, whose row
every append locks, so appends from several processes and nodes chain one after the
other. :meth:`AuditLog.verify` (``govhub audit verify``) recomputes the chain: an edited
record no longer matches its hash, a deleted one leaves a gap in ``seq`` and a broken
link, deleting the newest ones leaves the head pointing past the end.

The chain shows tampering by anyone who does not also rewrite every later hash and the
head; against someone with full write access to the database, keep the head's value
elsewhere too (``govhub audit verify --json`` prints it, e.g. daily into another system).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.core import digests
from hub.core.clock import utcnow
from hub.store.database import Database
from hub.store.records import AuditRecord
from hub.store.tables import audit, audit_head

__all__ = ["GENESIS", "AuditLog", "ChainCheck", "chain_hash", "write_audit"]

#: The ``prev_hash`` of the first record.
GENESIS = "0" * 64
_PAGE = 1000


def chain_hash(
    previous: str,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    target: str | None,
    detail: Mapping[str, Any] | None,
) -> str:
    """The hash of one record, chained to the hash of the record before it."""
    moment = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    content = json.dumps(
        {
            "seq": seq,
            "at": moment,
            "actor": actor,
            "action": action,
            "target": target,
            "detail": dict(detail) if detail else None,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return digests.digest("sm3", f"{previous}\n{content}".encode())


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What :meth:`AuditLog.verify` found.

    Attributes:
        records: Records checked.
        head_seq: The last seq the head names.
        head_hash: The last hash the head names.
        problems: One line per break found (empty: the chain holds).
    """

    records: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when no break was found."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """For ``govhub audit verify --json``."""
        return {
            "ok": self.ok,
            "records": self.records,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "problems": list(self.problems),
        }


class AuditLog:
    """Records of every change a person or a client made.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self, actor: str, action: str, target: str | None, detail: Mapping[str, Any] | None = None
    ) -> None:
        """Record who did what to what (its own transaction)."""
        with self.db.write() as connection:
            write_audit(connection, actor, action, target, detail, utcnow())

    def last(self, action: str) -> AuditRecord | None:
        """The newest record of ``action``, if any."""
        with self.db.read() as connection:
            row = connection.execute(
                select(audit).where(audit.c.action == action).order_by(audit.c.id.desc()).limit(1)
            ).first()
        return None if row is None else _record(row)

    def verify(self) -> ChainCheck:
        """Recompute the whole chain and say where it breaks.

        Returns:
            The records checked, the head, and one line per break (an edited record, a
            gap where records were deleted, a head past the end).
        """
        return verify_chain(self.db)

    def trail(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit records, as plain dictionaries."""
        with self.db.read() as connection:
            rows = connection.execute(select(audit).order_by(audit.c.id.desc()).limit(limit)).all()
        return [dict(row._mapping) for row in rows]

    def about(self, targets: Sequence[str], *, limit: int = 200) -> list[AuditRecord]:
        """Records about any of ``targets`` (e.g. a message and its deliveries), oldest first."""
        if not targets:
            return []
        with self.db.read() as connection:
            rows = connection.execute(
                select(audit)
                .where(audit.c.target.in_(list(targets)))
                .order_by(audit.c.id)
                .limit(limit)
            ).all()
        return [_record(row) for row in rows]

    def recent(
        self,
        *,
        actor: str = "",
        action: str = "",
        before: int | None = None,
        limit: int = 100,
    ) -> tuple[list[AuditRecord], int | None]:
        """The newest records, filtered by actor and action prefix; and the ``before`` of
        the next page (``None`` on the last)."""
        query = select(audit).order_by(audit.c.id.desc()).limit(limit + 1)
        if actor:
            query = query.where(audit.c.actor == actor)
        if action:
            query = query.where(audit.c.action.like(action.replace("%", "") + "%"))
        if before is not None:
            query = query.where(audit.c.id < before)
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        more = rows[limit - 1].id if len(rows) > limit else None
        return [_record(row) for row in rows[:limit]], more


def write_audit(
    connection: Connection,
    actor: str,
    action: str,
    target: str | None,
    detail: Mapping[str, Any] | None,
    now: dt.datetime,
) -> None:
    """Append an audit record in the caller's transaction (with the change it records).

    The head row is locked (``FOR UPDATE``; SQLite writes one transaction at a time
    anyway) until the caller's transaction ends, which chains concurrent appends.
    """
    head = connection.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).first()
    previous_seq, previous = (head.seq, head.hash) if head is not None else (0, GENESIS)
    seq = previous_seq + 1
    body = dict(detail) if detail else None
    digest = chain_hash(previous, seq, now, actor, action, target, body)
    connection.execute(
        insert(audit),
        {
            "at": now,
            "actor": actor,
            "action": action,
            "target": target,
            "detail": body,
            "seq": seq,
            "prev_hash": previous,
            "hash": digest,
        },
    )
    if head is None:
        connection.execute(insert(audit_head), {"id": 1, "seq": seq, "hash": digest})
    else:
        connection.execute(
            update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest)
        )


def _chain_rows(db: Database) -> Iterator[Any]:
    after = None
    while True:
        query = select(audit).order_by(audit.c.seq.is_(None), audit.c.seq, audit.c.id)
        query = query.limit(_PAGE)
        if after is not None:
            query = query.where(audit.c.seq > after)
        with db.read() as connection:
            rows = connection.execute(query).all()
        yield from rows
        if len(rows) < _PAGE or rows[-1].seq is None:
            return
        after = rows[-1].seq


def verify_chain(db: Database) -> ChainCheck:
    """Recompute the audit chain; see :meth:`AuditLog.verify`."""
    problems: list[str] = []
    previous, expected_seq, count = GENESIS, 1, 0
    for row in _chain_rows(db):
        count += 1
        if row.seq is None:
            problems.append(f"record id {row.id} has no place in the chain (added around it)")
            continue
        if row.seq != expected_seq:
            missing = (
                f"{expected_seq}"
                if row.seq == expected_seq + 1
                else (f"{expected_seq}-{row.seq - 1}")
            )
            problems.append(f"records seq {missing} are missing (deleted) before seq {row.seq}")
        if row.prev_hash != previous:
            problems.append(f"record seq {row.seq} does not follow the record before it")
        computed = chain_hash(
            row.prev_hash or "", row.seq, row.at, row.actor, row.action, row.target, row.detail
        )
        if computed != row.hash:
            problems.append(
                f"record seq {row.seq} (id {row.id}, {row.action}) was changed after it was written"
            )
        previous, expected_seq = row.hash or "", row.seq + 1
    with db.read() as connection:
        head = connection.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        ).first()
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if head_seq != expected_seq - 1 or head_hash != previous:
        if head_seq > expected_seq - 1:
            problems.append(
                f"the chain ends at seq {expected_seq - 1} but its head names seq {head_seq}:"
                " the newest records were deleted"
            )
        else:
            problems.append("the chain's head does not match its last record")
    return ChainCheck(count, head_seq, head_hash, tuple(problems))


def _record(row: Any) -> AuditRecord:
    return AuditRecord(row.id, row.at, row.actor, row.action, row.target, row.detail)
