"""The schema registry: canonical message types, their JSON Schemas, and validation.

Each ``schemas/messages/<type>.json`` is a JSON Schema 2020-12 document; its file name is
the message type, and it is version 1 of the type. A later version lives beside it as
``schemas/messages/<type>/v<N>.json`` (version 1 may live there too, as ``v1.json``), and
the transforms between adjacent versions as ``<type>/transforms.json`` (see
:mod:`hub.versioning`; ``docs/schemas.md``). Validators are compiled once per version.
Checks JSON Schema cannot express (check digits of resident IDs, credit codes and
e-license identifiers) are custom formats, so they run as part of the same validation and
report the same way: a field path and a reason, never the offending value (it may be a
personal identifier).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from hub.core import identifiers
from hub.core.clock import parse_time
from hub.core.errors import FieldError

__all__ = [
    "DEFAULT_SCHEMA_DIR",
    "LOCK_FILE",
    "SchemaRegistry",
    "Validation",
    "describe_error",
    "format_path",
]

#: ``schemas/`` beside the packages, where an editable install and a checkout find it.
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

#: The snapshot ``govhub schemas check`` compares with, beside the message schemas.
LOCK_FILE = "versions.lock.json"
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
MAX_ERRORS = 20


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of validating one payload."""

    errors: tuple[FieldError, ...] = ()
    warnings: tuple[FieldError, ...] = field(default=())
    normalised: Any = None
    """The payload with its identifiers in their stored form, when any had to change."""

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings do not count)."""
        return not self.errors


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$")


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _identifier(check: Callable[[str], None]) -> Callable[[object], bool]:
    def checker(value: object) -> bool:
        if isinstance(value, str):
            check(value)  # raises IdentifierError, whose message becomes the reason
        return True

    return checker


class _NotCanonical(identifiers.IdentifierError):
    """A valid resident ID in another form (lower-case ``x``, 15 digits): not an error."""


def _resident_id(value: object) -> bool:
    if isinstance(value, str):
        identifiers.check_resident_id(value)
        if not identifiers.is_canonical_resident_id(value):
            raise _NotCanonical("stored in its 18-character form")
    return True


def _format_checker(uscc_strict: bool) -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_date_time)
    checker.checks("date")(_date)
    checker.checks("cn-resident-id", raises=identifiers.IdentifierError)(_resident_id)
    checker.checks("cn-e-license-id", raises=identifiers.IdentifierError)(
        _identifier(identifiers.check_e_license_id)
    )
    checker.checks("cn-uscc", raises=identifiers.IdentifierError)(
        _identifier(identifiers.check_uscc)
    )
    return checker


class SchemaRegistry:
    """The canonical message types and their compiled validators.

    Args:
        directory: The ``schemas/`` folder (``messages/`` and shared documents under it).
        uscc_check: ``"strict"`` refuses a credit code whose check character is wrong;
            ``"warn"`` accepts it with a warning (some early pilot codes fail the check).

    Raises:
        ValueError: A schema file is not valid JSON Schema or its name is not a type.
    """

    def __init__(self, directory: Path = DEFAULT_SCHEMA_DIR, *, uscc_check: str = "strict") -> None:
        self.directory = directory
        self.uscc_strict = uscc_check == "strict"
        resources: list[tuple[str, Resource[Any]]] = []
        self._shared: dict[str, dict[str, Any]] = {}
        for path in sorted(directory.glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            self._shared[document["$id"]] = document
            resources.append((document["$id"], Resource.from_contents(document)))
        self._schemas: dict[tuple[str, int], dict[str, Any]] = {}
        for message_type, version, path in _message_files(directory / "messages"):
            document = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(document)
            self._schemas[(message_type, version)] = document
            resources.append((document["$id"], Resource.from_contents(document)))
        self._versions: dict[str, tuple[int, ...]] = {}
        for message_type, version in sorted(self._schemas):
            self._versions[message_type] = (*self._versions.get(message_type, ()), version)
        for message_type, versions in self._versions.items():
            if versions != tuple(range(1, len(versions) + 1)):
                raise ValueError(
                    f"{directory / 'messages'}: {message_type} has versions"
                    f" {', '.join(map(str, versions))}; they must be 1, 2, ... without a gap"
                )
        registry: Registry[Any] = Registry().with_resources(resources)
        checker = _format_checker(self.uscc_strict)
        self._validators = {
            key: Draft202012Validator(schema, registry=registry, format_checker=checker)
            for key, schema in self._schemas.items()
        }
        self.registry = registry
        # jsonschema-rs answers "valid?" some 40x faster; the pure-Python validator then
        # explains what is wrong in our own words for the (rare) invalid message.
        self._fast = _fast_validators(self._schemas, resources) if self.uscc_strict else {}

    @property
    def types(self) -> list[str]:
        """Every canonical message type, sorted."""
        return sorted(self._versions)

    def __contains__(self, message_type: object) -> bool:
        return message_type in self._versions

    def versions(self, message_type: str) -> tuple[int, ...]:
        """The versions of a type, oldest first (``(1,)`` for most).

        Raises:
            KeyError: The type is not known.
        """
        return self._versions[message_type]

    def latest(self, message_type: str) -> int:
        """The newest version of a type."""
        return self._versions[message_type][-1]

    def schema(self, message_type: str, version: int = 1) -> dict[str, Any]:
        """The JSON Schema document of a version of a type (version 1 unless asked).

        Raises:
            KeyError: The type or the version is not known.
        """
        return self._schemas[(message_type, version)]

    def shared(self) -> dict[str, dict[str, Any]]:
        """The documents the message schemas refer to (``common.json``...), by ``$id``."""
        return dict(self._shared)

    def validate(
        self, message_type: str, payload: Any, *, prefix: str = "payload", version: int = 1
    ) -> Validation:
        """Validate a payload against a version of its type's schema and identifier checks.

        Args:
            message_type: A type from :attr:`types`.
            payload: The decoded JSON body.
            prefix: Put in front of every error path.
            version: Which version of the type's schema (1 unless the sender said).

        Returns:
            The errors (at most 20, sorted by path) and warnings.
        """
        validator = self._validators.get((message_type, version))
        if validator is None:
            if message_type in self._versions:
                known = ", ".join(map(str, self._versions[message_type]))
                reason = f"{message_type} has no version {version}; its versions: {known}"
                return Validation(errors=(FieldError("schema_version", reason),))
            known = ", ".join(self.types)
            return Validation(errors=(FieldError("type", f"unknown message type; known: {known}"),))
        fast = self._fast.get((message_type, version))
        if fast is not None and fast.is_valid(payload):
            return Validation()
        errors: list[FieldError] = []
        warnings: list[FieldError] = []
        to_normalise: list[list[str | int]] = []
        for error in validator.iter_errors(payload):
            if _not_canonical(error):
                to_normalise.append(list(error.absolute_path))
                continue
            for path, message in describe_errors(error):
                item = FieldError(
                    f"{prefix}{path}" if path.startswith("[") else _join(prefix, path), message
                )
                if not self.uscc_strict and _is_check_character_only(error):
                    warnings.append(item)
                else:
                    errors.append(item)
        errors.sort(key=lambda e: e.path)
        normalised = _normalise(payload, to_normalise) if to_normalise and not errors else None
        return Validation(
            errors=tuple(errors[:MAX_ERRORS]), warnings=tuple(warnings), normalised=normalised
        )

    def example(self, message_type: str, version: int = 1) -> dict[str, Any]:
        """The valid example payload in ``schemas/examples/<type>.json`` (version 1) or
        ``schemas/examples/<type>/v<N>.json``."""
        path = self.directory / "examples" / f"{message_type}.json"
        if version != 1 or not path.exists():
            path = self.directory / "examples" / message_type / f"v{version}.json"
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document


_VERSION_FILE = re.compile(r"^v(?P<version>[1-9][0-9]*)\.json$")


def _message_files(folder: Path) -> Iterator[tuple[str, int, Path]]:
    """``(type, version, file)`` of every message schema under ``folder``."""
    for path in sorted(folder.glob("*.json")):
        if path.name == LOCK_FILE:
            continue
        if not _TYPE_NAME.match(path.stem):
            raise ValueError(f"{path}: file name is not a dotted message type")
        if (folder / path.stem / "v1.json").exists():
            raise ValueError(f"{path}: version 1 is also in {path.stem}/v1.json; keep one")
        yield path.stem, 1, path
    for directory in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not _TYPE_NAME.match(directory.name):
            raise ValueError(f"{directory}: folder name is not a dotted message type")
        for path in sorted(directory.glob("v*.json")):
            match = _VERSION_FILE.match(path.name)
            if match is None:
                raise ValueError(f"{path}: a version file is called v<N>.json")
            yield directory.name, int(match["version"]), path


def _fast_validators(
    schemas: Mapping[tuple[str, int], dict[str, Any]],
    resources: Sequence[tuple[str, Resource[Any]]],
) -> dict[tuple[str, int], Any]:
    registry = jsonschema_rs.Registry([(uri, resource.contents) for uri, resource in resources])
    formats = {
        "date-time": _date_time,
        "date": _date,
        # only the stored form passes here, so another form takes the slow path, which
        # finds where it is and normalises it
        "cn-resident-id": _passes(_stored_form_resident_id),
        "cn-uscc": _passes(identifiers.check_uscc),
        "cn-e-license-id": _passes(identifiers.check_e_license_id),
    }
    return {
        name: jsonschema_rs.Draft202012Validator(
            schema,
            registry=registry,
            formats=formats,
            validate_formats=True,
            ignore_unknown_formats=False,
        )
        for name, schema in schemas.items()
    }


def _passes(check: Callable[[str], None]) -> Callable[[object], bool]:
    def passes(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            check(value)
        except identifiers.IdentifierError:
            return False
        return True

    return passes


def _stored_form_resident_id(value: str) -> None:
    _resident_id(value)


def _not_canonical(error: ValidationError) -> bool:
    return error.validator == "format" and isinstance(error.cause, _NotCanonical)


def _normalise(payload: Any, paths: Iterable[Sequence[str | int]]) -> Any:
    """A copy of ``payload`` with the resident IDs at ``paths`` in their stored form."""
    copy = json.loads(json.dumps(payload))
    for path in paths:
        if not path:
            continue
        parent = copy
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = identifiers.normalise_resident_id(parent[path[-1]])
    return copy


def _is_check_character_only(error: ValidationError) -> bool:
    return (
        error.validator == "format"
        and error.validator_value == "cn-uscc"
        and isinstance(error.instance, str)
        and "check character" in str(error.cause or "")
    )


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def format_path(parts: Iterable[str | int]) -> str:
    """``["applicant", "id_no"]`` → ``applicant.id_no``; list indexes as ``[0]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_REQUIRED = re.compile(r"^'(?P<name>.+)' is a required property$")


