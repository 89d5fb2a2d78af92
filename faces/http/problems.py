"""RFC 9457 problem documents (``application/problem+json``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response

from hub.core.errors import FieldError

__all__ = ["PROBLEM_TYPE_BASE", "Problem", "problem_response"]

PROBLEM_TYPE_BASE = "https://govhub.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document.

    Args:
        status: The HTTP status.
        slug: Short name that completes the ``type`` URI (``schema-violation``).
        title: A short summary that does not change between occurrences.
        detail: What went wrong this time.
        errors: Field-level reasons.
        headers: Extra response headers (``WWW-Authenticate``...).
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = dict(headers or {})

    def response(self, instance: str | None = None) -> Response:
        """The problem as a Flask response."""
        return problem_response(
            self.status,
            self.slug,
            self.title,
            self.detail,
            errors=self.errors,
            headers=self.headers,
            instance=instance,
        )


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> Response:
    """A ``application/problem+json`` response."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    error_list = [e.to_json() for e in errors]
    if error_list:
        body["errors"] = error_list
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
