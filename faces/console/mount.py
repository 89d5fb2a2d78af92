"""Mounting the console on the web app: its settings, sessions, translations and pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from flask_babel import Babel

from faces.console import views  # noqa: F401 - the pages register themselves on the blueprint
from faces.console.accounts import UserStore
from faces.console.jobs import JOBS_EXTENSION, JobsView
from faces.console.scheduler import ConsoleJobs
from faces.console.sessions import LoginThrottle, SessionStore, secret_key
from faces.console.web import (
    DEFAULT_LANGUAGE,
    SESSION_COOKIE,
    TRANSLATIONS,
    Console,
    blueprint,
    csrf,
    language,
)
from faces.http.settings import ops_settings
from hub.core.clock import HUB_TZ
from hub.observability.heartbeats import heartbeat_check
from hub.runtime import Hub

__all__ = ["install"]


def install(app: Flask, hub: Hub) -> None:
    """Mount the console at ``/ops/`` on ``app``.

    Raises:
        ConfigError: ``[ops]`` is wrong.
    """
    settings = ops_settings(hub.config)
    users = UserStore(hub.store)
    app.config.update(
        SECRET_KEY=secret_key(hub.store, settings.secret_key),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(hub.config.server.public_url or "").startswith("https://"),
        PERMANENT_SESSION_LIFETIME=settings.lifetime,
        # Form tokens live as long as the session; the session has its own expiry.
        WTF_CSRF_TIME_LIMIT=None,
        # Only the console's forms carry tokens: API, SOAP and notification posts are
        # authenticated otherwise and must not be checked.
        WTF_CSRF_CHECK_DEFAULT=False,
        BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE,
        BABEL_DEFAULT_TIMEZONE=str(HUB_TZ),
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
    )
    Babel(app, locale_selector=language)
    csrf.init_app(app)
    app.extensions["govhub_ops"] = Console(
        hub=hub,
        settings=settings,
        users=users,
        sessions=SessionStore(hub.store, users, settings),
        throttle=LoginThrottle(hub.store, settings),
    )
    # The hub's own scheduler unless something else (a test) put a view there first.
    app.extensions.setdefault(JOBS_EXTENSION, ConsoleJobs(hub))
    # The hub's own scheduler, unless something else (a test) put a view there first.
    app.extensions.setdefault(JOBS_EXTENSION, ConsoleJobs(hub))
    app.extensions.setdefault("govhub_readiness", {})["scheduler"] = _scheduler_readiness
    app.register_blueprint(blueprint)


def _scheduler_readiness() -> dict[str, Any] | None:
    view: JobsView | None = current_app.extensions.get(JOBS_EXTENSION)
    if view is None:
        return None
    health = getattr(view, "health", None)
    if callable(health):  # a scheduler that judges itself (thread alive, heartbeat fresh)
        judged: dict[str, Any] | None = health()
        return judged
    age = view.heartbeat_age_s()
    if age is None:
        return None
    return heartbeat_check(age, view.heartbeat_limit_s)
