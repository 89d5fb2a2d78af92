"""HTTP helpers: sessions with timeouts always set, status → error mapping, a REST client.

:class:`RestClient` is what a REST adapter holds: a base URL, timeouts on every call, an
auth hook, a call budget, masked request/response logging, and the error taxonomy applied
to every answer (HTTP status first, then a declared :class:`~adapters.sdk.errors.ResultCodes`
for error codes inside 200 answers).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json as jsonlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from adapters.sdk.budget import CallBudget
from adapters.sdk.errors import (
    AdapterError,
    ConfigurationError,
    RejectedError,
    ResultCodes,
    RetriableError,
)
from adapters.sdk.traffic import Masker, TrafficLog
from hub.core.identifiers import mask_text

__all__ = [
    "RETRIABLE_STATUSES",
    "BearerTokenAuth",
    "RestClient",
    "TimeoutSession",
    "error_for_status",
    "parse_retry_after",
    "raise_for_status",
    "snippet",
]

#: Statuses worth trying again: timeouts, rate limits and the counterpart's own trouble.
RETRIABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_TRACE_CONTEXT = TraceContextTextMapPropagator()


class TimeoutSession(requests.Session):
    """A ``requests`` session that never waits forever and keeps a pool big enough.

    Every request it sends carries the W3C ``traceparent`` (and ``tracestate``) of the
    span it is sent in, a delivery attempt's: the counterpart sees the message's trace.

    Args:
        timeout_s: Read timeout for every request unless the call sets its own.
        connect_timeout_s: Connect timeout.
        pool_size: Connections kept per host (one per worker that may use it).
    """

    def __init__(
        self, timeout_s: float = 10.0, connect_timeout_s: float = 5.0, pool_size: int = 64
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
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Here, not in request(): RestClient prepares its requests and sends them itself.
        if "traceparent" not in request.headers:
            _TRACE_CONTEXT.inject(request.headers)
        return super().send(request, **kwargs)


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


def error_for_status(
    response: requests.Response, counterpart: str, *, auth_is_configuration: bool = True
) -> AdapterError | None:
    """The error a non-2xx response stands for, or ``None`` for 2xx.

    408, 425, 429 and 5xx are retriable (honouring ``Retry-After``); 401 and 403 mean our
    credentials are wrong (configuration) unless ``auth_is_configuration`` is false; a
    redirect means the configured URL is wrong; any other status rejects the message.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    reason = f"{counterpart} answered HTTP {status}: {snippet(response)}".rstrip(": ")
    if status in RETRIABLE_STATUSES or status >= 500:
        return RetriableError(
            reason,
            status_code=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in (401, 403) and auth_is_configuration:
        return ConfigurationError(reason, status_code=status)
    if 300 <= status < 400:
        return ConfigurationError(
            f"{reason} (redirected: check the destination's URL)", status_code=status
        )
    return RejectedError(reason, status_code=status)


def raise_for_status(
    response: requests.Response, counterpart: str, *, auth_is_configuration: bool = True
) -> None:
    """Raise :func:`error_for_status` of ``response``, if any.

    Raises:
        ConfigurationError: 401 or 403, or a redirect.
        RetriableError: A retriable status.
        RejectedError: Any other non-2xx status.
    """
    error = error_for_status(response, counterpart, auth_is_configuration=auth_is_configuration)
    if error is not None:
        raise error


class BearerTokenAuth(AuthBase):
    """``Authorization: Bearer`` with a token fetched on demand and cached until it expires.

    Many platforms hand out a token for an app id and secret (获取 access_token); the
    client fetches it when first needed, re-uses it, and fetches a new one after a 401.

    Args:
        fetch: Returns ``(token, lifetime in seconds)``; it may raise an AdapterError.
        margin_s: Renew this long before the token expires.
    """

    def __init__(self, fetch: Callable[[], tuple[str, float]], margin_s: float = 30.0) -> None:
        self._fetch = fetch
        self._margin_s = margin_s
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        """A valid token (fetching one if needed)."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                token, lifetime = self._fetch()
                self._token = token
                self._expires = time.monotonic() + max(0.0, lifetime - self._margin_s)
            return self._token

    def invalidate(self) -> None:
        """Forget the token (the counterpart refused it)."""
        with self._lock:
            self._token = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


Auth = AuthBase | Callable[[requests.PreparedRequest], requests.PreparedRequest]


class RestClient:
    """One counterpart's REST API.

    Args:
        base_url: Prefix of every relative path.
        counterpart: The destination's name, for messages and logs.
        timeout_s: Read timeout of every call.
        connect_timeout_s: Connect timeout of every call.
        auth: A ``requests`` auth (or a callable on the prepared request) run on every
            call: set a header, sign the body. One with an ``invalidate()`` method is
            told after a 401 and the call is tried once more.
        headers: Sent with every call.
        budget: The counterpart's call budget (none: unlimited).
        result_codes: Error codes inside 200 answers, checked on every JSON answer.
        auth_is_configuration: 401/403 mean our credentials are wrong (the default);
            false makes them a rejection of this message.
        secrets: Values never to log (the destination's ``writeOnly`` settings).
        logger: Where exchanges are logged at DEBUG.
        pool_size: Connections kept open to the counterpart.
    """

    def __init__(
        self,
        base_url: str,
        *,
        counterpart: str,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        budget: CallBudget | None = None,
        result_codes: ResultCodes | None = None,
        auth_is_configuration: bool = True,
        secrets: Iterable[str] = (),
        logger: logging.Logger | None = None,
        pool_size: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.counterpart = counterpart
        self.session = TimeoutSession(timeout_s, connect_timeout_s, pool_size)
        self.session.auth = auth
        self.session.headers.update(headers or {})
        self.budget = budget or CallBudget(None)
        self.result_codes = result_codes
        self.auth_is_configuration = auth_is_configuration
        self.masker = Masker(secrets)
        self.traffic = TrafficLog(
            logger or logging.getLogger("govhub.adapters.http"), counterpart, self.masker
        )

    @property
    def timeout_s(self) -> float:
        """The read timeout."""
        return float(self.session.timeout[1])

    def url(self, path: str) -> str:
        """``path`` joined to the base URL (an absolute URL is taken as it is)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        check_codes: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Call the counterpart; any answer but success raises.

        Args:
            method: HTTP method.
            path: Relative to the base URL.
            check_codes: Apply :attr:`result_codes` to the JSON answer.
            **kwargs: As for ``requests`` (``params``, ``json``, ``data``, ``headers``...).

        Returns:
            The successful response.

        Raises:
            RetriableError: No answer, a retriable status or result code.
            RejectedError: The counterpart refused this request.
            ConfigurationError: Our credentials or URL are wrong.
        """
        kwargs.setdefault("allow_redirects", False)
        response = self._send(method, path, kwargs)
        if response.status_code == 401 and callable(getattr(self.session.auth, "invalidate", None)):
            self.session.auth.invalidate()  # type: ignore[union-attr]
            response = self._send(method, path, kwargs)
        raise_for_status(
            response, self.counterpart, auth_is_configuration=self.auth_is_configuration
        )
        if check_codes and self.result_codes is not None and response.content:
            self.result_codes.check(
                self._parse(response), self.counterpart, status_code=response.status_code
            )
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request`, returning the parsed JSON answer.

        Raises:
            RetriableError: The answer is not JSON (a proxy's error page, a cut body).
        """
        return self._parse(self.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """``GET`` (see :meth:`request`)."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """``POST`` (see :meth:`request`)."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """``PUT`` (see :meth:`request`)."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """``DELETE`` (see :meth:`request`)."""
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> requests.Response:
        unknown = set(kwargs) - _REQUEST_ARGUMENTS
        if unknown:
            raise TypeError(f"RestClient.request() got unexpected arguments: {sorted(unknown)}")
        self.budget.acquire()
        url = self.url(path)
        started = time.perf_counter()
        request = requests.Request(
            method,
            url,
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            json=kwargs.get("json"),
            data=kwargs.get("data"),
            files=kwargs.get("files"),
        )
        prepared = self.session.prepare_request(request)
        self.traffic.request(method, prepared.url or url, prepared.headers, prepared.body)
        try:
            response = self.session.send(
                prepared,
                timeout=kwargs.get("timeout") or self.session.timeout,
                allow_redirects=kwargs["allow_redirects"],
            )
        except requests.Timeout as error:
            self.traffic.failure(method, url, error, _ms(started))
            raise RetriableError(
                f"{self.counterpart} gave no answer within {self.timeout_s:g} s"
            ) from None
        except requests.ConnectionError as error:
            self.traffic.failure(method, url, error, _ms(started))
            raise RetriableError(
                f"cannot connect to {self.counterpart}: {type(error).__name__}"
            ) from None
        except requests.RequestException as error:
            self.traffic.failure(method, url, error, _ms(started))
            raise RetriableError(
                f"calling {self.counterpart} failed: {type(error).__name__}"
            ) from None
        self.traffic.response(response.status_code, _ms(started), response.content)
        return response

    def _parse(self, response: requests.Response) -> Any:
        try:
            return jsonlib.loads(response.content)
        except ValueError:
            raise RetriableError(
                f"{self.counterpart} answered HTTP {response.status_code} with a body that"
                f" is not JSON: {snippet(response, 80)}",
                status_code=response.status_code,
            ) from None


_REQUEST_ARGUMENTS = frozenset(
    {"params", "headers", "json", "data", "files", "timeout", "allow_redirects"}
)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
