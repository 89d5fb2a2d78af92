"""``govhub items``: the service-item catalogue (事项目录) synced from the provincial hall."""

from __future__ import annotations

import click

from faces.cli.common import config_option, echo_json, fail, json_option, open_store, print_table
from hub.store import ItemFilter
from hub.store.case_records import CASE_KINDS, ITEM_TYPES, ONLINE_DEPTHS


@click.group()
@config_option
def items() -> None:
    """Look at the service-item catalogue (synced by the hall.sync_items job)."""


@items.command("list")
@config_option
@click.option("--department", help="The implementing body's code (USCC).")
@click.option("--type", "item_type", type=click.Choice(tuple(ITEM_TYPES)), help="事项类型.")
@click.option("--kind", type=click.Choice(tuple(CASE_KINDS)), help="1 immediate, 2 committed.")
@click.option("--depth", type=click.Choice(ONLINE_DEPTHS), help="How far it is online.")
@click.option("-q", "text", help="The start of the name or the code.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--after", help="Continue after this code (the 'next' of the previous page).")
@json_option
def items_list(
    department: str | None,
    item_type: str | None,
    kind: str | None,
    depth: str | None,
    text: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """Items by code, with their committed limits."""
    where = ItemFilter(
        department=department or "",
        item_type=item_type or "",
        case_kind=kind or "",
        online_depth=depth or "",
        text=text or "",
    )
    with open_store() as store:
        page = store.items.search(where, after=after, limit=limit)
        total = store.items.count(where)
    if as_json:
        echo_json({"items": [v.to_json() for v in page.items], "next": page.next, "total": total})
        return
    print_table(
        [
            (
                v.item.code,
                v.item.name,
                v.item.department_name,
                ITEM_TYPES[v.item.item_type],
                CASE_KINDS[v.item.case_kind],
                v.item.committed_limit_days,
                v.version,
            )
            for v in page.items
        ],
        ("CODE", "NAME", "DEPARTMENT", "TYPE", "KIND", "LIMIT (WD)", "VERSION"),
    )
    click.echo(f"{total} item(s)" + (f"; more: --after {page.next}" if page.next else ""))


@items.command("show")
@config_option
@click.argument("code")
@json_option
def items_show(code: str, as_json: bool) -> None:
    """One item: its guide, limits, materials and every version."""
    with open_store() as store:
        view = store.items.get(code)
        versions = store.items.versions(code) if view is not None else []
    if view is None:
        fail(f"no item {code} in the catalogue", "sync it: govhub jobs run hall.sync_items")
    if as_json:
        echo_json({**view.to_json(), "versions": [v.to_json() for v in versions]})
        return
    item = view.item
    click.echo(f"{item.code}  {item.name}  [{item.status}]  version {view.version}")
    click.echo(f"  {item.department_name} ({item.department_code})")
    click.echo(
        f"  {ITEM_TYPES[item.item_type]}, {CASE_KINDS[item.case_kind]};"
        f" committed {item.committed_limit_days} working day(s),"
        f" legal {item.legal_limit_days if item.legal_limit_days is not None else '-'};"
        f" online: {item.online_depth}"
    )
    for material in item.materials:
        click.echo(f"  · {material.name}{'' if material.required else ' (if applicable)'}")
    for version in versions:
        click.echo(f"  v{version.version} recorded {version.recorded_at.isoformat()}")
