"""Approval flows (模块化审批): projects by state and light; one project's timeline as a chart.

The chart is a Gantt-like picture in working days from the project's first acceptance:
a row per module (its bar from start to end, or to now while it runs; its limit as a
frame behind it) and under it a row per reviewing department (from the module's start to
its answer), each coloured by its light.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import render_template, request
from flask_babel import gettext, lazy_gettext

from faces.console.web import blueprint, console
from hub.cases.clock import local_day
from hub.core.clock import parse_time, utcnow
from hub.workdays import WorkdayIndex

PROJECT_STATES = ("running", "approved", "rejected")
PROJECT_LIGHTS = ("green", "yellow", "red", "none")
STATE_WORDS = {
    "running": lazy_gettext("under review"),
    "approved": lazy_gettext("approved"),
    "rejected": lazy_gettext("rejected"),
    "waiting": lazy_gettext("not started"),
    "cancelled": lazy_gettext("cancelled"),
}
OPINION_WORDS = {
    "approve": lazy_gettext("approve"),
    "reject": lazy_gettext("reject"),
    "supplement": lazy_gettext("supplement asked"),
}
EFFECT_WORDS = {
    "answer": lazy_gettext("counted"),
    "supplement": lazy_gettext("clock stopped"),
    "duplicate": lazy_gettext("duplicate, not acted on"),
    "late": lazy_gettext("after the module ended, not acted on"),
    "early": lazy_gettext("before the module started, not acted on"),
    "unknown_department": lazy_gettext("not a reviewer, not acted on"),
}


@blueprint.app_template_filter("flow_state")
def flow_state_word(state: object) -> str:
    """A project's or module's state in the reader's language."""
    found = STATE_WORDS.get(str(state))
    return str(found) if found is not None else str(state)


@blueprint.app_template_filter("opinion")
def opinion_word(opinion: object) -> str:
    """An opinion in the reader's language."""
    found = OPINION_WORDS.get(str(opinion))
    return str(found) if found is not None else str(opinion)


@blueprint.app_template_filter("opinion_effect")
def effect_word(effect: object) -> str:
    """What became of an opinion."""
    found = EFFECT_WORDS.get(str(effect))
    return str(found) if found is not None else str(effect)


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of the chart, in working days from the project's start."""

    label: str
    kind: str  # module | department
    start: int
    end: int
    limit_end: int | None
    light: str
    status: str


@blueprint.get("/projects")
def projects_page() -> str:
    """Projects by state and light, with each module's on-time rate."""
    hub = console().hub
    args = request.args
    state = args.get("state", "")
    light = args.get("light", "")
    records = hub.store.flows.search(
        state=state if state in PROJECT_STATES else None,
        light=light if light in PROJECT_LIGHTS else None,
        limit=200,
    )
    tally = hub.store.flows.by_state_and_light()
    return render_template(
        "ops/projects.html",
        records=records,
        state=state,
        light=light,
        states=PROJECT_STATES,
        lights=PROJECT_LIGHTS,
        tally=tally,
        rates=hub.flows.on_time_rates(),
        flows=hub.flows.flows,
    )


@blueprint.get("/projects/<path:project_no>")
def project_page(project_no: str) -> str | tuple[str, int]:
    """One project across its modules and departments, as a chart and as tables."""
    hub = console().hub
    now = utcnow()
    view = hub.flows.view(project_no[:64], now)
    if view is None:
        return render_template(
            "ops/error.html",
            status=404,
            title=gettext("Not found"),
            detail=gettext("No event of this project reached the hub."),
        ), 404
    bars, span = chart(view, now, hub.calendar.index)
    opinions = [
        {**opinion, "module": module["name"], "at": parse_time(opinion["at"])}
        for module in view["modules"]
        for opinion in module["opinions"]
    ]
    started = parse_time(view["started_at"]) if view["started_at"] else None
    return render_template(
        "ops/project.html",
        project=view,
        started=started,
        opinions=sorted(opinions, key=lambda o: o["at"]),
        bars=bars,
        span=span,
        ticks=_ticks(span),
    )


def chart(view: dict[str, Any], now: dt.datetime, index: WorkdayIndex) -> tuple[list[Bar], int]:
    """The chart's rows and its width in working days."""
    if not view["started_at"]:
        return [], 1
    origin = local_day(parse_time(view["started_at"]))
    today = local_day(now)

    def offset(day: dt.date) -> int:
        return max(0, index.working_days_between(origin, day))

    bars: list[Bar] = []
    for module in view["modules"]:
        if not module["start_day"]:
            continue
        start = offset(dt.date.fromisoformat(module["start_day"]))
        end_day = dt.date.fromisoformat(module["end_day"]) if module["end_day"] else today
        due = dt.date.fromisoformat(module["due_on"]) if module["due_on"] else None
        bars.append(
            Bar(
                label=module["name"],
                kind="module",
                start=start,
                end=max(start + 1, offset(end_day)),
                limit_end=offset(due) if due else None,
                light=module["light"],
                status=module["status"],
            )
        )
        for department in module["departments"]:
            answered = department["answered_at"]
            done = local_day(parse_time(answered)) if answered else end_day
            bars.append(
                Bar(
                    label=view["departments"][department["department"]]["name"],
                    kind="department",
                    start=start,
                    end=max(start + 1, offset(done)),
                    limit_end=None,
                    light=department["light"],
                    status=department["opinion"] or "waiting",
                )
            )
    span = max(
        [int(view.get("limit_days") or 1)]
        + [b.end for b in bars]
        + [b.limit_end for b in bars if b.limit_end is not None]
    )
    return bars, span


def _ticks(span: int) -> list[int]:
    step = 5 if span <= 60 else 10
    return list(range(0, span + 1, step))
