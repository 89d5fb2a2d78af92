"""The service-item catalogue (事项目录): items with their limits, materials and versions."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext, lazy_gettext

from faces.console.web import blueprint, console
from hub.store import ItemFilter
from hub.store.case_records import CASE_KINDS, ITEM_TYPES, ONLINE_DEPTHS

PAGE = 50

TYPE_WORDS = {
    "01": lazy_gettext("licensing"),
    "02": lazy_gettext("penalty"),
    "03": lazy_gettext("enforcement"),
    "04": lazy_gettext("levy"),
    "05": lazy_gettext("benefit"),
    "06": lazy_gettext("inspection"),
    "07": lazy_gettext("confirmation"),
    "08": lazy_gettext("award"),
    "09": lazy_gettext("adjudication"),
    "10": lazy_gettext("other power"),
    "20": lazy_gettext("public service"),
}
KIND_WORDS = {"1": lazy_gettext("immediate"), "2": lazy_gettext("committed")}
DEPTH_WORDS = {
    "published": lazy_gettext("published"),
    "pre_review": lazy_gettext("pre-reviewed online"),
    "fully_online": lazy_gettext("fully online"),
}


@blueprint.app_template_filter("item_type")
def type_word(code: object) -> str:
    """An item type's name."""
    return str(TYPE_WORDS.get(str(code), code))


@blueprint.app_template_filter("case_kind")
def kind_word(code: object) -> str:
    """Immediate or committed."""
    return str(KIND_WORDS.get(str(code), code))


@blueprint.app_template_filter("online_depth")
def depth_word(depth: object) -> str:
    """How far an item is online."""
    return str(DEPTH_WORDS.get(str(depth), depth))


@blueprint.get("/items")
def items_page() -> str:
    """The catalogue, by code, filtered by department, type, kind, depth or name."""
    hub = console().hub
    args = request.args

    def pick(name: str, allowed: tuple[str, ...]) -> str:
        value = args.get(name, "")
        return value if value in allowed else ""

    where = ItemFilter(
        department=args.get("department", "").strip()[:18],
        item_type=pick("type", tuple(ITEM_TYPES)),
        case_kind=pick("kind", tuple(CASE_KINDS)),
        online_depth=pick("depth", ONLINE_DEPTHS),
        text=args.get("q", "").strip()[:100],
    )
    page = hub.store.items.search(where, after=args.get("after") or None, limit=PAGE)
    return render_template(
        "ops/items.html",
        page=page,
        where=where,
        form=args,
        total=hub.store.items.count(where),
        departments=hub.store.items.departments(),
        types=ITEM_TYPES,
        kinds=CASE_KINDS,
        depths=ONLINE_DEPTHS,
        more_args={**{k: v for k, v in args.items() if k != "after" and v}, "after": page.next},
    )


@blueprint.get("/items/<code>")
def item_page(code: str) -> str | tuple[str, int]:
    """One item: its guide and every version the hub has seen."""
    hub = console().hub
    view = hub.store.items.get(code)
    if view is None:
        return render_template(
            "ops/error.html",
            status=404,
            title=gettext("Not found"),
            detail=gettext("No item has this code in the catalogue."),
        ), 404
    return render_template(
        "ops/item.html", view=view, item=view.item, versions=hub.store.items.versions(code)
    )
