"""The promised versions of the message schemas, and the check of the working ones against them.

``govhub schemas lock`` writes ``schemas/messages/versions.lock.json``: each type's each
version, resolved (``$ref``\\ s inlined, so a change to ``common.json`` shows in every type
that uses it; titles, descriptions and ``x-`` keys dropped, since they promise nothing),
with the SHA-256 of that form. ``govhub schemas check`` compares the working schemas with
that snapshot (or with another ``schemas/`` folder) through :mod:`hub.schema_compat`: a
compatible change passes, a new version passes, a breaking change to a version senders
already use is refused with the field and the reason. It also runs each versioned type's
examples through the transforms between its versions (:mod:`hub.versioning`), so a
transform that no longer fits its schemas is caught before a delivery is.

The snapshot is a file in the checkout rather than a git revision: a check needs no
history, and a clean checkout or a source archive has what it needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.schema_compat import Change, compare
from hub.schemas import LOCK_FILE, SchemaRegistry
from hub.versioning import Conversions, NotConvertible

__all__ = [
    "CheckReport",
    "VersionCheck",
    "check",
    "conversion_problems",
    "lock_path",
    "read_lock",
    "resolved",
    "snapshot",
    "write_lock",
]

Snapshot = dict[tuple[str, int], Any]

_ANNOTATIONS = frozenset(
    {"title", "description", "examples", "$comment", "default", "deprecated", "readOnly"}
)
_DOCUMENT = frozenset({"$schema", "$id", "$defs", "$anchor"})
_SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = (
    "additionalProperties",
    "items",
    "contains",
    "if",
    "then",
    "else",
    "not",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
)
_MAX_DEPTH = 64


def lock_path(directory: Path) -> Path:
    """Where the snapshot of a ``schemas/`` folder lives."""
    return directory / "messages" / LOCK_FILE


def resolved(schemas: SchemaRegistry, message_type: str, version: int) -> Any:
    """A version's schema with every ``$ref`` inlined and its annotations dropped."""
    document = schemas.schema(message_type, version)
    return _resolve(document, schemas.registry.resolver(base_uri=document["$id"]), 0)


def _resolve(node: Any, resolver: Any, depth: int) -> Any:
    if not isinstance(node, dict):
        return node
    if depth > _MAX_DEPTH:
        raise ValueError("a schema refers to itself: it cannot be compared")
    out: dict[str, Any] = {}
    target: Any = None
    for key, value in node.items():
        if key == "$ref":
            found = resolver.lookup(value)
            target = _resolve(found.contents, found.resolver, depth + 1)
        elif key in _ANNOTATIONS or key in _DOCUMENT or key.startswith("x-"):
            continue
        elif key in _SCHEMA_MAPS:
            out[key] = {name: _resolve(item, resolver, depth) for name, item in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_resolve(item, resolver, depth) for item in value]
        elif key in _SCHEMA_ONE:
            out[key] = _resolve(value, resolver, depth)
        else:
            out[key] = value
    if target is None:
        return out
    if not out:
        return target
    if isinstance(target, dict) and not set(target) & set(out):
        return {**target, **out}
    return {"allOf": [target, out]}


def snapshot(schemas: SchemaRegistry) -> Snapshot:
    """Every version of every type, resolved."""
    return {
        (message_type, version): resolved(schemas, message_type, version)
        for message_type in schemas.types
        for version in schemas.versions(message_type)
    }


def _digest(schema: Any) -> str:
    text = json.dumps(schema, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_lock(schemas: SchemaRegistry, path: Path | None = None) -> Path:
    """Record the working versions as the promised ones; the file written."""
    versions: dict[str, dict[str, Any]] = {}
    for (message_type, version), schema in snapshot(schemas).items():
        versions.setdefault(message_type, {})[str(version)] = {
            "sha256": _digest(schema),
            "schema": schema,
        }
    document = {
        "about": "Written by `govhub schemas lock`; `govhub schemas check` compares with it."
        " Each version of each message type as senders were promised it (resolved).",
        "versions": versions,
    }
    target = path or lock_path(schemas.directory)
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1)
    target.write_text(text + "\n", encoding="utf-8")
    return target


