"""The console's pages, one module per concern; importing this registers them all."""

from __future__ import annotations

from faces.console.views import (
    admin,
    audit,
    counterparts,
    dead_letters,
    jobs,
    messages,
    overview,
    signin,
)

__all__ = [
    "admin",
    "audit",
    "counterparts",
    "dead_letters",
    "jobs",
    "messages",
    "overview",
    "signin",
]
