"""Working days: China's official calendar, local overrides, and a Mon–Fri fallback.

Time limits in government services count working days (行政许可法: statutory holidays
are excluded). China moves weekend days to build long holidays, so Mon–Fri alone is
wrong: ``chinesecalendar`` knows the years the State Council has published. For a year
it does not know yet it raises ``NotImplementedError``; then the calendar counts Mon–Fri
and says so in the log once per year. A local override table (``[calendar]`` in the
configuration) wins over both, for local closures and for a new year's schedule
published before the library catches up::

    [calendar]
    holidays = ["2027-01-01"]          # days off
    working_days = ["2027-02-07"]      # adjusted working weekends
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import chinese_calendar

from hub.config import Config, ConfigError

__all__ = ["WorkdayIndex", "WorkingCalendar"]

log = logging.getLogger("govhub.calendar")

#: How far apart two dates may be for counting (a guard against absurd inputs).
MAX_SPAN_DAYS = 366 * 20


class WorkingCalendar:
    """Answers "is this a working day?" and counts working days.

    Args:
        holidays: Extra days off (local overrides).
        working_days: Extra working days (local overrides).
        official: Whether a date is a working day by the official calendar; raises
            ``NotImplementedError`` for a year it does not know (the default is
            ``chinese_calendar.is_workday``).

    Raises:
        ValueError: A date is both a holiday and a working day.
    """

    def __init__(
        self,
        *,
        holidays: Iterable[dt.date] = (),
        working_days: Iterable[dt.date] = (),
        official: Callable[[dt.date], bool] | None = None,
    ) -> None:
        self._overrides: dict[dt.date, bool] = dict.fromkeys(holidays, False)
        for day in working_days:
            if day in self._overrides:
                raise ValueError(f"{day.isoformat()} is both a holiday and a working day")
            self._overrides[day] = True
        self._official = official or chinese_calendar.is_workday
        self._unknown_years: set[int] = set()
        self._lock = threading.Lock()
        self._index: WorkdayIndex | None = None

    @classmethod
    def from_config(cls, config: Config) -> WorkingCalendar:
        """The calendar with the ``[calendar]`` overrides of ``config``.

        Raises:
            ConfigError: The section is malformed; the message names the file and key.
        """
        file = config.file
        section = config.table("calendar", ("holidays", "working_days"))
        holidays = _dates(section.get("holidays", []), file, "calendar.holidays")
        working = _dates(section.get("working_days", []), file, "calendar.working_days")
        both = sorted(set(holidays) & set(working))
        if both:
            raise ConfigError(
                file, "calendar.working_days", f"{both[0].isoformat()} is also in holidays"
            )
        return cls(holidays=holidays, working_days=working)

    def is_known(self, year: int) -> bool:
        """Whether the official calendar has published ``year``."""
        try:
            self._official(dt.date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def is_working_day(self, day: dt.date) -> bool:
        """True on a working day: the local override, else the official calendar, else Mon–Fri."""
        override = self._overrides.get(day)
        if override is not None:
            return override
        try:
            return bool(self._official(day))
        except NotImplementedError:
            self._warn_unknown(day.year)
            return day.weekday() < 5

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The day ``count`` working days after ``start`` (before it, for a negative count).

        ``start`` itself is not counted, as a time limit starts the day after the decision:
        ``add_working_days(decided_on, 7)`` is the last day of a 7-working-day limit.
        ``count == 0`` returns ``start``.
        """
        if abs(count) > MAX_SPAN_DAYS:
            raise ValueError(f"count must be at most {MAX_SPAN_DAYS} working days either way")
        step = dt.timedelta(days=1 if count >= 0 else -1)
        remaining = abs(count)
        day = start
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end``; negative if ``end`` is earlier.

        The inverse of :meth:`add_working_days`:
        ``working_days_between(d, add_working_days(d, n)) == n``.
        """
        if abs((end - start).days) > MAX_SPAN_DAYS:
            raise ValueError(f"the dates must be at most {MAX_SPAN_DAYS} days apart")
        sign = 1 if end >= start else -1
        low, high = (start, end) if sign > 0 else (end, start)
        count = 0
        day = low
        while day < high:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return sign * count

    @property
    def index(self) -> WorkdayIndex:
        """This calendar as ranks, for counting many dates quickly (built on first use)."""
        if self._index is None:
            self._index = WorkdayIndex(self)
        return self._index

    def _warn_unknown(self, year: int) -> None:
        with self._lock:
            if year in self._unknown_years:
                return
            self._unknown_years.add(year)
        log.warning(
            "the official holiday calendar for %d is not known (update chinesecalendar);"
            " counting Mon–Fri plus the [calendar] overrides",
            year,
        )


class WorkdayIndex:
    """Working days as ranks, so counting and adding cost a look-up, not a walk.

    The rank of a day is how many working days there are from the start of the covered
    range up to and including it. Whole years are covered on first use, forwards and
    backwards, from the calendar's answers (overrides included); ranks are private,
    only differences and days leave this class. Safe to share between threads.

    Args:
        calendar: The calendar to follow.
    """

    def __init__(self, calendar: WorkingCalendar) -> None:
        self._calendar = calendar
        self._lock = threading.Lock()
        # (first ordinal covered, rank of each covered day, ordinal of each working day)
        self._state: tuple[int, list[int], list[int]] = (0, [], [])

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if earlier).

        The same answer as :meth:`WorkingCalendar.working_days_between`.
        """
        first, ranks, _days = self._covering(start, end)
        return ranks[end.toordinal() - first] - ranks[start.toordinal() - first]

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The day ``count`` working days after ``start`` (``start`` itself not counted).

        The same answer as :meth:`WorkingCalendar.add_working_days`; ``count`` ≥ 0.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        if count == 0:
            return start
        if count > MAX_SPAN_DAYS:
            raise ValueError(f"count must be at most {MAX_SPAN_DAYS} working days")
        # A working day comes at least once a fortnight: cover that far ahead, then more.
        horizon = start + dt.timedelta(days=count * 2 + 30)
        while True:
            first, ranks, days = self._covering(start, horizon)
            target = ranks[start.toordinal() - first] + count
            if target <= len(days):
                return dt.date.fromordinal(days[target - 1])
            horizon += dt.timedelta(days=366)

    def is_working_day(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (as the calendar says)."""
        first, ranks, _days = self._covering(day, day)
        offset = day.toordinal() - first
        return ranks[offset] > (ranks[offset - 1] if offset else 0)

    def _covering(self, low: dt.date, high: dt.date) -> tuple[int, list[int], list[int]]:
        if low > high:
            low, high = high, low
        state = self._state
        first, ranks, _days = state
        if ranks and first <= low.toordinal() and high.toordinal() < first + len(ranks):
            return state
        with self._lock:
            first, ranks, _days = self._state
            start_year, end_year = low.year, high.year
            if ranks:
                start_year = min(start_year, dt.date.fromordinal(first).year)
                end_year = max(end_year, dt.date.fromordinal(first + len(ranks) - 1).year)
            if end_year - start_year > MAX_SPAN_DAYS // 366:
                raise ValueError(f"the dates must be at most {MAX_SPAN_DAYS} days apart")
            self._state = self._build(start_year, end_year)
            return self._state

    def _build(self, start_year: int, end_year: int) -> tuple[int, list[int], list[int]]:
        first = dt.date(start_year, 1, 1).toordinal()
        last = dt.date(end_year, 12, 31).toordinal()
        ranks: list[int] = []
        days: list[int] = []
        for ordinal in range(first, last + 1):
            if self._calendar.is_working_day(dt.date.fromordinal(ordinal)):
                days.append(ordinal)
            ranks.append(len(days))
        return first, ranks, days


def _dates(values: Any, file: str, key: str) -> list[dt.date]:
    if not isinstance(values, list):
        raise ConfigError(file, key, "must be a list of dates (YYYY-MM-DD)")
    days: list[dt.date] = []
    for index, value in enumerate(values):
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            days.append(value)
            continue
        try:
            days.append(dt.date.fromisoformat(value) if isinstance(value, str) else _bad())
        except ValueError:
            raise ConfigError(file, f"{key}[{index}]", "must be a date (YYYY-MM-DD)") from None
    return days


def _bad() -> dt.date:
    raise ValueError("not a date")
