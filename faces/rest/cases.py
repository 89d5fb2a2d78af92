"""Case clocks and supervision (``/api/v1/cases``, ``/api/v1/supervision/report``), operators only.

A case's page is read from its events as they are (current even before the supervision
job has taken the latest in); the list shows the records as last evaluated.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from faces.http.auth import require_operator
from faces.http.context import bad_parameter, current_hub
from faces.http.openapi import (
    add_paths,
    json_content,
    paging_parameters,
    problem_content,
    query_parameter,
)
from faces.http.problems import Problem
from faces.rest.api import choice, page_limit
from hub.cases.report import day_period, month_period, report_lines
from hub.core.clock import HUB_TZ, format_time, utcnow
from hub.runtime import Hub
from hub.store import CaseFilter
from hub.store.case_records import LIGHTS

__all__ = ["blueprint", "install"]

blueprint = Blueprint("cases", __name__, url_prefix="/api/v1")


def install(app: Flask, hub: Hub) -> None:
    """Add the case clocks' API."""
    app.register_blueprint(blueprint)


def _flag(name: str) -> bool | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if value not in ("true", "false"):
        raise bad_parameter(name, "must be true or false")
    return value == "true"


@blueprint.get("/cases")
def list_cases() -> Response:
    """Cases by case number, filtered by light, department, item, open or closed."""
    hub = current_hub()
    require_operator(hub.store)
    args = request.args
    where = CaseFilter(
        light=choice("light", LIGHTS) or "",
        department=args.get("department", "")[:18],
        item_code=args.get("item", "")[:64],
        open=_flag("open"),
        unknown_item=bool(_flag("unknown_item")),
    )
    page = hub.store.cases.search(where, after=args.get("after") or None, limit=page_limit())
    return jsonify({"items": [record.to_json() for record in page.items], "next": page.next})


@blueprint.get("/cases/<path:case_no>")
def get_case(case_no: str) -> Response:
    """A case's timeline: events, clock stops, due day, light (its clock read now)."""
    hub = current_hub()
    require_operator(hub.store)
    view = hub.cases.view(case_no[:64], utcnow())
    if view is None:
        raise Problem(404, "not-found", "Not found", "the hub has no event of this case")
    return jsonify(view.to_json())


@blueprint.get("/supervision/report")
def supervision_report() -> Response:
    """On-time rates per department or item for a month (or ``from``..``to`` days)."""
    hub = current_hub()
    require_operator(hub.store)
    by = choice("by", ("department", "item")) or "department"
    since, until, label = _period()
    groups = hub.store.cases.counts(by, since=since, until=until)
    lines, total = report_lines(groups)
    return jsonify(
        {
            "period": {"label": label, "from": format_time(since), "until": format_time(until)},
            "by": by,
            "lines": [line.to_json() for line in lines],
            "total": total.to_json(),
        }
    )


def _day(name: str) -> dt.date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise bad_parameter(name, "must be a day (YYYY-MM-DD)") from None


def _period() -> tuple[dt.datetime, dt.datetime, str]:
    args = request.args
    for name in ("month", "from", "to"):
        # "?to=" is not "no end": an empty value would hide a caller's bug
        if args.get(name) == "":
            raise bad_parameter(name, "must not be empty (leave it out instead)")
    if args.get("from") or args.get("to"):
        # One end alone: ``from`` runs to today, ``to`` starts on the first of its month.
        first, last = _day("from"), _day("to")
        if last is None:
            last = dt.datetime.now(HUB_TZ).date()
        if first is None:
            first = last.replace(day=1)
        # A period that ends before it starts holds no day: an empty report, as a
        # search whose bounds cross finds nothing.
        since, until = day_period(first, max(first, last))
        if last < first:
            until = since
        return since, until, f"{first.isoformat()}..{last.isoformat()}"
    month = args.get("month") or dt.datetime.now(HUB_TZ).strftime("%Y-%m")
    try:
        since, until = month_period(month)
    except ValueError as error:
        raise bad_parameter("month", str(error).removeprefix("month ")) from None
    return since, until, month


# --------------------------------------------------------------------------- OpenAPI

