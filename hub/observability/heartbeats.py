"""Heartbeats: a loop (dispatcher, scheduler) shows it still turns; ``/readyz`` checks it."""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["Heartbeat", "heartbeat_check"]


def heartbeat_check(age_s: float | None, max_age_s: float) -> dict[str, Any]:
    """A readiness check's answer for a loop whose last turn was ``age_s`` seconds ago.

    Returns:
        ``{"ok": bool, "age_s": ..., "max_age_s": ...}`` and, when not ok, ``error``
        saying what is wrong, for the body of ``/readyz``.
    """
    if age_s is None:
        return {"ok": False, "age_s": None, "max_age_s": max_age_s, "error": "no heartbeat yet"}
    check: dict[str, Any] = {"ok": age_s < max_age_s, "age_s": round(age_s, 1)}
    check["max_age_s"] = max_age_s
    if not check["ok"]:
        check["error"] = f"last heartbeat {age_s:.0f} s ago (limit {max_age_s:.0f} s)"
    return check


class Heartbeat:
    """A loop's sign of life, for loops that have none of their own.

    Args:
        max_age_s: How long without a beat before the loop counts as stuck.
    """

    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._last: float | None = None

    def beat(self) -> None:
        """The loop turned over."""
        with self._lock:
            self._last = time.monotonic()

    def age_s(self) -> float | None:
        """Seconds since the last beat; ``None`` before the first."""
        with self._lock:
            return None if self._last is None else time.monotonic() - self._last

    def check(self) -> dict[str, Any]:
        """The readiness answer (see :func:`heartbeat_check`)."""
        return heartbeat_check(self.age_s(), self.max_age_s)
