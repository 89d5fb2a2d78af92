"""The canonical message schemas as OpenAPI components, so a generated client knows each payload.

``schemas/messages/<type>.json`` and the documents they share (``common.json``) are JSON
Schema 2020-12, which OpenAPI 3.1 takes as it is; only their ``$ref``\\ s point at files.
Here every document becomes components of one OpenAPI document and every ``$ref`` points
at a component:

- a message type's payload is the component named by the type (``case.completed``);
- a shared definition is ``<document>.<name>`` (``common.applicant``);
- a type's own ``$defs`` entry is ``<type>.<name>`` (``citizen_card.status_changed.card_status``).

``MessageRequest`` is then a ``oneOf`` with one variant per type
(``MessageRequest.case.completed``), told apart by ``type`` (a discriminator), each
carrying its payload's component. A type with several versions has a payload component
per later version (``case.submitted.v2``), and its variant is a ``oneOf`` of one variant
per version, told apart by ``schema_version`` (absent or 1: version 1).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import urldefrag, urljoin

from hub.schemas import SchemaRegistry

__all__ = ["message_components"]

_COMPONENT = "#/components/schemas/"
#: Keywords that name or place a document: meaningless inside a component.
_DOCUMENT_KEYWORDS = ("$schema", "$id", "$defs")


def message_components(
    schemas: SchemaRegistry, envelope: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Every payload schema, shared definition and request variant, as component schemas.

    Args:
        schemas: The registry of canonical types.
        envelope: The JSON Schema of a well-formed request whatever its type
            (``faces.rest.api.REQUEST_SCHEMA``); each variant narrows its ``type`` and
            ``payload``.

    Returns:
        Components by name, ``MessageRequest`` among them.
    """
    names: dict[str, str] = {}  # document $id -> component name prefix
    documents: dict[str, dict[str, Any]] = {}
    for uri, document in schemas.shared().items():
        names[uri] = uri.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
        documents[uri] = document
    for message_type in schemas.types:
        for version in schemas.versions(message_type):
            document = schemas.schema(message_type, version)
            names[document["$id"]] = _payload_name(message_type, version)
            documents[document["$id"]] = document

    def target(uri: str) -> str:
        base, fragment = urldefrag(uri)
        if base not in names:
            raise ValueError(f"a schema refers to {uri}, which is not a known document")
        if not fragment:
            return _COMPONENT + names[base]
        prefix = "/$defs/"
        if not fragment.startswith(prefix) or "/" in fragment[len(prefix) :]:
            raise ValueError(f"a schema refers to {uri}: only $defs entries can be referred to")
        return f"{_COMPONENT}{names[base]}.{fragment[len(prefix) :]}"

    def rewrite(node: Any, base: str) -> Any:
        if isinstance(node, dict):
            return {
                key: (
                    target(urljoin(base, value))
                    if key == "$ref" and isinstance(value, str)
                    else rewrite(value, base)
                )
                for key, value in node.items()
                if key not in _DOCUMENT_KEYWORDS
            }
        if isinstance(node, list):
            return [rewrite(item, base) for item in node]
        return node

    components: dict[str, dict[str, Any]] = {}
    for uri, document in documents.items():
        name = names[uri]
        for definition, schema in document.get("$defs", {}).items():
            components[f"{name}.{definition}"] = rewrite(schema, uri)
        if uri in schemas.shared():
            continue
        components[name] = rewrite(document, uri)

    # Headers are free-form: any JSON value, which the document spells out so that the rule
    # for its text (faces.http.openapi.no_nul_in_requests) reaches into them too.
    components["JsonValue"] = {
        "anyOf": [
            {"type": "string"},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": {"$ref": _COMPONENT + "JsonValue"}},
            {"type": "object", "additionalProperties": {"$ref": _COMPONENT + "JsonValue"}},
        ]
    }
    variants: dict[str, str] = {}
    for message_type in schemas.types:
        versions = schemas.versions(message_type)
        name = f"MessageRequest.{message_type}"
        for version in versions:
            variant = copy.deepcopy(dict(envelope))
            variant["properties"]["type"] = {"const": message_type}
            variant["properties"]["payload"] = {
                "$ref": _COMPONENT + _payload_name(message_type, version)
            }
            variant["properties"]["schema_version"] = {
                **variant["properties"].get("schema_version", {}),
                "const": version,
            }
            if version > 1:
                variant["required"] = [*variant["required"], "schema_version"]
            if "headers" in variant["properties"]:
                variant["properties"]["headers"]["additionalProperties"] = {
                    "$ref": _COMPONENT + "JsonValue"
                }
            if len(versions) == 1:
                variant["title"] = f"A {message_type} message"
                components[name] = variant
            else:
                variant["title"] = f"A {message_type} message, version {version}"
                components[f"{name}.v{version}"] = variant
        if len(versions) > 1:
            components[name] = {
                "title": f"A {message_type} message, in one of its versions",
                "oneOf": [{"$ref": f"{_COMPONENT}{name}.v{v}"} for v in versions],
            }
        variants[message_type] = _COMPONENT + name
    components["MessageRequest"] = {
        "description": "A message of one of the canonical types: `type` names the schema"
        " its `payload` must match (`schemas/messages/<type>.json`).",
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "type", "mapping": variants},
    }
    return components


def _payload_name(message_type: str, version: int) -> str:
    """``case.submitted`` for version 1, ``case.submitted.v2`` for version 2."""
    return message_type if version == 1 else f"{message_type}.v{version}"
