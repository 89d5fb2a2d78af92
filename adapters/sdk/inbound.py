"""An adapter's inbound endpoints (what a counterpart calls): their API document, and how
they tell the hub that a caller failed to prove who it is."""

from __future__ import annotations

from typing import Any

from flask import g

__all__ = ["FAILED_AUTHENTICATION", "failed_authentication", "form_post"]

#: Where :func:`failed_authentication` leaves its mark for this request (``flask.g``).
FAILED_AUTHENTICATION = "govhub_inbound_failed_authentication"


def failed_authentication() -> None:
    """Say that this request's signature (or credentials) did not verify.

    Call it from an ``inbound()`` view before answering a forged or tampered request.
    The hub counts it against the caller's address like a wrong API key on REST or SOAP
    (``[limits] auth_max_failures`` in ``auth_window_s``); past that the address gets
    ``429`` with ``Retry-After`` until the window has passed, before any view runs.
    """
    setattr(g, FAILED_AUTHENTICATION, True)


def form_post(
    path: str,
    *,
    summary: str,
    description: str,
    operation_id: str,
    responses: dict[str, str],
    media_type: str = "text/plain",
) -> dict[str, dict[str, Any]]:
    """The OpenAPI path item of a form-encoded ``POST`` a counterpart sends unauthenticated
    (it signs its own requests), for :meth:`~adapters.sdk.Adapter.inbound_paths`.

    Args:
        path: The full path (``/inbound/<destination>/...``).
        summary: One line.
        description: How the request is signed and what the hub does with it.
        operation_id: Unique across the document.
        responses: Status code → description; every answer is of ``media_type``.
        media_type: What the endpoint answers with.
    """
    return {
        path: {
            "post": {
                "summary": summary,
                "description": description,
                "operationId": operation_id,
                "tags": ["inbound"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": {"type": "object"}}
                    },
                },
                "responses": {
                    status: {"description": text, "content": {media_type: {}}}
                    for status, text in responses.items()
                },
            }
        }
    }
