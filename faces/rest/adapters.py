"""``/api/v1/adapters``: the configured destinations, how they are doing, and checks on demand.

Operators only: the list names every counterpart, its circuit, its last delivery id and
error and its settings (secrets redacted), which is more than a department needs to see of
the others; a department follows its own messages instead (``GET /api/v1/messages/{id}``
shows each delivery and attempt). Only operators may run a check (it calls the counterpart).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from faces.http.auth import require_operator
from faces.http.context import current_hub
from faces.http.openapi import add_paths
from faces.http.problems import Problem
from hub.status import destination_overview, run_check

__all__ = ["blueprint"]

blueprint = Blueprint("adapters", __name__, url_prefix="/api/v1")


@blueprint.get("/adapters")
def list_adapters() -> Response:
    """Every configured destination with its health, circuit, in-flight and backlog."""
    hub = current_hub()
    require_operator(hub.store)
    return jsonify(
        {"items": destination_overview(hub, with_settings=True), "dispatching": hub.dispatching}
    )


@blueprint.post("/adapters/<name>/check")
def check_adapter(name: str) -> Response:
    """Run the destination's ``check()`` now and record the outcome (operators only)."""
    hub = current_hub()
    client = require_operator(hub.store)
    adapter = hub.adapters.get(name)
    if adapter is None:
        raise Problem(404, "not-found", "Not found", f"no destination called {name!r}")
    result = run_check(name, adapter)
    hub.store.checks.record(result, actor=client.name)
    hub.store.audit.record(client.name, "adapter.check", name, {"ok": result.ok})
    return jsonify(result.to_json())


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
add_paths(
    {
        "/api/v1/adapters": {
            "get": {
                "summary": "Configured destinations: health, circuit state, in flight, backlog"
                " (operator)",
                "description": (
                    "Operators only. Each destination with its settings, secrets redacted."
                    " `circuit` and `in_flight` are `null` on a node that does not deliver"
                    " (`govhub serve`)."
                ),
                "operationId": "listAdapters",
                "tags": ["adapters"],
                "responses": {
                    "200": {
                        "description": "The destinations, in configuration order.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/AdapterList"}
                            }
                        },
                    },
                    "401": _problem("Missing, unknown or revoked API key."),
                    "403": _problem("Needs the operator role."),
                },
            }
        },
        "/api/v1/adapters/{name}/check": {
            "post": {
                "summary": "Check a destination now: reach and authenticate (operator)",
                "operationId": "checkAdapter",
                "tags": ["adapters"],
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "The outcome (also when the check failed: see `ok`).",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CheckResult"}
                            }
                        },
                    },
                    "401": _problem("Missing, unknown or revoked API key."),
                    "403": _problem("Needs the operator role."),
                    "404": _problem("No such destination."),
                },
            }
        },
    },
    {
        "CheckResult": {
            "type": "object",
            "properties": {
                "destination": {"type": "string"},
                "adapter": {"type": "string"},
                "ok": {"type": "boolean"},
                "at": {"type": "string", "format": "date-time"},
                "duration_ms": {"type": "integer"},
                "error_kind": {
                    "type": ["string", "null"],
                    "enum": ["configuration", "retriable", "rejected", "internal", None],
                },
                "error": {"type": ["string", "null"]},
            },
        },
        "AdapterList": {
            "type": "object",
            "properties": {
                "dispatching": {"type": "boolean"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "adapter", "health", "backlog"],
                        "properties": {
                            "name": {"type": "string"},
                            "adapter": {"type": "string"},
                            "version": {"type": "string"},
                            "accepts": {"type": "array", "items": {"type": "string"}},
                            "produces": {"type": "array", "items": {"type": "string"}},
                            "health": {
                                "type": "string",
                                "enum": ["ok", "degraded", "down", "unknown"],
                                "description": (
                                    "down: circuit open; degraded: the latest check or"
                                    " delivery failed; ok: it succeeded."
                                ),
                            },
                            "last_check": {
                                "type": ["object", "null"],
                                "properties": {
                                    "at": {"type": "string", "format": "date-time"},
                                    "ok": {"type": "boolean"},
                                    "error_kind": {"type": ["string", "null"]},
                                    "error": {"type": ["string", "null"]},
                                    "duration_ms": {"type": "integer"},
                                    "by": {"type": "string"},
                                },
                            },
                            "last_delivery": {
                                "type": ["object", "null"],
                                "properties": {
                                    "delivery_id": {"type": "string"},
                                    "at": _NULLABLE_TIME,
                                    "outcome": {
                                        "type": "string",
                                        "enum": ["delivered", "retry", "dead"],
                                    },
                                    "status_code": {"type": ["integer", "null"]},
                                    "error": {"type": ["string", "null"]},
                                },
                            },
                            "circuit": {
                                "type": ["object", "null"],
                                "properties": {
                                    "state": {
                                        "type": "string",
                                        "enum": ["closed", "open", "half_open"],
                                    },
                                    "consecutive_failures": {"type": "integer"},
                                    "retry_in_s": {"type": ["number", "null"]},
                                    "last_error": {"type": ["string", "null"]},
                                },
                            },
                            "in_flight": {"type": ["integer", "null"]},
                            "backlog": {
                                "type": "integer",
                                "description": "Deliveries pending or in flight.",
                            },
                            "settings": {
                                "type": "object",
                                "description": "writeOnly settings are ***.",
                            },
                        },
                    },
                },
            },
        },
    },
)
