"""The webhook adapter: POST the envelope to a departmental system, signed."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import requests

from adapters.sdk import Adapter, Attempt, ConfigurationError, Receipt, RetriableError
from adapters.sdk.http import TimeoutSession, raise_for_status
from adapters.webhook.signature import EVENT_HEADER, HEADER, sign
from hub import __version__
from hub.core.envelope import Envelope

__all__ = ["WebhookAdapter"]


class WebhookAdapter(Adapter):
    """Delivers any message to a departmental system's HTTP endpoint.

    The body is the envelope as JSON; ``Idempotency-Key`` is the delivery id, the same on
    every retry, so a receiver can drop duplicates; ``X-GovHub-Signature`` lets it check
    the body came from the hub. 2xx is delivered; 408, 429, 5xx and connection trouble
    are retried; any other status is a dead letter.
    """

    name = "webhook"
    version = "1.0"
    accepts = ("*",)
    settings_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "secret"],
        "properties": {
            "url": {"type": "string", "pattern": "^https?://", "description": "Where to POST."},
            "secret": {
                "type": "string",
                "minLength": 16,
                "writeOnly": True,
                "description": "HMAC key shared with the receiver; use ${VAR}.",
            },
            "signature": {
                "enum": ["hmac-sha256", "hmac-sm3"],
                "default": "hmac-sha256",
                "description": "How X-GovHub-Signature is made: v1= HMAC-SHA256, or sm3="
                " HMAC-SM3 (the national algorithm).",
            },
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 10},
            "connect_timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 5},
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Extra request headers the receiver wants.",
            },
        },
    }

    def __init__(self, destination: str, settings: dict[str, Any]) -> None:
        super().__init__(destination, settings)
        self.url: str = settings["url"]
        self.secret: str = settings["secret"]
        self.signature: str = settings.get("signature", "hmac-sha256")
        self.http = TimeoutSession(
            timeout_s=float(settings.get("timeout_s", 10)),
            connect_timeout_s=float(settings.get("connect_timeout_s", 5)),
        )
        self.http.headers["User-Agent"] = f"GovHub/{__version__}"
        self.http.headers.update(settings.get("headers", {}))

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """POST the envelope; see the class docstring for the outcome rules."""
        body = json.dumps(message.to_json(), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": attempt.delivery_id,
            HEADER: sign(self.secret, body, algorithm=self.signature),
            "X-GovHub-Message-Id": message.id,
            "X-GovHub-Message-Type": message.type,
        }
        try:
            response = self.http.post(self.url, data=body, headers=headers, allow_redirects=False)
        except requests.Timeout:
            raise RetriableError(f"no answer within {self.http.timeout[1]} s") from None
        except requests.ConnectionError as error:
            raise RetriableError(f"cannot connect: {type(error).__name__}") from None
        # The webhook contract: every 4xx but 408 and 429 is a dead letter, 401/403 included.
        raise_for_status(response, self.destination, auth_is_configuration=False)
        return Receipt(status_code=response.status_code, detail=f"HTTP {response.status_code}")

    def check(self) -> None:
        """POST a signed ping (``X-GovHub-Event: ping``), as GitHub does for its webhooks.

        A receiver that checks signatures answers 401/403 to a wrong secret: that is our
        configuration. Any other answer below 500 means reachable (receivers need not
        know pings); 5xx or no answer means the receiver is in trouble.

        Raises:
            ConfigurationError: The receiver refused the signature, or redirected.
            RetriableError: No answer, or a 5xx.
        """
        body = json.dumps(
            {"ping": True, "destination": self.destination}, separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            HEADER: sign(self.secret, body, algorithm=self.signature),
            EVENT_HEADER: "ping",
        }
        try:
            response = self.http.post(self.url, data=body, headers=headers, allow_redirects=False)
        except requests.RequestException as error:
            raise RetriableError(
                f"cannot reach {self.destination}: {type(error).__name__}"
            ) from None
        if response.status_code in (401, 403):
            raise ConfigurationError(
                f"{self.destination} refused the signature (HTTP {response.status_code}):"
                " check the destination's secret",
                status_code=response.status_code,
            )
        if 300 <= response.status_code < 400:
            raise ConfigurationError(
                f"{self.destination} redirected (HTTP {response.status_code}): check the url",
                status_code=response.status_code,
            )
        if response.status_code >= 500:
            raise RetriableError(
                f"{self.destination} answered HTTP {response.status_code}",
                status_code=response.status_code,
            )

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()
