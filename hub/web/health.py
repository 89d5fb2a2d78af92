"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from hub.runtime import Hub

__all__ = ["blueprint"]

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is alive and serving."""
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to take traffic: the database answers and the dispatcher (if run here) turns."""
    hub: Hub = current_app.extensions["govhub"]
    checks: dict[str, Any] = {}
    try:
        hub.store.ping()
        checks["database"] = {"ok": True}
    except Exception as error:
        checks["database"] = {"ok": False, "error": type(error).__name__}
    if hub.dispatching:
        alive = hub.dispatcher.alive
        checks["dispatcher"] = (
            {"ok": alive} if alive else {"ok": False, "error": "no recent heartbeat"}
        )
    for name, check in current_app.extensions.get("govhub_readiness", {}).items():
        checks[name] = check()
    ready = all(c["ok"] for c in checks.values())
    return jsonify(
        {"status": "ready" if ready else "not ready", "checks": checks}
    ), 200 if ready else 503
