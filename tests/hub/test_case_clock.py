"""The case clock on the real 2026 calendar: due days, lights, stops, late and shuffled events.

2026 around National Day (chinesecalendar): Fri 25 – Sun 27 September are the Mid-Autumn
holiday; Sun 20 September is worked; Thu 1 – Wed 7 October are National Day; Sat 10
October is worked; Sun 11 October is an ordinary Sunday.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from hub.cases.clock import Reading, Stop, fold, read_clock
from hub.core.clock import HUB_TZ
from hub.store.case_records import CaseEventRow
from hub.workdays import WorkingCalendar

D = dt.date
CALENDAR = WorkingCalendar()
MON_TO_FRI = WorkingCalendar(official=lambda day: day.weekday() < 5)


def at(text: str) -> dt.datetime:
    """A moment in Shanghai: ``2026-09-25 10:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=HUB_TZ)


def read(
    started: str,
    now: str,
    *,
    limit: int | None = 5,
    stops: tuple[Stop, ...] = (),
    finished: str | None = None,
    calendar: WorkingCalendar = CALENDAR,
) -> Reading:
    return read_clock(
        started_at=at(started),
        limit_days=limit,
        stops=stops,
        finished_at=at(finished) if finished else None,
        now=at(now),
        index=calendar.index,
        warn_ratio=0.8,
    )


def test_the_2026_calendar_is_the_one_these_tests_assume() -> None:
    days_off = [
        D(2026, 9, 25),
        D(2026, 9, 26),
        D(2026, 9, 27),
        *(D(2026, 10, d) for d in range(1, 8)),
    ]
    assert not any(CALENDAR.is_working_day(day) for day in days_off)
    assert CALENDAR.is_working_day(D(2026, 9, 20))  # a Sunday, worked
    assert CALENDAR.is_working_day(D(2026, 10, 10))  # a Saturday, worked
    assert not CALENDAR.is_working_day(D(2026, 10, 11))
    assert D(2026, 9, 25).weekday() == 4  # the Friday before National Day (a holiday itself)


@pytest.mark.parametrize(
    ("accepted", "due", "mon_to_fri_due"),
    [
        # The Friday before National Day, itself a Mid-Autumn holiday (an online application):
        # 28, 29, 30 September, 8 and 9 October.
        ("2026-09-25 10:00", D(2026, 10, 9), D(2026, 10, 2)),
        # The last working day before the holiday: 8, 9, 10 (the worked Saturday), 12, 13 October.
        ("2026-09-30 16:00", D(2026, 10, 13), D(2026, 10, 7)),
        # The Friday before that: 20 (the worked Sunday), 21, 22, 23 and 24 September.
        ("2026-09-18 09:00", D(2026, 9, 24), D(2026, 9, 25)),
    ],
)
def test_a_committed_case_of_five_working_days_is_due_on_the_right_working_day(
    accepted: str, due: D, mon_to_fri_due: D
) -> None:
    assert read(accepted, accepted).due_on == due
    # Counting Monday to Friday alone would be wrong:
    assert read(accepted, accepted, calendar=MON_TO_FRI).due_on == mon_to_fri_due != due


@pytest.mark.parametrize(
    ("now", "light", "used", "remaining"),
    [
        ("2026-09-25 18:00", "green", 0, 5),
        ("2026-09-30 23:59", "green", 3, 2),
        ("2026-10-07 23:59", "green", 3, 2),  # the holiday uses nothing
        ("2026-10-08 00:00", "yellow", 4, 1),  # the 4th working day begins: 80% used
        ("2026-10-09 17:00", "yellow", 5, 0),  # the due day
        ("2026-10-10 00:00", "red", 6, 0),  # the first moment after the due day
        ("2026-10-11 12:00", "red", 6, 0),
    ],
)
def test_it_turns_yellow_and_red_on_the_right_days(
    now: str, light: str, used: int, remaining: int
) -> None:
    reading = read("2026-09-25 10:00", now)
    assert (reading.light, reading.used_days, reading.remaining_days) == (light, used, remaining)


def test_overdue_days_count_working_days_past_the_due_day() -> None:
    assert read("2026-09-25 10:00", "2026-10-10 09:00").overdue_days == 1  # the worked Saturday
    assert read("2026-09-25 10:00", "2026-10-11 09:00").overdue_days == 1  # Sunday adds none
    assert read("2026-09-25 10:00", "2026-10-12 09:00").overdue_days == 2


def test_the_warning_share_is_a_setting() -> None:
    reading = read_clock(
        started_at=at("2026-11-02 09:00"),  # a Monday
        limit_days=10,
        stops=(),
        finished_at=None,
        now=at("2026-11-10 09:00"),  # the 6th working day: 3, 4, 5, 6, 9, 10 November
        index=CALENDAR.index,
        warn_ratio=0.6,
    )
    assert (reading.used_days, reading.light) == (6, "yellow")
    assert read("2026-11-02 09:00", "2026-11-10 09:00", limit=10).light == "green"


def test_a_supplement_of_three_working_days_moves_the_due_date_by_exactly_three() -> None:
    accepted = "2026-11-02 09:00"  # Monday; 5 working days: due Monday 9 November
    plain = read(accepted, accepted)
    # Supplement asked Wednesday, materials back Monday: Thu, Fri, Mon = 3 working days
    # (the weekend between is not counted).
    supplement = Stop("supplement", at("2026-11-04 15:00"), at("2026-11-09 10:00"))
    stopped = read(accepted, "2026-11-09 11:00", stops=(supplement,))
    assert plain.due_on == D(2026, 11, 9)
    assert stopped.stopped_days == 3
    assert stopped.due_on == CALENDAR.add_working_days(plain.due_on, 3) == D(2026, 11, 12)


def test_a_supplement_over_the_holiday_counts_only_its_working_days() -> None:
    supplement = Stop("supplement", at("2026-09-29 10:00"), at("2026-10-09 10:00"))
    reading = read("2026-09-25 10:00", "2026-10-09 12:00", stops=(supplement,))
    assert reading.stopped_days == 3  # 30 September, 8 and 9 October
    # 9 October and three more: the worked Saturday 10, then 12 and 13 October.
    assert reading.due_on == CALENDAR.add_working_days(D(2026, 10, 9), 3) == D(2026, 10, 13)


def test_while_a_stop_runs_the_clock_stands_still_and_the_case_does_not_turn_red() -> None:
    special = Stop("special", at("2026-09-29 10:00"))  # a special procedure, still running
    late_in_it = read("2026-09-25 10:00", "2026-10-20 10:00", stops=(special,))
    assert late_in_it.stopped
    assert late_in_it.used_days == 2  # 28 and 29 September, frozen
    assert late_in_it.light == "green"
    assert late_in_it.due_on is not None
    assert late_in_it.due_on > D(2026, 10, 20)


def test_an_immediate_item_applied_for_on_a_day_off_is_due_the_next_working_day() -> None:
    reading = read("2026-10-03 11:00", "2026-10-03 11:00", limit=0)
    assert reading.due_on == D(2026, 10, 8)
    assert read("2026-10-03 11:00", "2026-10-08 18:00", limit=0).light == "green"
    assert read("2026-10-03 11:00", "2026-10-09 00:01", limit=0).light == "red"


def test_without_a_known_limit_there_is_no_light_but_days_are_counted() -> None:
    reading = read("2026-09-25 10:00", "2026-10-10 10:00", limit=None)
    assert (reading.light, reading.due_on, reading.used_days) == ("none", None, 6)


def test_a_finished_case_is_on_time_when_it_ends_by_its_due_day() -> None:
    on_time = read("2026-09-25 10:00", "2026-12-01 00:00", finished="2026-10-09 17:30")
    late = read("2026-09-25 10:00", "2026-12-01 00:00", finished="2026-10-10 09:00")
    assert (on_time.finished, on_time.on_time, on_time.used_days) == (True, True, 5)
    assert (late.on_time, late.light) == (False, "red")


# --------------------------------------------------------------------------- folding events

_ids = itertools.count()


def event(
    kind: str,
    occurred: str,
    *,
    status: str | None = None,
    received: str | None = None,
    item: str = "ITEM-5",
) -> CaseEventRow:
    number = next(_ids)
    return CaseEventRow(
        message_id=f"M{number:05d}",
        case_no="WH-2026-000123",
        type=kind,
        occurred_at=at(occurred),
        received_at=at(received or occurred) + dt.timedelta(microseconds=number),
        source="test",
        status=status,
        result="0" if kind == "case.completed" else None,
        item_code=item if kind == "case.submitted" else None,
        department_code="11371000004336447W" if kind == "case.status_changed" else None,
        department_name="威海市市场监督管理局" if kind == "case.status_changed" else None,
    )