_ERRORS = {
    "401": problem_content("Missing, unknown or revoked API key."),
    "403": problem_content("The client does not have the operator role."),
}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_DAY_PATTERN = "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_DAY = {"type": ["string", "null"], "format": "date"}
_CASE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "case_no": {"type": "string"},
        "item": {
            "type": "object",
            "properties": {
                "code": {"type": ["string", "null"]},
                "name": {"type": ["string", "null"]},
                "known": {"type": "boolean", "description": "False: not in the catalogue."},
                "version": {"type": ["integer", "null"]},
            },
        },
        "department": {"type": ["object", "null"]},
        "case_kind": {"type": ["string", "null"]},
        "limit_working_days": {"type": ["integer", "null"]},
        "status": {"type": ["string", "null"], "description": "The latest state code."},
        "submitted_at": _TIME,
        "accepted_at": _TIME,
        "stopped": {"type": "boolean"},
        "finished_at": _TIME,
        "result": {"type": ["string", "null"]},
        "open": {"type": "boolean"},
        "light": {"type": "string", "enum": list(LIGHTS)},
        "due_on": _DAY,
        "used_working_days": {"type": ["integer", "null"]},
        "on_time": {"type": ["boolean", "null"]},
        "flags": {"type": "array", "items": {"type": "string", "enum": ["unknown_item"]}},
        "last_event_at": _TIME,
        "events": {"type": "integer"},
        "updated_at": _TIME,
    },
}
_TIMELINE: dict[str, Any] = {
    "allOf": [
        {"$ref": "#/components/schemas/Case"},
        {
            "type": "object",
            "properties": {
                "evaluated_light": {"type": ["string", "null"]},
                "clock": {
                    "type": "object",
                    "properties": {
                        "light": {"type": "string"},
                        "due_on": _DAY,
                        "used_working_days": {"type": ["integer", "null"]},
                        "remaining_working_days": {"type": ["integer", "null"]},
                        "overdue_working_days": {"type": "integer"},
                        "stopped_working_days": {"type": "integer"},
                        "stopped": {"type": "boolean"},
                        "finished": {"type": "boolean"},
                        "on_time": {"type": ["boolean", "null"]},
                    },
                },
                "stops": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string", "enum": ["supplement", "special"]},
                            "from": _TIME,
                            "to": _TIME,
                            "working_days": {"type": "integer"},
                        },
                    },
                },
                "timeline": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "message_id": {"type": "string"},
                            "type": {"type": "string"},
                            "status": {"type": ["string", "null"]},
                            "result": {"type": ["string", "null"]},
                            "department": {"type": ["object", "null"]},
                            "occurred_at": _TIME,
                            "received_at": _TIME,
                            "source": {"type": "string"},
                            "late": {
                                "type": "boolean",
                                "description": "It arrived after an event that happened later.",
                            },
                        },
                    },
                },
            },
        },
    ]
}
_LINE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "name": {"type": "string"},
        "received": {"type": "integer"},
        "finished": {"type": "integer"},
        "on_time": {"type": "integer"},
        "late": {"type": "integer"},
        "on_time_rate": {"type": ["number", "null"]},
        "average_used_working_days": {"type": ["number", "null"]},
        "open": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}


_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/cases": {
        "get": {
            "summary": "List cases with their clocks",
            "description": "Case records as the supervision job last evaluated them, by case"
            " number. Operators only.",
            "operationId": "listCases",
            "tags": ["cases"],
            "parameters": [
                query_parameter(
                    "light", "Supervision light.", {"type": "string", "enum": list(LIGHTS)}
                ),
                query_parameter("department", "The implementing body's code.", {"type": "string"}),
                query_parameter("item", "The item's code.", {"type": "string"}),
                query_parameter("open", "Only open (true) or closed (false).", {"type": "boolean"}),
                query_parameter(
                    "unknown_item", "Only cases of items not in the catalogue.", {"type": "boolean"}
                ),
                *paging_parameters(),
            ],
            "responses": {
                "200": json_content("CasePage", "Cases."),
                "400": problem_content("A query parameter is malformed."),
                **_ERRORS,
            },
        }
    },
    "/api/v1/cases/{case_no}": {
        "get": {
            "summary": "Show a case's timeline and clock",
            "description": "Events (late ones marked), clock stops with their working days,"
            " due day and light, read now from the case's events. Operators only.",
            "operationId": "getCase",
            "tags": ["cases"],
            "parameters": [
                {"name": "case_no", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": json_content("CaseTimeline", "The case."),
                **_ERRORS,
                "404": problem_content("The hub has no event of this case."),
            },
        }
    },
    "/api/v1/supervision/report": {
        "get": {
            "summary": "On-time rates per department or item (the monthly report)",
            "description": "Cases accepted and finished in the period, on time and late, the"
            " average working days used, and open cases now by light. Operators only.",
            "operationId": "getSupervisionReport",
            "tags": ["cases"],
            "parameters": [
                query_parameter(
                    "month",
                    "YYYY-MM (default: this month); ignored when `from` and `to` are given.",
                    {"type": "string", "pattern": "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"},
                ),
                query_parameter(
                    "from",
                    "First day, YYYY-MM-DD (alone: up to today).",
                    {"type": "string", "format": "date", "pattern": _DAY_PATTERN},
                ),
                query_parameter(
                    "to",
                    "Last day, not before `from` (alone: from the first of its month).",
                    {"type": "string", "format": "date", "pattern": _DAY_PATTERN},
                ),
                query_parameter(
                    "by", "Group by.", {"type": "string", "enum": ["department", "item"]}
                ),
            ],
            "responses": {
                "200": json_content("SupervisionReport", "The report."),
                "400": problem_content("A query parameter is malformed."),
                **_ERRORS,
            },
        }
    },
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "Case": _CASE,
    "CaseTimeline": _TIMELINE,
    "CasePage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Case"}},
            "next": {"type": ["string", "null"]},
        },
    },
    "SupervisionReport": {
        "type": "object",
        "properties": {
            "period": {"type": "object"},
            "by": {"type": "string"},
            "lines": {"type": "array", "items": _LINE},
            "total": _LINE,
        },
    },
}

add_paths(_PATHS, _SCHEMAS)
