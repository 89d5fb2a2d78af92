"""The service-item catalogue (``/api/v1/items``): items with their guides and versions.

The catalogue is public information (every item's guide is published online), so any
authenticated client may read it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from faces.http.auth import require_client
from faces.http.context import current_hub
from faces.http.openapi import (
    add_paths,
    json_content,
    paging_parameters,
    problem_content,
    query_parameter,
)
from faces.http.problems import Problem
from faces.rest.api import choice, page_limit
from hub.runtime import Hub
from hub.store import ItemFilter
from hub.store.case_records import CASE_KINDS, ITEM_STATUSES, ITEM_TYPES, ONLINE_DEPTHS

__all__ = ["blueprint", "install"]

blueprint = Blueprint("items", __name__, url_prefix="/api/v1/items")


def install(app: Flask, hub: Hub) -> None:
    """Add the catalogue API."""
    app.register_blueprint(blueprint)


@blueprint.get("")
def list_items() -> Response:
    """Items by code, filtered, a page at a time."""
    hub = current_hub()
    require_client(hub.store)
    args = request.args
    where = ItemFilter(
        department=args.get("department", "")[:18],
        item_type=choice("type", tuple(ITEM_TYPES)) or "",
        case_kind=choice("kind", tuple(CASE_KINDS)) or "",
        online_depth=choice("depth", ONLINE_DEPTHS) or "",
        status=choice("status", ITEM_STATUSES) or "",
        text=args.get("q", "")[:100],
    )
    page = hub.store.items.search(where, after=args.get("after") or None, limit=page_limit())
    return jsonify({"items": [view.to_json() for view in page.items], "next": page.next})


@blueprint.get("/<code>")
def get_item(code: str) -> Response:
    """One item with every version the hub has seen, newest first."""
    hub = current_hub()
    require_client(hub.store)
    view = hub.store.items.get(code)
    if view is None:
        raise Problem(404, "not-found", "Not found", "no item has this code in the catalogue")
    document = view.to_json()
    document["versions"] = [version.to_json() for version in hub.store.items.versions(code)]
    return jsonify(document)


# --------------------------------------------------------------------------- OpenAPI

_ERRORS = {"401": problem_content("Missing, unknown or revoked API key.")}
_ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "实施编码."},
        "name": {"type": "string"},
        "department": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
        },
        "item_type": {"type": "string", "enum": list(ITEM_TYPES)},
        "item_type_name": {"type": "string"},
        "case_kind": {"type": "string", "enum": list(CASE_KINDS)},
        "case_kind_name": {"type": "string"},
        "legal_limit_days": {"type": ["integer", "null"]},
        "committed_limit_days": {"type": "integer"},
        "materials": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "required": {"type": "boolean"}},
            },
        },
        "online_depth": {"type": "string", "enum": list(ONLINE_DEPTHS)},
        "area_code": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": list(ITEM_STATUSES)},
        "version": {"type": "integer", "description": "The hub's version of the item."},
        "hall_version": {"type": ["integer", "null"]},
        "hall_updated_at": {"type": ["string", "null"], "format": "date-time"},
        "source": {"type": "string"},
        "synced_at": {"type": "string", "format": "date-time"},
        "versions": {
            "type": "array",
            "description": "Only on one item: every version, newest first.",
            "items": {
                "type": "object",
                "properties": {
                    "version": {"type": "integer"},
                    "recorded_at": {"type": "string", "format": "date-time"},
                    "hall_version": {"type": ["integer", "null"]},
                    "hall_updated_at": {"type": ["string", "null"], "format": "date-time"},
                    "run_id": {"type": ["string", "null"]},
                    "item": {"type": "object"},
                },
            },
        },
    },
}


_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/items": {
        "get": {
            "summary": "List the service-item catalogue",
            "description": "Items (事项) as the provincial hall publishes them, by code;"
            " synced by the `hall.sync_items` job.",
            "operationId": "listItems",
            "tags": ["items"],
            "parameters": [
                query_parameter(
                    "department", "The implementing body's code (USCC).", {"type": "string"}
                ),
                query_parameter("type", "事项类型.", {"type": "string", "enum": list(ITEM_TYPES)}),
                query_parameter(
                    "kind", "1 immediate, 2 committed.", {"type": "string", "enum": ["1", "2"]}
                ),
                query_parameter(
                    "depth", "Online depth.", {"type": "string", "enum": list(ONLINE_DEPTHS)}
                ),
                query_parameter(
                    "status",
                    "In force or withdrawn.",
                    {"type": "string", "enum": list(ITEM_STATUSES)},
                ),
                query_parameter("q", "The start of the name or the code.", {"type": "string"}),
                *paging_parameters(),
            ],
            "responses": {
                "200": json_content("ItemPage", "Items."),
                "400": problem_content("A query parameter is malformed."),
                **_ERRORS,
            },
        }
    },
    "/api/v1/items/{code}": {
        "get": {
            "summary": "Show one item and its versions",
            "operationId": "getItem",
            "tags": ["items"],
            "parameters": [
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": json_content("Item", "The item."),
                **_ERRORS,
                "404": problem_content("No item has this code."),
            },
        }
    },
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "Item": _ITEM,
    "ItemPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "next": {"type": ["string", "null"]},
        },
    },
}

add_paths(_PATHS, _SCHEMAS)
