"""The ``[ops]`` section: sessions, sign-in throttling, the signing key, ``/metrics`` access."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hub.config import Config, ConfigError

__all__ = ["OpsSettings", "ops_settings"]


@dataclass(frozen=True, slots=True)
class OpsSettings:
    """How the console guards itself.

    Attributes:
        session_idle_minutes: A session ends after this long without a request.
        session_max_hours: ...and after this long in any case.
        login_max_failures: Failed sign-ins allowed per name, and per address, in the window.
        login_window_minutes: The window (also how long a locked-out name waits).
        secret_key: Signs cookies; when unset, one is generated once and kept in the store
            (so every node of a cluster shares it).
        metrics_token: When set, ``/metrics`` wants ``Authorization: Bearer <token>``; when
            unset, ``/metrics`` answers only requests from the hub's own machine.
        refresh_seconds: Pages with work in progress reload themselves this often.
    """

    session_idle_minutes: float = 30
    session_max_hours: float = 12
    login_max_failures: int = 5
    login_window_minutes: float = 15
    secret_key: str | None = None
    metrics_token: str | None = None
    refresh_seconds: int = 5

    @property
    def idle(self) -> dt.timedelta:
        """Idle limit of a session."""
        return dt.timedelta(minutes=self.session_idle_minutes)

    @property
    def lifetime(self) -> dt.timedelta:
        """Absolute limit of a session."""
        return dt.timedelta(hours=self.session_max_hours)

    @property
    def login_window(self) -> dt.timedelta:
        """The throttling window."""
        return dt.timedelta(minutes=self.login_window_minutes)


_NUMBERS: dict[str, tuple[type, float, float]] = {
    "session_idle_minutes": (float, 1, 24 * 60),
    "session_max_hours": (float, 0.1, 24 * 30),
    "login_max_failures": (int, 1, 1000),
    "login_window_minutes": (float, 1, 24 * 60),
    "refresh_seconds": (int, 1, 3600),
}
_STRINGS = ("secret_key", "metrics_token")


def ops_settings(config: Config) -> OpsSettings:
    """Read and check ``[ops]``.

    Raises:
        ConfigError: Unknown key or bad value, naming the file and the key.
    """
    file = config.file
    raw = config.table("ops", (*_NUMBERS, *_STRINGS))
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _NUMBERS:
            kind, low, high = _NUMBERS[key]
            good_type = isinstance(value, int) if kind is int else isinstance(value, int | float)
            if isinstance(value, bool) or not good_type or not low <= value <= high:
                noun = "an integer" if kind is int else "a number"
                raise ConfigError(file, f"ops.{key}", f"must be {noun} from {low:g} to {high:g}")
            values[key] = kind(value)
        elif key in _STRINGS:
            if not isinstance(value, str) or len(value) < 16:
                raise ConfigError(file, f"ops.{key}", "must be a string of at least 16 characters")
            values[key] = value
    return OpsSettings(**values)
