"""Case clocks and supervision (``/api/v1/cases``, ``/api/v1/supervision/report``), operators only.

A case's page is read from its events as they are (current even before the supervision
job has taken the latest in); the list shows the records as last evaluated.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from faces.http.auth import require_operator
from faces.http.openapi import add_paths, json_content, problem_content
from faces.http.problems import Problem
from faces.rest.api import choice, page_limit
from hub.cases.report import day_period, month_period, report_lines
from hub.core.clock import HUB_TZ, format_time, utcnow
from hub.core.errors import FieldError
from hub.runtime import Hub
from hub.store import CaseFilter
from hub.store.case_records import LIGHTS

__all__ = ["blueprint", "install"]

blueprint = Blueprint("cases", __name__, url_prefix="/api/v1")


def install(app: Flask, hub: Hub) -> None:
    """Add the case clocks' API."""
    app.register_blueprint(blueprint)


def _hub() -> Hub:
    hub: Hub = current_app.extensions["govhub"]
    return hub


def _bad(name: str, message: str) -> Problem:
    return Problem(
        400,
        "bad-parameter",
        "Bad query parameter",
        f"{name} {message}",
        errors=[FieldError(name, message)],
    )


def _flag(name: str) -> bool | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if value not in ("true", "false"):
        raise _bad(name, "must be true or false")
    return value == "true"


@blueprint.get("/cases")
def list_cases() -> Response:
    """Cases by case number, filtered by light, department, item, open or closed."""
    hub = _hub()
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
    hub = _hub()
    require_operator(hub.store)
    view = hub.cases.view(case_no[:64], utcnow())
    if view is None:
        raise Problem(404, "not-found", "Not found", "the hub has no event of this case")
    return jsonify(view.to_json())


@blueprint.get("/supervision/report")
def supervision_report() -> Response:
    """On-time rates per department or item for a month (or ``from``..``to`` days)."""
    hub = _hub()
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


def _period() -> tuple[dt.datetime, dt.datetime, str]:
    args = request.args
    if args.get("from") or args.get("to"):
        # one day alone is that day; two are the days between them, in either order
        try:
            first = dt.date.fromisoformat(args.get("from") or args.get("to", ""))
            last = dt.date.fromisoformat(args.get("to") or args.get("from", ""))
            first, last = min(first, last), max(first, last)
            since, until = day_period(first, last)
        except (ValueError, OverflowError):
            raise _bad("from", "and to must be days (YYYY-MM-DD)") from None
        return since, until, f"{first.isoformat()}..{last.isoformat()}"
    month = args.get("month") or dt.datetime.now(HUB_TZ).strftime("%Y-%m")
    try:
        since, until = month_period(month)
    except ValueError as error:
        raise _bad("month", str(error).removeprefix("month ")) from None
    return since, until, month


# --------------------------------------------------------------------------- OpenAPI

_ERRORS = {
    "401": problem_content("Missing, unknown or revoked API key."),
    "403": problem_content("The client does not have the operator role."),
}
_TIME = {"type": ["string", "null"], "format": "date-time"}
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


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/cases": {
        "get": {
            "summary": "List cases with their clocks",
            "description": "Case records as the supervision job last evaluated them, by case"
            " number. Operators only.",
            "operationId": "listCases",
            "tags": ["cases"],
            "parameters": [
                _query("light", "Supervision light.", {"type": "string", "enum": list(LIGHTS)}),
                _query("department", "The implementing body's code.", {"type": "string"}),
                _query("item", "The item's code.", {"type": "string"}),
                _query("open", "Only open (true) or closed (false).", {"type": "boolean"}),
                _query(
                    "unknown_item", "Only cases of items not in the catalogue.", {"type": "boolean"}
                ),
                _query("limit", "1..200 (50).", {"type": "integer", "minimum": 1, "maximum": 200}),
                _query("after", "The `next` of the previous page.", {"type": "string"}),
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
                _query(
                    "month",
                    "YYYY-MM (default: this month).",
                    {"type": "string", "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"},
                ),
                _query(
                    "from",
                    "First day, YYYY-MM-DD (alone: that day).",
                    {"type": "string", "format": "date"},
                ),
                _query(
                    "to",
                    "Last day (alone: that day; before `from`: the days between).",
                    {"type": "string", "format": "date"},
                ),
                _query("by", "Group by.", {"type": "string", "enum": ["department", "item"]}),
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
