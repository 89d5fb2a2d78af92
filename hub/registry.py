"""Finds adapters (entry-point group ``govhub.adapters``) and builds the destinations.

``hub`` never imports a concrete adapter: the built-ins are entry points of this
distribution like any third-party adapter.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from jsonschema import Draft202012Validator

from adapters.sdk import Adapter
from hub.config import Config, ConfigError, Destination
from hub.schemas import describe_errors

__all__ = [
    "ENTRY_POINT_GROUP",
    "adapter_classes",
    "build_destinations",
    "check_routes",
    "destination_classes",
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


def destination_classes(
    config: Config, classes: Mapping[str, type[Adapter]] | None = None
) -> dict[str, type[Adapter]]:
    """The adapter class of each configured destination, none of them built (for tools
    that only need to know what a destination accepts, like ``govhub messages replay``).

    Raises:
        ConfigError: A destination names an adapter that is not installed.
    """
    classes = adapter_classes() if classes is None else classes
    found: dict[str, type[Adapter]] = {}
    for index, destination in enumerate(config.destinations):
        cls = classes.get(destination.adapter)
        if cls is None:
            known = ", ".join(sorted(classes)) or "none installed"
            raise ConfigError(
                str(config.path or "<config>"),
                f"destinations[{index}].adapter",
                f"unknown adapter {destination.adapter!r} (known: {known})",
            )
        found[destination.name] = cls
    return found


def build_destinations(
    config: Config,
    classes: Mapping[str, type[Adapter]] | None = None,
    *,
    known_types: Iterable[str] = (),
    existing: Mapping[str, tuple[Destination, Adapter]] | None = None,
) -> dict[str, Adapter]:
    """Instantiate every configured destination, its settings checked by its adapter.

    Args:
        config: The loaded configuration.
        classes: The adapter classes by name (default: the installed entry points).
        known_types: The canonical message types, against which glob routes are checked.
        existing: Destinations already running (a reload): one defined exactly as before
            keeps its adapter instance (its connections, its state), still checked.

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
        running = (existing or {}).get(destination.name)
        if running is not None and running[0] == destination and type(running[1]) is cls:
            built[destination.name] = running[1]
        else:
            built[destination.name] = cls(destination.name, settings)
    check_routes(
        config, {name: type(adapter) for name, adapter in built.items()}, known_types=known_types
    )
    return built


def check_routes(
    config: Config, adapters: Mapping[str, type[Adapter]], *, known_types: Iterable[str] = ()
) -> None:
    """Refuse a route whose message types its destination's adapter cannot deliver.

    A glob route (``credit.*``) stands for every known type it matches: each of them must
    be accepted by each destination, since a type it matches but the destination refuses
    would dead-letter every such message (``credit.*`` to the credit platform also catches
    ``credit.disclosure_due``). Routes with a transform are checked by
    ``hub.pipeline.transforms`` (what the destinations get is the transform's output).

    Args:
        config: The loaded configuration.
        adapters: The adapter class of each destination.
        known_types: The canonical message types a glob is expanded against.

    Raises:
        ConfigError: A destination cannot take a type routed to it.
    """
    file = str(config.path or "<config>")
    types = sorted(known_types)
    for index, route in enumerate(config.routes):
        if route.transform is not None:
            continue
        if any(ch in route.type_pattern for ch in "*?["):
            routed = [name for name in types if fnmatch.fnmatchcase(name, route.type_pattern)]
        else:
            routed = [route.type_pattern]
        for position, name in enumerate(route.to):
            adapter = adapters.get(name)
            if adapter is None:
                continue
            refused = [kind for kind in routed if not adapter.can_deliver(kind)]
            if refused:
                glob = refused != [route.type_pattern]
                via = f", which {route.type_pattern} matches" if glob else ""
                raise ConfigError(
                    file,
                    f"routes[{index}].to[{position}]",
                    f"destination {name!r} ({adapter.name}) does not accept {', '.join(refused)}"
                    f"{via} (it accepts {', '.join(adapter.accepts) or 'nothing'});"
                    " name the types the destination takes",
                )


def with_defaults(settings: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in top-level ``default`` values the settings schema declares."""
    for key, spec in schema.get("properties", {}).items():
        if key not in settings and isinstance(spec, Mapping) and "default" in spec:
            settings[key] = spec["default"]
    return settings
