"""Pieces of the OpenAPI document that every HTTP face adds to (REST, SOAP, metrics).

Each face describes its paths with :func:`add_paths` when it is installed on the app;
paths only one app mounts (an adapter's inbound endpoints) go under
``app.extensions[APP_PATHS]``. The document itself is built by :mod:`faces.rest.openapi`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APP_PATHS",
    "add_paths",
    "body_problems",
    "extra_paths",
    "extra_schemas",
    "json_content",
    "no_nul_in_requests",
    "paging_parameters",
    "problem_content",
    "query_parameter",
]

#: ``app.extensions`` key of the paths only this app mounts.
APP_PATHS = "govhub_openapi_paths"

_EXTRA_PATHS: dict[str, dict[str, Any]] = {}
_EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {}


def add_paths(
    paths: dict[str, dict[str, Any]], schemas: dict[str, dict[str, Any]] | None = None
) -> None:
    """Describe more paths (and component schemas) that every hub serves."""
    for path, operations in paths.items():
        _EXTRA_PATHS.setdefault(path, {}).update(operations)
    _EXTRA_SCHEMAS.update(schemas or {})


def extra_paths() -> dict[str, dict[str, Any]]:
    """What :func:`add_paths` described so far."""
    return _EXTRA_PATHS


def extra_schemas() -> dict[str, dict[str, Any]]:
    """The component schemas :func:`add_paths` brought."""
    return _EXTRA_SCHEMAS


def problem_content(description: str) -> dict[str, Any]:
    """A response that is a problem document."""
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def json_content(schema_ref: str, description: str) -> dict[str, Any]:
    """A JSON response of the component schema ``schema_ref``."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


def body_problems(invalid: str = "Fields missing, unknown or of the wrong kind.") -> dict[str, Any]:
    """The refusals every operation that reads a JSON body can answer, by status.

    Args:
        invalid: What the 422 means for this operation.
    """
    return {
        "400": problem_content("The body is not JSON, or not a JSON object."),
        "413": problem_content("The body is over the size cap."),
        "415": problem_content("The body is not application/json."),
        "422": problem_content(invalid + " See `errors[].path`."),
    }


def query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter of an operation."""
    return {"name": name, "in": "query", "description": description, "schema": schema}


def paging_parameters(maximum: int = 200) -> list[dict[str, Any]]:
    """``limit`` and ``after``: keyset pagination, as every list of the API pages."""
    return [
        query_parameter(
            "limit",
            "Page size.",
            {"type": "integer", "minimum": 1, "maximum": maximum, "default": 50},
        ),
        query_parameter("after", "The `next` of the previous page.", {"type": "string"}),
    ]


#: What the hub stores must be storable on PostgreSQL, whose text cannot hold U+0000.
NO_NUL = "^[^\\u0000]*$"
_COMPONENT = "#/components/schemas/"


def no_nul_in_requests(document: dict[str, Any]) -> None:
    """Say in ``document`` what the hub refuses of every request: text holding U+0000.

    Every string a request can carry (parameters, and the request bodies with every
    component they refer to) that has no ``pattern``, ``enum`` or ``const`` of its own gets
    the pattern :data:`NO_NUL`; free-form objects get it for their keys. The hub refuses
    such text itself (``hub.pipeline.ingest``; ``faces.app`` for URLs).
    """
    components = document.get("components", {}).get("schemas", {})
    roots: list[Any] = []
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            roots += [parameter.get("schema", {}) for parameter in operation.get("parameters", ())]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                roots.append(media.get("schema", {}))
    seen: set[str] = set()
    pending = roots
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending += node
            continue
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMPONENT):
            name = ref.removeprefix(_COMPONENT)
            if name not in seen and name in components:
                seen.add(name)
                pending.append(components[name])
        kinds = node.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "string" in kinds and not {"pattern", "enum", "const"} & node.keys():
            node["pattern"] = NO_NUL
        if (
            "object" in kinds
            and "propertyNames" not in node
            and node.get("additionalProperties", True) is not False
        ):
            node["propertyNames"] = {"pattern": NO_NUL}
        pending += [value for key, value in node.items() if key != "$ref"]
