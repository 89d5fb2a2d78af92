"""Describing an adapter's inbound endpoints (what a counterpart calls) for the API document."""

from __future__ import annotations

from typing import Any

__all__ = ["form_post"]


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
