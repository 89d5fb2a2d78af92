"""``X-GovHub-Signature``: an HMAC over ``"<t>.<raw body>"``, as receivers check it.

``t=<unix seconds>,v1=<hex HMAC-SHA256>`` by default; a destination with
``signature = "hmac-sm3"`` gets ``t=<unix seconds>,sm3=<hex HMAC-SM3>`` instead (the
national algorithm, GB/T 32905-2016, for receivers assessed under 密评).
"""

from __future__ import annotations

import time

from hub.core import digests

__all__ = ["ALGORITHMS", "EVENT_HEADER", "HEADER", "SignatureError", "sign", "verify"]

HEADER = "X-GovHub-Signature"
#: ``ping`` on the hub's connectivity checks (``govhub adapters check``): nothing to store.
EVENT_HEADER = "X-GovHub-Event"
#: ``signature`` setting → (hash, the header's field name).
ALGORITHMS = {"hmac-sha256": ("sha256", "v1"), "hmac-sm3": ("sm3", "sm3")}
_FIELDS = {field: name for name, field in ALGORITHMS.values()}


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale or wrong."""


def sign(
    secret: str, body: bytes, timestamp: int | None = None, *, algorithm: str = "hmac-sha256"
) -> str:
    """The header value ``t=<unix seconds>,v1=<hex>`` (or ``,sm3=<hex>``) for ``body``."""
    moment = int(time.time()) if timestamp is None else timestamp
    name, field = ALGORITHMS[algorithm]
    digest = digests.hmac_digest(name, secret.encode(), f"{moment}.".encode() + body)
    return f"t={moment},{field}={digest}"


def verify(secret: str, body: bytes, header: str | None, *, tolerance_s: int = 300) -> None:
    """Check a signature header as a receiver should (either algorithm).

    Raises:
        SignatureError: Missing, malformed, older than ``tolerance_s``, or not matching.
    """
    if not header:
        raise SignatureError("no signature header")
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    field = next((name for name in ("sm3", "v1") if name in parts), None)
    try:
        moment = int(parts["t"])
    except (KeyError, ValueError):
        raise SignatureError("malformed signature header") from None
    if field is None:
        raise SignatureError("malformed signature header")
    if abs(time.time() - moment) > tolerance_s:
        raise SignatureError("signature timestamp outside the tolerance")
    data = f"{moment}.".encode() + body
    if not digests.hmac_matches(_FIELDS[field], secret.encode(), data, parts[field]):
        raise SignatureError("signature does not match")
