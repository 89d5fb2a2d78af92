"""Transforms between the versions of a message type, declared beside its schemas.

``schemas/messages/<type>/transforms.json`` says, for each pair of adjacent versions, what
changed on the way up (``from`` N ``to`` N+1); the way down is the same list undone in
reverse order. Four kinds of change cover what a schema's evolution does to a payload:

``{"move": "a.b", "to": "c.d"}``
    A field renamed or moved (parents are created, and removed when left empty).
``{"new": "c.e", "default": ..., "down": "refuse" | "drop"}``
    A field the newer version added. Up: set to ``default`` when one is given. Down: a
    payload that has it is refused (``"refuse"``, the default: the older version cannot
    carry it) or loses it (``"drop"``: declared, so the loss is on purpose); a value equal
    to the ``default`` is dropped either way.
``{"removed": "x", "default": ..., "up": "refuse" | "drop"}``
    A field the newer version no longer has: ``new`` the other way round.
``{"new_values": "c.d", "values": [...]}``
    Values the newer version added to an enumeration: down, a payload using one is refused.

A path is dotted; ``name[]`` steps into each item of a list (``materials[].name``), and a
move stays within the same items (``materials[].name`` to ``materials[].title``). A payload
that cannot be converted raises :class:`NotConvertible` naming the field, so the delivery
is dead-lettered with a reason a person can act on (and replayed once the destination
takes the newer version).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.schemas import SchemaRegistry

__all__ = ["TRANSFORMS_FILE", "Conversions", "NotConvertible", "Step"]

#: The file beside a type's version schemas that declares the steps between them.
TRANSFORMS_FILE = "transforms.json"
_KINDS = ("move", "new", "removed", "new_values")
_ABSENT = object()


class NotConvertible(Exception):
    """A payload has something the version asked for cannot carry.

    Attributes:
        path: The field, e.g. ``payload.intake.channel``.
        reason: What the version cannot carry.
    """

    def __init__(self, message_type: str, source: int, target: int, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{message_type} v{source}→v{target}: {path}: {reason}")


@dataclass(frozen=True, slots=True)
class _Path:
    """A dotted path split at its last list step: the items it reaches, then the field."""

    text: str
    scope: tuple[tuple[str, bool], ...]
    field: tuple[str, ...]

    @classmethod
    def parse(cls, text: object) -> _Path:
        if not isinstance(text, str) or not text or text.startswith(".") or ".." in text:
            raise ValueError(f"{text!r} is not a dotted path")
        steps = [(part.removesuffix("[]"), part.endswith("[]")) for part in text.split(".")]
        if any(not name or "[" in name or "]" in name for name, _ in steps):
            raise ValueError(f"{text!r} is not a dotted path (name[] steps into a list)")
        last_list = max((i for i, (_, many) in enumerate(steps) if many), default=-1)
        if last_list == len(steps) - 1:
            raise ValueError(f"{text!r} ends in a list: name the field of its items")
        field = tuple(name for name, _ in steps[last_list + 1 :])
        return cls(text, tuple(steps[: last_list + 1]), field)

    def places(self, payload: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every object the path's field lives in, with its path for error messages."""
        nodes: list[tuple[str, dict[str, Any]]] = [("payload", payload)]
        for name, many in self.scope:
            found: list[tuple[str, dict[str, Any]]] = []
            for where, node in nodes:
                child = node.get(name)
                if many and isinstance(child, list):
                    found.extend(
                        (f"{where}.{name}[{i}]", item)
                        for i, item in enumerate(child)
                        if isinstance(item, dict)
                    )
                elif not many and isinstance(child, dict):
                    found.append((f"{where}.{name}", child))
            nodes = found
        yield from nodes

    def where(self, place: str) -> str:
        return ".".join((place, *self.field))


def _get(node: dict[str, Any], field: Sequence[str]) -> Any:
    for name in field:
        if not isinstance(node, dict) or name not in node:
            return _ABSENT
        node = node[name]
    return node


def _pop(node: dict[str, Any], field: Sequence[str]) -> Any:
    """Take the field out; parents it leaves empty go too."""
    parents: list[dict[str, Any]] = []
    for name in field[:-1]:
        child = node.get(name)
        if not isinstance(child, dict):
            return _ABSENT
        parents.append(node)
        node = child
    value = node.pop(field[-1], _ABSENT)
    for parent, name in zip(reversed(parents), reversed(field[:-1]), strict=True):
        if parent[name] == {}:
            del parent[name]
    return value


def _put(node: dict[str, Any], field: Sequence[str], value: Any) -> None:
    for name in field[:-1]:
        node = node.setdefault(name, {})
    node[field[-1]] = value


