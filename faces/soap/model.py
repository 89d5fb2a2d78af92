"""The canonical model as shapes: what a JSON Schema says a message looks like.

XML and JSON are two views of one model. This module reads each message type's JSON
Schema (following ``$ref`` and merging ``allOf``) into a small tree of shapes; the XSD
generator writes the shapes as XML Schema, and the mapping converts documents between
XML and JSON by walking the same shapes. Nothing is written per message type.

What XSD 1.0 cannot say (``if``/``then`` conditions, identifier check digits) stays with
the JSON Schema, which the ingest pipeline always applies after the XSD: the XSD is the
same shape, at most looser, never stricter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from hub.schemas import SchemaRegistry

if TYPE_CHECKING:
    from referencing import Registry
    from referencing._core import Resolver

__all__ = [
    "AnyJson",
    "Array",
    "Field",
    "MessageModel",
    "ModelError",
    "Object",
    "Scalar",
    "Shape",
    "Union",
    "build_models",
    "camel",
]

#: Named types of the service schema; a message element must not produce one of these.
SERVICE_TYPES = frozenset(
    {
        "AcceptanceType",
        "AttemptType",
        "ClientRefType",
        "DeliveryRefType",
        "DeliveryStatusType",
        "FieldErrorType",
        "MessageTypeType",
        "PayloadType",
    }
)
_NOT_MERGED = frozenset(
    {"properties", "required", "allOf", "$ref", "if", "then", "else", "$defs", "$id", "$schema"}
    | {"title", "description", "$comment"}
)
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class ModelError(ValueError):
    """A schema uses something the SOAP mapping cannot carry; names the schema and place."""


@dataclass(eq=False)
class Scalar:
    """A string, integer, number or boolean, with its facets.

    Attributes:
        kind: ``string``, ``integer``, ``number`` or ``boolean``.
        format: The JSON Schema ``format``, if any (``date-time``, ``date``, ``cn-uscc``...).
        enum: The allowed values (``enum`` or ``const``).
        pattern: A JSON Schema (ECMA-262) regular expression.
        min_length: ``minLength``.
        max_length: ``maxLength``.
        minimum: ``minimum``.
        maximum: ``maximum``.
        exclusive_minimum: ``exclusiveMinimum``.
        exclusive_maximum: ``exclusiveMaximum``.
    """

    kind: str
    format: str | None = None
    enum: tuple[Any, ...] = ()
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | int | None = None
    maximum: float | int | None = None
    exclusive_minimum: float | int | None = None
    exclusive_maximum: float | int | None = None
    description: str | None = None
    type_name: str | None = None
    home: str | None = None


@dataclass(eq=False)
class Union:
    """One of several scalar forms, e.g. a date or the text ``长期``."""

    members: tuple[Scalar, ...]
    description: str | None = None
    type_name: str | None = None
    home: str | None = None


@dataclass(eq=False)
class AnyJson:
    """A value the schema leaves open: carried in XML as JSON text."""

    description: str | None = None
    type_name: str | None = None
    home: str | None = None


@dataclass(eq=False)
class Array:
    """A list: repeated elements in XML."""

    item: Shape
    min_items: int = 0
    max_items: int | None = None
    description: str | None = None
    type_name: str | None = None
    home: str | None = None


@dataclass(eq=False)
class Field:
    """One property of an object: an element of the same name in XML."""

    name: str
    shape: Shape
    required: bool


@dataclass(eq=False)
class Object:
    """An object with named properties; ``entries`` is the value shape of a map."""

    fields: list[Field] = field(default_factory=list)
    entries: Shape | None = None
    description: str | None = None
    type_name: str | None = None
    home: str | None = None

    def field(self, name: str) -> Field | None:
        """The property called ``name``."""
        index: dict[str, Field] | None = self.__dict__.get("_index")
        if index is None or len(index) != len(self.fields):  # built once, after the model is
            index = self.__dict__["_index"] = {item.name: item for item in self.fields}
        return index.get(name)


Shape = Scalar | Union | AnyJson | Array | Object


@dataclass(frozen=True)
class MessageModel:
    """A canonical message type as SOAP sees it.

    Attributes:
        type: The message type (``case.submitted``).
        element: Its XML element (``CaseSubmitted``).
        operation: Its typed operation (``SubmitCase``).
        correlation: The payload field used as correlation id (``case_no``), if any.
        shape: The payload's shape.
        description: The schema's title and description.
    """

    type: str
    element: str
    operation: str
    correlation: str | None
    shape: Object
    description: str


def camel(text: str) -> str:
    """``case.status_changed`` → ``CaseStatusChanged``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-\s]+", text) if part)


