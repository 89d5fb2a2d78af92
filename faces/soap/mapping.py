"""XML ⇄ JSON for canonical messages, by walking their shapes (see :mod:`faces.soap.model`).

An object is an element whose children are its properties (same names); a list is the
same element repeated; strings keep their text exactly; integers, numbers and booleans
use their XSD lexical forms; a map is a list of ``entry`` elements with ``key`` and
``value``; a value the schema leaves open travels as JSON text. An optional list that is
empty and an absent one look the same in XML: both come back absent (a required list
comes back empty).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from faces.soap.model import AnyJson, Array, Object, Scalar, Shape, Union
from faces.soap.xsdgen import NS

__all__ = ["MappingError", "in_schema_order", "json_path_to_xml", "to_json", "to_xml"]

_Q = f"{{{NS}}}"
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class MappingError(ValueError):
    """An XML document does not fit its shape; ``path`` names the element."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# --------------------------------------------------------------------------- order


def in_schema_order(element: etree._Element, shape: Shape) -> None:
    """Put the children of ``element`` (and theirs) in the order the XSD's sequences list.

    The properties of a JSON object have no order, and clients that build XML from one
    (node-soap writes elements in the order of the object's keys) send them in any
    order; the XSD, in XML Schema 1.0, can only say "in this order" for types with
    repeated elements (``xs:all`` takes none). So the hub puts what it receives in schema
    order before validating. Repeated elements keep their order among themselves (a
    list's order is its meaning); elements the shape does not know go last, where the XSD
    names them.
    """
    if isinstance(shape, Array):
        shape = shape.item
    if not isinstance(shape, Object) or shape.entries is not None or not len(element):
        return
    rank = {item.name: position for position, item in enumerate(shape.fields)}
    unknown = len(rank)

    def position(child: etree._Element) -> int:
        if not isinstance(child.tag, str):
            return unknown
        return rank.get(etree.QName(child).localname, unknown)

    children = list(element)
    ordered = sorted(children, key=position)  # stable: lists keep their order
    if ordered != children:
        element[:] = ordered
    for child in ordered:
        if isinstance(child.tag, str):
            field = shape.field(etree.QName(child).localname)
            if field is not None:
                in_schema_order(child, field.shape)


# --------------------------------------------------------------------------- XML → JSON


def to_json(element: etree._Element, shape: Shape, path: str) -> Any:
    """The JSON value of ``element`` as ``shape`` describes it.

    Args:
        element: The element holding the value (its children are the properties).
        shape: What the value should look like.
        path: The element's path, for errors (``/SubmitCase/CaseSubmitted``).

    Raises:
        MappingError: An unknown or repeated element, mixed content, or a bad value.
    """
    if isinstance(shape, Object):
        return _object(element, shape, path)
    if isinstance(shape, Array):  # pragma: no cover - lists are handled by their owner
        raise MappingError(path, "a list must be repeated elements")
    text = _text(element, path)
    if isinstance(shape, AnyJson):
        try:
            return json.loads(text)
        except ValueError:
            raise MappingError(path, "must be JSON text") from None
    if isinstance(shape, Union):
        for member in shape.members:
            try:
                return _scalar(text, member, path)
            except MappingError:
                continue
        return text
    return _scalar(text, shape, path)


def _object(element: etree._Element, shape: Object, path: str) -> dict[str, Any]:
    if element.text is not None and element.text.strip():
        raise MappingError(path, "must hold elements, not text")
    if shape.entries is not None:
        return _map(element, shape.entries, path)
    result: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for child in _children(element, path):
        namespace, _, name = (
            child.tag[1:].partition("}") if child.tag[0] == "{" else ("", "", child.tag)
        )
        field = shape.field(name)
        child_path = f"{path}/{name}"
        if field is None or namespace != NS:
            raise MappingError(child_path, "is not a known field")
        counts[name] = counts.get(name, 0) + 1
        if isinstance(field.shape, Array):
            child_path = f"{child_path}[{counts[name]}]"
            result.setdefault(name, []).append(to_json(child, field.shape.item, child_path))
        elif counts[name] > 1:
            raise MappingError(child_path, "may appear only once")
        else:
            result[name] = to_json(child, field.shape, child_path)
    for field in shape.fields:
        if field.required and isinstance(field.shape, Array) and field.name not in result:
            result[field.name] = []
    return result


