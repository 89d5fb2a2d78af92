"""The supervision office's monthly report (电子监察月报): on-time rates per department or item.

For a period (a calendar month in the hub's time zone, or any range of days): cases
accepted, finished, finished on time and late, the on-time rate, the average working
days used, and the cases open now by light. The CSV has the column names the office
reads (Chinese) and a byte-order mark, so spreadsheet programs open it as UTF-8.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.core.clock import HUB_TZ
from hub.store import Store
from hub.store.cases import GroupCounts

__all__ = [
    "CSV_COLUMNS",
    "MonthTotal",
    "ReportLine",
    "day_period",
    "month_period",
    "months_before",
    "report_csv",
    "report_lines",
    "trend",
]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

#: (field, column name in the CSV).
CSV_COLUMNS = (
    ("code", "编码"),
    ("name", "名称"),
    ("received", "受理件数"),
    ("finished", "办结件数"),
    ("on_time", "按时办结"),
    ("late", "超期办结"),
    ("on_time_rate", "按时办结率"),
    ("average_used_days", "平均用时(工作日)"),
    ("open_green", "在办·绿灯"),
    ("open_yellow", "在办·黄灯"),
    ("open_red", "在办·红灯"),
    ("open_unknown", "在办·无时限"),
)


def month_period(month: str) -> tuple[dt.datetime, dt.datetime]:
    """The start and end (excluded) of a month ``YYYY-MM`` in the hub's time zone.

    Raises:
        ValueError: Not a month of that shape.
    """
    found = _MONTH.match(month or "")
    if found is None:
        raise ValueError("month must be YYYY-MM, e.g. 2026-10")
    year, number = int(found[1]), int(found[2])
    start = dt.datetime(year, number, 1, tzinfo=HUB_TZ)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=HUB_TZ)
    return start, end


def day_period(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From the start of ``first`` to the end of ``last`` (in the hub's time zone).

    Raises:
        ValueError: ``last`` is before ``first``.
    """
    if last < first:
        raise ValueError("the period ends before it starts")
    start = dt.datetime.combine(first, dt.time(), HUB_TZ)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), HUB_TZ)


def months_before(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first (``YYYY-MM``)."""
    start, _ = month_period(month)
    year, number = start.year, start.month
    found: list[str] = []
    for _ in range(count):
        found.append(f"{year:04d}-{number:02d}")
        year, number = (year, number - 1) if number > 1 else (year - 1, 12)
    return list(reversed(found))


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One line of the report (a department, an item, or the total)."""

    code: str
    name: str
    received: int
    finished: int
    on_time: int
    late: int
    on_time_rate: float | None
    average_used_days: float | None
    open_green: int
    open_yellow: int
    open_red: int
    open_unknown: int

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "code": self.code,
            "name": self.name,
            "received": self.received,
            "finished": self.finished,
            "on_time": self.on_time,
            "late": self.late,
            "on_time_rate": self.on_time_rate,
            "average_used_working_days": self.average_used_days,
            "open": {
                "green": self.open_green,
                "yellow": self.open_yellow,
                "red": self.open_red,
                "none": self.open_unknown,
            },
        }


def _line(code: str, name: str, groups: Sequence[GroupCounts]) -> ReportLine:
    finished = sum(g.finished for g in groups)
    on_time = sum(g.on_time for g in groups)
    used = sum(g.used_days for g in groups)
    return ReportLine(
        code=code,
        name=name,
        received=sum(g.received for g in groups),
        finished=finished,
        on_time=on_time,
        late=finished - on_time,
        on_time_rate=on_time / finished if finished else None,
        average_used_days=round(used / finished, 2) if finished else None,
        open_green=sum(g.open("green") for g in groups),
        open_yellow=sum(g.open("yellow") for g in groups),
        open_red=sum(g.open("red") for g in groups),
        open_unknown=sum(g.open("none") for g in groups),
    )


def report_lines(groups: Sequence[GroupCounts]) -> tuple[list[ReportLine], ReportLine]:
    """The report's lines, one per group, and the total."""
    lines = [_line(g.key, g.name, [g]) for g in groups]
    return lines, _line("", "合计", groups)


def report_csv(groups: Sequence[GroupCounts]) -> str:
    """The report as CSV (UTF-8 with a byte-order mark), with a total line at the end."""
    lines, total = report_lines(groups)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for _field, title in CSV_COLUMNS])
    for line in [*lines, total]:
        row: list[Any] = []
        for field, _title in CSV_COLUMNS:
            value = getattr(line, field)
            if field == "on_time_rate":
                value = "" if value is None else f"{value * 100:.1f}%"
            elif value is None:
                value = ""
            row.append(_safe_cell(value))
        writer.writerow(row)
    return out.getvalue()


def _safe_cell(value: Any) -> Any:
    # A name starting with = + - @ would be a formula in a spreadsheet (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


@dataclass(frozen=True, slots=True)
class MonthTotal:
    """One month's finished cases, on time and late."""

    month: str
    finished: int
    on_time: int

    @property
    def late(self) -> int:
        """Finished after their due day."""
        return self.finished - self.on_time


def trend(
    store: Store, month: str, months: int = 12, *, by: str = "department", key: str = ""
) -> list[MonthTotal]:
    """Finished and on-time cases of each of ``months`` months up to ``month``."""
    found: list[MonthTotal] = []
    for label in months_before(month, months):
        since, until = month_period(label)
        groups = store.cases.counts(by, since=since, until=until, key=key, open_now=False)
        found.append(
            MonthTotal(label, sum(g.finished for g in groups), sum(g.on_time for g in groups))
        )
    return found