@dataclass(frozen=True, slots=True)
class Step:
    """What changed between version ``source`` and ``source + 1`` of a type."""

    message_type: str
    source: int
    changes: tuple[Mapping[str, Any], ...]
    description: str = ""

    def up(self, payload: dict[str, Any]) -> None:
        """Rewrite a version-``source`` payload (in place) as the next version."""
        for change in self.changes:
            self._apply(change, payload, up=True)

    def down(self, payload: dict[str, Any]) -> None:
        """Rewrite a version-``source + 1`` payload (in place) as version ``source``."""
        for change in reversed(self.changes):
            self._apply(change, payload, up=False)

    def _apply(self, change: Mapping[str, Any], payload: dict[str, Any], *, up: bool) -> None:
        if "move" in change:
            origin, target = _Path.parse(change["move"]), _Path.parse(change["to"])
            if not up:
                origin, target = target, origin
            for _where, node in origin.places(payload):
                value = _pop(node, origin.field)
                if value is not _ABSENT:
                    _put(node, target.field, value)
            return
        if "new_values" in change:
            if up:
                return
            path = _Path.parse(change["new_values"])
            for where, node in path.places(payload):
                value = _get(node, path.field)
                if value is not _ABSENT and value in change["values"]:
                    self._refuse(
                        up,
                        path.where(where),
                        f"the value {json.dumps(value, ensure_ascii=False)} is new in version"
                        f" {self.source + 1}; version {self.source} cannot carry it",
                    )
            return
        added = "new" in change
        path = _Path.parse(change["new"] if added else change["removed"])
        if added == up:  # the side that has the field gains it: its default, if any
            if "default" in change:
                for _where, node in path.places(payload):
                    if _get(node, path.field) is _ABSENT:
                        _put(node, path.field, copy.deepcopy(change["default"]))
            return
        policy = change.get("down" if added else "up", "refuse")
        for where, node in path.places(payload):
            value = _get(node, path.field)
            if value is _ABSENT:
                continue
            if policy == "drop" or ("default" in change and value == change["default"]):
                _pop(node, path.field)
                continue
            version = self.source if added else self.source + 1
            self._refuse(up, path.where(where), f"version {version} has no such field")

    def _refuse(self, up: bool, path: str, reason: str) -> None:
        source, target = (self.source, self.source + 1) if up else (self.source + 1, self.source)
        raise NotConvertible(self.message_type, source, target, path, reason)


class Conversions:
    """Every type's steps between versions, read from ``<type>/transforms.json``.

    Args:
        schemas: The registry whose types and versions the steps join.

    Raises:
        ValueError: A type with several versions lacks a step between two of them, or a
            transforms file is malformed; the message names the file and the step.
    """

    def __init__(self, schemas: SchemaRegistry) -> None:
        self.schemas = schemas
        self._steps: dict[tuple[str, int], Step] = {}
        folder = schemas.directory / "messages"
        for message_type in schemas.types:
            versions = schemas.versions(message_type)
            file = folder / message_type / TRANSFORMS_FILE
            if file.exists():
                for step in _read_steps(file, message_type, versions):
                    self._steps[(message_type, step.source)] = step
            for version in versions[:-1]:
                if (message_type, version) not in self._steps:
                    raise ValueError(
                        f"{file}: {message_type} has versions {version} and {version + 1}"
                        f" but no step between them (from {version}, to {version + 1})"
                    )

    def step(self, message_type: str, source: int) -> Step:
        """The step from version ``source`` of a type to the next.

        Raises:
            KeyError: There is none.
        """
        return self._steps[(message_type, source)]

    def convert(
        self, message_type: str, payload: Mapping[str, Any], source: int, target: int
    ) -> dict[str, Any]:
        """A copy of a version-``source`` payload as version ``target``, step by step.

        Raises:
            NotConvertible: The payload has something a version on the way cannot carry.
            KeyError: The type has no such version.
        """
        versions = self.schemas.versions(message_type)
        if source not in versions or target not in versions:
            raise KeyError(f"{message_type} has versions {versions}, not {source} and {target}")
        converted: dict[str, Any] = copy.deepcopy(dict(payload))
        if source < target:
            for version in range(source, target):
                self._steps[(message_type, version)].up(converted)
        else:
            for version in range(source - 1, target - 1, -1):
                self._steps[(message_type, version)].down(converted)
        return converted


def _read_steps(file: Path, message_type: str, versions: Sequence[int]) -> list[Step]:
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{file}: is not valid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("type") != message_type:
        raise ValueError(f'{file}: must be an object with "type": "{message_type}"')
    steps: list[Step] = []
    for index, raw in enumerate(document.get("steps", [])):
        where = f"{file}: steps[{index}]"
        source, target = raw.get("from"), raw.get("to")
        if not isinstance(source, int) or target != source + 1 or target not in versions:
            raise ValueError(f"{where}: from and to must be adjacent versions of {message_type}")
        changes = raw.get("changes", [])
        for position, change in enumerate(changes):
            _check_change(change, f"{where}.changes[{position}]")
        steps.append(Step(message_type, source, tuple(changes), str(raw.get("description", ""))))
    return steps


def _check_change(change: Any, where: str) -> None:
    kinds = [kind for kind in _KINDS if isinstance(change, dict) and kind in change]
    if len(kinds) != 1:
        raise ValueError(f"{where}: a change is one of {', '.join(_KINDS)}")
    kind = kinds[0]
    allowed = {
        "move": {"move", "to"},
        "new": {"new", "default", "down"},
        "removed": {"removed", "default", "up"},
        "new_values": {"new_values", "values"},
    }[kind]
    if extra := sorted(set(change) - allowed):
        raise ValueError(f"{where}: {kind} takes {', '.join(sorted(allowed))}, not {extra}")
    try:
        path = _Path.parse(change[kind])
        if kind == "move" and _Path.parse(change.get("to")).scope != path.scope:
            raise ValueError("a move stays within the same list items")
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    if kind == "new_values" and not isinstance(change.get("values"), list):
        raise ValueError(f"{where}: values must be a list")
    policy_key = {"new": "down", "removed": "up"}.get(kind)
    if policy_key and change.get(policy_key, "refuse") not in ("refuse", "drop"):
        raise ValueError(f"{where}: {policy_key} is refuse or drop")
