"""The citizen card platform's request signature (HMAC-SHA256 over the request).

Every call carries ``X-App-Id``, ``X-Timestamp`` (unix seconds), ``X-Nonce`` (used once)
and ``X-Signature``: hex HMAC-SHA256 with the app secret over::

    METHOD \\n PATH \\n SORTED-QUERY \\n TIMESTAMP \\n NONCE \\n hex SHA-256 of the body

The platform refuses a timestamp more than five minutes off and a nonce seen before, so
a captured request cannot be replayed. Both the adapter (signing) and the sandbox
(verifying) use this module, as both sides of the real interface share its document.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.auth import AuthBase

__all__ = ["HEADERS", "TOLERANCE_S", "HmacSigner", "canonical_query", "signature"]

HEADERS = ("X-App-Id", "X-Timestamp", "X-Nonce", "X-Signature")
TOLERANCE_S = 300


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The query as signed: pairs sorted, URL-encoded."""
    return urlencode(sorted(pairs))


def signature(
    secret: str, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """The hex signature of one request."""
    text = "\n".join(
        [method.upper(), path, query, timestamp, nonce, hashlib.sha256(body).hexdigest()]
    )
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class HmacSigner(AuthBase):
    """Signs every request of a ``requests`` session.

    Args:
        app_id: The hub's app id on the platform.
        secret: Its secret.
    """

    def __init__(self, app_id: str, secret: str) -> None:
        self.app_id = app_id
        self._secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        request.headers["X-App-Id"] = self.app_id
        request.headers["X-Timestamp"] = timestamp
        request.headers["X-Nonce"] = nonce
        request.headers["X-Signature"] = signature(
            self._secret,
            request.method or "GET",
            parts.path or "/",
            canonical_query(parse_qsl(parts.query, keep_blank_values=True)),
            timestamp,
            nonce,
            body,
        )
        return request
