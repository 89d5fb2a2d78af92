"""EMS-style request signing and the wire formats the courier and the hub share.

``sign = Base64(MD5(k1 v1 k2 v2 … + secret))``: every parameter with a non-empty value
except ``sign``, sorted by key, keys and values concatenated without separators, the
partner secret appended. The same rule signs our orders and the courier's pushes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from hub.core.clock import HUB_TZ

__all__ = ["TIME_FORMAT", "courier_time", "parse_courier_time", "sign", "verify"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _plain(params: Mapping[str, Any]) -> str:
    return "".join(
        f"{key}{value}"
        for key, value in sorted((k, str(v)) for k, v in params.items() if k != "sign")
        if value != "" and value != "None"
    )


def sign(params: Mapping[str, Any], secret: str) -> str:
    """The ``sign`` of ``params`` under the partner ``secret``."""
    digest = hashlib.md5((_plain(params) + secret).encode("utf-8"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(params: Mapping[str, Any], secret: str) -> bool:
    """True when ``params["sign"]`` is right for the other parameters."""
    given = params.get("sign")
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given, sign(params, secret))


def courier_time(moment: dt.datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Asia/Shanghai, as the courier writes times."""
    return moment.astimezone(HUB_TZ).strftime(TIME_FORMAT)


def parse_courier_time(text: str) -> dt.datetime:
    """A courier time (Asia/Shanghai) as an aware datetime.

    Raises:
        ValueError: Not ``yyyy-MM-dd HH:mm:ss``.
    """
    return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=HUB_TZ)
