"""HTTP helpers: a session with timeouts always set, and status → error mapping."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from adapters.sdk.errors import ConfigurationError, RejectedError, RetriableError
from hub.identifiers import mask_text

__all__ = [
    "RETRIABLE_STATUSES",
    "TimeoutSession",
    "parse_retry_after",
    "raise_for_status",
    "snippet",
]

#: Statuses worth trying again: timeouts, rate limits and the counterpart's own trouble.
RETRIABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class TimeoutSession(requests.Session):
    """A ``requests`` session that never waits forever and keeps a pool big enough.

    Args:
        timeout_s: Read timeout for every request unless the call sets its own.
        connect_timeout_s: Connect timeout.
        pool_size: Connections kept per host (one per worker that may use it).
    """

    def __init__(
        self, timeout_s: float = 10.0, connect_timeout_s: float = 5.0, pool_size: int = 16
    ) -> None:
        super().__init__()
        self.timeout = (connect_timeout_s, timeout_s)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.trust_env = False  # proxies from the environment must not reroute government traffic

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds())


def snippet(response: requests.Response, limit: int = 200) -> str:
    """The start of a response body, personal identifiers masked, for error messages."""
    try:
        text = response.text[:limit]
    except (UnicodeDecodeError, LookupError):
        return "<undecodable body>"
    return mask_text(" ".join(text.split()))


def raise_for_status(
    response: requests.Response, counterpart: str, *, auth_is_configuration: bool = True
) -> None:
    """Map a non-2xx response onto the error taxonomy.

    408, 425, 429 and 5xx are retriable (honouring ``Retry-After``); 401 and 403 mean our
    credentials are wrong (configuration) unless ``auth_is_configuration`` is false; any
    other status rejects the message.

    Raises:
        ConfigurationError: 401 or 403.
        RetriableError: A retriable status.
        RejectedError: Any other non-2xx status.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"{counterpart} answered HTTP {status}: {snippet(response)}".rstrip(": ")
    if status in RETRIABLE_STATUSES or status >= 500:
        raise RetriableError(
            reason,
            status_code=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in (401, 403) and auth_is_configuration:
        raise ConfigurationError(reason, status_code=status)
    raise RejectedError(reason, status_code=status)
