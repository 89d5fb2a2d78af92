"""The jobs API (``/api/v1/jobs``): schedules, runs, and run-now / pause / resume (operators)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from jsonschema import Draft202012Validator

from faces.http.auth import require_operator
from faces.http.context import current_hub
from faces.http.openapi import add_paths, body_problems
from faces.http.problems import Problem
from faces.rest.api import choice, page_limit
from hub.core.errors import FieldError
from hub.runtime import Hub
from hub.scheduler.catalog import JobUnavailable, ScheduledJob
from hub.schemas import describe_errors
from hub.store.job_records import RUN_STATUSES

__all__ = ["blueprint", "install"]

blueprint = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")

MAX_PAGE = 200
PAUSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": {"type": "string", "maxLength": 500}},
}
_PAUSE_VALIDATOR = Draft202012Validator(PAUSE_SCHEMA)


def install(app: Flask, hub: Hub) -> None:
    """Add the jobs API."""
    app.register_blueprint(blueprint)


def _job(hub: Hub, job_id: str) -> ScheduledJob:
    try:
        return hub.jobs.get(job_id)
    except KeyError:
        raise Problem(404, "not-found", "Not found", f"no job is called {job_id!r}") from None


def _body() -> dict[str, Any]:
    from faces.rest.api import read_json_body

    document = read_json_body(required=False)
    if not isinstance(document, dict):
        raise Problem(400, "malformed", "Malformed request", "the body must be a JSON object")
    errors = [
        FieldError(path, message)
        for error in _PAUSE_VALIDATOR.iter_errors(document)
        for path, message in describe_errors(error)
    ]
    if errors:
        raise Problem(422, "invalid-request", "Invalid request", "unexpected fields", errors=errors)
    return document


@blueprint.get("")
def list_jobs() -> Response:
    """Every job: schedule, state, next due time, last outcome; and the live schedulers."""
    hub = current_hub()
    require_operator(hub.store)
    return jsonify(
        {
            "items": hub.jobs.describe(),
            "schedulers": [node.to_json() for node in hub.jobs.nodes()],
        }
    )


@blueprint.get("/<job_id>")
def get_job(job_id: str) -> Response:
    """One job."""
    hub = current_hub()
    require_operator(hub.store)
    _job(hub, job_id)
    return jsonify(hub.jobs.describe([job_id])[0])


@blueprint.get("/<job_id>/runs")
def list_runs(job_id: str) -> Response:
    """A job's runs, newest first (without their logs)."""
    hub = current_hub()
    require_operator(hub.store)
    _job(hub, job_id)
    status = choice("status", tuple(RUN_STATUSES))
    page = hub.jobs.runs(
        job_id, status=status, after=request.args.get("after") or None, limit=page_limit()
    )
    return jsonify(
        {"items": [run.to_json(with_log=False) for run in page.items], "next": page.next}
    )


@blueprint.get("/<job_id>/runs/<run_id>")
def get_run(job_id: str, run_id: str) -> Response:
    """One run with its log lines."""
    hub = current_hub()
    require_operator(hub.store)
    _job(hub, job_id)
    run = hub.jobs.run(run_id)
    if run is None or run.job_id != job_id:
        raise Problem(404, "not-found", "Not found", "no such run of this job")
    return jsonify(run.to_json())


@blueprint.post("/<job_id>/run")
def run_job(job_id: str) -> tuple[Response, int]:
    """Queue a run now; a scheduler starts it (202 with the queued run)."""
    hub = current_hub()
    client = require_operator(hub.store)
    _job(hub, job_id)
    _body()
    try:
        run = hub.jobs.request_run(job_id, actor=client.name)
    except JobUnavailable as error:
        raise Problem(409, "job-unavailable", "Job unavailable", str(error)) from None
    if hub.scheduler is not None:
        hub.scheduler.wake()
    document = run.to_json(with_log=False)
    if hub.scheduler is None and not hub.jobs.nodes():
        document["warning"] = "no scheduler is running; the run starts when one does"
    response = jsonify(document)
    response.headers["Location"] = f"/api/v1/jobs/{job_id}/runs/{run.id}"
    return response, 202


