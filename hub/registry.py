"""Finds adapters (entry-point group ``govhub.adapters``) and builds the destinations.

``hub`` never imports a concrete adapter: the built-ins are entry points of this
distribution like any third-party adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from jsonschema import Draft202012Validator

from adapters.sdk import Adapter
from hub.config import Config, ConfigError
from hub.schemas import describe_errors

__all__ = [
    "ENTRY_POINT_GROUP",
    "adapter_classes",
    "build_destinations",
    "check_routes",
    "with_defaults",
]

ENTRY_POINT_GROUP = "govhub.adapters"


def adapter_classes() -> dict[str, type[Adapter]]:
    """Every installed adapter class by its registered name."""
    found: dict[str, type[Adapter]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not an Adapter class")
        found[entry.name] = cls
    return found


def build_destinations(
    config: Config, classes: Mapping[str, type[Adapter]] | None = None
) -> dict[str, Adapter]:
    """Instantiate every configured destination, its settings checked by its adapter.

    Raises:
        ConfigError: An unknown adapter or settings that do not fit its schema; the
            message names the file and the key.
    """
    classes = adapter_classes() if classes is None else classes
    file = str(config.path or "<config>")
    built: dict[str, Adapter] = {}
    for index, destination in enumerate(config.destinations):
        cls = classes.get(destination.adapter)
        if cls is None:
            known = ", ".join(sorted(classes)) or "none installed"
            raise ConfigError(
                file,
                f"destinations[{index}].adapter",
                f"unknown adapter {destination.adapter!r} (known: {known})",
            )
        settings = with_defaults(dict(destination.settings), cls.settings_schema)
        errors = list(Draft202012Validator(cls.settings_schema).iter_errors(settings))
        if errors:
            path, reason = describe_errors(errors[0])[0]
            raise ConfigError(file, f"destinations[{index}]" + (f".{path}" if path else ""), reason)
        built[destination.name] = cls(destination.name, settings)
    check_routes(config, {name: type(adapter) for name, adapter in built.items()})
    return built


def check_routes(config: Config, adapters: Mapping[str, type[Adapter]]) -> None:
    """Refuse a route whose message types its destination's adapter cannot deliver.

    Only plain (non-glob) route types can be checked; ``case.*`` to a webhook is fine.
    Routes with a transform are checked by ``hub.pipeline.transforms`` (what the destinations get
    is the transform's output).

    Raises:
        ConfigError: A destination cannot take a type routed to it.
    """
    file = str(config.path or "<config>")
    for index, route in enumerate(config.routes):
        if any(ch in route.type_pattern for ch in "*?[") or route.transform is not None:
            continue
        for position, name in enumerate(route.to):
            adapter = adapters.get(name)
            if adapter is not None and not adapter.can_deliver(route.type_pattern):
                raise ConfigError(
                    file,
                    f"routes[{index}].to[{position}]",
                    f"destination {name!r} ({adapter.name}) does not accept {route.type_pattern}"
                    f" (it accepts {', '.join(adapter.accepts) or 'nothing'})",
                )


def with_defaults(settings: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in top-level ``default`` values the settings schema declares."""
    for key, spec in schema.get("properties", {}).items():
        if key not in settings and isinstance(spec, Mapping) and "default" in spec:
            settings[key] = spec["default"]
    return settings
