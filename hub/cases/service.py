"""Keeping case records and supervising them: catch up with the timelines, evaluate the lights.

:meth:`CaseClocks.catch_up` folds every case with pending events into its record (the
events were written with their messages, so nothing accepted is missed, whatever crashed
in between). :meth:`CaseClocks.evaluate` reads every open case's clock at a moment and
publishes ``supervision.warning`` when a case turns yellow and ``supervision.overdue``
when it turns red, once per due day: the record remembers the due day each was published
for, and the publication is keyed by case, due day and kind, so a crash between the two
publishes nothing twice. Both take ``now`` as a parameter: the supervision job passes its
due time, tests pass the moments they want.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hub.cases.clock import CaseFacts, Reading, Stop, fold, read_clock
from hub.cases.settings import SupervisionSettings
from hub.core.clock import format_time
from hub.store import CaseEventRow, CaseRecord, ItemView, Store
from hub.workdays import WorkingCalendar

__all__ = ["CaseClocks", "CaseView", "Evaluation", "Notify"]

log = logging.getLogger("govhub.cases")

#: Publishes a supervision message: ``(type, payload, key)`` → whether it was new.
Notify = Callable[[str, dict[str, Any], str], bool]

WARNING = "supervision.warning"
OVERDUE = "supervision.overdue"


@dataclass
class Evaluation:
    """What one evaluation did."""

    examined: int = 0
    changed: int = 0
    warnings: int = 0
    overdue: int = 0
    bound: int = 0

    def to_json(self) -> dict[str, int]:
        """For logs and the API."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as the API shows it: its record, its timeline and its clock now."""

    record: CaseRecord
    facts: CaseFacts
    events: list[CaseEventRow]
    reading: Reading
    stop_days: tuple[int, ...]
    evaluated_light: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The case with its timeline: events, clock stops, due day, light."""
        document = self.record.to_json()
        document.pop("used_working_days")
        document.update(
            light=self.record.light,
            evaluated_light=self.evaluated_light,
            clock=self.reading.to_json(),
            due_on=self.reading.due_on.isoformat() if self.reading.due_on else None,
            stops=[
                {**stop.to_json(), "working_days": days}
                for stop, days in zip(self.facts.stops, self.stop_days, strict=True)
            ],
            timeline=[
                {
                    "message_id": event.message_id,
                    "type": event.type,
                    "status": event.status,
                    "result": event.result,
                    "department": (
                        {"code": event.department_code, "name": event.department_name}
                        if event.department_code
                        else None
                    ),
                    "occurred_at": format_time(event.occurred_at),
                    "received_at": format_time(event.received_at),
                    "source": event.source,
                    "late": event.message_id in self.facts.late,
                }
                for event in sorted(
                    self.events, key=lambda e: (e.occurred_at, e.received_at, e.message_id)
                )
            ],
        )
        return document


class CaseClocks:
    """The case records and their supervision.

    Args:
        store: Where timelines and records live.
        calendar: Working days.
        settings: ``[supervision]``.
    """

    def __init__(
        self, store: Store, calendar: WorkingCalendar, settings: SupervisionSettings
    ) -> None:
        self.store = store
        self.calendar = calendar
        self.settings = settings

    # ------------------------------------------------------------------ records

    def catch_up(
        self,
        now: dt.datetime,
        *,
        check: Callable[[], None] = lambda: None,
        batch: int = 500,
        max_rounds: int = 10_000,
    ) -> int:
        """Fold every case with pending events into its record.

        Args:
            now: The moment the records' lights are read at.
            check: Called between batches (a job checks for cancellation there).
            batch: Cases per transaction.
            max_rounds: Batches at most (events keep arriving; the next call goes on).

        Returns:
            How many events were taken in.
        """
        taken = 0
        for _ in range(max_rounds):
            check()
            case_nos = self.store.cases.pending(batch)
            if not case_nos:
                break
            timelines = self.store.cases.events_of(case_nos)
            previous = self.store.cases.records(case_nos)
            facts = {case_no: fold(case_no, timelines[case_no]) for case_no in case_nos}
            found = self.store.items.find(f.item_code for f in facts.values() if f.item_code)
            records = [
                self._record(facts[case_no], previous.get(case_no), found, now)
                for case_no in case_nos
            ]
            applied = [e.message_id for case_no in case_nos for e in timelines[case_no]]
            self.store.cases.save(records, applied)
            taken += len(applied)
        return taken

    def _record(
        self,
        facts: CaseFacts,
        previous: CaseRecord | None,
        items: dict[str, ItemView],
        now: dt.datetime,
    ) -> CaseRecord:
        record = CaseRecord(
            case_no=facts.case_no,
            item_code=facts.item_code,
            item_name=facts.item_name,
            department_code=facts.department[0] if facts.department else None,
            department_name=facts.department[1] if facts.department else None,
            status=facts.status,
            submitted_at=facts.submitted_at,
            accepted_at=facts.accepted_at,
            stops=tuple(stop.to_json() for stop in facts.stops),
            stopped=facts.stopped,
            finished_at=facts.finished_at,
            result=facts.result,
            open=facts.finished_at is None,
            last_event_at=facts.last_event_at,
            event_count=facts.event_count,
            updated_at=now,
        )
        if previous is not None:
            record = dataclasses.replace(
                record, warned_for=previous.warned_for, overdue_for=previous.overdue_for
            )
        record = self._bound(record, previous, items)
        return self._with_reading(record, now)

    def _bound(
        self, record: CaseRecord, previous: CaseRecord | None, items: dict[str, ItemView]
    ) -> CaseRecord:
        """The record with its item's limit: the version first seen with the case is kept."""
        if (
            previous is not None
            and previous.item_known
            and previous.item_code == record.item_code
            and previous.item_version is not None
        ):
            return dataclasses.replace(
                record,
                item_known=True,
                item_version=previous.item_version,
                item_name=previous.item_name or record.item_name,
                department_code=previous.department_code,
                department_name=previous.department_name,
                case_kind=previous.case_kind,
                limit_days=previous.limit_days,
            )
        found = items.get(record.item_code or "")
        if found is None:
            return dataclasses.replace(record, item_known=False, item_version=None)
        item = found.item
        return dataclasses.replace(
            record,
            item_known=True,
            item_version=found.version,
            item_name=item.name,
            department_code=item.department_code,
            department_name=item.department_name,
            case_kind=item.case_kind,
            limit_days=item.committed_limit_days,
        )

    def reading(self, record: CaseRecord, now: dt.datetime) -> Reading:
        """A record's clock at ``now``."""
        return read_clock(
            started_at=record.accepted_at,
            limit_days=record.limit_days,
            stops=[Stop.from_json(stop) for stop in record.stops],
            finished_at=record.finished_at,
            now=now,
            index=self.calendar.index,
            warn_ratio=self.settings.warn_ratio,
        )

    def _with_reading(self, record: CaseRecord, now: dt.datetime) -> CaseRecord:
        if record.open:
            reading = self.reading(record, now)
            return dataclasses.replace(record, light=reading.light, due_on=reading.due_on)
        final = self.reading(record, record.finished_at or now)
        light = "none" if final.on_time is None else ("green" if final.on_time else "red")
        return dataclasses.replace(
            record,
            light=light,
            due_on=final.due_on,
            used_days=final.used_days,
            on_time=final.on_time,
        )

    # ------------------------------------------------------------------ supervision

    def evaluate(
        self,
        now: dt.datetime,
        notify: Notify | None = None,
        *,
        check: Callable[[], None] = lambda: None,
        page: int = 2000,
        publishers: int = 8,
    ) -> Evaluation:
        """Read every open case's clock at ``now``; publish what turned yellow or red.

        A page's notices are published before the page's records remember them, so a
        crash in between publishes them again, and their keys make that a no-op.

        Args:
            now: The moment of the evaluation (the job's due time).
            notify: Publishes supervision messages (called from several threads at once,
                so their commits share fsyncs); ``None`` only refreshes the lights.
            check: Called between pages (a job checks for cancellation there).
            page: Open cases read at a time.
            publishers: Notices published at once.
        """
        result = Evaluation()
        after: str | None = None
        with ThreadPoolExecutor(max_workers=publishers, thread_name_prefix="govhub-notice") as pool:
            while True:
                check()
                records = self.store.cases.open_page(after=after, limit=page)
                if not records:
                    return result
                after = records[-1].case_no
                self._evaluate_page(records, now, notify, pool, result)

    def _evaluate_page(
        self,
        records: list[CaseRecord],
        now: dt.datetime,
        notify: Notify | None,
        pool: ThreadPoolExecutor,
        result: Evaluation,
    ) -> None:
        result.examined += len(records)
        unbound = {r.item_code for r in records if not r.item_known and r.item_code}
        items = self.store.items.find(unbound) if unbound else {}
        changed: list[CaseRecord] = []
        notices: list[tuple[str, dict[str, Any], str]] = []
        for record in records:
            updated = self._bound(record, record, items) if not record.item_known else record
            result.bound += updated.item_known and not record.item_known
            reading = self.reading(updated, now)
            if reading.light != updated.light or reading.due_on != updated.due_on:
                updated = dataclasses.replace(updated, light=reading.light, due_on=reading.due_on)
            if notify is not None:
                updated = self._notice(updated, reading, now, notices, result)
            if _differs(updated, record):
                changed.append(dataclasses.replace(updated, updated_at=now))
        if notify is not None and notices:
            for _created in pool.map(lambda notice: notify(*notice), notices):
                pass  # an error raised by one is raised here: nothing below is stored
        self.store.cases.update_readings(changed)
        result.changed += len(changed)

    def _notice(
        self,
        record: CaseRecord,
        reading: Reading,
        now: dt.datetime,
        notices: list[tuple[str, dict[str, Any], str]],
        result: Evaluation,
    ) -> CaseRecord:
        """The record remembering the notice it needs now, if any (added to ``notices``)."""
        due = reading.due_on
        if due is None:
            return record
        if reading.light == "red" and record.overdue_for != due:
            notices.append(
                (OVERDUE, notice(record, reading, now), f"{record.case_no}/{due}/overdue")
            )
            result.overdue += 1
            return dataclasses.replace(record, overdue_for=due)
        if (
            reading.light == "yellow"
            and self.settings.publish_warnings
            and record.warned_for != due
        ):
            notices.append(
                (WARNING, notice(record, reading, now), f"{record.case_no}/{due}/warning")
            )
            result.warnings += 1
            return dataclasses.replace(record, warned_for=due)
        return record

    # ------------------------------------------------------------------ reading one

    def view(self, case_no: str, now: dt.datetime) -> CaseView | None:
        """A case with its timeline and its clock at ``now``, from its events as they are.

        Events not yet taken into the record are included, so the answer is current.
        """
        events = self.store.cases.timeline(case_no)
        if not events:
            return None
        previous = self.store.cases.get(case_no)
        facts = fold(case_no, events)
        items = self.store.items.find([facts.item_code] if facts.item_code else [])
        record = self._record(facts, previous, items, now)
        return CaseView(
            record=record,
            facts=facts,
            events=events,
            reading=self.reading(record, now),
            stop_days=tuple(self._stop_days(record, facts.stops, now)),
            evaluated_light=previous.light if previous is not None else None,
        )

    def _stop_days(
        self, record: CaseRecord, stops: Sequence[Stop], now: dt.datetime
    ) -> Iterable[int]:
        for stop in stops:
            yield read_clock(
                started_at=record.accepted_at,
                limit_days=None,
                stops=[stop],
                finished_at=record.finished_at,
                now=now,
                index=self.calendar.index,
                warn_ratio=self.settings.warn_ratio,
            ).stopped_days


