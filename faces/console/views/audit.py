"""The audit trail: who replayed, discarded, paused, added or revoked what, and when."""

from __future__ import annotations

from flask import render_template, request

from faces.console.web import blueprint, console


@blueprint.get("/audit")
def audit_page() -> str:
    """The newest audit records, filtered by who and by action."""
    before_raw = request.args.get("before", "")
    before = int(before_raw) if before_raw.isdigit() else None
    actor = request.args.get("actor", "").strip()[:100]
    action = request.args.get("action", "").strip()[:50]
    records, more = console().hub.store.audit.recent(actor=actor, action=action, before=before)
    return render_template("ops/audit.html", records=records, more=more, actor=actor, action=action)
