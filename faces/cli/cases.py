"""``govhub cases``: case clocks (限时办结) and the supervision office's report (电子监察)."""

from __future__ import annotations

import datetime as dt

import click

from faces.cli.common import (
    config_option,
    echo_json,
    fail,
    json_option,
    load,
    open_store,
    print_table,
)
from hub.cases import CaseClocks, supervision_settings
from hub.cases.report import month_period, report_csv, report_lines
from hub.config import ConfigError
from hub.core.clock import HUB_TZ, format_time, utcnow
from hub.store import CaseFilter
from hub.store.case_records import LIGHTS
from hub.workdays import WorkingCalendar


@click.group()
@config_option
def cases() -> None:
    """Case clocks and electronic supervision."""


@cases.command("show")
@config_option
@click.argument("case_no")
@json_option
def cases_show(case_no: str, as_json: bool) -> None:
    """A case's timeline: events, clock stops, due day and light, read now."""
    config = load()
    try:
        calendar = WorkingCalendar.from_config(config)
        settings = supervision_settings(config)
    except ConfigError as error:
        fail(str(error))
    with open_store() as store:
        view = CaseClocks(store, calendar, settings).view(case_no, utcnow())
    if view is None:
        fail(f"no event of case {case_no} reached the hub")
    document = view.to_json()
    if as_json:
        echo_json(document)
        return
    clock = document["clock"]
    item = document["item"]
    click.echo(
        f"{document['case_no']}  [{document['light']}]  {'open' if document['open'] else 'closed'}"
    )
    click.echo(
        f"  item {item['code'] or '-'} {item['name'] or ''}"
        + ("" if item["known"] else "  (not in the catalogue)")
    )
    if document["department"]:
        click.echo(f"  {document['department']['name']} ({document['department']['code']})")
    click.echo(
        f"  accepted {document['accepted_at'] or '-'}; limit"
        f" {document['limit_working_days'] if document['limit_working_days'] is not None else '?'}"
        f" working day(s); due {clock['due_on'] or '-'}; used {clock['used_working_days']}"
        + (f"; stopped {clock['stopped_working_days']}" if clock["stopped_working_days"] else "")
        + ("; the clock is stopped now" if clock["stopped"] else "")
    )
    for stop in document["stops"]:
        click.echo(
            f"  stop: {stop['kind']} {stop['from']} → {stop['to'] or 'running'}"
            f" ({stop['working_days']} working day(s))"
        )
    for event in document["timeline"]:
        what = event["type"] + (f" {event['status']}" if event["status"] else "")
        what += f" result {event['result']}" if event["result"] else ""
        click.echo(
            f"  {event['occurred_at']}  {what}" + ("  (arrived late)" if event["late"] else "")
        )
    if document["finished_at"]:
        click.echo(
            f"  finished {document['finished_at']}: {'on time' if document['on_time'] else 'late'}"
        )


@cases.command("list")
@config_option
@click.option("--light", type=click.Choice(LIGHTS))
@click.option("--department", help="The implementing body's code (USCC).")
@click.option("--item", "item_code", help="The item's code.")
@click.option("--open/--closed", "is_open", default=None, help="Only open or only closed cases.")
@click.option("--unknown-item", is_flag=True, help="Only cases of items not in the catalogue.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--after", help="Continue after this case (the 'next' of the previous page).")
@json_option
def cases_list(
    light: str | None,
    department: str | None,
    item_code: str | None,
    is_open: bool | None,
    unknown_item: bool,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """Cases by case number, as the supervision job last evaluated them."""
    where = CaseFilter(
        light=light or "",
        department=department or "",
        item_code=item_code or "",
        open=is_open,
        unknown_item=unknown_item,
    )
    with open_store() as store:
        page = store.cases.search(where, after=after, limit=limit)
    if as_json:
        echo_json({"items": [r.to_json() for r in page.items], "next": page.next})
        return
    print_table(
        [
            (
                r.case_no,
                r.light,
                "open" if r.open else ("on time" if r.on_time else "late"),
                r.item_name or r.item_code,
                r.department_name,
                format_time(r.accepted_at),
                r.due_on.isoformat() if r.due_on else None,
                ",".join(r.flags),
            )
            for r in page.items
        ],
        ("CASE", "LIGHT", "STATE", "ITEM", "DEPARTMENT", "ACCEPTED", "DUE", "FLAGS"),
    )
    if page.next:
        click.echo(f"more: --after {page.next}")


@cases.command("report")
@config_option
@click.option("--month", help="YYYY-MM (default: this month).")
@click.option(
    "--by", type=click.Choice(("department", "item")), default="department", show_default=True
)
@click.option("--csv", "as_csv", is_flag=True, help="The CSV the supervision office reads.")
@json_option
def cases_report(month: str | None, by: str, as_csv: bool, as_json: bool) -> None:
    """The monthly report: on-time rates per department or item."""
    label = month or dt.datetime.now(HUB_TZ).strftime("%Y-%m")
    try:
        since, until = month_period(label)
    except ValueError as error:
        fail(str(error))
    with open_store() as store:
        groups = store.cases.counts(by, since=since, until=until)
    if as_csv:
        click.echo(report_csv(groups).removeprefix("\ufeff"), nl=False)
        return
    lines, total = report_lines(groups)
    if as_json:
        echo_json(
            {
                "month": label,
                "by": by,
                "lines": [x.to_json() for x in lines],
                "total": total.to_json(),
            }
        )
        return
    print_table(
        [
            (
                x.code,
                x.name,
                x.received,
                x.finished,
                x.on_time,
                x.late,
                "-" if x.on_time_rate is None else f"{x.on_time_rate * 100:.1f}%",
                x.open_yellow,
                x.open_red,
            )
            for x in [*lines, total]
        ],
        ("CODE", "NAME", "RECEIVED", "FINISHED", "ON TIME", "LATE", "RATE", "YELLOW", "RED"),
    )
