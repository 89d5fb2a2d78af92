"""Python source from JSON Schemas: names, TypedDicts, sample values and literals.

What the WSDL generator writes into an adapter package is plain, typed Python a developer
goes on editing: one ``TypedDict`` per XSD type and per operation's input and output
(:class:`TypedDicts`), sample answers that fit the schemas (:func:`sample`), written as
literals ``ruff format`` leaves as they are (:func:`literal`).
"""

from __future__ import annotations

import importlib
import json
import keyword
import re
import textwrap
from typing import Any

__all__ = ["TypedDicts", "docstring", "literal", "pascal", "sample", "snake"]

_RESERVED_TYPES = frozenset(
    {"Any", "Literal", "NotRequired", "TypedDict", "cast", "Path", "Flask", "Mapping"}
)
# The regular expression parser behind ``re``, for samples of simple patterns.
_parser: Any = importlib.import_module("re._parser")
_SAMPLE_STRINGS = ("sample", "A1", "a", "1", "0", "A", "x1")


def snake(name: str) -> str:
    """``CountryISOCode`` → ``country_iso_code``: a Python name for an operation."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    text = re.sub(r"\W+", "_", spaced).strip("_").lower() or "operation"
    if text[0].isdigit():
        text = f"op_{text}"
    return f"{text}_" if keyword.iskeyword(text) else text


def pascal(name: str) -> str:
    """``tCountryInfo`` → ``TCountryInfo``, ``country_info`` → ``CountryInfo``."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    text = "".join(p[0].upper() + p[1:] for p in parts) or "Type"
    if text[0].isdigit():
        text = f"T{text}"
    return f"{text}Type" if text in _RESERVED_TYPES else text


def docstring(text: str, indent: int) -> str:
    """``text`` as a docstring at ``indent`` (without the first indent), wrapped at 100."""
    quotes = '"' * 3
    clean = " ".join(text.split()).replace("\\", "\\\\").replace(quotes, "'''") or "-"
    if indent + len(clean) + 6 <= 100:
        return f"{quotes}{clean}{quotes}"
    pad = " " * indent
    lines = textwrap.wrap(clean, 100 - indent - 6)  # at least two lines: ruff keeps them
    return quotes + lines[0] + "".join(f"\n{pad}{line}" for line in lines[1:]) + f"\n{pad}{quotes}"


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return ref.removeprefix("#/$defs/")
    return None


class TypedDicts:
    """The ``TypedDict``s (and aliases) standing for a set of JSON Schemas.

    Args:
        defs: The shared ``$defs`` of every operation's schemas.
    """

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.names = {name: self._unique(pascal(name)) for name in defs}
        self.blocks: list[str] = []
        self._taken: set[str] = set(self.names.values())
        for name in defs:
            self._declare(self.names[name], defs[name], description=defs[name].get("description"))

    def _unique(self, wanted: str) -> str:
        taken: set[str] = getattr(self, "_taken", set())
        name, number = wanted, 2
        while name in taken:
            name, number = f"{wanted}{number}", number + 1
        taken.add(name)
        self._taken = taken
        return name

    def declare(self, wanted: str, schema: dict[str, Any], description: str) -> str:
        """Declare a ``TypedDict`` (or alias) named after ``wanted``; its name."""
        name = self._unique(pascal(wanted))
        self._declare(name, schema, description=description)
        return name

    def _declare(self, name: str, schema: dict[str, Any], *, description: str | None) -> None:
        if schema.get("type") != "object":
            self.blocks.append(f"{name} = {self.annotation(schema, name)}")
            return
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fields = []
        for key, value in properties.items():
            annotation = self.annotation(value, f"{name}_{key}")
            fields.append((key, annotation if key in required else f"NotRequired[{annotation}]"))
        doc = docstring(description or f"The content of {name}.", 4)
        identifiers = all(k.isidentifier() and not keyword.iskeyword(k) for k, _ in fields)
        if identifiers:
            lines = [f"class {name}(TypedDict):", f"    {doc}"]
            if fields:
                lines.append("")
            lines += [f"    {key}: {annotation}" for key, annotation in fields]
            self.blocks.append("\n".join(lines))
        else:
            # Keys that are no Python names (``_value_1`` is one; ``xml:lang`` is not).
            items = "".join(f"        {json.dumps(k)}: {json.dumps(a)},\n" for k, a in fields)
            self.blocks.append(f"{name} = TypedDict(\n    {name!r},\n    {{\n{items}    }},\n)")

    def annotation(self, schema: dict[str, Any], hint: str) -> str:
        """The Python type of values valid against ``schema``."""
        ref = _ref_name(schema)
        if ref is not None:
            return self.names[ref]
        if "enum" in schema:
            values = [v for v in schema["enum"] if isinstance(v, str | int) or v is None]
            if len(values) == len(schema["enum"]):
                return "Literal[" + ", ".join(json.dumps(v) for v in values) + "]"
        for combined in ("anyOf", "oneOf"):
            if combined in schema and schema.get("type") is None:
                parts = [self.annotation(s, hint) for s in schema[combined]]
                return " | ".join(dict.fromkeys(parts))
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.annotation(schema["allOf"][0], hint)
        kind = schema.get("type")
        if kind == "object":
            return self.declare(hint, schema, f"{hint.replace('_', ' ')}.")
        if kind == "array":
            return f"list[{self.annotation(schema.get('items', {}), hint)}]"
        simple = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
        if kind == "null":
            return "None"
        return simple.get(str(kind), "Any")

    def module(self) -> str:
        """The blocks, separated as a module wants them."""
        return "\n\n\n".join(self.blocks)


