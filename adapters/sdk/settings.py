"""Settings schemas: loading an adapter's ``settings.json``, and the properties most share.

An adapter's settings are a JSON Schema (2020-12). Secrets are marked ``"writeOnly":
true``: they are redacted wherever settings are shown and masked wherever anything is
logged. By convention the connection settings have the same names everywhere, so ops
learn them once and the contract suite can turn them (``timeout_s`` for the timeout test):

``url``, ``timeout_s``, ``connect_timeout_s``, ``max_calls_per_s``, ``burst``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["CONNECTION_PROPERTIES", "SECRET_NAME_HINTS", "load_schema", "looks_secret"]

#: The connection settings every HTTP-based adapter understands.
CONNECTION_PROPERTIES: dict[str, dict[str, Any]] = {
    "url": {
        "type": "string",
        "pattern": "^https?://",
        "description": "The counterpart's base URL or endpoint.",
    },
    "timeout_s": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 600,
        "default": 10,
        "description": "Seconds to wait for an answer.",
    },
    "connect_timeout_s": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 120,
        "default": 5,
        "description": "Seconds to wait for a connection.",
    },
    "max_calls_per_s": {
        "type": "number",
        "exclusiveMinimum": 0,
        "description": "The counterpart's call budget (calls a second); unlimited if absent.",
    },
    "burst": {
        "type": "integer",
        "minimum": 1,
        "default": 5,
        "description": "Calls that may go at once within the budget.",
    },
}

#: Property names that hold secrets; the contract suite insists they are ``writeOnly``.
SECRET_NAME_HINTS = ("secret", "password", "passwd", "token", "api_key", "apikey", "private_key")


def looks_secret(name: str) -> bool:
    """Whether a settings property name says it holds a secret."""
    lowered = name.lower()
    return any(hint in lowered for hint in SECRET_NAME_HINTS) and not lowered.endswith(
        ("_url", "_path", "_file", "_id", "_digest", "_header")
    )


def load_schema(module_file: str, name: str = "settings.json") -> dict[str, Any]:
    """The JSON document ``name`` beside a module: ``load_schema(__file__)``."""
    document: dict[str, Any] = json.loads(
        (Path(module_file).resolve().parent / name).read_text(encoding="utf-8")
    )
    return document
