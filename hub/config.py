"""Configuration: one TOML file, checked once at start-up.

A wrong file stops start-up with a message that names the file, the key and what is
expected. ``${VAR}`` (or ``${VAR:-default}``) in any string reads the environment, so
secrets never need to live in the file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from hub.schemas import describe_error

__all__ = [
    "CONFIG_ENV",
    "CircuitPolicy",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "Destination",
    "DispatcherConfig",
    "RetryPolicy",
    "Route",
    "SandboxConfig",
    "ServerConfig",
    "ValidationConfig",
    "default_config_path",
    "load_config",
    "parse_config",
    "with_routing",
]

CONFIG_ENV = "GOVHUB_CONFIG"
DEFAULT_DATABASE_URL = "sqlite:///var/govhub.db"
DEFAULT_FILE = "govhub.toml"


class ConfigError(Exception):
    """The configuration is wrong; the message says where and what is expected."""

    def __init__(self, file: str | os.PathLike[str], key: str, reason: str) -> None:
        self.file = str(file)
        self.key = key
        self.reason = reason
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The web server: where it listens and how much it takes."""

    host: str = "127.0.0.1"
    port: int = 8700
    threads: int = 16
    #: Web worker processes (``None``: one per core).
    workers: int | None = None
    max_body_bytes: int = 1024 * 1024
    public_url: str | None = None


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """The store: an SQLAlchemy URL, relative SQLite paths resolved against the config file."""

    url: str = DEFAULT_DATABASE_URL


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """The simulators of the counterparts, started inside ``govhub run`` when enabled."""

    enabled: bool = True
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DispatcherConfig:
    """How deliveries are claimed and worked."""

    workers: int = 32
    poll_interval_s: float = 1.0
    lease_s: float = 30.0
    batch: int = 64


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """Validation switches: ``uscc_check = "warn"`` admits legacy pilot codes with a warning."""

    uscc_check: str = "strict"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Per-destination retry: exponential backoff with jitter, bounded attempts."""

    max_attempts: int = 8
    backoff_initial_s: float = 2.0
    backoff_max_s: float = 600.0


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """Per-destination circuit breaker: open after consecutive failures, probe after a pause."""

    failure_threshold: int = 5
    open_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Destination:
    """An adapter instance with its settings.

    Attributes:
        name: What routes call it.
        adapter: The adapter's registered name.
        title: What people call it (``民政局``), shown by the console; the name if unset.
        settings: Everything else in the table, validated by the adapter's settings schema.
        retry: Retry policy.
        circuit: Circuit-breaker policy.
        max_in_flight: Deliveries worked at once for this destination, so one slow
            counterpart cannot take every worker.
        schema_versions: The version of a type's schema it takes, by type
            (``{"case.submitted" = 2}``, or ``"as_sent"``); a type not named is
            delivered in version 1, the version every receiver was written against.
    """

    name: str
    adapter: str
    settings: Mapping[str, Any]
    retry: RetryPolicy = RetryPolicy()
    circuit: CircuitPolicy = CircuitPolicy()
    max_in_flight: int = 16
    title: str | None = None
    schema_versions: Mapping[str, int | str] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """The title, or the name when there is none."""
        return self.title or self.name


@dataclass(frozen=True, slots=True)
class Route:
    """Where messages go: ``when`` matches the type (exact or glob) and dotted paths.

    ``transform`` (``"<destination>.<name>"``, optional) names a transform offered by a
    configured destination's adapter: the route's destinations get the message as that
    transform rewrites it (signed, or turned into another type), see ``hub.pipeline.transforms``.
    """

    name: str
    type_pattern: str
    conditions: Mapping[str, tuple[Any, ...]]
    to: tuple[str, ...]
    transform: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, checked."""

    path: Path | None
    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    sandbox: SandboxConfig = SandboxConfig()
    dispatcher: DispatcherConfig = DispatcherConfig()
    validation: ValidationConfig = ValidationConfig()
    destinations: tuple[Destination, ...] = ()
    routes: tuple[Route, ...] = ()
    sections: Mapping[str, Any] = field(default_factory=dict)
    #: ``[[destinations]]`` and ``[[routes]]`` as written (``${VAR}`` not yet read):
    #: what a reload compares, records and hands to every process (``hub.reloads``).
    routing_source: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def base_dir(self) -> Path:
        """Where relative paths in the file are resolved: the file's own folder."""
        return self.path.parent if self.path else Path.cwd()

    @property
    def file(self) -> str:
        """The file as an error names it (``<config>`` for one built in memory)."""
        return str(self.path or "<config>")

    def table(self, name: str, known: Iterable[str]) -> Mapping[str, Any]:
        """The section ``[name]`` (empty when the file has none), with only ``known`` keys.

        Raises:
            ConfigError: The section is not a table, or has a key not in ``known``; the
                message names the file, the key and the keys there are.
        """
        section = self.sections.get(name, {})
        if not isinstance(section, Mapping):
            raise ConfigError(self.file, name, "must be a table")
        fields = tuple(known)
        for key in section:
            if key not in fields:
                raise ConfigError(
                    self.file, f"{name}.{key}", f"is not a known field ({', '.join(fields)})"
                )
        return section

    def destination(self, name: str) -> Destination:
        """The destination called ``name``.

        Raises:
            KeyError: There is none.
        """
        for destination in self.destinations:
            if destination.name == name:
                return destination
        raise KeyError(name)


