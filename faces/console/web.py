"""The console's blueprint: who is signed in, what they may do, how pages are served.

Every page needs a signed-in user; every form post needs its CSRF token; every action
checks the role (viewer < operator < admin) and answers 403 otherwise. Pages are
rendered in Chinese unless the visitor chose English.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import pass_context
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from faces.console.accounts import ADMIN, OPERATOR, User, UserStore
from faces.console.jobs import JOBS_EXTENSION, JobsView, JobView
from faces.console.masking import mask_document
from faces.console.sessions import LoginThrottle, SessionStore
from faces.console.words import job_description, schedule_words, word
from faces.http.settings import OpsSettings
from hub.core.clock import HUB_TZ
from hub.core.identifiers import mask_text
from hub.runtime import Hub

__all__ = [
    "LANGUAGES",
    "Console",
    "blueprint",
    "console",
    "current_user",
    "holds_identifier",
    "language",
    "quiet_path",
    "requires",
    "safe_next",
]

log = logging.getLogger("govhub.ops")

HERE = Path(__file__).resolve().parent
TRANSLATIONS = HERE / "translations"
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "govhub_lang"
SESSION_COOKIE = "govhub_session"
#: Pages a signed-out visitor may see.
PUBLIC_ENDPOINTS = frozenset({"ops.login", "ops.language", "ops.static"})

blueprint = Blueprint(
    "ops",
    __name__,
    url_prefix="/ops",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Console:
    """What the console's views work with, kept in ``app.extensions["govhub_ops"]``."""

    hub: Hub
    settings: OpsSettings
    users: UserStore
    sessions: SessionStore
    throttle: LoginThrottle

    @property
    def jobs(self) -> JobsView | None:
        """The scheduler's view, when one is configured (see :mod:`faces.console.jobs`)."""
        view: JobsView | None = current_app.extensions.get(JOBS_EXTENSION)
        return view


def console() -> Console:
    """The console of the current app."""
    found: Console = current_app.extensions["govhub_ops"]
    return found


def current_user() -> User:
    """The signed-in user (every non-public view has one)."""
    user: User = g.ops_user
    return user


def requires(role: str) -> Callable[[F], F]:
    """Refuse the view with 403 unless the user has ``role`` (or a stronger one)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user().may(role):
                return _error_page(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def holds_identifier(values: Iterable[object]) -> bool:
    """Whether any of ``values`` contains a personal identifier (a resident ID...)."""
    return any(mask_text(text) != text for text in map(str, values))


def quiet_path() -> str:
    """This page's path and query, without any parameter whose value holds a personal
    identifier: what links back here (the language switch, signing in) may carry.

    A typed resident ID must not travel on in URLs (history, logs, ``Referer``); the page
    comes back without that search term instead.
    """
    kept = [(k, v) for k, v in request.args.items(multi=True) if not holds_identifier([k, v])]
    return request.path + (f"?{urlencode(kept)}" if kept else "")


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` if it is a path inside the console, else ``fallback`` (no open redirect)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ops") or "\\" in target:
        return fallback
    return target


# --------------------------------------------------------------------------- requests


@blueprint.before_request
def _guard() -> BaseResponse | None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    g.ops_user = _signed_in_user()
    if request.endpoint in PUBLIC_ENDPOINTS or g.ops_user is not None:
        return None
    return redirect(url_for("ops.login", next=quiet_path()))


def _signed_in_user() -> User | None:
    token = session.get("sid")
    if not isinstance(token, str):
        return None
    user = console().sessions.resolve(token)
    if user is None:
        session.pop("sid", None)
    return user


@blueprint.after_request
def _headers(response: Response) -> Response:
    # Pages hold personal data: never cached, never framed, nothing loaded from elsewhere.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@blueprint.app_template_filter("when")
def _when(moment: dt.datetime | None, seconds: bool = True) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(HUB_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%m-%d %H:%M")


@blueprint.app_template_filter("masked")
def _masked(text: Any) -> str:
    return "" if text is None else mask_text(str(text))


@blueprint.app_template_filter("holds_identifier")
def _holds_identifier(fields: Mapping[str, object]) -> bool:
    return holds_identifier([*fields, *fields.values()])


@blueprint.app_template_filter("masked_json")
def _masked_json(document: Any) -> str:
    return json.dumps(mask_document(document), ensure_ascii=False, indent=2, sort_keys=False)


@blueprint.app_template_filter("word")
@pass_context
def _word(_context: Any, value: object) -> str:
    # pass_context keeps Jinja from folding ``"late" | word`` into the template at compile
    # time, in whatever language the first visitor used.
    return word(value)


@blueprint.app_template_filter("counterpart")
def _counterpart(name: str) -> str:
    """A destination's title (``民政局``), or its name when it has none."""
    try:
        return console().hub.config.destination(name).display_name
    except KeyError:
        return name


@blueprint.app_template_filter("job_description")
@pass_context
def _job_description(_context: Any, job: JobView) -> str:
    return job_description(job.id, job.description)


@blueprint.app_template_filter("job_schedule")
@pass_context
def _job_schedule(_context: Any, job: JobView) -> str:
    return schedule_words(dict(job.trigger)) if job.trigger else job.schedule


@blueprint.app_template_filter("percent")
def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


@blueprint.context_processor
def _page_context() -> dict[str, Any]:
    user: User | None = g.get("ops_user")
    return {
        "current_user": user,
        "may_operate": user is not None and user.may(OPERATOR),
        "may_admin": user is not None and user.may(ADMIN),
        "language": language(),
        "languages": LANGUAGES,
        "quiet_path": quiet_path(),
        "refresh_seconds": console().settings.refresh_seconds,
    }


# --------------------------------------------------------------------------- errors


def _error_page(status: int, detail: str | None = None) -> tuple[str, int]:
    titles = {
        400: gettext("The request was refused"),
        403: gettext("You may not do this"),
        404: gettext("Not found"),
        405: gettext("Not allowed"),
        429: gettext("Too many attempts"),
        500: gettext("Something went wrong"),
    }
    explanations = {
        403: gettext("Your role does not allow this. Ask an administrator."),
        404: gettext("There is nothing at this address."),
        500: gettext("The hub failed; the error is logged."),
    }
    return (
        render_template(
            "ops/error.html",
            status=status,
            title=titles.get(status, gettext("Error")),
            detail=detail or explanations.get(status, ""),
        ),
        status,
    )


@blueprint.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    return _error_page(
        400,
        gettext(
            "The form is missing its security token or it expired. Reload the page and try again."
        ),
    )


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    page, status = _error_page(error.code or 500)
    # A 405 names the methods the page has (RFC 9110), as the API's answers do.
    return page, status, {k: v for k, v in error.get_headers() if k.lower() == "allow"}


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> tuple[str, int]:
    log.exception("console page %s failed", request.path)
    return _error_page(500)


def language() -> str:
    """The language of this request: the cookie's, or Chinese."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE
