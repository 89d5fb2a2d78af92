"""Working days: 2026's official holidays and adjusted weekends, overrides, unknown years."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from hub.config import ConfigError
from hub.workdays import WorkingCalendar
from tests.support import hub_config

D = dt.date


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2026, 10, 1), False),  # National Day, a Thursday
        (D(2026, 10, 7), False),
        (D(2026, 10, 8), True),
        (D(2026, 9, 20), True),  # Sunday worked for the National Day holiday
        (D(2026, 10, 10), True),  # Saturday worked
        (D(2026, 10, 11), False),  # an ordinary Sunday
        (D(2026, 2, 16), False),  # Spring Festival, a Monday
        (D(2026, 2, 14), True),  # Saturday worked for it
        (D(2026, 5, 9), True),
        (D(2026, 11, 27), True),  # an ordinary Friday
    ],
)
def test_2026_follows_the_official_calendar(
    calendar: WorkingCalendar, day: dt.date, working: bool
) -> None:
    assert calendar.is_working_day(day) is working


def test_adding_working_days_skips_the_national_day_holiday_and_counts_worked_weekends(
    calendar: WorkingCalendar,
) -> None:
    assert calendar.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert calendar.add_working_days(D(2026, 10, 8), 2) == D(2026, 10, 10)  # a Saturday
    # Decided on Sunday 2026-09-27 (Mid-Autumn): 28, 29, 30 Sep, then 8, 9, 10 (Sat), 12 Oct.
    assert calendar.add_working_days(D(2026, 9, 27), 7) == D(2026, 10, 12)
    # Back from 12 Oct: 10, 9, 8 Oct, 30, 29, 28 Sep, then past Mid-Autumn to 24 Sep.
    assert calendar.add_working_days(D(2026, 10, 12), -7) == D(2026, 9, 24)
    assert calendar.add_working_days(D(2026, 10, 1), 0) == D(2026, 10, 1)


def test_counting_working_days_is_the_inverse_of_adding_them(calendar: WorkingCalendar) -> None:
    start = D(2026, 9, 18)
    for count in range(0, 40):
        end = calendar.add_working_days(start, count)
        assert calendar.working_days_between(start, end) == count
    assert calendar.working_days_between(D(2026, 9, 30), D(2026, 10, 8)) == 1
    assert calendar.working_days_between(D(2026, 10, 8), D(2026, 9, 30)) == -1
    assert calendar.working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0


def test_an_unpublished_year_falls_back_to_monday_to_friday_and_says_so(
    calendar: WorkingCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    assert not calendar.is_known(2031)
    assert calendar.is_known(2026)
    with caplog.at_level(logging.WARNING, logger="govhub.calendar"):
        assert calendar.is_working_day(D(2031, 1, 1))  # a Wednesday: unknown, so worked
        assert not calendar.is_working_day(D(2031, 1, 4))  # a Saturday
        assert calendar.add_working_days(D(2031, 1, 3), 1) == D(2031, 1, 6)
    warnings = [r for r in caplog.records if "2031" in r.getMessage()]
    assert len(warnings) == 1


def test_local_overrides_win_over_the_official_calendar_and_the_fallback(tmp_path: Path) -> None:
    config = hub_config(
        tmp_path,
        calendar={
            "holidays": [D(2031, 1, 1), "2026-11-27"],  # TOML dates or strings
            "working_days": ["2026-10-11"],
        },
    )
    calendar = WorkingCalendar.from_config(config)
    assert not calendar.is_working_day(D(2031, 1, 1))
    assert not calendar.is_working_day(D(2026, 11, 27))  # a local closure
    assert calendar.is_working_day(D(2026, 10, 11))  # a Sunday worked locally
    assert calendar.add_working_days(D(2030, 12, 31), 1) == D(2031, 1, 2)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"holidays": ["2026-13-01"]}, "calendar.holidays[0]"),
        ({"holidays": "2026-10-01"}, "calendar.holidays"),
        ({"working_days": [20261001]}, "calendar.working_days[0]"),
        ({"holidays": ["2026-10-01"], "working_days": ["2026-10-01"]}, "calendar.working_days"),
        ({"closures": []}, "calendar.closures"),
    ],
)
def test_a_wrong_calendar_section_names_the_file_and_the_key(
    tmp_path: Path, section: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        WorkingCalendar.from_config(hub_config(tmp_path, calendar=section))
    assert caught.value.key == key
    assert caught.value.file == str(tmp_path / "govhub.toml")