_NUMBER = {"type": "number", "exclusiveMinimum": 0}
_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "server": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string", "minLength": 1},
                "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                "threads": {"type": "integer", "minimum": 1, "maximum": 256},
                "workers": {"type": "integer", "minimum": 1, "maximum": 64},
                "max_body_bytes": {"type": "integer", "minimum": 1024},
                "public_url": {"type": "string", "pattern": "^https?://"},
            },
        },
        "database": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"url": {"type": "string", "pattern": "^(sqlite|postgresql)"}},
        },
        "sandbox": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "host": {"type": "string"},
                "ports": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 65535},
                },
            },
        },
        "dispatcher": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "workers": {"type": "integer", "minimum": 1, "maximum": 256},
                "poll_interval_s": _NUMBER,
                "lease_s": _NUMBER,
                "batch": {"type": "integer", "minimum": 1, "maximum": 1000},
            },
        },
        "validation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"uscc_check": {"enum": ["strict", "warn"]}},
        },
        "destinations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "adapter"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "adapter": {"type": "string", "minLength": 1},
                    "title": {"type": "string", "minLength": 1, "maxLength": 100},
                    "max_in_flight": {"type": "integer", "minimum": 1, "maximum": 256},
                    "schema_versions": {
                        "type": "object",
                        "propertyNames": {"pattern": "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$"},
                        "additionalProperties": {
                            "oneOf": [
                                {"type": "integer", "minimum": 1},
                                {"const": "as_sent"},
                            ]
                        },
                    },
                    "retry": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "max_attempts": {"type": "integer", "minimum": 1},
                            "backoff_initial_s": _NUMBER,
                            "backoff_max_s": _NUMBER,
                        },
                    },
                    "circuit": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "failure_threshold": {"type": "integer", "minimum": 1},
                            "open_s": _NUMBER,
                        },
                    },
                },
            },
        },
        "routes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "to"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "when": {"type": "object", "properties": {"type": {"type": "string"}}},
                    "to": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string"},
                    },
                    "transform": {
                        "type": "string",
                        "pattern": "^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$",
                        "description": "<destination>.<transform>",
                    },
                },
            },
        },
    },
}
# Sections that later parts of the hub read for themselves (jobs, ops, logging, ...).
# They are checked by their owners; here they only have to be tables.
EXTENSION_SECTIONS = (
    "jobs",
    "ops",
    "logging",
    "payment",
    "courier",
    "calendar",
    "scheduler",
    "soap",
    "limits",
    "security",
    "supervision",
    "flows",
    "submit_once",
    "credit_check",
    "tracing",
)
for _section in EXTENSION_SECTIONS:
    _SCHEMA["properties"][_section] = {"type": "object"}
_VALIDATOR = Draft202012Validator(_SCHEMA)

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def default_config_path() -> Path | None:
    """``$GOVHUB_CONFIG`` if set, else ``./govhub.toml`` if present."""
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    local = Path.cwd() / DEFAULT_FILE
    return local if local.exists() else None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, expand and check a configuration file.

    Args:
        path: The TOML file; ``None`` uses :func:`default_config_path`, and when there is
            no file at all, the built-in defaults.

    Returns:
        The checked configuration.

    Raises:
        ConfigError: The file is missing, unreadable, not TOML, or wrong; the message
            names the file, the key and what is expected.
    """
    file = Path(path) if path is not None else default_config_path()
    if file is None:
        # No file: the defaults, their relative SQLite path made absolute (against the
        # working directory, there being no file's folder) so that messages name it.
        default = DatabaseConfig(url=_resolve_sqlite(None, Path.cwd()))
        return Config(path=None, database=default)
    file = file.resolve()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, "", "no such file (create one with `govhub init`)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(file, "", f"cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(file, "", f"is not valid TOML: {error}") from None
    return parse_config(raw, file)


def parse_config(raw: Mapping[str, Any], file: Path | None) -> Config:
    """Check an already-parsed TOML document (see :func:`load_config`)."""
    label = str(file) if file else "<config>"
    document = _expand(raw, label, "")
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        key, reason = describe_error(errors[0])
        raise ConfigError(label, key or "(top level)", reason)

    base = file.parent if file else Path.cwd()
    server = ServerConfig(**document.get("server", {}))
    database = DatabaseConfig(url=_resolve_sqlite(document.get("database", {}).get("url"), base))
    sandbox_raw = document.get("sandbox", {})
    sandbox = SandboxConfig(
        enabled=sandbox_raw.get("enabled", True),
        host=sandbox_raw.get("host", "127.0.0.1"),
        ports=dict(sandbox_raw.get("ports", {})),
    )
    dispatcher = DispatcherConfig(**document.get("dispatcher", {}))
    validation = ValidationConfig(**document.get("validation", {}))
    destinations = tuple(
        _destination(item, label, index)
        for index, item in enumerate(document.get("destinations", []))
    )
    routes = tuple(
        _route(item, label, index) for index, item in enumerate(document.get("routes", []))
    )
    _check_names(destinations, routes, label)
    sections = {name: document[name] for name in EXTENSION_SECTIONS if name in document}
    routing_source = json.loads(
        json.dumps(
            {"destinations": raw.get("destinations", []), "routes": raw.get("routes", [])},
            default=str,
        )
    )
    return Config(
        path=file,
        server=server,
        database=database,
        sandbox=sandbox,
        dispatcher=dispatcher,
        validation=validation,
        destinations=destinations,
        routes=routes,
        sections=sections,
        routing_source=routing_source,
    )


def with_routing(config: Config, document: Mapping[str, Any]) -> Config:
    """``config`` with the ``[[destinations]]`` and ``[[routes]]`` of ``document`` instead.

    Args:
        config: The running configuration (its other sections stay as they are).
        document: ``{"destinations": [...], "routes": [...]}`` as written in a file
            (``${VAR}`` is read from this process's environment).

    Raises:
        ConfigError: The document is wrong (the message names the file and the key).
    """
    routing = {key: list(document.get(key, [])) for key in ("destinations", "routes")}
    parsed = parse_config(routing, config.path)
    return replace(
        config,
        destinations=parsed.destinations,
        routes=parsed.routes,
        routing_source=parsed.routing_source,
    )


def _expand(value: Any, file: str, key: str) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match["name"], match["default"]
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(file, key, f"environment variable {name} is not set")

        return _VAR.sub(substitute, value)
    if isinstance(value, Mapping):
        return {k: _expand(v, file, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, file, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _resolve_sqlite(url: str | None, base: Path) -> str:
    url = url or DEFAULT_DATABASE_URL
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def _destination(item: Mapping[str, Any], file: str, index: int) -> Destination:
    settings = {
        k: v
        for k, v in item.items()
        if k
        not in {"name", "adapter", "title", "retry", "circuit", "max_in_flight", "schema_versions"}
    }
    retry = RetryPolicy(**item.get("retry", {}))
    if retry.backoff_max_s < retry.backoff_initial_s:
        raise ConfigError(
            file,
            f"destinations[{index}].retry.backoff_max_s",
            "must be at least backoff_initial_s",
        )
    return Destination(
        name=item["name"],
        adapter=item["adapter"],
        settings=settings,
        retry=retry,
        circuit=CircuitPolicy(**item.get("circuit", {})),
        max_in_flight=item.get("max_in_flight", 16),
        title=item.get("title"),
        schema_versions=dict(item.get("schema_versions", {})),
    )


def _route(item: Mapping[str, Any], file: str, index: int) -> Route:
    when = dict(item.get("when", {}))
    type_pattern = when.pop("type", "*")
    conditions: dict[str, tuple[Any, ...]] = {}
    for path, expected in when.items():
        root = path.split(".", 1)[0]
        if root not in {"payload", "headers", "source", "correlation_id", "client_ref"}:
            raise ConfigError(
                file,
                f"routes[{index}].when.{path}",
                "a condition path starts with payload., headers., source, correlation_id"
                " or client_ref",
            )
        conditions[path] = tuple(expected) if isinstance(expected, list) else (expected,)
    return Route(
        name=item["name"],
        type_pattern=type_pattern,
        conditions=conditions,
        to=tuple(item["to"]),
        transform=item.get("transform"),
    )


def _check_names(
    destinations: tuple[Destination, ...], routes: tuple[Route, ...], file: str
) -> None:
    seen: set[str] = set()
    for index, destination in enumerate(destinations):
        if destination.name in seen:
            raise ConfigError(
                file, f"destinations[{index}].name", f"{destination.name!r} is used twice"
            )
        seen.add(destination.name)
    route_names: set[str] = set()
    for index, route in enumerate(routes):
        if route.name in route_names:
            raise ConfigError(file, f"routes[{index}].name", f"{route.name!r} is used twice")
        route_names.add(route.name)
        for position, target in enumerate(route.to):
            if target not in seen:
                known = ", ".join(sorted(seen)) or "none are configured"
                raise ConfigError(
                    file,
                    f"routes[{index}].to[{position}]",
                    f"no destination is called {target!r} (destinations: {known})",
                )
        if route.transform is not None:
            provider = route.transform.split(".", 1)[0]
            if provider not in seen:
                known = ", ".join(sorted(seen)) or "none are configured"
                raise ConfigError(
                    file,
                    f"routes[{index}].transform",
                    f"no destination is called {provider!r} to provide {route.transform!r}"
                    f" (destinations: {known})",
                )
