"""Whether a new text of a schema still takes every payload the old one took.

A version of a message type is a promise to its senders: a payload valid yesterday is
valid today. :func:`compare` walks an old and a new schema side by side (both with their
``$ref``\\ s inlined and their annotations dropped, see :mod:`hub.schema_lock`) and lists
each difference with its field path and whether it breaks that promise:

- breaking: a new required field, a field removed, a type narrowed (``string→integer``),
  an enumeration value removed, a bound tightened (``maxLength 200→100``), a pattern or
  format changed, ``additionalProperties`` tightened, a rule added (``allOf``, ``if``);
- compatible: a new optional field (with ``additionalProperties: false`` no sender can
  have sent it), a value added to an enumeration, a bound loosened, a field no longer
  required.

When it cannot tell (a changed ``if``, another set of ``oneOf`` alternatives), it says
breaking: the check guards senders, so it errs on their side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Change", "compare"]

_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_EXACT = ("pattern", "format", "multipleOf", "contentEncoding", "contentMediaType")
_BRANCHES = ("allOf", "anyOf", "oneOf")
_CONDITIONS = ("then", "else")
_OPAQUE = (
    "if",
    "not",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "patternProperties",
    "contains",
    "prefixItems",
    "unevaluatedProperties",
    "unevaluatedItems",
)


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two texts of a schema.

    Attributes:
        path: The field, e.g. ``payload.applicant.id_type`` (``[]``: each item of a list).
        reason: What changed, in words.
        breaking: Whether a payload the old text took may be refused by the new one.
    """

    path: str
    reason: str
    breaking: bool

    def to_json(self) -> dict[str, Any]:
        """The change as ``--json`` shows it."""
        return {"path": self.path, "reason": self.reason, "breaking": self.breaking}

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def compare(old: Any, new: Any, path: str = "payload") -> list[Change]:
    """Every difference between two resolved schemas, breaking ones first.

    Args:
        old: The schema senders wrote against (resolved: no ``$ref``).
        new: The schema as it is now.
        path: The name of what the schema describes, put in front of every field path.
    """
    changes: list[Change] = []
    _walk(old, new, path, changes)
    return sorted(changes, key=lambda c: (not c.breaking, c.path))


def _walk(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if old == new:
        return
    if isinstance(old, bool) or isinstance(new, bool):
        if new is False or old is True:
            out.append(Change(path, "now takes fewer values than before", True))
        else:
            out.append(Change(path, "now takes more values than before", False))
        return
    _types(old, new, path, out)
    _values(old, new, path, out)
    _bounds(old, new, path, out)
    _fields(old, new, path, out)
    _items(old, new, path, out)
    _rules(old, new, path, out)


def _type_set(schema: Mapping[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _types(old: Mapping[str, Any], new: Mapping[str, Any], path: str, out: list[Change]) -> None:
    before, after = _type_set(old), _type_set(new)
    if after is None or before == after:
        if after is None and before is not None:
            out.append(Change(path, "takes any type now", False))
        return
    widened = after | ({"integer"} if "number" in after else set())
    words = "|".join(sorted(before)) if before else "any"
    change = f"type changed {words}→{'|'.join(sorted(after))}"
    out.append(Change(path, change, before is None or not before <= widened))


def _values(old: Mapping[str, Any], new: Mapping[str, Any], path: str, out: list[Change]) -> None:
    if "enum" in new:
        if "enum" not in old:
            out.append(Change(path, "now limited to a list of values", True))
        else:
            for value in old["enum"]:
                if value not in new["enum"]:
                    out.append(Change(path, f"enum value removed: {_text(value)}", True))
            for value in new["enum"]:
                if value not in old["enum"]:
                    out.append(Change(path, f"enum value added: {_text(value)}", False))
    elif "enum" in old:
        out.append(Change(path, "no longer limited to a list of values", False))
    if "const" in new and ("const" not in old or old["const"] != new["const"]):
        out.append(Change(path, f"must now be {_text(new['const'])}", True))


def _bounds(old: Mapping[str, Any], new: Mapping[str, Any], path: str, out: list[Change]) -> None:
    for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        lower = key in _LOWER_BOUNDS
        if after is None:
            out.append(Change(path, f"{key} {before} dropped", False))
        elif before is None or (after > before if lower else after < before):
            words = "raised" if lower else "lowered"
            out.append(Change(path, f"{key} {words} {before or 'none'}→{after}", True))
        else:
            out.append(Change(path, f"{key} relaxed {before}→{after}", False))
    for key in _EXACT:
        if old.get(key) != new.get(key):
            if key in new:
                out.append(Change(path, f"{key} changed", True))
            else:
                out.append(Change(path, f"{key} dropped", False))
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        out.append(Change(path, "items must now be unique", True))


def _fields(old: Mapping[str, Any], new: Mapping[str, Any], path: str, out: list[Change]) -> None:
    before: Mapping[str, Any] = old.get("properties", {})
    after: Mapping[str, Any] = new.get("properties", {})
    was_required, required = set(old.get("required", ())), set(new.get("required", ()))
    for name in sorted(required - was_required):
        reason = "now required" if name in before else "new required field"
        out.append(Change(_join(path, name), reason, True))
    for name in sorted(was_required - required):
        out.append(Change(_join(path, name), "no longer required", False))
    for name in before:
        if name not in after:
            out.append(Change(_join(path, name), "removed", True))
        else:
            _walk(before[name], after[name], _join(path, name), out)
    closed = old.get("additionalProperties", True) is False
    for name in after:
        if name in before or name in required:
            continue
        if closed:
            out.append(Change(_join(path, name), "new optional field", False))
        else:
            out.append(Change(_join(path, name), "a field senders could send now has rules", True))
    extra_before = old.get("additionalProperties", True)
    extra_after = new.get("additionalProperties", True)
    if extra_before == extra_after:
        return
    if extra_after is False:
        out.append(Change(path, "additionalProperties tightened: other fields now refused", True))
    elif extra_before is False:
        out.append(Change(path, "additionalProperties loosened: other fields now taken", False))
    else:
        _walk(extra_before, extra_after, f"{path}.*", out)


def _items(old: Mapping[str, Any], new: Mapping[str, Any], path: str, out: list[Change]) -> None:
    if "items" in new:
        _walk(old.get("items", True), new["items"], f"{path}[]", out)
    elif "items" in old:
        out.append(Change(f"{path}[]", "items no longer checked", False))


def _rules(old: Mapping[str, Any], new: Mapping[str, Any], path: str, out: list[Change]) -> None:
    for key in _BRANCHES:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None:
            out.append(Change(path, f"a rule was added ({key})", True))
        elif after is None:
            out.append(Change(path, f"a rule was dropped ({key})", key != "allOf"))
        elif len(before) == len(after):
            for old_branch, new_branch in zip(before, after, strict=True):
                _walk(old_branch, new_branch, path, out)
        else:
            out.append(Change(path, f"the alternatives changed ({key})", True))
    for key in _CONDITIONS:
        before, after = old.get(key), new.get(key)
        if before != after:
            _walk(True if before is None else before, True if after is None else after, path, out)
    for key in _OPAQUE:
        if old.get(key) != new.get(key):
            out.append(Change(path, f"{key} changed", key in new))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}"


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
