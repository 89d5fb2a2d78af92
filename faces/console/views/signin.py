"""Signing in and out, and choosing the language."""

from __future__ import annotations

import logging

from flask import g, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from faces.console.accounts import MAX_PASSWORD
from faces.console.web import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    blueprint,
    console,
    current_user,
    safe_next,
)

log = logging.getLogger("govhub.ops")


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    """The sign-in form; a good name and password open a session."""
    next_page = safe_next(request.values.get("next"), url_for("ops.overview"))
    if request.method == "GET":
        if g.ops_user is not None:
            return redirect(next_page)
        return render_template("ops/login.html", next_page=next_page, name="")
    ops = console()
    name = request.form.get("name", "").strip()[:100]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    address = request.remote_addr or "-"
    if ops.throttle.blocked(name, address):
        log.warning("sign-in refused: too many failures", extra={"user": name})
        minutes = int(ops.settings.login_window_minutes)
        error = gettext(
            "Too many failed attempts. Try again in %(minutes)d minutes.", minutes=minutes
        )
        return render_template("ops/login.html", next_page=next_page, name=name, error=error), 429
    user = ops.users.verify(name, password) if name and password else None
    if user is None:
        ops.throttle.failed(name, address)
        log.warning("sign-in failed", extra={"user": name})
        error = gettext("Wrong name or password.")
        return render_template("ops/login.html", next_page=next_page, name=name, error=error), 401
    ops.throttle.succeeded(name)
    previous = session.get("sid")
    if isinstance(previous, str):
        ops.sessions.close(previous)
    # A fresh session (and CSRF token) on every sign-in: nothing set before carries over.
    session.clear()
    session["sid"] = ops.sessions.open(user, address)
    session.permanent = True
    ops.hub.store.audit.record(user.name, "user.login", user.name, {"address": address})
    log.info("signed in", extra={"user": user.name})
    return redirect(next_page)


@blueprint.post("/logout")
def logout() -> BaseResponse:
    """End the session."""
    token = session.get("sid")
    if isinstance(token, str):
        console().sessions.close(token)
    log.info("signed out", extra={"user": current_user().name})
    session.clear()
    return redirect(url_for("ops.login"))


@blueprint.get("/language/<code>")
def language(code: str) -> BaseResponse:
    """Switch the console's language (remembered in a cookie) and go back."""
    target = safe_next(request.args.get("next"), url_for("ops.overview"))
    response = make_response(redirect(target))
    if code in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="Lax"
        )
    return response
