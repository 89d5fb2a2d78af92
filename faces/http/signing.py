"""Signed REST requests: HMAC-SHA256 or HMAC-SM3 over the request, besides bearer keys.

A client that would rather not send its API key on every request signs instead::

    Authorization: HMAC-SM3 client=<client name>,ts=<unix seconds>,nonce=<16-64 chars>,sig=<hex>

(or ``HMAC-SHA256``). The key is the client's API key; the signed text is five lines::

    <METHOD>\\n<path>[?<query as sent>]\\n<ts>\\n<nonce>\\n<hex hash of the body>

with the body hashed by the same algorithm (SM3 or SHA-256; an empty body hashes too).
A timestamp more than :data:`WINDOW_S` seconds from the hub's clock is refused, and so is
a nonce the client used before within the window (``store.nonces``: its unique key
decides, across nodes). The hub needs the API key itself to check a signature, so a
client signs only when its key is sealed (every key issued with a server key; see
``hub.keyring``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.wrappers import Request

from hub.core import digests
from hub.store import Client, Store

__all__ = [
    "SCHEMES",
    "WINDOW_S",
    "SignatureRefused",
    "is_signed",
    "sign_request",
    "signed_text",
    "verify",
]

#: ``Authorization`` schemes and the hash each one uses.
SCHEMES = {"hmac-sha256": "sha256", "hmac-sm3": "sm3"}
#: How far a signed request's timestamp may be from the hub's clock, either way.
WINDOW_S = 300

_NONCE = re.compile(r"^[0-9A-Za-z_-]{16,64}$")
_FIELDS = ("client", "ts", "nonce", "sig")


class SignatureRefused(Exception):
    """A signed request that does not count; the message says why (never the key)."""


@dataclass(frozen=True, slots=True)
class _Parsed:
    algorithm: str
    client: str
    timestamp: int
    nonce: str
    signature: str


def is_signed(authorization: str) -> bool:
    """Whether an ``Authorization`` value uses a signing scheme."""
    return authorization.partition(" ")[0].lower() in SCHEMES


def signed_text(method: str, target: str, timestamp: int, nonce: str, body_hash: str) -> bytes:
    """The text a signature covers (see the module docstring)."""
    return f"{method.upper()}\n{target}\n{timestamp}\n{nonce}\n{body_hash}".encode()


def sign_request(
    api_key: str,
    client: str,
    method: str,
    target: str,
    body: bytes,
    *,
    algorithm: str = "sm3",
    timestamp: int | None = None,
    nonce: str,
) -> str:
    """The ``Authorization`` value of a signed request (what a client computes).

    Args:
        api_key: The client's API key (the HMAC key).
        client: The client's name.
        method: ``GET``, ``POST``...
        target: The path and, if any, ``?`` and the query string as sent.
        body: The raw body.
        algorithm: ``sm3`` or ``sha256``.
        timestamp: Unix seconds (default: now).
        nonce: 16-64 characters from ``[0-9A-Za-z_-]``, new for every request.
    """
    moment = int(time.time()) if timestamp is None else timestamp
    text = signed_text(method, target, moment, nonce, digests.digest(algorithm, body))
    signature = digests.hmac_digest(algorithm, api_key.encode(), text)
    scheme = "HMAC-SM3" if algorithm == "sm3" else "HMAC-SHA256"
    return f"{scheme} client={client},ts={moment},nonce={nonce},sig={signature}"


def _parse(authorization: str) -> _Parsed:
    scheme, _, rest = authorization.partition(" ")
    algorithm = SCHEMES[scheme.lower()]
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, separator, value = item.strip().partition("=")
        if separator:
            fields[name.strip().lower()] = value.strip()
    missing = [name for name in _FIELDS if not fields.get(name)]
    if missing:
        raise SignatureRefused(
            f"the signature header lacks {', '.join(missing)}"
            f" (send {scheme} client=…,ts=…,nonce=…,sig=…)"
        )
    if not fields["ts"].isdigit() or len(fields["ts"]) > 12:
        raise SignatureRefused("ts must be the request's time in unix seconds")
    if not _NONCE.match(fields["nonce"]):
        raise SignatureRefused("nonce must be 16 to 64 characters from 0-9, A-Z, a-z, _ and -")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", fields["sig"]):
        raise SignatureRefused("sig must be 64 hex digits")
    return _Parsed(
        algorithm, fields["client"][:100], int(fields["ts"]), fields["nonce"], fields["sig"]
    )


def verify(
    store: Store,
    incoming: Request,
    *,
    body: bytes,
    clock: Callable[[], float] = time.time,
) -> Client:
    """The client who signed ``incoming``.

    Checks, in order: the header's shape, the timestamp window, the signature (with the
    client's API key), and only then the nonce (so a forged request cannot use up a
    nonce of the real client).

    Args:
        store: Clients and the nonces seen.
        incoming: The request.
        body: Its raw body (already read under the size cap).
        clock: Unix seconds now (tests move it).

    Raises:
        SignatureRefused: Malformed, stale, wrong, by an unknown client, or replayed.
        hub.keyring.VaultError: The server key cannot open the client's sealed key.
    """
    parsed = _parse(incoming.headers.get("Authorization", ""))
    now = clock()
    if abs(now - parsed.timestamp) > WINDOW_S:
        raise SignatureRefused(
            f"ts is more than {WINDOW_S} s from the hub's clock: a stale (or replayed)"
            " request is refused"
        )
    found = store.clients.key(parsed.client)
    if found is None:
        raise SignatureRefused(
            "unknown or revoked client, or its API key was issued before keys were sealed"
            " (issue a new key to sign)"
        )
    client, api_key = found
    target = incoming.path
    if incoming.query_string:
        target += "?" + incoming.query_string.decode("latin-1")
    text = signed_text(
        incoming.method,
        target,
        parsed.timestamp,
        parsed.nonce,
        digests.digest(parsed.algorithm, body),
    )
    if not digests.hmac_matches(parsed.algorithm, api_key.encode(), text, parsed.signature):
        raise SignatureRefused(
            "the signature does not match (sign METHOD, path?query, ts, nonce and the"
            " body's hash, one per line, with the API key)"
        )
    key = hashlib.sha256(f"hmac:{client.name}:{parsed.nonce}".encode()).hexdigest()
    expires = dt.datetime.fromtimestamp(parsed.timestamp + WINDOW_S, dt.UTC)
    if not store.nonces.remember(key, client.name, expires):
        raise SignatureRefused("the nonce was used before: a replayed request is refused")
    return client
