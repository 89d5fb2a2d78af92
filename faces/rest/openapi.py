"""The OpenAPI 3.1 description of the HTTP API, served at ``/api/v1/openapi.json``.

Paths are declared next to nothing else: a test checks that every route of the app is
described here and that the document is valid OpenAPI 3.1. The other faces add their
paths with :func:`faces.http.openapi.add_paths`.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from faces.http.openapi import (
    APP_PATHS,
    body_problems,
    extra_paths,
    extra_schemas,
    no_nul_in_requests,
    paging_parameters,
)
from faces.http.openapi import json_content as _json
from faces.http.openapi import problem_content as _problem
from faces.rest.api import REPLAY_ONE_SCHEMA, REPLAY_SCHEMA, REQUEST_SCHEMA
from faces.rest.message_schemas import message_components
from hub import __version__
from hub.runtime import Hub
from hub.schemas import SchemaRegistry
from hub.store import DELIVERY_STATUSES, MESSAGE_STATUSES

__all__ = ["blueprint", "build_spec"]

blueprint = Blueprint("openapi", __name__)

_AUTH_ERRORS = {"401": _problem("Missing, unknown or revoked API key.")}
_PAGING = paging_parameters()


_SPEC_EXTENSION = "govhub_openapi_document"
_LOCATION = {
    "description": "Where the message can be read.",
    "schema": {"type": "string"},
}
_MESSAGE_LINKS = {
    "GetMessage": {
        "operationId": "getMessage",
        "parameters": {"message_id": "$response.body#/id"},
        "description": "The accepted message, its deliveries and their attempts.",
    }
}


def build_spec(
    registry: SchemaRegistry, app_paths: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The OpenAPI document for a hub that knows the message types of ``registry`` and
    mounts ``app_paths``."""
    paths: dict[str, Any] = {
        "/api/v1/messages": {
            "post": {
                "summary": "Submit a message",
                "operationId": "postMessage",
                "tags": ["messages"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/MessageRequest"}
                        }
                    },
                },
                "responses": {
                    "202": {
                        **_json("Acceptance", "Stored with its deliveries; delivery follows."),
                        "headers": {"Location": _LOCATION},
                        "links": _MESSAGE_LINKS,
                    },
                    "200": {
                        **_json(
                            "Acceptance",
                            "The same `id` with the same body was accepted before: the first"
                            " answer.",
                        ),
                        "headers": {"Location": _LOCATION},
                        "links": _MESSAGE_LINKS,
                    },
                    **body_problems("Unknown type, schema violation or identifier check."),
                    **_AUTH_ERRORS,
                    "403": _problem("The client may not send this type."),
                    "409": _problem(
                        "This client sent the same `id` before with another body; the first"
                        " message stands and this one is not stored."
                    ),
                    "503": {
                        **_problem(
                            "A check the message needs cannot run now (its counterpart is"
                            " down): send it again later."
                        ),
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    },
                },
            },
            "get": {
                "summary": "List messages, newest first",
                "operationId": "listMessages",
                "tags": ["messages"],
                "parameters": [
                    {
                        "name": "type",
                        "in": "query",
                        "description": "Exact type or prefix glob (`case.*`).",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "correlation_id",
                        "in": "query",
                        "description": "The case number, for a case's messages.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "key",
                        "in": "query",
                        "description": (
                            "Another business key in the payload: a licence id (also in"
                            " `license_ids`), an order, waybill, card or decision number."
                        ),
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(MESSAGE_STATUSES)},
                    },
                    {
                        "name": "source",
                        "in": "query",
                        "description": "Operators only.",
                        "schema": {"type": "string"},
                    },
                    *_PAGING,
                ],
                "responses": {
                    "200": _json("MessagePage", "A page of messages (without payloads)."),
                    "400": _problem("A bad query parameter."),
                    **_AUTH_ERRORS,
                },
            },
        },
        "/api/v1/messages/{message_id}": {
            "get": {
                "summary": "A message with its deliveries and attempts",
                "operationId": "getMessage",
                "tags": ["messages"],
                "parameters": [
                    {
                        "name": "message_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "reveal",
                        "in": "query",
                        "description": "Resident IDs, mobiles and names of another"
                        " client's message are masked; `true` shows them to an operator,"
                        " and the look is audited (`message.reveal`).",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                ],
                "responses": {
                    "200": _json("Message", "The message."),
                    "400": _problem("`reveal` is not true or false."),
                    **_AUTH_ERRORS,
                    "404": _problem("No such message, or not the caller's."),
                },
            }
        },
        "/api/v1/dead-letters": {
            "get": {
                "summary": "Dead letters, newest first",
                "operationId": "listDeadLetters",
                "tags": ["dead letters"],
                "parameters": [
                    {"name": "destination", "in": "query", "schema": {"type": "string"}},
                    {"name": "type", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "source",
                        "in": "query",
                        "description": "Operators only.",
                        "schema": {"type": "string"},
                    },
                    *_PAGING,
                ],
                "responses": {
                    "200": _json("DeliveryPage", "A page of dead deliveries."),
                    "400": _problem("A bad query parameter."),
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/dead-letters/{delivery_id}/replay": {
            "post": {
                "summary": "Replay one dead letter (operator)",
                "operationId": "replayDeadLetter",
                "tags": ["dead letters"],
                "parameters": [
                    {
                        "name": "delivery_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ReplayOneRequest"}
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Pending again, due now.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **body_problems(),
                    **_AUTH_ERRORS,
                    "403": _problem("Needs the operator role."),
                    "404": _problem("No such delivery."),
                    "409": _problem("The delivery is not dead."),
                },
            }
        },
        "/api/v1/dead-letters/replay": {
            "post": {
                "summary": "Replay dead letters in bulk (operator)",
                "operationId": "replayDeadLetters",
                "tags": ["dead letters"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ReplayRequest"}
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "The ids replayed.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **body_problems("Neither ids nor a filter, or fields of the wrong kind."),
                    **_AUTH_ERRORS,
                    "403": _problem("Needs the operator role."),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "tags": ["meta"],
                "security": [],
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "operationId": "healthz",
                "tags": ["meta"],
                "security": [],
                "responses": {"200": {"description": "Alive", "content": {"application/json": {}}}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness, with the check that failed",
                "operationId": "readyz",
                "tags": ["meta"],
                "security": [],
                "responses": {
                    "200": {"description": "Ready", "content": {"application/json": {}}},
                    "503": {"description": "Not ready", "content": {"application/json": {}}},
                },
            }
        },
    }
    for path, operations in [*extra_paths().items(), *(app_paths or {}).items()]:
        paths.setdefault(path, {}).update(copy.deepcopy(operations))
    envelope_fields = {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "source": {"type": "string"},
        "client_ref": {"type": ["string", "null"]},
        "correlation_id": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "channel": {"type": "string"},
        "status": {"type": "string", "enum": list(MESSAGE_STATUSES)},
        "updated_at": {"type": "string", "format": "date-time"},
    }
    schemas: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["path", "message"],
                        "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
        "Acceptance": {
            "type": "object",
            "required": ["id", "status", "deliveries"],
            "properties": {
                "id": {"type": "string"},
                "status": {"const": "accepted"},
                "correlation_id": {"type": ["string", "null"]},
                "deliveries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "destination": {"type": "string"}},
                    },
                },
                "warnings": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Attempt": {
            "type": "object",
            "properties": {
                "number": {"type": "integer"},
                "started_at": {"type": "string", "format": "date-time"},
                "finished_at": {"type": "string", "format": "date-time"},
                "duration_ms": {"type": "integer"},
                "outcome": {"type": "string", "enum": ["delivered", "retry", "dead"]},
                "status_code": {"type": ["integer", "null"]},
                "error": {"type": ["string", "null"]},
            },
        },
        "Delivery": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "message_id": {"type": "string"},
                "destination": {"type": "string"},
                "route": {"type": ["string", "null"]},
                "status": {"type": "string", "enum": list(DELIVERY_STATUSES)},
                "attempts": {"type": "integer"},
                "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
                "last_error": {"type": ["string", "null"]},
                "delivered_at": {"type": ["string", "null"], "format": "date-time"},
                "replay_id": {
                    "type": "string",
                    "description": "Only on a replay's delivery: the replay that made it.",
                },
                "replay_of": {
                    "type": ["string", "null"],
                    "description": "The delivery of this message to this destination it"
                    " sends again, if the destination had one.",
                },
                "history": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
            },
        },
        "Message": {
            "type": "object",
            "properties": {
                **envelope_fields,
                "payload": {"type": "object"},
                "headers": {"type": "object"},
                "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
            },
        },
        "MessageSummary": {"type": "object", "properties": envelope_fields},
        "MessagePage": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/MessageSummary"},
                },
                "next": {"type": ["string", "null"]},
            },
        },
        "DeliveryPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
                "next": {"type": ["string", "null"]},
            },
        },
        "ReplayOneRequest": copy.deepcopy(REPLAY_ONE_SCHEMA),
        "ReplayRequest": copy.deepcopy(REPLAY_SCHEMA),
        **message_components(registry, REQUEST_SCHEMA),
        **copy.deepcopy(extra_schemas()),
    }
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "GovHub API",
            "version": __version__,
            "description": "The integration hub of the city's Internet + government services.",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}, {"signedRequest": []}],
        "paths": copy.deepcopy(paths),  # the pass below must not touch shared pieces
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`govhub clients add` prints a key.",
                },
                "signedRequest": {
                    "type": "http",
                    "scheme": "HMAC-SM3",
                    "description": "A signed request instead of a bearer key:"
                    " `HMAC-SM3 client=<name>,ts=<unix s>,nonce=<16-64 chars>,sig=<hex>`"
                    " (or `HMAC-SHA256`), the HMAC with the API key over"
                    " `METHOD\\npath[?query]\\nts\\nnonce\\nhex hash of the body`."
                    " A timestamp more than 300 s off, or a nonce used before, is refused.",
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`[ops] metrics_token`, for `/metrics` only.",
                },
            },
            "schemas": schemas,
        },
    }
    _rate_limited(document)
    no_nul_in_requests(document)
    return document


_RATE_LIMITED = {
    **_problem(
        "Too many requests: over the client's rate (`[limits]`), or too many failed"
        " authentications from this address. Wait `Retry-After` seconds."
    ),
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def _rate_limited(document: dict[str, Any]) -> None:
    """Every operation that authenticates can also answer 429 (``faces.http.limits``)."""
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "401" in operation.get("responses", {}):
                operation["responses"].setdefault("429", copy.deepcopy(_RATE_LIMITED))


@blueprint.get("/api/v1/openapi.json")
def openapi() -> Response:
    """The OpenAPI document."""
    document = current_app.extensions.get(_SPEC_EXTENSION)
    if document is None:  # every face has described itself by the first request
        hub: Hub = current_app.extensions["govhub"]
        document = build_spec(hub.schemas, current_app.extensions.get(APP_PATHS))
        current_app.extensions[_SPEC_EXTENSION] = document
    return jsonify(document)