def read_lock(path: Path) -> Snapshot:
    """The versions a lock file records.

    Raises:
        ValueError: The file is not a lock, or an entry does not match its SHA-256.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries = document["versions"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a schema lock ({error})") from None
    found: Snapshot = {}
    for message_type, versions in entries.items():
        for version, entry in versions.items():
            if _digest(entry["schema"]) != entry["sha256"]:
                raise ValueError(
                    f"{path}: {message_type} v{version} does not match its sha256"
                    " (edited by hand?); take the file from a good commit"
                )
            found[(message_type, int(version))] = entry["schema"]
    return found


@dataclass(frozen=True, slots=True)
class VersionCheck:
    """How one version of one type compares with its promised form.

    Attributes:
        status: ``unchanged``, ``compatible``, ``breaking``, ``new`` (not promised yet) or
            ``removed`` (promised, and gone).
    """

    message_type: str
    version: int
    status: str
    changes: tuple[Change, ...] = ()

    @property
    def refused(self) -> bool:
        """A breaking change, or a promised version gone."""
        return self.status in ("breaking", "removed")

    def to_json(self) -> dict[str, Any]:
        """The result as ``--json`` shows it."""
        return {
            "type": self.message_type,
            "version": self.version,
            "status": self.status,
            "changes": [change.to_json() for change in self.changes],
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every version compared, and what is wrong with the transforms between versions."""

    versions: tuple[VersionCheck, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Nothing refused, no transform problem."""
        return not self.problems and not any(v.refused for v in self.versions)

    def to_json(self) -> dict[str, Any]:
        """The report as ``--json`` shows it."""
        return {
            "ok": self.ok,
            "versions": [v.to_json() for v in self.versions],
            "problems": list(self.problems),
        }


def check(schemas: SchemaRegistry, baseline: Mapping[tuple[str, int], Any]) -> CheckReport:
    """Compare the working schemas with the promised ones (``baseline``).

    Args:
        schemas: The working schemas.
        baseline: What senders were promised (:func:`read_lock`, or :func:`snapshot` of
            another folder).
    """
    current = snapshot(schemas)
    results: list[VersionCheck] = []
    for key in sorted(set(current) | set(baseline)):
        message_type, version = key
        if key not in baseline:
            results.append(VersionCheck(message_type, version, "new"))
        elif key not in current:
            gone = Change("payload", "version removed: its senders would be refused", True)
            results.append(VersionCheck(message_type, version, "removed", (gone,)))
        else:
            changes = tuple(compare(baseline[key], current[key]))
            status = (
                "unchanged"
                if not changes
                else "breaking"
                if any(c.breaking for c in changes)
                else "compatible"
            )
            results.append(VersionCheck(message_type, version, status, changes))
    return CheckReport(tuple(results), tuple(conversion_problems(schemas)))


def conversion_problems(schemas: SchemaRegistry) -> list[str]:
    """What is wrong with the transforms between versions, checked on the examples.

    Each version of a type with several has an example (``schemas/examples/<type>.json``
    for version 1, ``schemas/examples/<type>/v<N>.json``); it must be valid, and what the
    transforms make of it for the adjacent versions must be valid there (or be refused
    as something that version cannot carry).
    """
    try:
        conversions = Conversions(schemas)
    except ValueError as error:
        return [str(error)]
    problems: list[str] = []
    for message_type in schemas.types:
        versions = schemas.versions(message_type)
        if len(versions) == 1:
            continue
        for version in versions:
            where = f"{message_type} v{version}"
            try:
                example = schemas.example(message_type, version)
            except FileNotFoundError:
                problems.append(f"{where}: no example to check its transforms with")
                continue
            validation = schemas.validate(message_type, example, version=version)
            if not validation.ok:
                problems.append(f"{where}: its example is invalid: {_reasons(validation)}")
                continue
            for neighbour in (version - 1, version + 1):
                if neighbour not in versions:
                    continue
                try:
                    converted = conversions.convert(message_type, example, version, neighbour)
                except NotConvertible:
                    continue  # a payload the other version cannot carry: refused, as it should
                outcome = schemas.validate(message_type, converted, version=neighbour)
                if not outcome.ok:
                    problems.append(
                        f"{where}→v{neighbour}: the transform gives an invalid payload:"
                        f" {_reasons(outcome)}"
                    )
    return problems


def _reasons(validation: Any) -> str:
    return "; ".join(f"{e.path}: {e.message}" for e in validation.errors)