def notice(record: CaseRecord, reading: Reading, now: dt.datetime) -> dict[str, Any]:
    """The payload of a ``supervision.warning`` or ``supervision.overdue``."""
    payload: dict[str, Any] = {
        "case_no": record.case_no,
        "light": reading.light,
        "limit_working_days": record.limit_days,
        "used_working_days": reading.used_days,
        "accepted_at": format_time(record.accepted_at),
        "due_on": reading.due_on.isoformat() if reading.due_on else None,
        "evaluated_at": format_time(now),
        "stopped": reading.stopped,
    }
    if reading.light == "red":
        payload["overdue_working_days"] = reading.overdue_days
    else:
        payload["remaining_working_days"] = reading.remaining_days
    if record.item_code:
        payload["item_code"] = record.item_code
    if record.item_name:
        payload["item_name"] = record.item_name
    if record.case_kind:
        payload["case_kind"] = record.case_kind
    if record.department_code and record.department_name:
        payload["department"] = {"code": record.department_code, "name": record.department_name}
    return payload


def _differs(updated: CaseRecord, stored: CaseRecord) -> bool:
    return any(
        getattr(updated, name) != getattr(stored, name)
        for name in (
            "light",
            "due_on",
            "warned_for",
            "overdue_for",
            "item_known",
            "item_version",
            "limit_days",
        )
    )