@blueprint.post("/<job_id>/pause")
def pause_job(job_id: str) -> Response:
    """Stop scheduling a job (a run in progress finishes). Survives restarts."""
    hub = current_hub()
    client = require_operator(hub.store)
    _job(hub, job_id)
    document = _body()
    return jsonify(hub.jobs.pause(job_id, actor=client.name, reason=document.get("reason")))


@blueprint.post("/<job_id>/resume")
def resume_job(job_id: str) -> Response:
    """Schedule a paused job again from its next due time."""
    hub = current_hub()
    client = require_operator(hub.store)
    _job(hub, job_id)
    _body()
    return jsonify(hub.jobs.resume(job_id, actor=client.name))


# --------------------------------------------------------------------------- OpenAPI


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "The job's dotted id, e.g. `hall.pull_applications`.",
    "schema": {"type": "string"},
}
_ERRORS = {
    "401": _problem("Missing, unknown or revoked API key."),
    "403": _problem("The client does not have the operator role."),
}
_NOT_FOUND = {"404": _problem("No such job.")}
_BODY_PROBLEMS = body_problems("Unexpected fields in the body.")
_PAUSE_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobActionRequest"}}},
}

_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/jobs": {
        "get": {
            "summary": "List scheduled jobs",
            "description": "Schedule, state, next due time and last outcome of every job, and"
            " the schedulers that are running. Operators only.",
            "operationId": "listJobs",
            "tags": ["jobs"],
            "responses": {"200": _json("JobList", "The jobs."), **_ERRORS},
        }
    },
    "/api/v1/jobs/{job_id}": {
        "get": {
            "summary": "Show one job",
            "operationId": "getJob",
            "tags": ["jobs"],
            "parameters": [_JOB_ID],
            "responses": {"200": _json("Job", "The job."), **_ERRORS, **_NOT_FOUND},
        }
    },
    "/api/v1/jobs/{job_id}/runs": {
        "get": {
            "summary": "List a job's runs, newest first",
            "operationId": "listJobRuns",
            "tags": ["jobs"],
            "parameters": [
                _JOB_ID,
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": list(RUN_STATUSES)},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50},
                },
                {
                    "name": "after",
                    "in": "query",
                    "description": "The `next` of the previous page.",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": _json("JobRunPage", "Runs, without their log lines."),
                "400": _problem("A query parameter is malformed."),
                **_ERRORS,
                **_NOT_FOUND,
            },
        }
    },
    "/api/v1/jobs/{job_id}/runs/{run_id}": {
        "get": {
            "summary": "Show one run with its log lines",
            "operationId": "getJobRun",
            "tags": ["jobs"],
            "parameters": [
                _JOB_ID,
                {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {"200": _json("JobRun", "The run."), **_ERRORS, **_NOT_FOUND},
        }
    },
    "/api/v1/jobs/{job_id}/run": {
        "post": {
            "summary": "Run a job now",
            "description": "Queues a run; a scheduler (on any node) starts it as soon as the"
            " job is free. Works while the job is paused. Operators only.",
            "operationId": "runJob",
            "tags": ["jobs"],
            "parameters": [_JOB_ID],
            "requestBody": _PAUSE_BODY,
            "responses": {
                "202": {
                    **_json("JobRun", "Queued."),
                    "links": {
                        "GetJobRun": {
                            "operationId": "getJobRun",
                            "parameters": {
                                "job_id": "$request.path.job_id",
                                "run_id": "$response.body#/id",
                            },
                            "description": "The queued run, and later its outcome and log.",
                        }
                    },
                },
                **_BODY_PROBLEMS,
                **_ERRORS,
                **_NOT_FOUND,
                "409": _problem("The job is disabled or its destination is not configured."),
            },
        }
    },
    "/api/v1/jobs/{job_id}/pause": {
        "post": {
            "summary": "Pause a job's schedule",
            "description": "Due times are not run until resumed; a run in progress"
            " finishes. Stored: survives restarts. Operators only.",
            "operationId": "pauseJob",
            "tags": ["jobs"],
            "parameters": [_JOB_ID],
            "requestBody": _PAUSE_BODY,
            "responses": {
                "200": _json("Job", "The job, paused."),
                **_BODY_PROBLEMS,
                **_ERRORS,
                **_NOT_FOUND,
            },
        }
    },
    "/api/v1/jobs/{job_id}/resume": {
        "post": {
            "summary": "Resume a paused job",
            "operationId": "resumeJob",
            "tags": ["jobs"],
            "parameters": [_JOB_ID],
            "requestBody": _PAUSE_BODY,
            "responses": {
                "200": _json("Job", "The job, scheduled again."),
                **_BODY_PROBLEMS,
                **_ERRORS,
                **_NOT_FOUND,
            },
        }
    },
}

_TIME = {"type": ["string", "null"], "format": "date-time"}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "JobActionRequest": PAUSE_SCHEMA,
    "JobRun": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "job_id": {"type": "string"},
            "due_at": {"type": "string", "format": "date-time"},
            "trigger": {"type": "string", "enum": ["schedule", "manual"]},
            "status": {"type": "string", "enum": list(RUN_STATUSES)},
            "node": {"type": ["string", "null"]},
            "requested_by": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": _TIME,
            "finished_at": _TIME,
            "duration_ms": {"type": ["integer", "null"]},
            "counts": {
                "type": "object",
                "properties": {
                    "read": {"type": "integer"},
                    "published": {"type": "integer"},
                    "failed": {"type": "integer"},
                },
            },
            "error": {"type": ["string", "null"]},
            "cursor_before": {},
            "cursor_after": {},
            "log_lines": {"type": "integer"},
            "log": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "at": _TIME,
                        "level": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
            "warning": {"type": "string"},
        },
    },
    "JobRunPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/JobRun"}},
            "next": {"type": ["string", "null"]},
        },
    },
    "Job": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "description": {"type": "string"},
            "adapter": {"type": ["string", "null"]},
            "destination": {"type": ["string", "null"]},
            "publishes": {"type": "array", "items": {"type": "string"}},
            "schedule": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": ["interval", "cron"]},
                    "every_s": {"type": "integer"},
                    "cron": {"type": "string"},
                    "text": {"type": "string"},
                },
            },
            "timezone": {"type": "string"},
            "timeout_s": {"type": "number"},
            "misfire": {"type": "string", "enum": ["run_once", "skip"]},
            "misfire_grace_s": {"type": "number"},
            "enabled": {"type": "boolean"},
            "unavailable_reason": {"type": ["string", "null"]},
            "state": {
                "type": "string",
                "enum": ["scheduled", "running", "paused", "disabled", "unavailable"],
            },
            "paused": {"type": "boolean"},
            "paused_at": _TIME,
            "paused_by": {"type": ["string", "null"]},
            "pause_reason": {"type": ["string", "null"]},
            "next_due": _TIME,
            "late": {
                "type": "boolean",
                "description": "A due time passed beyond the misfire grace and no"
                " scheduler claimed it.",
            },
            "running": {
                "type": ["object", "null"],
                "properties": {"run_id": {"type": "string"}, "node": {"type": "string"}},
            },
            "last_run": {"oneOf": [{"$ref": "#/components/schemas/JobRun"}, {"type": "null"}]},
            "cursor": {},
            "cursor_updated_at": _TIME,
        },
    },
    "JobList": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
            "schedulers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "node": {"type": "string"},
                        "host": {"type": "string"},
                        "pid": {"type": "integer"},
                        "started_at": {"type": "string", "format": "date-time"},
                        "beat_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    },
}

add_paths(_PATHS, _SCHEMAS)
