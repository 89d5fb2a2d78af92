"""A circuit breaker per destination: stop hammering a counterpart that is down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.config import CircuitPolicy

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True, slots=True)
class CircuitState:
    """A snapshot for ops."""

    state: str
    consecutive_failures: int
    opened_for_s: float | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        """As shown by ``GET /api/v1/adapters``."""
        return {
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "retry_in_s": None if self.opened_for_s is None else round(self.opened_for_s, 1),
            "last_error": self.last_error,
        }


class CircuitBreaker:
    """Closed → open after ``failure_threshold`` consecutive failures; after ``open_s`` one
    probe is let through (half-open); its success closes the circuit, its failure opens it
    again. Thread-safe.
    """

    def __init__(self, policy: CircuitPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._last_error: str | None = None

    def permits(self) -> int | None:
        """How many deliveries may start now: ``None`` for no limit, 0 while open, 1 probe."""
        with self._lock:
            if self._opened_at is None:
                return None
            if self._clock() - self._opened_at < self.policy.open_s or self._probing:
                return 0
            return 1

    def started(self) -> None:
        """A delivery started; in half-open state it is the probe."""
        with self._lock:
            if self._opened_at is not None:
                self._probing = True

    def succeeded(self) -> None:
        """The counterpart answered: close the circuit."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False
            self._last_error = None

    def failed(self, error: str, *, trip: bool = False) -> None:
        """The counterpart failed; ``trip`` opens the circuit at once (our settings are wrong)."""
        with self._lock:
            self._failures += 1
            self._last_error = error
            if trip or self._probing or self._failures >= self.policy.failure_threshold:
                self._opened_at = self._clock()
            self._probing = False

    def snapshot(self) -> CircuitState:
        """The current state."""
        with self._lock:
            if self._opened_at is None:
                return CircuitState(CLOSED, self._failures, None, self._last_error)
            remaining = self.policy.open_s - (self._clock() - self._opened_at)
            state = OPEN if remaining > 0 or self._probing else HALF_OPEN
            return CircuitState(state, self._failures, max(0.0, remaining), self._last_error)
