"""Dead letters: filter, replay (one, a selection, all matching), discard with a reason."""

from __future__ import annotations

import logging
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from faces.console.accounts import OPERATOR
from faces.console.web import (
    blueprint,
    console,
    current_user,
    holds_identifier,
    requires,
    safe_next,
)
from hub.observability.logs import log_context
from hub.store import DeadLetterFilter

log = logging.getLogger("govhub.ops")

PAGE = 50
MAX_REASON = 500
#: Form field → filter field (the form says "case_no", as ops do).
_FILTER_FIELDS = {
    "destination": "destination",
    "error": "error",
    "type": "type",
    "case_no": "correlation_id",
}


def _filter(values: MultiDict[str, str]) -> DeadLetterFilter:
    return DeadLetterFilter(
        **{field: values.get(name, "").strip()[:200] for name, field in _FILTER_FIELDS.items()}
    )


def _filter_args(where: DeadLetterFilter) -> dict[str, Any]:
    return {
        name: getattr(where, field)
        for name, field in _FILTER_FIELDS.items()
        if getattr(where, field)
    }


@blueprint.route("/dead-letters", methods=["GET", "POST"])
def dead_letters_page() -> str:
    """Dead letters, newest first, filtered by destination, error text, type, case number.

    The filter form posts (a case number or an error text may hold a personal identifier);
    links to a filter are GETs and work the same.
    """
    hub = console().hub
    values = request.form if request.method == "POST" else request.args
    where = _filter(values)
    page = hub.store.deliveries.dead_letters(where, after=values.get("after") or None, limit=PAGE)
    return render_template(
        "ops/dead_letters.html",
        page=page,
        where=where,
        filter_args=_filter_args(where),
        matching=hub.store.deliveries.count_dead(where),
        destinations=[d.name for d in hub.config.destinations],
        types=hub.schemas.types,
    )


def _chosen() -> tuple[list[str], DeadLetterFilter, dict[str, Any]]:
    """The dead letters a form names: ``scope=matching`` takes the filter, else ``ids``."""
    where = _filter(request.form)
    if request.form.get("scope") == "matching":
        return (
            console().hub.store.deliveries.dead_letter_ids(where),
            where,
            {"filter": _filter_args(where)},
        )
    ids = [i for i in request.form.getlist("ids") if i][:10_000]
    return ids, where, {}


def _back(where: DeadLetterFilter) -> str:
    # Back to the same filter, unless it holds a personal identifier: that stays out of URLs.
    args = _filter_args(where)
    if holds_identifier(args.values()):
        args = {}
    return safe_next(request.form.get("next"), url_for("ops.dead_letters_page", **args))


@blueprint.post("/dead-letters/replay")
@requires(OPERATOR)
def replay_dead_letters() -> BaseResponse:
    """Send the chosen dead letters again; each is recorded in the audit trail."""
    hub = console().hub
    actor = current_user().name
    ids, where, summary = _chosen()
    if not ids:
        flash(gettext("Choose at least one dead letter."), "bad")
        return redirect(_back(where))
    reason = request.form.get("reason", "").strip()[:MAX_REASON] or None
    replayed = hub.store.deliveries.replay(ids, actor=actor, reason=reason)
    if summary:
        hub.store.audit.record(
            actor, "dlq.replay_matching", None, {**summary, "count": len(replayed)}
        )
    if replayed and hub.dispatching:
        hub.dispatcher.wake()
    with log_context(user=actor):
        log.info("replayed %d dead letter(s)", len(replayed))
    flash(
        ngettext("Replayed %(num)d dead letter.", "Replayed %(num)d dead letters.", len(replayed)),
        "ok",
    )
    skipped = len(ids) - len(replayed)
    if skipped:
        flash(
            ngettext(
                "%(num)d was no longer dead and was left alone.",
                "%(num)d were no longer dead and were left alone.",
                skipped,
            ),
            "warn",
        )
    return redirect(_back(where))


@blueprint.post("/dead-letters/discard")
@requires(OPERATOR)
def discard_dead_letters() -> BaseResponse:
    """Give up on the chosen dead letters, with a reason kept in the audit trail."""
    hub = console().hub
    actor = current_user().name
    ids, where, summary = _chosen()
    reason = request.form.get("reason", "").strip()[:MAX_REASON]
    if not reason:
        flash(gettext("Say why they are discarded: the reason is kept in the audit trail."), "bad")
        return redirect(_back(where))
    if not ids:
        flash(gettext("Choose at least one dead letter."), "bad")
        return redirect(_back(where))
    discarded = hub.store.deliveries.discard(ids, actor=actor, reason=reason)
    if summary:
        hub.store.audit.record(
            actor,
            "dlq.discard_matching",
            None,
            {**summary, "count": len(discarded), "reason": reason},
        )
    with log_context(user=actor):
        log.info("discarded %d dead letter(s)", len(discarded))
    flash(
        ngettext(
            "Discarded %(num)d dead letter.", "Discarded %(num)d dead letters.", len(discarded)
        ),
        "ok",
    )
    return redirect(_back(where))
