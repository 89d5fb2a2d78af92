"""Call budgets: how fast the hub may call one counterpart.

Government systems publish a call quota (调用频率限制), and a hub with eight workers and
a backlog can exceed it in a second. A :class:`CallBudget` is a token bucket shared by
everything that calls one counterpart (deliveries and sync reads alike): ``rate`` calls a
second on average, bursts of up to ``burst``. A caller waits for a token, but never longer
than ``max_wait_s``: past that the call is retriable later rather than holding a worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from adapters.sdk.errors import RetriableError

__all__ = ["CallBudget"]


class CallBudget:
    """A thread-safe token bucket.

    Args:
        rate: Calls per second on average (``None``: unlimited).
        burst: Calls that may go at once after a quiet spell (at least 1).
        max_wait_s: The longest a caller waits for a token.
        clock: Monotonic seconds (tests pass a fake one).
        sleep: How to wait (tests pass a fake one).
    """

    def __init__(
        self,
        rate: float | None,
        burst: int = 1,
        *,
        max_wait_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (or None for no limit)")
        self.rate = rate
        self.burst = max(1, burst)
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()

    def reserve(self) -> float:
        """Take a token now or later; the seconds to wait before using it.

        Raises:
            RetriableError: The wait would exceed ``max_wait_s`` (no token is taken).
        """
        if self.rate is None:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            if wait > self.max_wait_s:
                raise RetriableError(
                    f"call budget of {self.rate:g}/s exhausted; next call in {wait:.1f} s",
                    retry_after=wait,
                )
            # Taking the token before sleeping keeps concurrent callers in line.
            self._tokens -= 1
        return wait

    def acquire(self) -> None:
        """Wait for a token (see :meth:`reserve`)."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)  # pacing calls to the counterpart's quota, not synchronising