def history() -> list[CaseEventRow]:
    """A case that was submitted, accepted, sent back for a supplement, and approved."""
    return [
        event("case.submitted", "2026-11-02 09:00"),
        event("case.status_changed", "2026-11-02 10:00", status="3"),
        event("case.status_changed", "2026-11-04 15:00", status="6"),
        event("case.status_changed", "2026-11-09 10:00", status="7"),
        event("case.status_changed", "2026-11-10 10:00", status="8"),
        event("case.completed", "2026-11-11 16:00"),
    ]


def _essentials(events: list[CaseEventRow]) -> tuple[object, ...]:
    facts = fold("WH-2026-000123", events)
    return (facts.status, facts.accepted_at, facts.stops, facts.finished_at, facts.item_code)


def test_folding_reads_acceptance_stops_and_the_end() -> None:
    facts = fold("WH-2026-000123", history())
    assert facts.accepted_at == at("2026-11-02 10:00")
    assert facts.stops == (Stop("supplement", at("2026-11-04 15:00"), at("2026-11-09 10:00")),)
    assert facts.finished_at == at("2026-11-11 16:00")
    assert facts.status == "8"
    assert facts.department == ("11371000004336447W", "威海市市场监督管理局")
    assert not facts.late


def test_events_in_any_arrival_order_make_the_same_record() -> None:
    events = history()
    expected = _essentials(events)
    shuffler = random.Random(12)
    for _ in range(50):
        shuffled = list(events)
        shuffler.shuffle(shuffled)
        assert _essentials(shuffled) == expected


def test_a_late_event_never_moves_the_clock_back() -> None:
    events = history()
    # A "processing" report from before the end arrives after the completion: still closed.
    stale = event(
        "case.status_changed", "2026-11-10 09:00", status="8", received="2026-11-12 09:00"
    )
    # A duplicate acceptance with an earlier stamp than the supplement arrives last: the
    # clock does not restart from it, and the supplement still counts.
    again = event(
        "case.status_changed", "2026-11-03 09:00", status="3", received="2026-11-12 10:00"
    )
    facts = fold("WH-2026-000123", [*events, stale, again])
    assert facts.finished_at == at("2026-11-11 16:00")
    assert facts.accepted_at == at("2026-11-02 10:00")
    assert facts.stops == fold("WH-2026-000123", events).stops
    assert facts.status == "8"
    assert facts.late == {stale.message_id, again.message_id}


def test_a_supplement_reported_late_still_stops_the_clock() -> None:
    submitted = event("case.submitted", "2026-11-02 09:00")
    ended = event("case.status_changed", "2026-11-09 10:00", status="7")
    started = event(
        "case.status_changed", "2026-11-04 15:00", status="6", received="2026-11-09 11:00"
    )
    facts = fold("WH-2026-000123", [submitted, ended, started])
    assert facts.stops == (Stop("supplement", at("2026-11-04 15:00"), at("2026-11-09 10:00")),)
    assert facts.late == {started.message_id}
    reading = read_clock(
        started_at=facts.accepted_at,
        limit_days=5,
        stops=facts.stops,
        finished_at=None,
        now=at("2026-11-09 12:00"),
        index=CALENDAR.index,
        warn_ratio=0.8,
    )
    assert reading.due_on == D(2026, 11, 12)


def test_what_follows_the_end_does_not_reopen_the_case() -> None:
    events = [*history(), event("case.status_changed", "2026-11-20 10:00", status="14")]
    facts = fold("WH-2026-000123", events)
    assert facts.finished_at == at("2026-11-11 16:00")
    assert facts.status == "8"


def test_a_decision_state_ends_the_case_and_any_stop_that_ran() -> None:
    events = [
        event("case.submitted", "2026-11-02 09:00"),
        event("case.status_changed", "2026-11-03 09:00", status="9"),
        event("case.status_changed", "2026-11-05 09:00", status="13"),
    ]
    facts = fold("WH-2026-000123", events)
    assert facts.finished_at == at("2026-11-05 09:00")
    assert facts.stops == (Stop("special", at("2026-11-03 09:00"), at("2026-11-05 09:00")),)
    assert not facts.stopped


def test_the_working_day_index_agrees_with_the_calendar() -> None:
    index = CALENDAR.index
    pick = random.Random(7)
    for _ in range(500):
        start = D(2025, 1, 1) + dt.timedelta(days=pick.randrange(0, 700))
        count = pick.randrange(0, 60)
        end = start + dt.timedelta(days=pick.randrange(-90, 90))
        assert index.add_working_days(start, count) == CALENDAR.add_working_days(start, count)
        assert index.working_days_between(start, end) == CALENDAR.working_days_between(start, end)
        assert index.is_working_day(end) == CALENDAR.is_working_day(end)
