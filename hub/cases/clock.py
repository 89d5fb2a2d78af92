"""The case clock (限时办结): what a case's events say, and where its time stands at a moment.

A case's record is a function of its events, taken in the order they *happened*
(``occurred_at``, then the order the hub accepted them), never in the order they arrived.
So an event that arrives late takes its place in the past: it never overrides what
happened after it (a late "processing" does not reopen a completed case, a late
"accepted" does not restart a clock already running), and a late supplement still stops
the clock for the days it ran. The events that arrived after a later one are marked late.

Counting follows the administrative licensing law's convention and the calendar service
(:mod:`hub.workdays`): the limit starts the working day after acceptance; a working day
counts as used from its beginning; supplement (补正, states 6/7) and special procedures
(特别程序, states 9/10) stop the clock, and the working days they ran are added to the
limit; the due day is the last working day of the limit; a case is overdue from the
first moment after its due day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.core.clock import HUB_TZ, format_time, parse_time
from hub.store.case_records import CaseEventRow
from hub.workdays import WorkdayIndex

__all__ = [
    "ACCEPTED",
    "ENDING_STATES",
    "STOP_ENDS",
    "STOP_STARTS",
    "CaseFacts",
    "Reading",
    "Stop",
    "fold",
    "local_day",
    "read_clock",
]

ACCEPTED = "3"
#: States that start a stop of the clock, and the kind of stop.
STOP_STARTS = {"6": "supplement", "9": "special"}
#: States that end one.
STOP_ENDS = {"7": "supplement", "10": "special"}
#: States that end a case without waiting for ``case.completed``: withdrawn, not
#: accepted, and the decision (passed, passed with tolerated gaps, failed).
ENDING_STATES = frozenset({"2", "4", "5", "11", "12", "13"})


def local_day(moment: dt.datetime) -> dt.date:
    """The day of a moment in the hub's time zone (Asia/Shanghai)."""
    return moment.astimezone(HUB_TZ).date()


@dataclass(frozen=True, slots=True)
class Stop:
    """A stop of the clock: a supplement or a special procedure, possibly still running."""

    kind: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored and shown: ``{kind, from, to}``."""
        return {
            "kind": self.kind,
            "from": format_time(self.started_at),
            "to": format_time(self.ended_at),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Stop:
        """The stop :meth:`to_json` wrote."""
        ended = document.get("to")
        return cls(
            kind=str(document["kind"]),
            started_at=parse_time(document["from"]),
            ended_at=parse_time(ended) if ended else None,
        )


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What a case's events say, folded in the order they happened.

    Attributes:
        item_code: The item applied for (from ``case.submitted``).
        department: ``(code, name)`` of the last department that reported on it.
        status: The latest state code by when it happened.
        accepted_at: When the clock starts: the first acceptance (state 3), else the
            submission (online and window submissions are accepted as they come).
        stops: Supplements and special procedures, in order.
        finished_at: When the case ended (``case.completed`` or an ending state).
        late: Message ids of events that arrived after an event that happened later.
    """

    case_no: str
    item_code: str | None = None
    item_name: str | None = None
    department: tuple[str, str] | None = None
    status: str | None = None
    submitted_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    stops: tuple[Stop, ...] = ()
    finished_at: dt.datetime | None = None
    result: str | None = None
    last_event_at: dt.datetime | None = None
    event_count: int = 0
    late: frozenset[str] = frozenset()

    @property
    def stopped(self) -> bool:
        """Whether a stop is running."""
        return any(stop.ended_at is None for stop in self.stops)


def fold(case_no: str, events: Sequence[CaseEventRow]) -> CaseFacts:
    """The facts of a case from its events (in any order: the result is the same).

    Args:
        case_no: The case.
        events: Its events, in the order they were accepted (for marking late ones).
    """
    late: set[str] = set()
    latest: dt.datetime | None = None
    for event in events:
        if latest is not None and event.occurred_at < latest:
            late.add(event.message_id)
        latest = event.occurred_at if latest is None else max(latest, event.occurred_at)
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.received_at, e.message_id))
    item_code = item_name = status = result = None
    department: tuple[str, str] | None = None
    submitted = accepted = finished = None
    running: dict[str, dt.datetime] = {}
    stops: list[Stop] = []
    for event in ordered:
        if event.department_code:
            department = (event.department_code, event.department_name or "")
        if finished is not None:
            continue  # what follows the end (a recall, a revocation) does not move the clock
        if event.type == "case.submitted":
            item_code = item_code or event.item_code
            item_name = item_name or event.item_name
            submitted = submitted or event.occurred_at
        elif event.type == "case.completed":
            finished, result = event.occurred_at, event.result
        elif event.status is not None:
            status = event.status
            if status == ACCEPTED and accepted is None:
                accepted = event.occurred_at
            elif status in STOP_STARTS and STOP_STARTS[status] not in running:
                running[STOP_STARTS[status]] = event.occurred_at
            elif status in STOP_ENDS and STOP_ENDS[status] in running:
                kind = STOP_ENDS[status]
                stops.append(Stop(kind, running.pop(kind), event.occurred_at))
            elif status in ENDING_STATES:
                finished = event.occurred_at
    for kind, started in running.items():
        stops.append(Stop(kind, started, finished))  # the end of the case ends its stops
    return CaseFacts(
        case_no=case_no,
        item_code=item_code,
        item_name=item_name,
        department=department,
        status=status,
        submitted_at=submitted,
        accepted_at=accepted or submitted,
        stops=tuple(sorted(stops, key=lambda s: s.started_at)),
        finished_at=finished,
        result=result,
        last_event_at=latest,
        event_count=len(events),
        late=frozenset(late),
    )


