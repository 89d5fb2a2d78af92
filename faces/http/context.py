"""What every HTTP view needs from its request: the hub it serves, and how to refuse a
query parameter."""

from __future__ import annotations

from flask import current_app

from faces.http.problems import Problem
from hub.core.errors import FieldError
from hub.runtime import Hub

__all__ = ["bad_parameter", "current_hub"]


def current_hub() -> Hub:
    """The hub this app serves (``create_app`` keeps it in ``app.extensions``)."""
    hub: Hub = current_app.extensions["govhub"]
    return hub


def bad_parameter(name: str, message: str) -> Problem:
    """A 400 problem naming the query parameter ``name`` and what is wrong with it."""
    return Problem(
        400,
        "bad-parameter",
        "Bad query parameter",
        f"{name} {message}",
        errors=[FieldError(name, message)],
    )
