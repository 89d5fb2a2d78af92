"""Administration: console users, API clients, and one's own password."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from faces.console.accounts import ADMIN, ROLES, VIEWER, AccountError
from faces.console.web import blueprint, console, current_user, requires
from hub.store import ROLES as CLIENT_ROLES
from hub.store import DuplicateClientError

# --------------------------------------------------------------------------- users


@blueprint.get("/admin/users")
@requires(ADMIN)
def users_page() -> str:
    """Every console user, with forms to add, change and disable."""
    return render_template("ops/users.html", users=console().users.list(), roles=ROLES)


@blueprint.post("/admin/users")
@requires(ADMIN)
def add_user() -> BaseResponse:
    """Create a console user."""
    form = request.form
    try:
        user = console().users.add(
            form.get("name", "").strip(),
            role=form.get("role", VIEWER),
            password=form.get("password", ""),
            actor=current_user().name,
        )
    except AccountError as error:
        flash(str(error), "bad")
    else:
        flash(gettext("User %(name)s added.", name=user.name), "ok")
    return redirect(url_for("ops.users_page"))


@blueprint.post("/admin/users/<name>/<change>")
@requires(ADMIN)
def change_user(name: str, change: str) -> BaseResponse:
    """Change a user's role, password, or whether they may sign in."""
    users = console().users
    actor = current_user().name
    if name == actor and change in ("role", "disable"):
        # An admin locking themselves out can leave the hub with no admin at all.
        flash(gettext("You cannot change your own role or disable yourself."), "bad")
        return redirect(url_for("ops.users_page"))
    try:
        if change == "role":
            users.set_role(name, request.form.get("role", ""), actor=actor)
        elif change == "disable":
            users.disable(name, actor=actor)
        elif change == "enable":
            users.enable(name, actor=actor)
        elif change == "password":
            users.set_password(name, request.form.get("password", ""), actor=actor)
        else:
            flash(gettext("Unknown change."), "bad")
            return redirect(url_for("ops.users_page"))
    except AccountError as error:
        flash(str(error), "bad")
    else:
        flash(gettext("User %(name)s changed.", name=name), "ok")
    return redirect(url_for("ops.users_page"))


# --------------------------------------------------------------------------- API clients


@blueprint.get("/admin/clients")
@requires(ADMIN)
def clients_page() -> str:
    """Every API client (never a key), with forms to add and revoke."""
    return render_template(
        "ops/clients.html", clients=console().hub.store.clients.all(), roles=CLIENT_ROLES
    )


@blueprint.post("/admin/clients")
@requires(ADMIN)
def add_client() -> BaseResponse | tuple[str, int] | str:
    """Register an API client and show its key, once."""
    form = request.form
    name = form.get("name", "").strip()
    role = form.get("role", "client")
    allow = [t.strip() for t in form.get("allow", "").split(",") if t.strip()]
    problem = None
    if not name or len(name) > 100:
        problem = gettext("Give the client a name (at most 100 characters).")
    elif role not in CLIENT_ROLES:
        problem = gettext("Unknown role.")
    elif not allow and role != "operator":
        problem = gettext("Say which message types it may send, e.g. case.*")
    if problem:
        flash(problem, "bad")
        return redirect(url_for("ops.clients_page"))
    try:
        client, key = console().hub.store.clients.add(
            name, allow=allow, role=role, actor=current_user().name
        )
    except DuplicateClientError:
        flash(gettext("A client called %(name)s exists already.", name=name), "bad")
        return redirect(url_for("ops.clients_page"))
    # The key is shown on this one response and never again (it is stored hashed).
    return render_template("ops/client_key.html", client=client, key=key), 201


@blueprint.post("/admin/clients/<name>/revoke")
@requires(ADMIN)
def revoke_client(name: str) -> BaseResponse:
    """Revoke a client's key at once."""
    if console().hub.store.clients.revoke(name, actor=current_user().name):
        flash(gettext("Client %(name)s revoked.", name=name), "ok")
    else:
        flash(gettext("No active client called %(name)s.", name=name), "bad")
    return redirect(url_for("ops.clients_page"))


# --------------------------------------------------------------------------- own account


@blueprint.route("/account", methods=["GET", "POST"])
def account_page() -> str | BaseResponse:
    """Change one's own password (the current one is asked again)."""
    if request.method == "GET":
        return render_template("ops/account.html")
    ops = console()
    users = ops.users
    me = current_user()
    address = request.remote_addr or "-"
    # Asking for the current password again is only a guard if it cannot be guessed.
    if ops.throttle.blocked(me.name, address):
        flash(gettext("Too many attempts"), "bad")
        return redirect(url_for("ops.account_page"))
    if users.verify(me.name, request.form.get("current", "")) is None:
        ops.throttle.failed(me.name, address)
        flash(gettext("The current password is wrong."), "bad")
        return redirect(url_for("ops.account_page"))
    try:
        users.set_password(me.name, request.form.get("password", ""), actor=me.name)
    except AccountError as error:
        flash(str(error), "bad")
        return redirect(url_for("ops.account_page"))
    # Changing the password ended every session, this one too: sign in again.
    flash(gettext("Password changed. Sign in with the new one."), "ok")
    return redirect(url_for("ops.login"))
