"""XML Schema (as a WSDL's ``types`` carry it) mapped onto JSON Schema 2020-12.

The mapping follows what zeep hands an adapter and takes from it, so a JSON document valid
against the schema is what the adapter's typed method returns (zeep's answer as plain
values) and what it may pass:

- a complex type is an object: ``sequence`` and ``all`` children are properties, required
  when ``minOccurs`` is at least 1 (and the element is not nillable); a ``choice`` makes its
  options optional and, when it is required, says "one of them" (``oneOf`` of
  ``required``); attributes are properties too; extension merges the base's properties;
  simple content is the text under ``_value_1`` (zeep's name) beside the attributes;
- ``maxOccurs`` above 1 makes an array (``minItems``/``maxItems`` from the occurs);
- named types go to ``$defs`` (so recursion and reuse stay finite), anonymous ones inline;
- built-in simple types map onto JSON types and formats (``xs:date`` a string of format
  ``date``, ``xs:int`` an integer between its bounds, ``xs:decimal`` a number...), and a
  restriction adds its enumeration, lengths, bounds and pattern (when the XSD pattern
  reads the same as an ECMA one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

__all__ = ["XSD_NS", "SchemaIndex", "XsdMapper", "qname_text"]

XSD_NS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_INT_BOUNDS = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedByte": (0, 2**8 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedLong": (0, 2**64 - 1),
    "integer": (None, None),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
}
_FORMATS = {
    "date": "date",
    "dateTime": "date-time",
    "time": "time",
    "duration": "duration",
    "anyURI": "uri-reference",
}
_NUMBERS = ("decimal", "float", "double")
# XSD-only escapes (name characters, Unicode blocks) have no ECMA reading: such a
# pattern is left out rather than checked wrongly.
_XSD_ONLY_ESCAPES = re.compile(r"\\[iIcC]|\\[pP]\{Is")


def qname_text(namespace: str | None, name: str) -> str:
    """``{namespace}name`` (Clark notation), or ``name`` without a namespace."""
    return f"{{{namespace}}}{name}" if namespace else name


def _local(qname: str) -> str:
    return qname.rsplit("}", 1)[-1]


def _occurs(node: Any, name: str, default: int) -> int | None:
    value = node.get(name)
    if value is None:
        return default
    return None if value == "unbounded" else int(value)


def _tag(local: str) -> str:
    return f"{{{XSD_NS}}}{local}"


def _resolve(node: Any, text: str) -> str:
    prefix, _, local = text.rpartition(":")
    namespace = node.nsmap.get(prefix or None)
    return qname_text(namespace, local)


@dataclass
class SchemaIndex:
    """The global components of every ``xs:schema`` in a set of documents, by QName."""

    elements: dict[str, Any] = field(default_factory=dict)
    types: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, Any] = field(default_factory=dict)
    attribute_groups: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    element_namespace: dict[int, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, roots: Iterable[Any]) -> SchemaIndex:
        """The index of the schemas inside ``roots`` (WSDL definitions or XSD documents)."""
        index = cls()
        for root in roots:
            if root.tag == _tag("schema"):
                schemas = [root]
            else:
                schemas = list(root.iterfind(f"{{{WSDL_NS}}}types/{_tag('schema')}"))
            for schema in schemas:
                index._add(schema)
        return index

    def _add(self, schema: Any) -> None:
        namespace = schema.get("targetNamespace") or None
        kinds = {
            "element": self.elements,
            "complexType": self.types,
            "simpleType": self.types,
            "group": self.groups,
            "attributeGroup": self.attribute_groups,
            "attribute": self.attributes,
        }
        for child in schema:
            if not isinstance(child.tag, str) or not child.get("name"):
                continue
            kind = etree.QName(child).localname
            if kind in kinds:
                kinds[kind].setdefault(qname_text(namespace, child.get("name")), child)
                self.element_namespace[id(child)] = namespace


@dataclass
class _Object:
    """An object schema being gathered from a complex type's particles."""

    properties: dict[str, Any] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    one_of: list[list[list[str]]] = field(default_factory=list)
    open: bool = False

    def schema(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": "object", "properties": self.properties}
        if self.required:
            found["required"] = self.required
        if len(self.one_of) == 1:
            found["oneOf"] = [{"required": names} for names in self.one_of[0]]
        elif self.one_of:
            found["allOf"] = [
                {"oneOf": [{"required": names} for names in choice]} for choice in self.one_of
            ]
        found["additionalProperties"] = self.open
        return found


class XsdMapper:
    """Maps elements and types of a :class:`SchemaIndex` onto JSON Schema.

    The named types met collect in :attr:`defs` under one name each, shared by every
    document the mapper makes (so one Python type stands for one XSD type).
    """

    def __init__(self, index: SchemaIndex) -> None:
        self.index = index
        self.defs: dict[str, Any] = {}
        self._def_names: dict[str, str] = {}

    def document(self, element_qname: str, *, title: str) -> dict[str, Any]:
        """A whole JSON Schema for the content of a global element (a SOAP body part),
        with the named types it reaches under ``$defs``."""
        document: dict[str, Any] = {"$schema": DIALECT, "title": title}
        document.update(self.content(element_qname))
        reached = self.reached(document)
        if reached:
            document["$defs"] = {name: self.defs[name] for name in sorted(reached)}
        return document

    def content(self, element_qname: str) -> dict[str, Any]:
        """The schema of a global element's content; named types go to :attr:`defs`."""
        node = self.index.elements.get(element_qname)
        if node is None:
            raise KeyError(f"no global element {element_qname} in the WSDL's schemas")
        return self._element_type(node)

    def reached(self, schema: Any) -> set[str]:
        """The names of :attr:`defs` that ``schema`` refers to, directly or through others."""
        found: set[str] = set()
        pending = [schema]
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                ref = item.get("$ref")
                if isinstance(ref, str) and ref.startswith("#/$defs/"):
                    name = ref.removeprefix("#/$defs/")
                    if name not in found:
                        found.add(name)
                        pending.append(self.defs[name])
                pending.extend(v for k, v in item.items() if k != "$ref")
            elif isinstance(item, list):
                pending.extend(item)
        return found

    # ------------------------------------------------------------------ elements

    def _element_type(self, node: Any) -> dict[str, Any]:
        if node.get("type"):
            return self._type_ref(_resolve(node, node.get("type")))
        inline = node.find(_tag("complexType"))
        if inline is not None:
            return self._complex(inline)
        inline = node.find(_tag("simpleType"))
        if inline is not None:
            return self._simple(inline)
        return {}  # no type: xs:anyType

    def _add_element(self, node: Any, into: _Object, *, optional: bool) -> str:
        site = node
        if node.get("ref"):
            qname = _resolve(node, node.get("ref"))
            node = self.index.elements.get(qname)
            if node is None:
                raise KeyError(f"element ref {qname} is not defined")
        name = node.get("name")
        schema = self._element_type(node)
        nillable = node.get("nillable") in ("true", "1")
        if nillable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        least = _occurs(site, "minOccurs", 1) or 0
        most = _occurs(site, "maxOccurs", 1)
        if most is None or most > 1:
            schema = {"type": "array", "items": schema}
            if least:
                schema["minItems"] = least
            if most is not None:
                schema["maxItems"] = most
        into.properties[name] = schema
        if least >= 1 and not optional and not nillable and not self._may_be_empty(schema):
            into.required.append(name)
        return str(name)

    def _may_be_empty(self, schema: dict[str, Any]) -> bool:
        # zeep reads an element with no content (<CountryCodeAndNames/>) as absent: when
        # the element's type requires nothing, an answer may well lack it.
        ref = schema.get("$ref")
        if isinstance(ref, str):
            schema = self.defs.get(ref.removeprefix("#/$defs/"), {"required": ["?"]})
        return (
            schema.get("type") == "object"
            and not schema.get("required")
            and not schema.get("oneOf")
            and not schema.get("allOf")
        )

    # ------------------------------------------------------------------ types

    def _type_ref(self, qname: str) -> dict[str, Any]:
        namespace, _, local = qname[1:].partition("}") if qname.startswith("{") else ("", "", qname)
        if namespace == XSD_NS:
            return _builtin(local)
        node = self.index.types.get(qname)
        if node is None:
            raise KeyError(f"type {qname} is not defined in the WSDL's schemas")
        name = self._def_names.get(qname)
        if name is None:
            name = self._def_name(_local(qname))
            self._def_names[qname] = name
            self.defs[name] = {}  # a placeholder, so a recursive type refers to itself
            kind = etree.QName(node).localname
            self.defs[name] = self._complex(node) if kind == "complexType" else self._simple(node)
        return {"$ref": f"#/$defs/{name}"}

    def _def_name(self, local: str) -> str:
        name, number = local, 2
        while name in self.defs:
            name, number = f"{local}{number}", number + 1
        return name

    def _complex(self, node: Any) -> dict[str, Any]:
        gathered = _Object()
        self._complex_into(node, gathered)
        schema = gathered.schema()
        documentation = node.findtext(f"{_tag('annotation')}/{_tag('documentation')}")
        if documentation and documentation.strip():
            schema["description"] = " ".join(documentation.split())
        return schema

    def _complex_into(self, node: Any, into: _Object) -> None:
        for child in node:
            if not isinstance(child.tag, str):
                continue
            kind = etree.QName(child).localname
            if kind in ("sequence", "all", "choice", "group"):
                self._particle(child, into, optional=False)
            elif kind in ("attribute", "attributeGroup", "anyAttribute"):
                self._attribute(child, into)
            elif kind == "complexContent":
                self._derived(child, into, simple=False)
            elif kind == "simpleContent":
                self._derived(child, into, simple=True)

    def _derived(self, content: Any, into: _Object, *, simple: bool) -> None:
        derivation = next((c for c in content if isinstance(c.tag, str)), None)
        if derivation is None:
            return
        kind = etree.QName(derivation).localname
        base = _resolve(derivation, derivation.get("base", "xs:anyType"))
        base_ns = base[1:].partition("}")[0] if base.startswith("{") else ""
        if simple:
            value = self._type_ref(base) if base_ns != XSD_NS else _builtin(_local(base))
            if kind == "restriction":
                value = {**value, **_facets(derivation, value)}
            base_node = self.index.types.get(base)
            if base_node is not None and etree.QName(base_node).localname == "complexType":
                self._complex_into(base_node, into)  # a complex base carries the text
            else:
                into.properties["_value_1"] = value
                into.required.append("_value_1")
        elif kind == "extension" and base_ns != XSD_NS:
            base_node = self.index.types.get(base)
            if base_node is None:
                raise KeyError(f"base type {base} is not defined")
            self._complex_into(base_node, into)
        self._complex_into(derivation, into)

    def _particle(self, node: Any, into: _Object, *, optional: bool) -> None:
        kind = etree.QName(node).localname
        if kind == "group" and node.get("ref"):
            qname = _resolve(node, node.get("ref"))
            group = self.index.groups.get(qname)
            if group is None:
                raise KeyError(f"group {qname} is not defined")
            optional = optional or _occurs(node, "minOccurs", 1) == 0
            for child in group:
                if isinstance(child.tag, str) and etree.QName(child).localname != "annotation":
                    self._particle(child, into, optional=optional)
            return
        optional = optional or _occurs(node, "minOccurs", 1) == 0
        if kind == "choice":
            options: list[list[str]] = []
            for child in node:
                if not isinstance(child.tag, str):
                    continue
                child_kind = etree.QName(child).localname
                if child_kind == "element":
                    options.append([self._add_element(child, into, optional=True)])
                elif child_kind in ("sequence", "choice", "group", "any"):
                    self._particle(child, into, optional=True)
                    options = []  # not a plain choice of elements: no "one of" to say
                    break
            if options and not optional:
                into.one_of.append(options)
            return
        if kind == "any":
            into.properties["_value_1"] = {}
            into.open = True
            return
        if kind == "element":
            self._add_element(node, into, optional=optional)
            return
        for child in node:
            if isinstance(child.tag, str) and etree.QName(child).localname != "annotation":
                self._particle(child, into, optional=optional)

    def _attribute(self, node: Any, into: _Object) -> None:
        kind = etree.QName(node).localname
        if kind == "anyAttribute":
            into.open = True
            return
        if kind == "attributeGroup":
            qname = _resolve(node, node.get("ref", ""))
            group = self.index.attribute_groups.get(qname)
            if group is None:
                raise KeyError(f"attribute group {qname} is not defined")
            for child in group:
                if isinstance(child.tag, str):
                    self._attribute(child, into)
            return
        site = node
        if node.get("ref"):
            qname = _resolve(node, node.get("ref"))
            node = self.index.attributes.get(qname, node)
            name = _local(qname)
        else:
            name = node.get("name")
        if node.get("type"):
            schema = self._type_ref(_resolve(node, node.get("type")))
        elif node.find(_tag("simpleType")) is not None:
            schema = self._simple(node.find(_tag("simpleType")))
        else:
            schema = {"type": "string"}
        into.properties[name] = schema
        if site.get("use") == "required":
            into.required.append(name)

    def _simple(self, node: Any) -> dict[str, Any]:
        child = next(
            (
                c
                for c in node
                if isinstance(c.tag, str) and etree.QName(c).localname != "annotation"
            ),
            None,
        )
        if child is None:
            return {"type": "string"}
        kind = etree.QName(child).localname
        if kind == "restriction":
            if child.get("base"):
                base = self._type_ref(_resolve(child, child.get("base")))
            else:
                inner = child.find(_tag("simpleType"))
                base = self._simple(inner) if inner is not None else {"type": "string"}
            return {**base, **_facets(child, base)}
        if kind == "list":
            if child.get("itemType"):
                item = self._type_ref(_resolve(child, child.get("itemType")))
            else:
                inner = child.find(_tag("simpleType"))
                item = self._simple(inner) if inner is not None else {"type": "string"}
            return {"type": "array", "items": item}
        members = [self._type_ref(_resolve(child, m)) for m in child.get("memberTypes", "").split()]
        members += [self._simple(s) for s in child.iterfind(_tag("simpleType"))]
        return {"anyOf": members} if members else {}


def _builtin(local: str) -> dict[str, Any]:
    if local == "boolean":
        return {"type": "boolean"}
    if local in _INT_BOUNDS:
        low, high = _INT_BOUNDS[local]
        schema: dict[str, Any] = {"type": "integer"}
        if low is not None:
            schema["minimum"] = low
        if high is not None:
            schema["maximum"] = high
        return schema
    if local in _NUMBERS:
        return {"type": "number"}
    if local == "base64Binary":
        return {"type": "string", "contentEncoding": "base64"}
    if local == "hexBinary":
        return {"type": "string", "pattern": "^([0-9A-Fa-f]{2})*$"}
    if local in ("anyType", "anySimpleType"):
        return {}
    if local in _FORMATS:
        return {"type": "string", "format": _FORMATS[local]}
    return {"type": "string"}


def _base_kind(base: dict[str, Any]) -> str:
    kind = base.get("type")
    return kind if isinstance(kind, str) else "string"


def _typed(value: str, kind: str) -> Any:
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return value in ("true", "1")
    return value


def _facets(restriction: Any, base: dict[str, Any]) -> dict[str, Any]:
    kind = _base_kind(base)
    facets: dict[str, Any] = {}
    enumeration = [e.get("value", "") for e in restriction.iterfind(_tag("enumeration"))]
    if enumeration:
        try:
            facets["enum"] = [_typed(value, kind) for value in enumeration]
        except ValueError:
            facets["enum"] = enumeration
    lengths = {"length": ("minLength", "maxLength"), "minLength": ("minLength",)}
    lengths["maxLength"] = ("maxLength",)
    for facet, keys in lengths.items():
        found = restriction.find(_tag(facet))
        if found is not None and kind == "string":
            for key in keys:
                facets[key] = int(found.get("value"))
    bounds = {
        "minInclusive": "minimum",
        "maxInclusive": "maximum",
        "minExclusive": "exclusiveMinimum",
        "maxExclusive": "exclusiveMaximum",
    }
    for facet, key in bounds.items():
        found = restriction.find(_tag(facet))
        if found is not None and kind in ("integer", "number"):
            facets[key] = _typed(found.get("value"), kind)
    patterns = [p.get("value", "") for p in restriction.iterfind(_tag("pattern"))]
    readable = [p for p in patterns if not _XSD_ONLY_ESCAPES.search(p)]
    if readable and kind == "string":
        # XSD patterns match the whole value; several patterns of one step are alternatives
        facets["pattern"] = "^(?:" + "|".join(f"(?:{p})" for p in readable) + ")$"
    return facets
