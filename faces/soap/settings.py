"""The ``[soap]`` section of the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.config import Config, ConfigError

__all__ = ["SoapSettings", "soap_settings"]


@dataclass(frozen=True, slots=True)
class SoapSettings:
    """Limits and clocks of the SOAP endpoint.

    Attributes:
        max_body_bytes: Largest request accepted (at most ``[server] max_body_bytes``).
        max_depth: Deepest element nesting accepted.
        timestamp_tolerance_s: How far a WS-Security ``Created`` may be from the hub's
            clock; nonces are remembered this long.
        public_url: Where clients reach the hub (``[server] public_url``), for the WSDL.
    """

    max_body_bytes: int = 1024 * 1024
    max_depth: int = 64
    timestamp_tolerance_s: float = 300.0
    public_url: str | None = None


_LIMITS: dict[str, tuple[type, float, float]] = {
    "max_body_bytes": (int, 1024, 1024**3),
    "max_depth": (int, 8, 1000),
    "timestamp_tolerance_s": (float, 1, 86400),
}


def soap_settings(config: Config) -> SoapSettings:
    """The checked ``[soap]`` settings.

    Raises:
        ConfigError: An unknown key or a value out of range, naming the file and key.
    """
    section: dict[str, Any] = dict(config.sections.get("soap", {}))
    label = str(config.path) if config.path else "<config>"
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in _LIMITS:
            raise ConfigError(label, f"soap.{key}", f"is not a known key ({', '.join(_LIMITS)})")
        kind, low, high = _LIMITS[key]
        number_ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not number_ok or (kind is int and not isinstance(value, int)):
            raise ConfigError(
                label, f"soap.{key}", f"must be {'an integer' if kind is int else 'a number'}"
            )
        if not low <= value <= high:
            raise ConfigError(label, f"soap.{key}", f"must be from {low:g} to {high:g}")
        values[key] = kind(value)
    cap = min(
        values.get("max_body_bytes", config.server.max_body_bytes), config.server.max_body_bytes
    )
    values["max_body_bytes"] = cap
    return SoapSettings(public_url=config.server.public_url, **values)
