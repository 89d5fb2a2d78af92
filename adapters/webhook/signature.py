"""``X-GovHub-Signature``: HMAC-SHA256 over ``"<t>.<raw body>"``, as receivers check it."""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["EVENT_HEADER", "HEADER", "SignatureError", "sign", "verify"]

HEADER = "X-GovHub-Signature"
#: ``ping`` on the hub's connectivity checks (``govhub adapters check``): nothing to store.
EVENT_HEADER = "X-GovHub-Event"


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale or wrong."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value ``t=<unix seconds>,v1=<hex>`` for ``body``."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def verify(secret: str, body: bytes, header: str | None, *, tolerance_s: int = 300) -> None:
    """Check a signature header as a receiver should.

    Raises:
        SignatureError: Missing, malformed, older than ``tolerance_s``, or not matching.
    """
    if not header:
        raise SignatureError("no signature header")
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        moment = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise SignatureError("malformed signature header") from None
    if abs(time.time() - moment) > tolerance_s:
        raise SignatureError("signature timestamp outside the tolerance")
    expected = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature does not match")