def describe_errors(error: ValidationError) -> list[tuple[str, str]]:
    """Turn one jsonschema error into ``(path, reason)`` pairs that never echo the value.

    jsonschema's own messages repeat the offending value, which may be a whole resident
    ID; these say what was expected instead.
    """
    path = format_path(error.absolute_path)
    kind = error.validator
    expected = error.validator_value
    if kind == "required":
        match = _REQUIRED.match(error.message)
        name = match["name"] if match else "?"
        return [(_join(path, name) if path else name, "is required")]
    if kind == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extras = [
            key
            for key in error.instance
            if key not in allowed and not any(p.search(key) for p in patterns)
        ]
        return [(_join(path, key), "is not a known field") for key in extras] or [
            (path, "has fields that are not allowed")
        ]
    if kind == "unevaluatedProperties" and isinstance(error.instance, Mapping):
        return [(path, "has fields that are not allowed")]
    return [(path, _reason(kind, expected, error))]


def describe_error(error: ValidationError) -> tuple[str, str]:
    """The first ``(path, reason)`` of :func:`describe_errors`."""
    return describe_errors(error)[0]


def _reason(kind: Any, expected: Any, error: ValidationError) -> str:
    match kind:
        case "type":
            names = expected if isinstance(expected, list) else [expected]
            return "must be " + " or ".join(_TYPE_WORDS.get(str(n), str(n)) for n in names)
        case "enum":
            return "must be one of " + ", ".join(
                json.dumps(v, ensure_ascii=False) for v in expected
            )
        case "const":
            return f"must be {json.dumps(expected, ensure_ascii=False)}"
        case "format":
            if error.cause is not None and str(error.cause):
                return str(error.cause)
            return _FORMAT_WORDS.get(expected, f"must be a valid {expected}")
        case "pattern":
            return f"does not have the expected form (pattern {expected})"
        case "minLength":
            return f"must be at least {expected} characters long"
        case "maxLength":
            return f"must be at most {expected} characters long"
        case "minimum":
            return f"must be at least {expected}"
        case "maximum":
            return f"must be at most {expected}"
        case "exclusiveMinimum":
            return f"must be greater than {expected}"
        case "exclusiveMaximum":
            return f"must be less than {expected}"
        case "minItems":
            return f"must have at least {expected} items"
        case "maxItems":
            return f"must have at most {expected} items"
        case "uniqueItems":
            return "must not repeat items"
        case "minProperties":
            return f"must have at least {expected} fields"
        case "maxProperties":
            return f"must have at most {expected} fields"
        case "oneOf" | "anyOf":
            return "does not match any of the allowed forms"
        case "not":
            return "has a form that is not allowed"
        case "multipleOf":
            return f"must be a multiple of {expected}"
    return f"is not valid ({kind})"


_TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_FORMAT_WORDS = {
    "date-time": "must be an RFC 3339 date-time with an offset, e.g. 2026-11-27T09:30:00+08:00",
    "date": "must be a date as YYYY-MM-DD",
}
