"""Licence and identity look-ups for departments (``/api/v1/licenses``, ``/api/v1/identities``).

A department asks the hub instead of the e-license library or the identity service: the
hub checks the client's grant (``lookup:licenses`` / ``lookup:identities`` in its allow
list), states the department's reason and service item to the counterpart, audits the
look-up and masks the answer by role (see :mod:`hub.pipeline.lookups`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from adapters.sdk.lookups import StatedUse
from faces.http.auth import require_client
from faces.http.context import bad_parameter, current_hub
from faces.http.openapi import add_paths, json_content, problem_content
from faces.http.problems import Problem
from hub.core.errors import FieldError
from hub.core.identifiers import IdentifierError
from hub.pipeline.lookups import LookupRefused, LookupUnavailable
from hub.runtime import Hub

__all__ = ["blueprint", "install"]

blueprint = Blueprint("lookups", __name__, url_prefix="/api/v1")

_CODE_TYPES = ("111", "001")


def install(app: Flask, hub: Hub) -> None:
    """Add the look-up API."""
    app.register_blueprint(blueprint)


def _optional(name: str, limit: int) -> str | None:
    value = request.args.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        raise bad_parameter(name, f"must be at most {limit} characters")
    return value.strip()


def _required(name: str, limit: int) -> str:
    value = _optional(name, limit)
    if value is None:
        raise bad_parameter(name, "is required")
    return value


def _use() -> StatedUse:
    reason = _required("reason", 200)
    item_code = _required("item_code", 64)
    try:
        return StatedUse(reason=reason, item_code=item_code)
    except ValueError as error:
        raise bad_parameter("item_code", str(error)) from None


def _code_type(name: str, code: str) -> str:
    value = request.args.get(name)
    if value is None:
        return "111" if len(code) == 18 and code[:17].isdigit() else "001"
    if value not in _CODE_TYPES:
        raise bad_parameter(name, "must be 111 (resident ID) or 001 (USCC)")
    return value


def _answer(call: Any, field: str) -> Any:
    try:
        return call()
    except IdentifierError as error:
        raise Problem(
            422,
            "identifier-check",
            "Identifier check failed",
            f"{field} fails its check",
            errors=[FieldError(field, str(error))],
        ) from None
    except LookupRefused as error:
        raise Problem(403, "forbidden", "Forbidden", str(error)) from None
    except LookupUnavailable as error:
        headers = {"Retry-After": str(int(error.retry_after))} if error.retry_after else None
        raise Problem(
            503, "unavailable", "Service unavailable", str(error), headers=headers
        ) from None


@blueprint.get("/licenses")
def find_licences() -> Response:
    """The licences the e-license library holds for a holder."""
    hub = current_hub()
    client = require_client(hub.store)
    holder = _required("holder", 18)
    code_type = _code_type("holder_type", holder)
    type_code = _optional("type_code", 21)
    use = _use()
    items = _answer(
        lambda: hub.lookups.licences(client, holder, code_type, use, type_code=type_code),
        "holder",
    )
    return jsonify({"items": items})


@blueprint.get("/identities")
def find_identity() -> Response:
    """The verified identity (person or legal person) under an identifier."""
    hub = current_hub()
    client = require_client(hub.store)
    code = _required("code", 18)
    code_type = _code_type("code_type", code)
    use = _use()
    found = _answer(lambda: hub.lookups.identity_of(client, code, code_type, use), "code")
    if found is None:
        raise Problem(404, "not-found", "Not found", "the identity service has nobody under it")
    return jsonify(found)


# --------------------------------------------------------------------------- OpenAPI


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> Any:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


_TEXT = {"type": "string", "minLength": 1}
_USE = [
    _query("reason", "Why (the counterpart audits it).", {**_TEXT, "maxLength": 200}, True),
    _query(
        "item_code",
        "The service item the look-up serves (事项实施编码).",
        {**_TEXT, "maxLength": 64, "pattern": "^[0-9A-Za-z-]+$"},
        True,
    ),
]
_ERRORS = {
    "400": problem_content("A query parameter is missing or malformed."),
    "401": problem_content("Missing, unknown or revoked API key."),
    "403": problem_content("The client has no lookup grant (lookup:licenses, lookup:identities)."),
    "422": problem_content("The identifier fails its check."),
    "503": problem_content("The counterpart cannot answer now, or none is configured."),
}
_CODE = {"type": "string", "minLength": 18, "maxLength": 18, "pattern": "^[0-9A-Z]{17}[0-9A-Z]$"}
_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/licenses": {
        "get": {
            "summary": "Look up a holder's licences in the e-license library",
            "description": "Needs `lookup:licenses` in the client's allow list; audited;"
            " an operator sees holder codes masked and no licence surface.",
            "operationId": "findLicences",
            "tags": ["lookups"],
            "parameters": [
                _query("holder", "Resident ID or USCC of the holder.", _CODE, True),
                _query("holder_type", "111 resident ID, 001 USCC.", {"enum": list(_CODE_TYPES)}),
                _query(
                    "type_code",
                    "Only licences of this type (证照类型代码).",
                    {**_TEXT, "maxLength": 21, "pattern": "^[0-9A-Z]+$"},
                ),
                *_USE,
            ],
            "responses": {"200": json_content("LicencePage", "The licences."), **_ERRORS},
        }
    },
    "/api/v1/identities": {
        "get": {
            "summary": "Look up a verified identity at the unified identity service",
            "description": "Needs `lookup:identities` in the client's allow list; audited;"
            " an operator sees the code masked.",
            "operationId": "findIdentity",
            "tags": ["lookups"],
            "parameters": [
                _query("code", "Resident ID or USCC.", _CODE, True),
                _query("code_type", "111 resident ID, 001 USCC.", {"enum": list(_CODE_TYPES)}),
                *_USE,
            ],
            "responses": {
                "200": json_content("Identity", "The identity."),
                **_ERRORS,
                "404": problem_content("Nobody under this identifier."),
            },
        }
    },
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "Licence": {
        "type": "object",
        "required": ["license_id", "status"],
        "properties": {
            "license_id": {"type": "string"},
            "name": {"type": "string"},
            "type_code": {"type": "string"},
            "number": {"type": "string"},
            "issuer": {"type": "object"},
            "issued_on": {"type": "string"},
            "holder": {"type": "object"},
            "valid_from": {"type": "string"},
            "valid_until": {"type": "string"},
            "area_code": {"type": "string"},
            "surface": {"type": "object"},
            "status": {"type": "string", "enum": ["valid", "revoked"]},
        },
    },
    "LicencePage": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Licence"}}
        },
    },
    "Identity": {
        "type": "object",
        "required": ["code", "code_type", "name", "kind", "level_of_assurance"],
        "properties": {
            "code": {"type": "string"},
            "code_type": {"type": "string", "enum": list(_CODE_TYPES)},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["person", "legal_person"]},
            "level_of_assurance": {"type": "integer", "minimum": 0, "maximum": 4},
            "legal_representative": {"type": "string"},
        },
    },
}

add_paths(_PATHS, _SCHEMAS)
