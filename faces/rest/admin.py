"""The admin API (``/api/v1/admin``): reload routes and destinations (operators)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from jsonschema import Draft202012Validator

from faces.http.auth import require_operator
from faces.http.openapi import add_paths, body_problems, problem_content
from faces.http.problems import Problem
from hub.config import ConfigError
from hub.core.errors import FieldError
from hub.reloads import reload_configuration
from hub.runtime import Hub
from hub.schemas import describe_errors
from hub.store import GenerationConflict

__all__ = ["blueprint", "install"]

blueprint = Blueprint("admin", __name__, url_prefix="/api/v1/admin")

RELOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "check": {
            "type": "boolean",
            "description": "Only check the file; record and apply nothing.",
        },
        "wait_s": {
            "type": "number",
            "minimum": 0,
            "maximum": 60,
            "description": "Seconds to wait for every running process to apply it (default 10).",
        },
    },
}
_VALIDATOR = Draft202012Validator(RELOAD_SCHEMA)


def install(app: Flask, hub: Hub) -> None:
    """Add the admin API."""
    app.register_blueprint(blueprint)


@blueprint.post("/reload")
def reload() -> Response:
    """Read the hub's configuration file again and apply its routes and destinations."""
    from faces.rest.api import read_json_body

    hub: Hub = current_app.extensions["govhub"]
    client = require_operator(hub.store)
    document = read_json_body(required=False)
    if not isinstance(document, dict):
        raise Problem(400, "malformed", "Malformed request", "the body must be a JSON object")
    errors = [
        FieldError(path, message)
        for error in _VALIDATOR.iter_errors(document)
        for path, message in describe_errors(error)
    ]
    if errors:
        raise Problem(422, "invalid-request", "Invalid request", "unexpected fields", errors=errors)
    if hub.config.path is None:
        raise Problem(
            409,
            "no-config-file",
            "Nothing to reload",
            "this hub runs on the built-in defaults, without a configuration file",
        )
    try:
        result = reload_configuration(
            hub.config.path,
            hub.store,
            hub.schemas,
            actor=client.name,
            via="api",
            wait_s=float(document.get("wait_s", 10)),
            check_only=bool(document.get("check", False)),
        )
    except ConfigError as error:
        # the request is fine; the file on the server is not: a conflict with its state
        raise Problem(
            409,
            "config-refused",
            "Configuration refused",
            f"{error}; nothing was changed: every process runs the routes it had",
            errors=[FieldError(error.key or "(file)", f"{error.file}: {error.reason}")],
        ) from None
    except GenerationConflict as error:
        raise Problem(409, "reload-conflict", "Reloaded meanwhile", f"{error}") from None
    return jsonify(result.to_json())


_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/admin/reload": {
        "post": {
            "summary": "Reload routes and destinations",
            "description": "Reads the hub's configuration file again, checks its"
            " `[[destinations]]` and `[[routes]]` whole (adapters, settings, routes against"
            " what each destination accepts) and, if they hold, records them as the next"
            " generation (audited `config.reload`) that every process of every node applies"
            " without a restart. Waits (`wait_s`) until every running process runs it."
            " Refused whole (409 `config-refused`), changing nothing, when anything in the file"
            " is wrong: `errors[].path` names the key, the detail the file. Operators only.",
            "operationId": "reloadConfiguration",
            "tags": ["admin"],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ReloadRequest"}}
                },
            },
            "responses": {
                "200": {
                    "description": "Checked, and (unless nothing changed or `check`) applied.",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ReloadResult"}
                        }
                    },
                },
                **body_problems("Unexpected fields in the body."),
                "401": problem_content("Missing, unknown or revoked API key."),
                "403": problem_content("The client does not have the operator role."),
                "409": problem_content(
                    "The configuration file is refused (`config-refused`: `errors[].path` names"
                    " the key), there is none, or another reload was recorded at the same moment."
                ),
            },
        }
    }
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "ReloadRequest": RELOAD_SCHEMA,
    "ReloadResult": {
        "type": "object",
        "properties": {
            "file": {"type": ["string", "null"]},
            "previous": {"type": "integer", "description": "The generation it follows."},
            "generation": {"type": "integer", "description": "The generation that runs now."},
            "recorded": {"type": "boolean"},
            "sha256": {"type": "string"},
            "changes": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "summary": {"type": "string"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "rollout": {
                "type": ["object", "null"],
                "properties": {
                    "generation": {"type": "integer"},
                    "complete": {"type": "boolean"},
                    "applied": {"type": "array", "items": {"type": "object"}},
                    "waiting": {"type": "array", "items": {"type": "object"}},
                    "failed": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}
add_paths(_PATHS, _SCHEMAS)
