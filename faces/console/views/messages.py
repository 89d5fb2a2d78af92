"""Messages: search, and one message's whole trace through the hub."""

from __future__ import annotations

import datetime as dt

from flask import render_template, request
from flask_babel import gettext

from faces.console.accounts import ADMIN
from faces.console.web import blueprint, console, current_user
from hub.core.clock import HUB_TZ
from hub.store import MESSAGE_STATUSES, MessageFilter

PAGE = 50


def parse_local_time(text: str) -> dt.datetime:
    """A ``datetime-local`` form value (``2026-11-27T09:30``), read in the hub's timezone.

    Raises:
        ValueError: It is not such a value.
    """
    moment = dt.datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=HUB_TZ) if moment.tzinfo is None else moment


@blueprint.route("/messages", methods=["GET", "POST"])
def messages_page() -> str:
    """Search messages by id, type, case number, status, destination and time.

    The search form posts (its terms may be personal identifiers); links to a search, from
    other pages or bookmarks, are GETs and work the same.
    """
    hub = console().hub
    args = request.form if request.method == "POST" else request.args
    errors: dict[str, str] = {}
    times: dict[str, dt.datetime | None] = {"since": None, "until": None}
    for field in times:
        if args.get(field):
            try:
                times[field] = parse_local_time(args[field])
            except ValueError:
                errors[field] = gettext("Use a date and time like 2026-11-27T09:30.")
    status = args.get("status", "")
    if status and status not in MESSAGE_STATUSES:
        errors["status"] = gettext("Unknown status.")
        status = ""
    where = MessageFilter(
        any_id=args.get("id", "").strip(),
        type=args.get("type", "").strip(),
        correlation_id=args.get("case_no", "").strip(),
        key=args.get("key", "").strip(),
        status=status,
        destination=args.get("destination", "").strip(),
        since=times["since"],
        until=times["until"],
    )
    page = hub.store.messages.search(where, after=args.get("after") or None, limit=PAGE)
    return render_template(
        "ops/messages.html",
        page=page,
        where=where,
        form=args,
        errors=errors,
        types=hub.schemas.types,
        statuses=MESSAGE_STATUSES,
        destinations=[d.name for d in hub.config.destinations],
        more_args={
            **{k: v for k, v in args.items() if k not in ("after", "csrf_token") and v},
            "after": page.next,
        },
    )


@blueprint.get("/messages/<message_id>")
def message_page(message_id: str) -> str | tuple[str, int]:
    """One message: payload (identifiers masked), deliveries, every attempt, ops actions."""
    hub = console().hub
    view = hub.store.messages.get(message_id)
    if view is None:
        return render_template(
            "ops/error.html",
            status=404,
            title=gettext("Not found"),
            detail=gettext("No message has this id."),
        ), 404
    # Personal data is shown only to an admin who asks, and the look is audited.
    may_reveal = current_user().may(ADMIN)
    revealed = may_reveal and request.args.get("reveal") == "1"
    if revealed:
        hub.store.audit.record(current_user().name, "message.reveal", message_id, None)
    targets = [message_id, *(d.id for d in view.deliveries)]
    in_progress = any(d.status in ("pending", "inflight") for d in view.deliveries)
    return render_template(
        "ops/message.html",
        message=view,
        envelope=view.envelope,
        audit=hub.store.audit.about(targets),
        refresh=in_progress and not revealed,
        may_reveal=may_reveal,
        revealed=revealed,
    )
