"""The ``[limits]`` section: per-client rate limits and failed-authentication throttling.

Both are kept in the memory of each web process (a token bucket per client, a window of
failures per address): they protect the process that would do the work, and cost no
database round trip on the hot path. Under ``govhub run`` with N web workers a client can
reach N times its rate in the worst case (requests are spread over the workers by the
kernel); set the rate with that in mind.

The console's sign-in keeps its own store-backed throttling (``[ops] login_max_failures``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.config import Config, ConfigError

__all__ = [
    "LIMITS_EXTENSION",
    "LimitSettings",
    "Limits",
    "Rate",
    "limit_settings",
    "retry_after_header",
]

#: Where the app keeps its :class:`Limits` (``app.extensions``).
LIMITS_EXTENSION = "govhub_limits"

_MAX_TRACKED = 10_000  # addresses and clients remembered at most (oldest forgotten)


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket's shape: ``per_s`` requests a second on average, ``burst`` at once."""

    per_s: float
    burst: int


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """What ``[limits]`` says.

    Attributes:
        rate: Every client's rate; ``None`` when ``rate_per_s`` is 0 (no limit).
        clients: Rates of named clients, overriding ``rate``.
        auth_max_failures: Failed authentications allowed per address in the window;
            after that the address is refused (429) until the window has passed.
        auth_window_s: The window of failed authentications, in seconds.
    """

    rate: Rate | None = None
    clients: Mapping[str, Rate] = field(default_factory=dict)
    auth_max_failures: int = 20
    auth_window_s: float = 60.0


def _rate(raw: Mapping[str, Any], file: str, key: str) -> Rate | None:
    unknown = sorted(set(raw) - {"rate_per_s", "burst"})
    if unknown:
        raise ConfigError(file, f"{key}.{unknown[0]}", "unknown key (known: rate_per_s, burst)")
    per_s = raw.get("rate_per_s", 0)
    if isinstance(per_s, bool) or not isinstance(per_s, int | float) or not 0 <= per_s <= 1e6:
        raise ConfigError(file, f"{key}.rate_per_s", "must be a number from 0 (no limit) to 1e6")
    if per_s == 0:
        return None
    burst = raw.get("burst", max(1, math.ceil(per_s * 2)))
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= 10**6:
        raise ConfigError(file, f"{key}.burst", "must be an integer from 1 to 1000000")
    return Rate(float(per_s), burst)


def limit_settings(config: Config) -> LimitSettings:
    """Read and check ``[limits]``.

    Raises:
        ConfigError: An unknown key or a bad value, naming the file and the key.
    """
    file = config.file
    raw = config.table(
        "limits", ("rate_per_s", "burst", "clients", "auth_max_failures", "auth_window_s")
    )
    rate = _rate({k: raw[k] for k in ("rate_per_s", "burst") if k in raw}, file, "limits")
    clients: dict[str, Rate] = {}
    named = raw.get("clients", {})
    if not isinstance(named, Mapping):
        raise ConfigError(
            file, "limits.clients", "must be a table of client name = { rate_per_s, burst }"
        )
    for name, table in named.items():
        if not isinstance(table, Mapping):
            raise ConfigError(file, f"limits.clients.{name}", "must be { rate_per_s, burst }")
        client_rate = _rate(table, file, f"limits.clients.{name}")
        clients[name] = client_rate if client_rate is not None else Rate(math.inf, 1)
    failures = raw.get("auth_max_failures", 20)
    if isinstance(failures, bool) or not isinstance(failures, int) or not 1 <= failures <= 10**6:
        raise ConfigError(file, "limits.auth_max_failures", "must be an integer from 1 to 1000000")
    window = raw.get("auth_window_s", 60.0)
    if isinstance(window, bool) or not isinstance(window, int | float) or not 1 <= window <= 86400:
        raise ConfigError(
            file, "limits.auth_window_s", "must be a number of seconds from 1 to 86400"
        )
    return LimitSettings(
        rate=rate, clients=clients, auth_max_failures=failures, auth_window_s=float(window)
    )


class Limits:
    """The limits of one web process.

    Args:
        settings: From :func:`limit_settings`.
        clock: Seconds on a monotonic clock (tests move it).
    """

    def __init__(
        self, settings: LimitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def admit(self, client: str) -> float | None:
        """Take one token from ``client``'s bucket.

        Returns:
            ``None`` when the request may go on; otherwise the seconds until a token is
            there again (the ``Retry-After``).
        """
        rate = self.settings.clients.get(client, self.settings.rate)
        if rate is None or math.isinf(rate.per_s):
            return None
        now = self.clock()
        with self._lock:
            tokens, since = self._buckets.pop(client, (float(rate.burst), now))
            tokens = min(float(rate.burst), tokens + (now - since) * rate.per_s)
            if tokens >= 1.0:
                self._remember(self._buckets, client, (tokens - 1.0, now))
                return None
            self._remember(self._buckets, client, (tokens, now))
            return (1.0 - tokens) / rate.per_s

    def throttled(self, address: str | None) -> float | None:
        """Whether ``address`` failed to authenticate too often lately.

        Returns:
            ``None`` when it may try; otherwise the seconds until it may try again.
        """
        key = address or "-"
        now = self.clock()
        window = self.settings.auth_window_s
        with self._lock:
            failures = self._failures.get(key)
            if failures is None:
                return None
            while failures and failures[0] <= now - window:
                failures.popleft()
            if not failures:
                del self._failures[key]
                return None
            if len(failures) < self.settings.auth_max_failures:
                return None
            return failures[0] + window - now

    def failed(self, address: str | None) -> None:
        """Count one failed authentication from ``address``."""
        key = address or "-"
        now = self.clock()
        with self._lock:
            failures = self._failures.pop(key, None) or deque()
            failures.append(now)
            while len(failures) > self.settings.auth_max_failures:
                failures.popleft()
            self._remember(self._failures, key, failures)

    @staticmethod
    def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        while len(table) > _MAX_TRACKED:
            table.popitem(last=False)


def retry_after_header(seconds: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds, at least 1."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