def soap_names(message_type: str, schema: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """The element, operation and correlation field of a type.

    Read from the schema's ``x-soap`` annotation, e.g.
    ``{"operation": "SubmitCase", "element": "CaseSubmitted"}``; by default the element
    is the camel-cased type and the operation ``Submit`` + element; the correlation field
    is ``case_no`` when the payload has one.

    Raises:
        ModelError: The annotation is malformed.
    """
    annotation = schema.get("x-soap", {})
    if not isinstance(annotation, Mapping):
        raise ModelError(f"{message_type}: x-soap must be an object")
    unknown = sorted(set(annotation) - {"operation", "element", "correlation"})
    if unknown:
        raise ModelError(f"{message_type}: x-soap.{unknown[0]} is not a known key")
    element = annotation.get("element") or camel(message_type)
    operation = annotation.get("operation") or f"Submit{element}"
    properties = schema.get("properties", {})
    correlation = annotation.get("correlation", "case_no" if "case_no" in properties else None)
    for key, value in (("element", element), ("operation", operation)):
        if not isinstance(value, str) or not _NCNAME.match(value) or "." in value:
            raise ModelError(f"{message_type}: x-soap.{key} must be an XML name")
    if correlation is not None and correlation not in properties:
        raise ModelError(f"{message_type}: x-soap.correlation names no property")
    return element, operation, correlation


def build_models(
    schemas: SchemaRegistry, *, on_error: Callable[[str, ModelError], None] | None = None
) -> list[MessageModel]:
    """The model of every canonical type, sorted by type.

    Args:
        schemas: The canonical types.
        on_error: Called for a type that cannot be mapped, which is then left out
            (it stays reachable through ``SubmitMessage`` with a JSON payload); without
            it, the error is raised.

    Raises:
        ModelError: A schema cannot be mapped, or two types claim one name.
    """
    builder = _Builder(schemas.registry)
    models: list[MessageModel] = []
    for message_type in schemas.types:
        try:
            models.append(_model(builder, schemas, message_type, models))
        except ModelError as error:
            if on_error is None:
                raise
            on_error(message_type, error)
    return models


def _model(
    builder: _Builder, schemas: SchemaRegistry, message_type: str, earlier: list[MessageModel]
) -> MessageModel:
    schema = schemas.schema(message_type)
    element, operation, correlation = soap_names(message_type, schema)
    resolver = schemas.registry.resolver(base_uri=schema["$id"])
    shape = builder.shape(schema, resolver, home=message_type, where=message_type)
    if not isinstance(shape, Object) or shape.entries is not None:
        raise ModelError(f"{message_type}: a message payload must be an object with properties")
    title = schema.get("title", message_type)
    text = f"{title}: {schema['description']}" if schema.get("description") else title
    model = MessageModel(message_type, element, operation, correlation, shape, text)
    _check_unique([*earlier, model])
    return model


def _check_unique(models: list[MessageModel]) -> None:
    reserved = {"SubmitMessage", "QueryMessage", "FaultDetail", *SERVICE_TYPES}
    seen: dict[str, str] = {}
    for model in models:
        names = (
            model.element,
            f"{model.element}Type",
            model.operation,
            f"{model.operation}Response",
        )
        for name in names:
            if name in reserved or name in seen:
                other = seen.get(name, "the service itself")
                raise ModelError(f"{model.type}: the XML name {name} is used by {other} too")
            seen[name] = model.type


class _Builder:
    """Turns schema fragments into shapes, one shape per named definition."""

    def __init__(self, registry: Registry[Any]) -> None:
        self.registry = registry
        self.named: dict[str, Shape] = {}
        self.building: set[str] = set()

    def shape(self, schema: Any, resolver: Resolver[Any], *, home: str, where: str) -> Shape:
        if schema is True or schema == {}:
            return AnyJson()
        if not isinstance(schema, Mapping):
            raise ModelError(f"{where}: a schema must be an object")
        ref = schema.get("$ref")
        if ref is not None and set(schema) <= {"$ref", "description", "title", "$comment"}:
            return self._reference(ref, resolver, where=where)
        merged, resolver = self._merge(schema, resolver, where=where)
        return self._plain(merged, resolver, home=home, where=where)

    def _reference(self, ref: str, resolver: Resolver[Any], *, where: str) -> Shape:
        uri = _absolute(resolver, ref)
        if uri in self.named:
            return self.named[uri]
        if uri in self.building:
            # XSD could name the type, but the mapping walks shapes eagerly: carry a
            # recursive structure as JSON text instead.
            return AnyJson()
        resolved = resolver.lookup(ref)
        self.building.add(uri)
        try:
            home = _home_of(uri)
            shape = self.shape(resolved.contents, resolved.resolver, home=home, where=ref)
        finally:
            self.building.discard(uri)
        fragment = uri.partition("#")[2]
        named = fragment.startswith("/$defs/") and shape.type_name is None
        if named and not isinstance(shape, Array | AnyJson):
            definition = fragment.rsplit("/", 1)[-1]
            prefix = "" if home == "common" else camel(home)
            shape.type_name = f"{prefix}{camel(definition)}Type"
            shape.home = home
        self.named[uri] = shape
        return shape

    def _merge(
        self, schema: Mapping[str, Any], resolver: Resolver[Any], *, where: str
    ) -> tuple[dict[str, Any], Resolver[Any]]:
        """Fold ``$ref`` beside other keywords and ``allOf`` into one schema."""
        merged: dict[str, Any] = {
            k: v for k, v in schema.items() if k not in ("allOf", "$ref", "if", "then", "else")
        }
        parts: list[tuple[Any, Resolver[Any]]] = []
        if "$ref" in schema:
            resolved = resolver.lookup(schema["$ref"])
            parts.append((resolved.contents, resolved.resolver))
        parts.extend((part, resolver) for part in schema.get("allOf", []))
        for part, part_resolver in parts:
            if not isinstance(part, Mapping):
                continue
            if "$ref" in part or "allOf" in part:
                part, part_resolver = self._merge(part, part_resolver, where=where)
            # Only the object structure of the parts is merged: their own conditions are
            # checked by the JSON Schema.
            properties = dict(part.get("properties", {}))
            if properties:
                # Properties defined elsewhere carry their own resolver for nested $refs.
                # (A copy: the schema itself belongs to the validators.)
                target = merged["properties"] = dict(merged.get("properties", {}))
                for name, value in properties.items():
                    target.setdefault(name, _Bound(value, part_resolver))
            if part.get("required"):
                required = [*merged.get("required", []), *part["required"]]
                merged["required"] = list(dict.fromkeys(required))
            for key, value in part.items():
                if key not in merged and key not in _NOT_MERGED:
                    merged[key] = value
        return merged, resolver

    def _plain(
        self, schema: Mapping[str, Any], resolver: Resolver[Any], *, home: str, where: str
    ) -> Shape:
        description = schema.get("description")
        kinds = _kinds(schema)
        if kinds == {"object"}:
            return self._object(schema, resolver, home=home, where=where)
        if kinds == {"array"}:
            items = schema.get("items", True)
            item = self._child(items, resolver, home=home, where=f"{where}[]")
            if isinstance(item, Array):
                item = AnyJson(description="A list, as JSON text (XML has no list of lists).")
            return Array(
                item=item,
                min_items=int(schema.get("minItems", 0)),
                max_items=schema.get("maxItems"),
                description=description,
            )
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                return self._union(schema[keyword], resolver, home=home, where=where)
        if len(kinds) == 1:
            (kind,) = kinds
            if kind in ("string", "integer", "number", "boolean"):
                return _scalar(kind, schema)
        return AnyJson(description=description)

    def _child(self, schema: Any, resolver: Resolver[Any], *, home: str, where: str) -> Shape:
        if isinstance(schema, _Bound):
            return self.shape(schema.schema, schema.resolver, home=home, where=where)
        return self.shape(schema, resolver, home=home, where=where)

    def _object(
        self, schema: Mapping[str, Any], resolver: Resolver[Any], *, home: str, where: str
    ) -> Object:
        required = set(schema.get("required", []))
        fields = []
        for name, value in schema.get("properties", {}).items():
            if not _NCNAME.match(name) or "." in name:
                raise ModelError(f"{where}.{name}: a property name must be an XML name")
            shape = self._child(value, resolver, home=home, where=f"{where}.{name}")
            fields.append(Field(name, shape, name in required))
        entries: Shape | None = None
        extra = schema.get("additionalProperties", True)
        if not fields and extra is not False:
            entries = self._child(extra, resolver, home=home, where=f"{where}.*")
        return Object(fields=fields, entries=entries, description=schema.get("description"))

    def _union(
        self, branches: list[Any], resolver: Resolver[Any], *, home: str, where: str
    ) -> Shape:
        shapes = [self._child(b, resolver, home=home, where=where) for b in branches]
        if all(isinstance(s, Scalar) for s in shapes):
            return Union(members=tuple(s for s in shapes if isinstance(s, Scalar)))
        if all(isinstance(s, Object) and s.entries is None for s in shapes):
            # Alternative sets of fields: every field optional in XML, the JSON Schema
            # decides which combinations are allowed.
            merged = Object()
            for shape in shapes:
                assert isinstance(shape, Object)
                for item in shape.fields:
                    if merged.field(item.name) is None:
                        required = all(
                            isinstance(s, Object) and (f := s.field(item.name)) and f.required
                            for s in shapes
                        )
                        merged.fields.append(Field(item.name, item.shape, bool(required)))
            return merged
        return AnyJson()


@dataclass(frozen=True)
class _Bound:
    """A property schema that came from another document, with that document's resolver."""

    schema: Any
    resolver: Resolver[Any]


def _absolute(resolver: Resolver[Any], ref: str) -> str:
    """The absolute URI of a ``$ref``: its named definitions are shared, not repeated."""
    base, _, fragment = ref.partition("#")
    # referencing keeps the resolver's base URI private; it is the document's $id.
    current = str(resolver._base_uri)
    document = urljoin(current, base) if base else current
    return f"{document}#{fragment}"


def _home_of(uri: str) -> str:
    """``.../messages/case.submitted.json#...`` → ``case.submitted``; common.json → common."""
    document = uri.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return document.removesuffix(".json")


def _kinds(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {k for k in declared if k != "null"}
    if "properties" in schema or "additionalProperties" in schema:
        return {"object"}
    if "items" in schema:
        return {"array"}
    values = list(schema.get("enum", [])) + ([schema["const"]] if "const" in schema else [])
    if values:
        found = {_json_kind(v) for v in values}
        return found if len(found) == 1 else set()
    return set()


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _scalar(kind: str, schema: Mapping[str, Any]) -> Scalar:
    enum = tuple(schema.get("enum", ()))
    if "const" in schema:
        enum = (schema["const"],)
    return Scalar(
        kind=kind,
        format=schema.get("format"),
        enum=enum,
        pattern=schema.get("pattern"),
        min_length=schema.get("minLength"),
        max_length=schema.get("maxLength"),
        minimum=schema.get("minimum"),
        maximum=schema.get("maximum"),
        exclusive_minimum=schema.get("exclusiveMinimum"),
        exclusive_maximum=schema.get("exclusiveMaximum"),
        description=schema.get("description"),
    )
