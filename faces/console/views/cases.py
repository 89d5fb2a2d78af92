"""Case clocks (限时办结): open cases by light, department and item; one case's timeline."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext, lazy_gettext

from faces.console.web import blueprint, console
from hub.core.clock import utcnow
from hub.store import CaseFilter
from hub.store.case_records import LIGHTS

PAGE = 50

#: What each light is called, and its style.
LIGHT_WORDS = {
    "green": lazy_gettext("green"),
    "yellow": lazy_gettext("yellow"),
    "red": lazy_gettext("red"),
    "none": lazy_gettext("no time limit"),
}
#: Case state codes (工程建设项目审批状态, DOMAIN.md).
STATE_WORDS = {
    "1": lazy_gettext("received"),
    "2": lazy_gettext("withdrawn by the applicant"),
    "3": lazy_gettext("accepted"),
    "4": lazy_gettext("not accepted"),
    "5": lazy_gettext("not accepted"),
    "6": lazy_gettext("supplement started"),
    "7": lazy_gettext("supplement ended"),
    "8": lazy_gettext("department processing"),
    "9": lazy_gettext("special procedure started"),
    "10": lazy_gettext("special procedure ended"),
    "11": lazy_gettext("passed"),
    "12": lazy_gettext("passed with tolerated gaps"),
    "13": lazy_gettext("failed"),
    "14": lazy_gettext("recalled"),
    "15": lazy_gettext("revoked"),
}
STOP_WORDS = {
    "supplement": lazy_gettext("supplement"),
    "special": lazy_gettext("special procedure"),
}


@blueprint.app_template_filter("light")
def light_word(light: object) -> str:
    """A light's name in the reader's language."""
    found = LIGHT_WORDS.get(str(light))
    return str(found) if found is not None else str(light)


@blueprint.app_template_filter("case_state")
def state_word(code: object) -> str:
    """A state code with its name."""
    found = STATE_WORDS.get(str(code))
    return f"{code} {found}" if found is not None else str(code)


@blueprint.app_template_filter("stop_kind")
def stop_word(kind: object) -> str:
    """What stopped the clock."""
    found = STOP_WORDS.get(str(kind))
    return str(found) if found is not None else str(kind)


@blueprint.get("/cases")
def cases_page() -> str:
    """Cases by light, department and item; open ones by default."""
    hub = console().hub
    args = request.args
    light = args.get("light", "")
    if light not in LIGHTS:
        light = ""
    state = args.get("state", "open")
    where = CaseFilter(
        light=light,
        department=args.get("department", "").strip()[:18],
        item_code=args.get("item", "").strip()[:64],
        open={"open": True, "closed": False}.get(state),
        unknown_item=args.get("unknown_item") == "1",
    )
    page = hub.store.cases.search(where, after=args.get("after") or None, limit=PAGE)
    return render_template(
        "ops/cases.html",
        page=page,
        where=where,
        state=state,
        form=args,
        lights=LIGHTS,
        open_by_light=hub.store.cases.open_by_light(),
        departments=hub.store.items.departments(),
        more_args={**{k: v for k, v in args.items() if k != "after" and v}, "after": page.next},
    )


@blueprint.get("/cases/<path:case_no>")
def case_page(case_no: str) -> str | tuple[str, int]:
    """One case: its clock read now, its stops and every event in the order they happened."""
    view = console().hub.cases.view(case_no[:64], utcnow())
    if view is None:
        return render_template(
            "ops/error.html",
            status=404,
            title=gettext("Not found"),
            detail=gettext("No event of this case reached the hub."),
        ), 404
    document: dict[str, Any] = view.to_json()
    return render_template("ops/case.html", case=document, view=view)
