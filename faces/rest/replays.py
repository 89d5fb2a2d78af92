"""Replays over REST: ``POST /api/v1/replays``, ``GET /api/v1/replays[/{id}]`` (operators).

A replay is checked whole and recorded (audited) before the answer: ``202`` with its id
and how many messages it covers; this web process then sends them batch by batch, and
``GET /api/v1/replays/{id}`` shows how far it got. A dry run answers ``200`` with what
would go where and changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from jsonschema import Draft202012Validator

from faces.http.auth import require_operator
from faces.http.openapi import (
    NO_NUL,
    add_paths,
    body_problems,
    json_content,
    paging_parameters,
    problem_content,
)
from faces.http.problems import Problem
from faces.rest.api import page_limit, read_json_body
from hub.core.errors import FieldError
from hub.pipeline.replay import ReplayRefused, ReplayRequest, period_bound
from hub.runtime import Hub
from hub.schemas import describe_errors
from hub.store import MESSAGE_STATUSES, MessageFilter

__all__ = ["REPLAY_MESSAGES_SCHEMA", "blueprint", "install"]

blueprint = Blueprint("replays", __name__, url_prefix="/api/v1")

_DAY = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_TIME = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?"
    "([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _text(maximum: int, description: str) -> dict[str, Any]:
    # NO_NUL here, not only in the published document: this schema is what the server checks
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": maximum,
        "pattern": NO_NUL,
        "description": description,
    }


def _bound(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "anyOf": [
            {"type": "string", "format": "date", "pattern": _DAY},
            {"type": "string", "format": "date-time", "pattern": _TIME},
        ],
    }


_FILTERS = ("type", "correlation_id", "source", "status", "from_destination", "since", "until")

#: ``POST /api/v1/replays``: which messages, where to, and why.
REPLAY_MESSAGES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": _text(100, "Exact type or prefix glob (`case.*`)."),
        "correlation_id": _text(200, "One case (its case number)."),
        "source": _text(100, "The client that sent them."),
        "status": {"type": "string", "enum": list(MESSAGE_STATUSES)},
        "from_destination": _text(100, "Only messages that had a delivery to this destination."),
        "since": _bound("Accepted from: a day (Beijing time) or RFC 3339 with offset."),
        "until": _bound("Accepted before; a day counts whole (`2026-11-30` includes it)."),
        "all": {"type": "boolean", "description": "No filter: every stored message, on purpose."},
        "to": {
            "type": "array",
            "items": _text(100, "A configured destination."),
            "minItems": 1,
            "maxItems": 20,
            "uniqueItems": True,
        },
        "routes": {"const": True, "description": "Send where the current routes say."},
        "missing_only": {
            "type": "boolean",
            "description": "Skip destinations that had the message.",
        },
        "dry_run": {
            "type": "boolean",
            "description": "Count what would go where (200); change nothing.",
        },
        "reason": {
            "type": "string",
            "maxLength": 500,
            "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$",
            "description": "Why: kept in the audit trail (needed unless `dry_run`).",
        },
    },
    "oneOf": [{"required": ["to"]}, {"required": ["routes"]}],
    # a filter, or every stored message on purpose
    "anyOf": [
        *({"required": [name]} for name in _FILTERS),
        {"required": ["all"], "properties": {"all": {"const": True}}},
    ],
    "if": {"required": ["dry_run"], "properties": {"dry_run": {"const": True}}},
    "else": {"required": ["reason"]},
}
_VALIDATOR = Draft202012Validator(REPLAY_MESSAGES_SCHEMA)


def install(app: Flask, hub: Hub) -> None:
    """Add the replay API."""
    app.register_blueprint(blueprint)


def _hub() -> Hub:
    hub: Hub = current_app.extensions["govhub"]
    return hub


def _invalid(errors: list[FieldError], detail: str) -> Problem:
    return Problem(
        422,
        "invalid-request",
        "Invalid request",
        detail,
        errors=sorted(errors, key=lambda e: e.path),
    )


_CLEARER = {
    "since": "must be a day (2026-11-01) or a time with an offset (2026-11-01T08:00:00+08:00)",
    "until": "must be a day (2026-11-30) or a time with an offset (2026-12-01T00:00:00+08:00)",
    "reason": "say why, in words (it is kept in the audit trail)",
}


def _request(document: Any) -> tuple[ReplayRequest, bool]:
    """The replay a well-formed body asks for, and whether it is a dry run."""
    if not isinstance(document, dict):
        raise Problem(400, "malformed", "Malformed request", "the body must be a JSON object")
    errors = [
        FieldError(path, _CLEARER.get(path, message))
        for error in _VALIDATOR.iter_errors(document)
        for path, message in describe_errors(error)
        if path  # errors at the top are oneOf's and anyOf's: told below in plain words
    ]
    if not any(name in document for name in _FILTERS) and document.get("all") is not True:
        errors.append(
            FieldError(
                "filter",
                "name the messages (type, correlation_id, since/until, source, status or"
                " from_destination), or ask for all of them on purpose (all: true)",
            )
        )
    if ("to" in document) == ("routes" in document):
        errors.append(
            FieldError("to", "say where to: to (destinations) or routes: true, one of them")
        )
    if errors:
        raise _invalid(errors, "the request does not have the expected fields")
    where = MessageFilter(
        type=document.get("type", ""),
        correlation_id=document.get("correlation_id", ""),
        source=document.get("source", ""),
        status=document.get("status", ""),
        destination=document.get("from_destination", ""),
        since=_moment(document, "since", end=False),
        until=_moment(document, "until", end=True),
    )
    to = document.get("to")
    asked = ReplayRequest(
        where=where,
        to=tuple(to) if to is not None else None,
        reason=document.get("reason", ""),
        missing_only=bool(document.get("missing_only", False)),
        everything=bool(document.get("all", False)),
    )
    return asked, bool(document.get("dry_run", False))


def _moment(document: dict[str, Any], name: str, *, end: bool) -> Any:
    text = document.get(name)
    if text is None:
        return None
    try:
        return period_bound(text, end=end)
    except ValueError as error:
        raise _invalid([FieldError(name, str(error))], f"{name} is not a day or a time") from None


@blueprint.post("/replays")
def replay_messages() -> tuple[Response, int]:
    """Replay stored messages chosen by a filter (operators only)."""
    hub = _hub()
    client = require_operator(hub.store)
    asked, dry_run = _request(read_json_body())
    try:
        if dry_run:
            *_, preview = hub.replays.preview(asked)
            return jsonify(preview.to_json() | {"dry_run": True}), 200
        record = hub.replays.begin(asked, actor=client.name)
    except ReplayRefused as refused:
        if refused.by_configuration:
            # well formed, but this hub cannot: its destinations change with its configuration
            raise Problem(
                409,
                "replay-refused",
                "Replay refused",
                "the hub's destinations cannot take this replay",
                errors=refused.errors,
            ) from None
        raise _invalid(refused.errors, "the replay cannot be carried out as asked") from None
    if record.status != "done":
        hub.replays.run_in_background(record.id)
    response = jsonify(record.to_json())
    response.headers["Location"] = f"/api/v1/replays/{record.id}"
    return response, 202


@blueprint.get("/replays")
def list_replays() -> Response:
    """Replays, newest first, a page at a time (operators only)."""
    hub = _hub()
    require_operator(hub.store)
    limit = page_limit()
    found = hub.store.replays.recent(limit=limit + 1, after=request.args.get("after") or None)
    items = found[:limit]
    return jsonify(
        {
            "items": [record.to_json() for record in items],
            "next": items[-1].id if len(found) > limit else None,
        }
    )


@blueprint.get("/replays/<replay_id>")
def get_replay(replay_id: str) -> Response:
    """A replay and how far it got (operators only)."""
    hub = _hub()
    require_operator(hub.store)
    record = hub.store.replays.get(replay_id)
    if record is None:
        raise Problem(404, "not-found", "Not found", "no such replay")
    return jsonify(record.to_json())


# --------------------------------------------------------------------------- OpenAPI

_ERRORS = {
    "401": problem_content("Missing, unknown or revoked API key."),
    "403": problem_content("Needs the operator role."),
}
_COUNT = {"type": "integer", "minimum": 0}
_REPLAY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status", "total", "scanned", "created"],
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["running", "done"]},
        "filter": {"type": "object", "description": "The filter, as stored."},
        "target": {"type": "object", "description": '`{"to": [...]}` or `{"routes": true}`.'},
        "missing_only": {"type": "boolean"},
        "total": {**_COUNT, "description": "Messages that matched when the replay began."},
        "scanned": {**_COUNT, "description": "Messages done so far."},
        "created": {**_COUNT, "description": "New deliveries made so far."},
        "actor": {"type": "string"},
        "reason": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_PREVIEW: dict[str, Any] = {
    "type": "object",
    "required": ["dry_run", "total", "deliveries", "by_destination"],
    "properties": {
        "dry_run": {"const": True},
        "total": _COUNT,
        "scanned": _COUNT,
        "deliveries": _COUNT,
        "by_destination": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "destination": {"type": "string"},
                    "deliveries": _COUNT,
                    "had_before": {
                        **_COUNT,
                        "description": "Of those, to a destination that had the message.",
                    },
                },
            },
        },
        "unrouted": {**_COUNT, "description": "Messages no current route takes."},
    },
}
_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/replays": {
        "get": {
            "summary": "Replays, newest first (operator)",
            "operationId": "listReplays",
            "tags": ["messages"],
            "parameters": paging_parameters(),
            "responses": {
                "200": json_content("ReplayPage", "A page of replays."),
                "400": problem_content("A bad query parameter."),
                **_ERRORS,
            },
        },
        "post": {
            "summary": "Replay stored messages by filter (operator)",
            "description": "Sends the messages a filter chooses again, as new deliveries"
            " (new ids, so a new `Idempotency-Key`), to `to` or to where the current `routes`"
            " say; each case's messages join the tail of its queue in acceptance order. The"
            " replay is audited once (`messages.replay`) and then runs in the background."
            " `until` must be after `since` (422 otherwise, naming `until`); a destination"
            " the hub does not have, or whose adapter does not take a type among the chosen"
            " messages, answers 409 naming `to[i]`.",
            "operationId": "replayMessages",
            "tags": ["messages"],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ReplayMessagesRequest"}
                    }
                },
            },
            "responses": {
                "202": {
                    **json_content("Replay", "Recorded and under way."),
                    "headers": {
                        "Location": {"description": "Its progress.", "schema": {"type": "string"}}
                    },
                    "links": {
                        "GetReplay": {
                            "operationId": "getReplay",
                            "parameters": {"replay_id": "$response.body#/id"},
                        }
                    },
                },
                "200": json_content("ReplayPreview", "A dry run: what would go where."),
                **body_problems(
                    "Fields missing or of the wrong kind, no filter without `all`, or `until`"
                    " not after `since`."
                ),
                **_ERRORS,
                "409": problem_content(
                    "The hub's configuration stands in the way: no such destination, or its"
                    " adapter does not take a type among the chosen messages."
                ),
            },
        },
    },
    "/api/v1/replays/{replay_id}": {
        "get": {
            "summary": "A replay and how far it got (operator)",
            "operationId": "getReplay",
            "tags": ["messages"],
            "parameters": [
                {
                    "name": "replay_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": json_content("Replay", "The replay."),
                **_ERRORS,
                "404": problem_content("No such replay."),
            },
        }
    },
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "ReplayMessagesRequest": REPLAY_MESSAGES_SCHEMA,
    "Replay": _REPLAY,
    "ReplayPreview": _PREVIEW,
    "ReplayPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Replay"}},
            "next": {"type": ["string", "null"]},
        },
    },
}

add_paths(_PATHS, _SCHEMAS)
