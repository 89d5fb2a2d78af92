"""Electronic supervision (电子监察): on-time rates for a period, and the monthly report.

The monthly report is the supervision office's: per department (or item) the cases
accepted and finished, on time and late, the rate, the average working days used and the
open cases by light; as a page with a chart of the last twelve months, and as CSV.
"""

from __future__ import annotations

import datetime as dt

from flask import Response, render_template, request
from flask_babel import gettext

from faces.console.charts import bar_chart
from faces.console.web import blueprint, console
from hub.cases.report import day_period, month_period, report_csv, report_lines, trend
from hub.core.clock import HUB_TZ
from hub.store.stats import Bucket, Series

OUTCOMES = (("on_time", "ok"), ("late", "bad"))


def describe_outcome(name: str) -> str:
    """A chart category in the reader's language."""
    words = {"on_time": gettext("on time"), "late": gettext("overdue"), "other": gettext("other")}
    return str(words.get(name, name))


def _by() -> str:
    by = request.args.get("by", "department")
    return by if by in ("department", "item") else "department"


def _this_month() -> str:
    return dt.datetime.now(HUB_TZ).strftime("%Y-%m")


@blueprint.get("/supervision")
def supervision_page() -> str:
    """On-time rates per department and per item for a period (this month by default)."""
    hub = console().hub
    args = request.args
    today = dt.datetime.now(HUB_TZ).date()
    error = None
    try:
        first = dt.date.fromisoformat(args["from"]) if args.get("from") else today.replace(day=1)
        last = dt.date.fromisoformat(args["to"]) if args.get("to") else today
        since, until = day_period(first, last)
    except ValueError:
        error = gettext("Use days like 2026-10-01, the end not before the start.")
        first, last = today.replace(day=1), today
        since, until = day_period(first, last)
    tables = {}
    for by in ("department", "item"):
        lines, total = report_lines(hub.store.cases.counts(by, since=since, until=until))
        tables[by] = (lines, total)
    return render_template(
        "ops/supervision.html",
        first=first,
        last=last,
        error=error,
        tables=tables,
        open_by_light=hub.store.cases.open_by_light(),
    )


@blueprint.get("/supervision/monthly")
def monthly_report_page() -> str:
    """The monthly report with a chart of the twelve months up to it."""
    hub = console().hub
    month = request.args.get("month") or _this_month()
    error = None
    try:
        since, until = month_period(month)
    except ValueError:
        error = gettext("Use a month like 2026-10.")
        month = _this_month()
        since, until = month_period(month)
    by = _by()
    lines, total = report_lines(hub.store.cases.counts(by, since=since, until=until))
    months = trend(hub.store, month, 12, by=by)
    buckets = []
    for entry in months:
        start, end = month_period(entry.month)
        buckets.append(Bucket(start, end, {"on_time": entry.on_time, "late": entry.late}))
    chart = bar_chart(
        Series(tuple(buckets)),
        OUTCOMES,
        describe=describe_outcome,
        label_every=1,
        time_format="%m",
    )
    return render_template(
        "ops/monthly.html",
        month=month,
        by=by,
        error=error,
        lines=lines,
        total=total,
        trend_chart=chart,
        outcomes=OUTCOMES,
        describe=describe_outcome,
        months=months,
    )


@blueprint.get("/supervision/monthly.csv")
def monthly_report_csv() -> Response:
    """The monthly report as the CSV the supervision office reads."""
    hub = console().hub
    month = request.args.get("month") or _this_month()
    try:
        since, until = month_period(month)
    except ValueError:
        return Response(gettext("Use a month like 2026-10."), status=400, mimetype="text/plain")
    by = _by()
    body = report_csv(hub.store.cases.counts(by, since=since, until=until))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="supervision-{month}-{by}.csv"'
    return response
