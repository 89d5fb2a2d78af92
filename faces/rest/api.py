"""The REST API (``/api/v1``): messages in, messages and dead letters out."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
from flask import Blueprint, Response, current_app, jsonify, request
from jsonschema import Draft202012Validator

from faces.http.auth import require_client, require_operator
from faces.http.problems import Problem
from hub.core.errors import FieldError
from hub.observability.tracing import continuing
from hub.pipeline.ingest import IngestError, Submission, Unavailable
from hub.runtime import Hub
from hub.schemas import describe_errors
from hub.store import MESSAGE_STATUSES, DeadLetterFilter, MessageFilter
from hub.store.protection import mask_personal

__all__ = [
    "MESSAGES_PATH",
    "REPLAY_ONE_SCHEMA",
    "REPLAY_SCHEMA",
    "REQUEST_FAST",
    "REQUEST_SCHEMA",
    "blueprint",
    "choice",
    "ingest_problem",
    "location",
    "page_limit",
    "read_json_body",
    "submission_of",
]

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PAGE = 200
MESSAGES_PATH = "/api/v1/messages"

# The request bodies below are what the server validates and what the OpenAPI document
# (faces.rest.openapi) publishes: one source, so the two cannot disagree.
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "payload"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "maxLength": 100},
        "payload": {
            "type": "object",
            "description": "Valid against schemas/messages/<type>.json.",
        },
        "id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "Your id: the idempotency key. The same id with the same body"
            " answers 200 with the first acceptance; with another body, 409.",
        },
        "correlation_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "Your business key. A message with payload.case_no is"
            " correlated by its case number; another key given is kept and found with"
            " ?key= (the answer warns).",
        },
        "headers": {"type": "object", "maxProperties": 50},
        "schema_version": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "description": "The version of the type's schema the payload follows"
            " (schemas/messages/<type>/v<N>.json). Without it, version 1: what every sender"
            " wrote against before the type had versions. The hub records the version in"
            " headers.schema_version.",
        },
    },
}
_REQUEST_VALIDATOR = Draft202012Validator(REQUEST_SCHEMA)
#: Answers "is this request well formed?" quickly; the hot path (faces.rest.fastpath) uses it too.
REQUEST_FAST = jsonschema_rs.Draft202012Validator(REQUEST_SCHEMA)
_REASON = {"type": "string", "maxLength": 500, "description": "Kept in the audit trail."}
#: ``POST /dead-letters/{id}/replay``: an optional reason.
REPLAY_ONE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": _REASON},
}
#: ``POST /dead-letters/replay``: ids, or a filter naming every dead letter it matches.
REPLAY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ids": {"type": "array", "items": {"type": "string"}, "maxItems": 10000},
        "destination": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
        "reason": _REASON,
    },
    "anyOf": [{"required": ["ids"]}, {"required": ["destination"]}, {"required": ["type"]}],
}
_REPLAY_ONE_VALIDATOR = Draft202012Validator(REPLAY_ONE_SCHEMA)
_REPLAY_VALIDATOR = Draft202012Validator(REPLAY_SCHEMA)


def _hub() -> Hub:
    hub: Hub = current_app.extensions["govhub"]
    return hub


def read_json_body(*, required: bool = True) -> Any:
    """The request body as JSON, with the checks every JSON endpoint makes.

    Raises:
        Problem: 413 over the size cap, 415 for another media type, 400 for bad JSON.
    """
    cap = _hub().config.server.max_body_bytes
    if request.content_length is not None and request.content_length > cap:
        raise Problem(413, "too-large", "Request body too large", f"the limit is {cap} bytes")
    raw = request.get_data(cache=False)
    if not raw and not required:
        return {}
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        )
    charset = request.mimetype_params.get("charset", "utf-8")
    try:
        return json.loads(raw.decode(charset), parse_constant=_no_constants)
    except (UnicodeDecodeError, LookupError):
        raise Problem(
            400, "malformed", "Malformed request", f"the body is not valid {charset}"
        ) from None
    except json.JSONDecodeError as error:
        raise Problem(
            400,
            "malformed",
            "Malformed request",
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        ) from None
    except ValueError as error:
        raise Problem(
            400, "malformed", "Malformed request", f"the body is not valid JSON: {error}"
        ) from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _check(validator: Draft202012Validator, document: Any, fast: Any = None) -> None:
    if not isinstance(document, dict):
        raise Problem(400, "malformed", "Malformed request", "the body must be a JSON object")
    if fast is not None and fast.is_valid(document):
        return
    errors = [
        FieldError(path, message)
        for error in validator.iter_errors(document)
        for path, message in describe_errors(error)
    ]
    if errors:
        raise Problem(
            422,
            "invalid-request",
            "Invalid request",
            "the request does not have the expected fields",
            errors=sorted(errors, key=lambda e: e.path),
        )


@blueprint.post("/messages")
def post_message() -> tuple[Response, int]:
    """Accept a message: 202 when new, 200 with the first answer for a repeated ``id`` with
    the same body, 409 for a repeated ``id`` with another body. A W3C ``traceparent``
    header makes the message's trace a part of the sender's."""
    hub = _hub()
    client = require_client(hub.store)
    document = read_json_body()
    _check(_REQUEST_VALIDATOR, document, REQUEST_FAST)
    try:
        with continuing(request.headers.get("traceparent"), request.headers.get("tracestate")):
            acceptance = hub.ingest.submit(client, submission_of(document), channel="rest")
    except IngestError as error:
        raise ingest_problem(error) from None
    response = jsonify(acceptance.to_json())
    response.headers["Location"] = location(acceptance.message_id)
    return response, 202 if acceptance.created else 200


def submission_of(document: dict[str, Any]) -> Submission:
    """The submission a well-formed ``POST /api/v1/messages`` body asks for."""
    return Submission(
        type=document["type"],
        payload=document["payload"],
        client_ref=document.get("id"),
        correlation_id=document.get("correlation_id"),
        headers=document.get("headers", {}),
        schema_version=document.get("schema_version"),
    )


def ingest_problem(error: IngestError) -> Problem:
    """The problem document that answers a refused submission."""
    slug = {
        403: "forbidden",
        409: "id-reused",
        422: "schema-violation",
        503: "unavailable",
    }.get(error.status, "bad-request")
    headers = {}
    if isinstance(error, Unavailable) and error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    # The engine calls the sender's id client_ref; this API calls it id.
    errors = [FieldError("id", e.message) if e.path == "client_ref" else e for e in error.errors]
    return Problem(error.status, slug, error.title, error.detail, errors=errors, headers=headers)


def location(message_id: str) -> str:
    """Where an accepted message can be read."""
    return f"{MESSAGES_PATH}/{message_id}"


@blueprint.get("/messages/<message_id>")
def get_message(message_id: str) -> Response:
    """A message with its deliveries and every attempt."""
    hub = _hub()
    client = require_client(hub.store)
    reveal = request.args.get("reveal", "false")
    if reveal not in ("true", "false"):
        raise Problem(
            400,
            "bad-parameter",
            "Bad query parameter",
            "reveal must be true or false",
            errors=[FieldError("reveal", "must be true or false")],
        )
    view = hub.store.messages.get(message_id)
    if view is None or not (client.is_operator or view.envelope.source == client.name):
        raise Problem(404, "not-found", "Not found", "no such message")
    document = view.to_json()
    if view.envelope.source != client.name:
        # Another department's personal data: masked, unless an operator asks to see it,
        # and that look is in the audit trail.
        if reveal == "true":
            hub.store.audit.record(client.name, "message.reveal", message_id, None)
        else:
            document["payload"] = mask_personal(document["payload"])
    return jsonify(document)


@blueprint.get("/messages")
def list_messages() -> Response:
    """Messages, newest first, filtered, a page at a time."""
    hub = _hub()
    client = require_client(hub.store)
    args = request.args
    status = choice("status", MESSAGE_STATUSES)
    source = args.get("source") if client.is_operator else client.name
    page = hub.store.messages.search(
        MessageFilter(
            source=source or "",
            type=args.get("type", ""),
            correlation_id=args.get("correlation_id", ""),
            key=args.get("key", ""),
            status=status or "",
        ),
        after=args.get("after") or None,
        limit=page_limit(),
    )
    return jsonify(
        {"items": [m.to_json(with_payload=False) for m in page.items], "next": page.next}
    )


@blueprint.get("/dead-letters")
def list_dead_letters() -> Response:
    """Deliveries that ended ``dead``, newest first."""
    hub = _hub()
    client = require_client(hub.store)
    args = request.args
    page = hub.store.deliveries.dead_letters(
        DeadLetterFilter(
            destination=args.get("destination", ""),
            type=args.get("type", ""),
            source=(args.get("source", "") if client.is_operator else client.name),
        ),
        after=args.get("after") or None,
        limit=page_limit(),
    )
    return jsonify(
        {"items": [d.to_json(with_history=False) for d in page.items], "next": page.next}
    )


@blueprint.post("/dead-letters/<delivery_id>/replay")
def replay_dead_letter(delivery_id: str) -> tuple[Response, int]:
    """Send one dead letter again (operators only)."""
    hub = _hub()
    client = require_operator(hub.store)
    document = read_json_body(required=False)
    _check(_REPLAY_ONE_VALIDATOR, document)
    found = hub.store.deliveries.get(delivery_id)
    if found is None:
        raise Problem(404, "not-found", "Not found", "no such delivery")
    if found[0].status != "dead":
        raise Problem(409, "not-dead", "Not a dead letter", f"the delivery is {found[0].status}")
    replayed = hub.store.deliveries.replay(
        [delivery_id], actor=client.name, reason=document.get("reason")
    )
    if not replayed:
        raise Problem(409, "not-dead", "Not a dead letter", "the delivery changed meanwhile")
    hub.dispatcher.wake()
    return jsonify({"id": delivery_id, "status": "pending"}), 202


@blueprint.post("/dead-letters/replay")
def replay_dead_letters() -> tuple[Response, int]:
    """Send dead letters again in bulk: by ids, or every one matching a filter."""
    hub = _hub()
    client = require_operator(hub.store)
    document = read_json_body()
    if isinstance(document, dict) and not {"ids", "destination", "type"} & document.keys():
        raise Problem(
            422,
            "invalid-request",
            "Invalid request",
            "name the dead letters: ids, destination or type",
            errors=[FieldError("ids", "give ids, or a destination or type filter")],
        )
    _check(_REPLAY_VALIDATOR, document)
    ids = document.get("ids")
    if ids is None:
        ids = hub.store.deliveries.dead_letter_ids(
            DeadLetterFilter(
                destination=document.get("destination", ""), type=document.get("type", "")
            )
        )
    replayed = hub.store.deliveries.replay(ids, actor=client.name, reason=document.get("reason"))
    if replayed:
        hub.dispatcher.wake()
    return jsonify({"replayed": replayed, "count": len(replayed)}), 202


def page_limit() -> int:
    """The ``limit`` query parameter (1..200, default 50).

    Raises:
        Problem: 400 naming ``limit``.
    """
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise Problem(
            400,
            "bad-parameter",
            "Bad query parameter",
            f"limit must be 1..{MAX_PAGE}",
            errors=[FieldError("limit", f"must be an integer from 1 to {MAX_PAGE}")],
        )
    return int(raw)


def choice(name: str, allowed: tuple[str, ...]) -> str | None:
    """A query parameter that must be one of ``allowed`` (absent: ``None``).

    Raises:
        Problem: 400 naming the parameter.
    """
    # An empty value is refused too: the OpenAPI document's enum does not allow it, and
    # "?status=" meaning "any status" would hide a caller's bug.
    value = request.args.get(name)
    if value is not None and value not in allowed:
        raise Problem(
            400,
            "bad-parameter",
            "Bad query parameter",
            f"{name} must be one of {', '.join(allowed)}",
            errors=[FieldError(name, f"must be one of {', '.join(allowed)}")],
        )
    return value
