"""RSA2 request signing as the payment platform defines it, and yuan ↔ fen.

``sign = Base64(SHA256withRSA(k1=v1&k2=v2&…))`` over every parameter with a non-empty
value except ``sign`` itself, sorted by key (byte order), values taken raw (not URL
encoded). That rule signs our orders (merchant key) and the platform's answers (platform
key). The platform's asynchronous notifications leave out ``sign_type`` as well
(:data:`NOTIFICATION_UNSIGNED`): a notification is verified over the rest.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "NOTIFICATION_UNSIGNED",
    "REQUEST_UNSIGNED",
    "fen_from_yuan",
    "sign",
    "signing_string",
    "verify",
    "yuan_from_fen",
]

REQUEST_UNSIGNED: tuple[str, ...] = ("sign",)
"""Parameters a request or an answer is not signed over."""

NOTIFICATION_UNSIGNED: tuple[str, ...] = ("sign", "sign_type")
"""Parameters an asynchronous notification is not signed over."""

_YUAN = re.compile(r"^(0|[1-9][0-9]{0,11})\.([0-9]{2})$")


def signing_string(params: Mapping[str, Any], unsigned: tuple[str, ...] = REQUEST_UNSIGNED) -> str:
    """``k=v&…`` of the non-empty parameters but those ``unsigned``, sorted by key."""
    items = sorted(
        (key, str(value))
        for key, value in params.items()
        if key not in unsigned and value is not None and str(value) != ""
    )
    return "&".join(f"{key}={value}" for key, value in items)


def sign(
    params: Mapping[str, Any],
    private_key: rsa.RSAPrivateKey,
    unsigned: tuple[str, ...] = REQUEST_UNSIGNED,
) -> str:
    """The base64 RSA2 signature of ``params`` (but those ``unsigned``)."""
    signature = private_key.sign(
        signing_string(params, unsigned).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
    )
    return base64.b64encode(signature).decode("ascii")


def verify(
    params: Mapping[str, Any],
    public_key: rsa.RSAPublicKey,
    unsigned: tuple[str, ...] = REQUEST_UNSIGNED,
) -> bool:
    """True when ``params["sign"]`` is the RSA2 signature of the parameters but ``unsigned``."""
    given = params.get("sign")
    if not isinstance(given, str) or not given:
        return False
    try:
        signature = base64.b64decode(given, validate=True)
        public_key.verify(
            signature,
            signing_string(params, unsigned).encode("utf-8"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def yuan_from_fen(fen: int) -> str:
    """``1000`` → ``"10.00"``: the wire format of amounts, exact."""
    if fen < 0:
        raise ValueError("amounts are not negative")
    return f"{fen // 100}.{fen % 100:02d}"


def fen_from_yuan(text: str) -> int:
    """``"10.00"`` → ``1000``; anything but digits, a dot and two decimals is refused.

    Raises:
        ValueError: Not an amount in that exact form.
    """
    match = _YUAN.match(text)
    if match is None:
        raise ValueError("an amount is yuan with exactly two decimals, e.g. 10.00")
    return int(match[1]) * 100 + int(match[2])
