"""The console's pages, one module per concern; importing this registers them all."""

from __future__ import annotations

from faces.console.views import (
    admin,
    audit,
    cases,
    counterparts,
    dead_letters,
    items,
    jobs,
    messages,
    overview,
    projects,
    signin,
    supervision,
)

__all__ = [
    "admin",
    "audit",
    "cases",
    "counterparts",
    "dead_letters",
    "items",
    "jobs",
    "messages",
    "overview",
    "projects",
    "signin",
    "supervision",
]
