"""Approval flows (``/api/v1/flows``, ``/api/v1/projects``), operators only.

A project's page is read from its events now (modules, departments, clocks, timeline);
the list shows the records as the flows were last advanced or evaluated.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from faces.http.auth import require_operator
from faces.http.context import current_hub
from faces.http.openapi import add_paths, json_content, problem_content
from faces.http.problems import Problem
from faces.rest.api import choice, page_limit
from hub.core.clock import utcnow
from hub.runtime import Hub

__all__ = ["PROJECT_LIGHTS", "PROJECT_STATES", "blueprint", "install"]

blueprint = Blueprint("projects", __name__, url_prefix="/api/v1")
PROJECT_STATES = ("running", "approved", "rejected")
PROJECT_LIGHTS = ("green", "yellow", "red", "none")


def install(app: Flask, hub: Hub) -> None:
    """Add the approval flows' API."""
    app.register_blueprint(blueprint)


@blueprint.get("/flows")
def list_flows() -> Response:
    """The flows this hub runs, with each module's on-time rate."""
    hub = current_hub()
    require_operator(hub.store)
    rates = hub.flows.on_time_rates()
    items = []
    for flow in hub.flows.flows.values():
        items.append(
            {
                "id": flow.id,
                "name": flow.name,
                "limit_days": flow.limit_days,
                "modules": [
                    {
                        "id": module.id,
                        "name": module.name,
                        "lead": module.lead,
                        "reviewers": list(module.reviewers),
                        "limit_days": module.limit_days,
                        "after": list(module.after),
                        "start": module.start,
                        **{
                            k: rate[k]
                            for k in ("finished", "on_time", "on_time_rate")
                            for rate in rates
                            if rate["flow"] == flow.id and rate["module"] == module.id
                        },
                    }
                    for module in flow.modules
                ],
            }
        )
    return jsonify({"items": items})


@blueprint.get("/projects")
def list_projects() -> Response:
    """Projects by number, filtered by state, light and flow."""
    hub = current_hub()
    require_operator(hub.store)
    state = choice("state", PROJECT_STATES)
    light = choice("light", PROJECT_LIGHTS)
    flow = request.args.get("flow", "")[:64] or None  # an unknown flow has no projects
    records = hub.store.flows.search(state=state, light=light, flow=flow, limit=page_limit())
    return jsonify({"items": [record.to_json() for record in records]})


@blueprint.get("/projects/<path:project_no>")
def get_project(project_no: str) -> Response:
    """A project read now from its events: modules, departments, clocks, timeline."""
    hub = current_hub()
    require_operator(hub.store)
    view = hub.flows.view(project_no[:64], utcnow())
    if view is None:
        raise Problem(404, "not-found", "Not found", "the hub has no event of this project")
    return jsonify(view)


# --------------------------------------------------------------------------- OpenAPI

_ERRORS = {
    "401": problem_content("Missing, unknown or revoked API key."),
    "403": problem_content("The client does not have the operator role."),
}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_DAY = {"type": ["string", "null"], "format": "date"}
_DEPARTMENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "department": {"type": "string"},
        "lead": {"type": "boolean"},
        "opinion": {"type": ["string", "null"]},
        "answered_at": _TIME,
        "asking_supplement": {"type": "boolean"},
        "round": {"type": "integer"},
        "light": {"type": "string"},
        "due_on": _DAY,
        "on_time": {"type": ["boolean", "null"]},
    },
}
_MODULE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "lead": {"type": "string"},
        "limit_days": {"type": "integer"},
        "status": {
            "type": "string",
            "enum": ["waiting", "running", "approved", "rejected", "cancelled"],
        },
        "started_at": _TIME,
        "finished_at": _TIME,
        "due_on": _DAY,
        "light": {"type": "string"},
        "used_working_days": {"type": ["integer", "null"]},
        "stopped_working_days": {"type": "integer"},
        "on_time": {"type": ["boolean", "null"]},
        "departments": {"type": "array", "items": _DEPARTMENT},
        "opinions": {"type": "array", "items": {"type": "object"}},
    },
}
_PROJECT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "project_no": {"type": "string"},
        "flow": {"type": "string"},
        "name": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": list(PROJECT_STATES)},
        "light": {"type": "string", "enum": list(PROJECT_LIGHTS)},
        "started_at": _TIME,
        "finished_at": _TIME,
        "due_on": _DAY,
        "working_days": {"type": ["integer", "null"]},
        "modules": {"type": "array", "items": _MODULE},
    },
}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/flows": {
        "get": {
            "summary": "List the approval flows with each module's on-time rate",
            "description": "The flow definitions this hub runs (modules, lead and reviewing"
            " departments, limits) and, per module, how many finished and how many on time."
            " Operators only.",
            "operationId": "listFlows",
            "tags": ["flows"],
            "responses": {"200": json_content("FlowList", "Flows."), **_ERRORS},
        }
    },
    "/api/v1/projects": {
        "get": {
            "summary": "List projects of the approval flows",
            "description": "Project records by number, as last advanced or evaluated."
            " Operators only.",
            "operationId": "listProjects",
            "tags": ["flows"],
            "parameters": [
                _query(
                    "state",
                    "The project's state.",
                    {"type": "string", "enum": list(PROJECT_STATES)},
                ),
                _query("light", "Its light.", {"type": "string", "enum": list(PROJECT_LIGHTS)}),
                _query("flow", "A flow's id.", {"type": "string"}),
                _query("limit", "1..200 (50).", {"type": "integer", "minimum": 1, "maximum": 200}),
            ],
            "responses": {
                "200": json_content("ProjectList", "Projects."),
                "400": problem_content("A query parameter is malformed."),
                **_ERRORS,
            },
        }
    },
    "/api/v1/projects/{project_no}": {
        "get": {
            "summary": "Show a project across modules and departments",
            "description": "Modules with their clocks, each department's clock and opinion,"
            " the project's clock and timeline, read now from its events. Operators only.",
            "operationId": "getProject",
            "tags": ["flows"],
            "parameters": [
                {"name": "project_no", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": json_content("Project", "The project."),
                **_ERRORS,
                "404": problem_content("The hub has no event of this project."),
            },
        }
    },
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "Project": _PROJECT,
    "ProjectList": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}
        },
    },
    "FlowList": {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "object"}}},
    },
}

add_paths(_PATHS, _SCHEMAS)
