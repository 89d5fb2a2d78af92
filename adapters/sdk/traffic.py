"""Request/response logging for adapters, with secrets and personal identifiers masked.

Everything an adapter sends or receives may be logged at DEBUG for troubleshooting, so
everything logged goes through :class:`Masker` first: resident ID numbers and mobile
numbers are masked (``hub.core.identifiers.mask_text``), the destination's secret settings
are replaced, WS-Security passwords and nonces are blanked, and bodies are cut short so
a 16 MB answer never lands in a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from hub.core.identifiers import mask_text

__all__ = ["MAX_LOGGED_CHARS", "Masker", "TrafficLog"]

#: Bodies are cut to this many characters in logs.
MAX_LOGGED_CHARS = 2000

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_WSSE_SECRET = re.compile(
    r"(<(?:[\w-]+:)?(?:Password|Nonce)\b[^>]*>)[^<]*(</(?:[\w-]+:)?(?:Password|Nonce)>)"
)
# Base64 blobs (files, XML-in-a-string answers) say nothing to a reader and hide
# identifiers from the masking: log their size only.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{120,}={0,2}")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


class Masker:
    """Masks what must not reach a log or an error message.

    Args:
        secrets: Literal values to hide wherever they appear (the destination's
            ``writeOnly`` settings).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def text(self, text: str, limit: int = MAX_LOGGED_CHARS) -> str:
        """``text`` with secrets and identifiers masked, at most ``limit`` characters."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = _WSSE_SECRET.sub(r"\1***\2", text)
        text = _BASE64_RUN.sub(lambda m: f"<base64, {len(m[0])} characters>", text)
        text = _MOBILE.sub(r"\1****\2", mask_text(text))
        if len(text) > limit:
            text = text[:limit] + f"… ({len(text) - limit} more characters)"
        return text

    def body(self, body: bytes | str | None, limit: int = MAX_LOGGED_CHARS) -> str:
        """A request or response body as loggable text."""
        if body is None:
            return ""
        if isinstance(body, bytes):
            # Decoding only the head keeps a huge body cheap; a cut character is replaced.
            body = body[: limit * 4].decode("utf-8", errors="replace")
        return self.text(body, limit)

    def headers(self, headers: Mapping[str, Any]) -> dict[str, str]:
        """Headers with credentials hidden."""
        return {
            name: "***" if name.lower() in _SECRET_HEADERS else self.text(str(value), 200)
            for name, value in headers.items()
        }


class TrafficLog:
    """Logs each exchange with a counterpart at DEBUG, masked.

    Args:
        logger: Where to log (``govhub.adapters.<adapter>``).
        counterpart: The destination's name, in every line.
        masker: What to hide.
    """

    def __init__(self, logger: logging.Logger, counterpart: str, masker: Masker) -> None:
        self.logger = logger
        self.counterpart = counterpart
        self.masker = masker

    def request(
        self, method: str, url: str, headers: Mapping[str, Any], body: bytes | str | None
    ) -> None:
        """Log an outgoing request."""
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "→ %s %s %s headers=%s body=%s",
                self.counterpart,
                method,
                self.masker.text(url, 500),
                self.masker.headers(headers),
                self.masker.body(body),
            )

    def response(self, status: int, elapsed_ms: float, body: bytes | str | None) -> None:
        """Log the answer to the last request."""
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "← %s HTTP %s in %.0f ms body=%s",
                self.counterpart,
                status,
                elapsed_ms,
                self.masker.body(body),
            )

    def failure(self, method: str, url: str, error: BaseException, elapsed_ms: float) -> None:
        """Log a request that got no answer."""
        self.logger.debug(
            "✗ %s %s %s after %.0f ms: %s",
            self.counterpart,
            method,
            self.masker.text(url, 500),
            elapsed_ms,
            type(error).__name__,
        )