def sample(schema: dict[str, Any], defs: dict[str, Any], *, name: str = "", depth: int = 0) -> Any:
    """A value valid against ``schema``, for a sandbox's answer or a test's request.

    Optional properties are filled too (so the sample shows the whole shape, and holds
    every element the XSD requires even where the JSON Schema lets an empty one be
    absent), until types nest six deep; then only what is required.
    """
    ref = _ref_name(schema)
    if ref is not None:
        if depth > 6:
            return _minimal(defs[ref], defs)
        return sample(defs[ref], defs, name=name, depth=depth + 1)
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combined in ("anyOf", "oneOf"):
        if combined in schema and schema.get("type") is None:
            options = [s for s in schema[combined] if s.get("type") != "null"]
            return sample(options[0], defs, name=name, depth=depth) if options else None
    if "allOf" in schema and len(schema["allOf"]) == 1 and "type" not in schema:
        return sample({**schema["allOf"][0]}, defs, name=name, depth=depth)
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, defs, depth)
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        count = min(count, int(schema.get("maxItems", count)))
        return [sample(schema.get("items", {}), defs, name=name, depth=depth) for _ in range(count)]
    if kind == "integer":
        return int(_bounded(schema, 1))
    if kind == "number":
        return _bounded(schema, 1.5)
    if kind == "boolean":
        return True
    if kind == "string":
        return _string(schema, name)
    return "sample" if kind is None and not schema else None


def _object(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> dict[str, Any]:
    required = list(schema.get("required", ()))
    one_of = schema.get("oneOf") or []
    if one_of and isinstance(one_of[0], dict):
        required += list(one_of[0].get("required", ()))
        others = {n for option in one_of[1:] for n in option.get("required", ())}
    else:
        others = set()
    value: dict[str, Any] = {}
    for key, spec in schema.get("properties", {}).items():
        if key in others and key not in required:
            continue
        if key in required or key != "_value_1":
            value[key] = sample(spec, defs, name=key, depth=depth + 1)
    if not value and schema.get("properties"):
        # an empty element reads as absent: show at least one child
        key, spec = next(iter(schema["properties"].items()))
        value[key] = sample(spec, defs, name=key, depth=depth + 1)
    return value


def _minimal(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    if schema.get("type") != "object":
        return sample(schema, defs, depth=99)
    wanted = {
        k: v for k, v in schema.get("properties", {}).items() if k in schema.get("required", ())
    }
    return {k: sample(v, defs, name=k, depth=99) for k, v in wanted.items()}


def _bounded(schema: dict[str, Any], preferred: float) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value = preferred
    if low is not None and value <= low:
        value = low + (1 if "exclusiveMinimum" in schema else 0)
    if high is not None and value >= high:
        value = high - (1 if "exclusiveMaximum" in schema else 0)
    return value


def _string(schema: dict[str, Any], name: str) -> str:
    formats = {
        "date": "2026-01-15",
        "date-time": "2026-01-15T09:30:00+08:00",
        "time": "09:30:00",
        "duration": "P1D",
        "uri-reference": "https://example.org/",
    }
    if schema.get("format") in formats:
        return formats[schema["format"]]
    if schema.get("contentEncoding") == "base64":
        return "c2FtcGxl"
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    pattern = schema.get("pattern")
    from_pattern = _from_pattern(pattern) if pattern else None
    for candidate in (
        name or "sample",
        *_SAMPLE_STRINGS,
        *([from_pattern] if from_pattern else []),
    ):
        text = (
            (candidate * (low // max(len(candidate), 1) + 1)) if len(candidate) < low else candidate
        )
        if high is not None:
            text = text[: int(high)]
        if pattern is None or re.search(pattern, text):
            return text
    return "sample"  # no candidate fits the pattern: the sandbox's check will say so


def _from_pattern(pattern: str) -> str | None:
    """The shortest text of a simple regular expression (classes, repeats, groups)."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return None
    try:
        return _emit(list(parsed))
    except ValueError:
        return None


def _emit(items: list[Any]) -> str:
    out = []
    for op, argument in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(argument))
        elif name == "IN":
            out.append(_first_of(argument))
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, _high, inner = argument
            out.append(_emit(list(inner)) * max(int(low), 1 if int(low) == 0 else int(low)))
        elif name == "SUBPATTERN":
            out.append(_emit(list(argument[-1])))
        elif name == "BRANCH":
            out.append(_emit(list(argument[1][0])))
        elif name == "CATEGORY":
            out.append(_first_of([(op, argument)]))
        elif name == "ANY":
            out.append("a")
        elif name != "AT":
            raise ValueError(name)
    return "".join(out)


def _first_of(choices: list[Any]) -> str:
    for op, argument in choices:
        name = str(op)
        if name == "LITERAL":
            return chr(argument)
        if name == "RANGE":
            return chr(argument[0])
        if name == "CATEGORY":
            return {"CATEGORY_DIGIT": "1", "CATEGORY_SPACE": " "}.get(str(argument), "a")
    raise ValueError("negated or empty class")


def literal(value: Any, indent: int = 0) -> str:
    """``value`` as a Python literal, one item a line with trailing commas (ruff's style)."""
    pad = " " * indent
    inner = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = "".join(
            f"{inner}{json.dumps(k)}: {literal(v, indent + 4)},\n" for k, v in value.items()
        )
        return "{\n" + items + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = "".join(f"{inner}{literal(v, indent + 4)},\n" for v in value)
        return "[\n" + items + pad + "]"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)
