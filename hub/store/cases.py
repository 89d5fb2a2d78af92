"""Case clocks: each case's timeline of events, and its record (clock, light, notices).

The timeline is written with the messages themselves: :func:`case_event_row` turns an
accepted ``case.*`` message into a ``case_events`` row, and :class:`Messages` inserts it
in the transaction that stores the message, so an event that got its 202 is on the
timeline even if the process dies the next instant. The row is *pending* until the
case's record has taken it in (:meth:`Cases.save`); whoever keeps the records (the
supervision job) finds pending rows through an index and catches up after any crash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Row,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)

from hub.core.clock import parse_time
from hub.core.envelope import Envelope
from hub.store.case_records import CaseEventRow, CaseFilter, CaseRecord
from hub.store.case_tables import case_events, cases
from hub.store.database import Database
from hub.store.records import Page
from hub.store.timelines import CHUNK, mark_applied, pending_keys

__all__ = ["CASE_EVENT_TYPES", "Cases", "GroupCounts", "case_event_row"]

#: The message types that make a case's timeline, and the payload field saying when.
CASE_EVENT_TYPES = {
    "case.submitted": "submitted_at",
    "case.status_changed": "occurred_at",
    "case.completed": "completed_at",
}
#: The columns an evaluation may change on an open case.
READING_COLUMNS = (
    "light",
    "due_on",
    "warned_for",
    "overdue_for",
    "item_known",
    "item_version",
    "item_name",
    "department_code",
    "department_name",
    "case_kind",
    "limit_days",
    "updated_at",
)


def case_event_row(envelope: Envelope) -> dict[str, Any] | None:
    """The ``case_events`` row of an accepted message, or ``None`` if it is no case event."""
    when_field = CASE_EVENT_TYPES.get(envelope.type)
    payload = envelope.payload
    case_no = payload.get("case_no")
    if when_field is None or not isinstance(case_no, str):
        return None
    try:
        occurred = parse_time(str(payload.get(when_field)))
    except ValueError:
        occurred = envelope.created_at  # the schema checked it; this is only a safety net
    department = payload.get("department") or {}
    return {
        "message_id": envelope.id,
        "case_no": case_no[:64],
        "type": envelope.type,
        "status": payload.get("status"),
        "result": payload.get("result"),
        "occurred_at": occurred,
        "received_at": envelope.created_at,
        "source": envelope.source,
        "item_code": payload.get("item_code"),
        "item_name": payload.get("item_name"),
        "department_code": department.get("code"),
        "department_name": department.get("name"),
        "applied": False,
    }


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """Cases of one department or item over a period, and its open ones now.

    Attributes:
        key: The department's code or the item's code.
        name: Its name.
        received: Cases accepted in the period.
        finished: Cases finished in the period.
        on_time: Of those, finished by their due day.
        used_days: Working days the finished ones used, summed.
        open_by_light: Open cases now, by light.
    """

    key: str
    name: str
    received: int = 0
    finished: int = 0
    on_time: int = 0
    used_days: int = 0
    open_by_light: tuple[tuple[str, int], ...] = ()

    @property
    def late(self) -> int:
        """Finished after their due day."""
        return self.finished - self.on_time

    @property
    def on_time_rate(self) -> float | None:
        """Share finished on time (``None`` when nothing finished)."""
        return self.on_time / self.finished if self.finished else None

    def open(self, light: str) -> int:
        """Open cases of a light."""
        return dict(self.open_by_light).get(light, 0)


class Cases:
    """Case timelines and records.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ timelines

    def pending(self, limit: int = 500) -> list[str]:
        """Case numbers with events their record has not taken in, oldest first."""
        return pending_keys(self.db, case_events.c.case_no, limit)

    def backlog(self) -> tuple[int, dt.datetime | None]:
        """How many events wait to be taken in, and when the oldest was accepted."""
        with self.db.read() as connection:
            row = connection.execute(
                select(func.count(), func.min(case_events.c.received_at)).where(
                    case_events.c.applied.is_(False)
                )
            ).one()
        return int(row[0]), row[1]

    def events_of(self, case_nos: Iterable[str]) -> dict[str, list[CaseEventRow]]:
        """Every event of these cases, in the order they were accepted."""
        wanted = sorted(set(case_nos))
        found: dict[str, list[CaseEventRow]] = {case_no: [] for case_no in wanted}
        with self.db.read() as connection:
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                for row in connection.execute(
                    select(case_events)
                    .where(case_events.c.case_no.in_(chunk))
                    .order_by(case_events.c.received_at, case_events.c.message_id)
                ):
                    found[row.case_no].append(_event(row))
        return found

    def timeline(self, case_no: str) -> list[CaseEventRow]:
        """A case's events in the order they were accepted (empty: no such case)."""
        return self.events_of([case_no])[case_no]

    # ------------------------------------------------------------------ records

    def get(self, case_no: str) -> CaseRecord | None:
        """A case's record, or ``None``."""
        return self.records([case_no]).get(case_no)

    def records(self, case_nos: Iterable[str]) -> dict[str, CaseRecord]:
        """The records of these cases that exist, by case number."""
        wanted = sorted(set(case_nos))
        found: dict[str, CaseRecord] = {}
        with self.db.read() as connection:
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                for row in connection.execute(select(cases).where(cases.c.case_no.in_(chunk))):
                    found[row.case_no] = _record(row)
        return found

    def save(self, records: Sequence[CaseRecord], applied: Sequence[str]) -> None:
        """Write records and mark the events they took in as applied, in one transaction.

        Args:
            records: Whole records (inserted, or replacing the stored ones).
            applied: Message ids of the events the records include.
        """
        with self.db.write() as connection:
            keys = [r.case_no for r in records]
            existing: set[str] = set()
            for start in range(0, len(keys), CHUNK):
                existing.update(
                    connection.execute(
                        select(cases.c.case_no).where(
                            cases.c.case_no.in_(keys[start : start + CHUNK])
                        )
                    ).scalars()
                )
            new = [_row(r) for r in records if r.case_no not in existing]
            if new:
                connection.execute(insert(cases), new)
            columns = [c.name for c in cases.columns if c.name != "case_no"]
            changed = [_bound(_row(r), columns) for r in records if r.case_no in existing]
            if changed:
                connection.execute(
                    update(cases)
                    .where(cases.c.case_no == bindparam("k_case_no"))
                    .values({name: bindparam(f"v_{name}") for name in columns}),
                    changed,
                )
            mark_applied(connection, case_events, applied)

    def open_page(self, *, after: str | None = None, limit: int = 1000) -> list[CaseRecord]:
        """Open cases by case number, a page at a time (closed ones are never read)."""
        query = select(cases).where(cases.c.open.is_(True)).order_by(cases.c.case_no).limit(limit)
        if after is not None:
            query = query.where(cases.c.case_no > after)
        with self.db.read() as connection:
            return [_record(row) for row in connection.execute(query)]

    def update_readings(self, records: Sequence[CaseRecord]) -> None:
        """Store what an evaluation changed on open cases (light, due day, notices, item)."""
        if not records:
            return
        rows = [_bound(_row(r), READING_COLUMNS) for r in records]
        with self.db.write() as connection:
            connection.execute(
                update(cases)
                .where(cases.c.case_no == bindparam("k_case_no"), cases.c.open.is_(True))
                .values({name: bindparam(f"v_{name}") for name in READING_COLUMNS}),
                rows,
            )

    def search(
        self, where: CaseFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> Page:
        """Cases by case number, a page at a time; ``after`` is the previous page's last."""
        query = select(cases).order_by(cases.c.case_no).limit(limit + 1)
        for condition in _conditions(where or CaseFilter()):
            query = query.where(condition)
        if after:
            query = query.where(cases.c.case_no > after)
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        found = [_record(row) for row in rows[:limit]]
        return Page(items=found, next=found[-1].case_no if len(rows) > limit else None)

    def open_by_light(self) -> dict[str, int]:
        """Open cases by light."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(cases.c.light, func.count())
                .where(cases.c.open.is_(True))
                .group_by(cases.c.light)
            ).all()
        return {row[0]: int(row[1]) for row in rows}

    def counts(
        self,
        by: str,
        *,
        since: dt.datetime,
        until: dt.datetime,
        key: str = "",
        open_now: bool = True,
    ) -> list[GroupCounts]:
        """Per department or item: received and finished in ``[since, until)``, open now.

        Args:
            by: ``department`` or ``item``.
            since: The period's start.
            until: The period's end (excluded).
            key: Only this department or item.
            open_now: Also count the open cases by light.

        Raises:
            ValueError: ``by`` is neither.
        """
        if by not in ("department", "item"):
            raise ValueError("by must be department or item")
        code = cases.c.department_code if by == "department" else cases.c.item_code
        name = cases.c.department_name if by == "department" else cases.c.item_name
        narrow = [code == key] if key else []
        received_q = (
            select(code, func.max(name), func.count())
            .where(cases.c.accepted_at >= since, cases.c.accepted_at < until, *narrow)
            .group_by(code)
        )
        finished_q = (
            select(
                code,
                func.max(name),
                func.count(),
                func.sum(case((cases.c.on_time.is_(True), 1), else_=0)),
                func.coalesce(func.sum(cases.c.used_days), 0),
            )
            .where(cases.c.finished_at >= since, cases.c.finished_at < until, *narrow)
            .group_by(code)
        )
        open_q = (
            select(code, func.max(name), cases.c.light, func.count())
            .where(cases.c.open.is_(True), *narrow)
            .group_by(code, cases.c.light)
        )
        groups: dict[str, dict[str, Any]] = {}

        def group(row_key: str | None, row_name: str | None) -> dict[str, Any]:
            found = groups.setdefault(
                row_key or "",
                {"name": row_name or row_key or "", "open": {}},
            )
            if row_name and not found["name"]:
                found["name"] = row_name
            return found

        with self.db.read() as connection:
            for row in connection.execute(received_q):
                group(row[0], row[1])["received"] = int(row[2])
            for row in connection.execute(finished_q):
                entry = group(row[0], row[1])
                entry.update(finished=int(row[2]), on_time=int(row[3]), used=int(row[4]))
            for row in connection.execute(open_q) if open_now else ():
                group(row[0], row[1])["open"][row[2]] = int(row[3])
        return sorted(
            (
                GroupCounts(
                    key=group_key,
                    name=entry["name"],
                    received=entry.get("received", 0),
                    finished=entry.get("finished", 0),
                    on_time=entry.get("on_time", 0),
                    used_days=entry.get("used", 0),
                    open_by_light=tuple(sorted(entry["open"].items())),
                )
                for group_key, entry in groups.items()
            ),
            key=lambda g: (g.name, g.key),
        )


def _bound(row: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    # Bound parameters may not share a column's name in an UPDATE's SET clause.
    return {"k_case_no": row["case_no"], **{f"v_{name}": row[name] for name in columns}}


def _conditions(where: CaseFilter) -> list[Any]:
    found: list[Any] = []
    if where.open is not None:
        found.append(cases.c.open.is_(where.open))
    if where.light:
        found.append(cases.c.light == where.light)
    if where.department:
        found.append(cases.c.department_code == where.department)
    if where.item_code:
        found.append(cases.c.item_code == where.item_code)
    if where.unknown_item:
        found.append(cases.c.item_known.is_(False))
    return found


def _event(row: Row[Any]) -> CaseEventRow:
    return CaseEventRow(
        message_id=row.message_id,
        case_no=row.case_no,
        type=row.type,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        source=row.source,
        status=row.status,
        result=row.result,
        item_code=row.item_code,
        item_name=row.item_name,
        department_code=row.department_code,
        department_name=row.department_name,
        applied=bool(row.applied),
    )


def _row(record: CaseRecord) -> dict[str, Any]:
    return {
        "case_no": record.case_no,
        "item_code": record.item_code,
        "item_name": record.item_name,
        "item_known": record.item_known,
        "item_version": record.item_version,
        "department_code": record.department_code,
        "department_name": record.department_name,
        "case_kind": record.case_kind,
        "limit_days": record.limit_days,
        "status": record.status,
        "submitted_at": record.submitted_at,
        "accepted_at": record.accepted_at,
        "stops": list(record.stops),
        "stopped": record.stopped,
        "finished_at": record.finished_at,
        "result": record.result,
        "open": record.open,
        "light": record.light,
        "due_on": record.due_on,
        "used_days": record.used_days,
        "on_time": record.on_time,
        "warned_for": record.warned_for,
        "overdue_for": record.overdue_for,
        "last_event_at": record.last_event_at,
        "event_count": record.event_count,
        "updated_at": record.updated_at,
    }


def _record(row: Row[Any]) -> CaseRecord:
    return CaseRecord(
        case_no=row.case_no,
        item_code=row.item_code,
        item_name=row.item_name,
        item_known=bool(row.item_known),
        item_version=row.item_version,
        department_code=row.department_code,
        department_name=row.department_name,
        case_kind=row.case_kind,
        limit_days=row.limit_days,
        status=row.status,
        submitted_at=row.submitted_at,
        accepted_at=row.accepted_at,
        stops=tuple(row.stops or ()),
        stopped=bool(row.stopped),
        finished_at=row.finished_at,
        result=row.result,
        open=bool(row.open),
        light=row.light,
        due_on=row.due_on,
        used_days=row.used_days,
        on_time=row.on_time,
        warned_for=row.warned_for,
        overdue_for=row.overdue_for,
        last_event_at=row.last_event_at,
        event_count=row.event_count,
        updated_at=row.updated_at,
    )