@dataclass(frozen=True, slots=True)
class Reading:
    """Where a case's time stands at a moment.

    Attributes:
        light: ``green``, ``yellow`` (the warning share of the limit is used), ``red``
            (past the due day), or ``none`` (no limit known, or not started).
        due_on: The last working day of the limit, stops included (while a stop runs,
            the day it would be if the clock restarted now).
        used_days: Working days used, stops excluded.
        remaining_days: Working days left up to the due day (0 on the due day itself).
        overdue_days: Working days past the due day.
        stopped_days: Working days the clock stood still.
        stopped: A stop is running.
        finished: The case ended by this moment.
        on_time: For a finished case, whether it ended by its due day.
    """

    light: str
    due_on: dt.date | None = None
    used_days: int | None = None
    remaining_days: int | None = None
    overdue_days: int = 0
    stopped_days: int = 0
    stopped: bool = False
    finished: bool = False
    on_time: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "light": self.light,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "used_working_days": self.used_days,
            "remaining_working_days": self.remaining_days,
            "overdue_working_days": self.overdue_days,
            "stopped_working_days": self.stopped_days,
            "stopped": self.stopped,
            "finished": self.finished,
            "on_time": self.on_time,
        }


def read_clock(
    *,
    started_at: dt.datetime | None,
    limit_days: int | None,
    stops: Sequence[Stop],
    finished_at: dt.datetime | None,
    now: dt.datetime,
    index: WorkdayIndex,
    warn_ratio: float,
) -> Reading:
    """Read a case's clock at ``now``.

    Args:
        started_at: When the clock started (acceptance).
        limit_days: The committed limit in working days; ``None``: unknown.
        stops: Supplements and special procedures.
        finished_at: When the case ended, if it did.
        now: The moment to read at (evaluations pass their due time).
        index: The working-day calendar.
        warn_ratio: The share of the limit that turns a case yellow (0.8).
    """
    finished = finished_at is not None and finished_at <= now
    end = finished_at if finished and finished_at is not None else now
    if started_at is None or started_at > end:
        return Reading(light="none", finished=finished)
    start_day, today = local_day(started_at), local_day(end)
    stopped_days = 0
    stopped = False
    for stop in stops:
        begun = max(stop.started_at, started_at)
        if begun > end:
            continue
        ended = stop.ended_at if stop.ended_at is not None and stop.ended_at <= end else None
        stopped = stopped or ended is None
        stop_end_day = local_day(ended) if ended is not None else today
        stopped_days += max(0, index.working_days_between(local_day(begun), stop_end_day))
    used = max(0, index.working_days_between(start_day, today) - stopped_days)
    if limit_days is None:
        return Reading(
            light="none",
            used_days=used,
            stopped_days=stopped_days,
            stopped=stopped,
            finished=finished,
        )
    due = index.add_working_days(start_day, limit_days + stopped_days)
    if not index.is_working_day(due):  # a limit of 0 days from a day off: the next working day
        due = index.add_working_days(due, 1)
    overdue = today > due
    threshold = math.ceil(warn_ratio * limit_days - 1e-9)
    if overdue:
        light = "red"
    elif limit_days > 0 and used >= threshold:
        light = "yellow"
    else:
        light = "green"
    return Reading(
        light=light,
        due_on=due,
        used_days=used,
        remaining_days=0 if overdue else index.working_days_between(today, due),
        overdue_days=index.working_days_between(due, today) if overdue else 0,
        stopped_days=stopped_days,
        stopped=stopped,
        finished=finished,
        on_time=(not overdue) if finished else None,
    )
