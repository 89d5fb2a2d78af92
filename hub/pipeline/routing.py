"""Routing: which destinations a message goes to, read from ``[[routes]]``.

A route matches a message type (exact or glob) and, optionally, dotted paths into the
envelope (``payload.item_code``) against a value or a list of values. Every matching
route contributes its destinations; a destination named by two routes gets one delivery.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import translate
from typing import Any

from hub.config import Route
from hub.core.envelope import Envelope

__all__ = ["Router"]

_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Compiled:
    route: Route
    type_matcher: re.Pattern[str]
    conditions: tuple[tuple[tuple[str, ...], tuple[Any, ...]], ...]


class Router:
    """Routes compiled once, matched per message."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes = tuple(
            _Compiled(
                route=route,
                type_matcher=re.compile(translate(route.type_pattern)),
                conditions=tuple(
                    (tuple(path.split(".")), values) for path, values in route.conditions.items()
                ),
            )
            for route in routes
        )

    def targets(self, envelope: Envelope) -> list[tuple[str, str]]:
        """``(destination, route name)`` for every destination the message goes to."""
        document = {
            "payload": envelope.payload,
            "headers": envelope.headers,
            "source": envelope.source,
            "correlation_id": envelope.correlation_id,
            "client_ref": envelope.client_ref,
        }
        seen: set[str] = set()
        targets: list[tuple[str, str]] = []
        for compiled in self._routes:
            if not compiled.type_matcher.match(envelope.type):
                continue
            if not all(_lookup(document, path) in values for path, values in compiled.conditions):
                continue
            for destination in compiled.route.to:
                if destination not in seen:
                    seen.add(destination)
                    targets.append((destination, compiled.route.name))
        return targets


def _lookup(document: Any, path: tuple[str, ...]) -> Any:
    current = document
    for part in path:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current