def _map(element: etree._Element, entries: Shape, path: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for position, entry in enumerate(_children(element, path), start=1):
        entry_path = f"{path}/entry[{position}]"
        if entry.tag != _Q + "entry":
            raise MappingError(entry_path, "a map holds entry elements")
        key = entry.find(_Q + "key")
        value = entry.find(_Q + "value")
        if key is None or value is None:
            raise MappingError(entry_path, "an entry needs a key and a value")
        result[_text(key, f"{entry_path}/key")] = to_json(value, entries, f"{entry_path}/value")
    return result


def _children(element: etree._Element, path: str) -> list[etree._Element]:
    children = []
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions carry nothing
        if child.tail is not None and child.tail.strip():
            raise MappingError(path, "must hold elements, not text")
        children.append(child)
    return children


def _text(element: etree._Element, path: str) -> str:
    if not len(element):  # no children at all: the common case
        return element.text or ""
    if any(isinstance(child.tag, str) for child in element):
        raise MappingError(path, "must hold text, not elements")
    # Comments inside a value split its text; join the pieces as XML itself does.
    return "".join(element.itertext())


def _scalar(text: str, shape: Scalar, path: str) -> Any:
    if shape.kind == "string":
        return text
    lexical = text.strip()
    if shape.kind == "boolean":
        if lexical in ("true", "1"):
            return True
        if lexical in ("false", "0"):
            return False
        raise MappingError(path, "must be true or false")
    try:
        number = Decimal(lexical)
    except InvalidOperation:
        raise MappingError(
            path, f"must be {'an integer' if shape.kind == 'integer' else 'a number'}"
        ) from None
    if not number.is_finite():
        raise MappingError(path, "must be a finite number")
    if number == number.to_integral_value():
        return int(number)
    if shape.kind == "integer":
        raise MappingError(path, "must be an integer")
    return float(number)


# --------------------------------------------------------------------------- JSON → XML


def to_xml(parent: etree._Element, name: str, value: Any, shape: Shape) -> None:
    """Append ``value`` to ``parent`` as element(s) called ``name``.

    Properties the shape does not know are written as elements too (when their names
    are XML names), so that the XSD, not this function, says they are not allowed.
    """
    if isinstance(shape, Array):
        items = value if isinstance(value, list) else [value]
        for item in items:
            to_xml(parent, name, item, shape.item)
        return
    element = etree.SubElement(parent, _Q + name)
    if isinstance(shape, Object) and isinstance(value, dict):
        if shape.entries is not None:
            for key, item in value.items():
                entry = etree.SubElement(element, _Q + "entry")
                etree.SubElement(entry, _Q + "key").text = str(key)
                to_xml(entry, "value", item, shape.entries)
            return
        for field in shape.fields:
            if field.name in value and value[field.name] is not None:
                to_xml(element, field.name, value[field.name], field.shape)
        for key, item in value.items():
            if shape.field(key) is None and _NCNAME.match(key):
                etree.SubElement(element, _Q + key).text = _lexical(item)
        return
    if isinstance(shape, AnyJson):
        element.text = json.dumps(value, ensure_ascii=False)
        return
    element.text = _lexical(value)


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # xs:decimal has no exponent: 1e-05 is written 0.00001.
        return format(Decimal(repr(value)), "f")
    return json.dumps(value, ensure_ascii=False)


def json_path_to_xml(prefix: str, path: str) -> str:
    """``payload.materials[0].name`` under ``/SubmitCase/CaseSubmitted`` →
    ``/SubmitCase/CaseSubmitted/materials[1]/name`` (XPath counts from 1)."""
    rest = path.split(".", 1)[1] if path.startswith("payload.") else ""
    if path.startswith("payload["):
        rest = path[len("payload") :]
    rest = re.sub(r"\[(\d+)\]", lambda m: f"[{int(m[1]) + 1}]", rest)
    rest = rest.replace(".", "/")
    if not rest:
        return prefix
    return f"{prefix}{rest}" if rest.startswith("[") else f"{prefix}/{rest}"
