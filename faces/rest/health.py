"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from hub.core.clock import utcnow
from hub.observability.heartbeats import heartbeat_check
from hub.runtime import Hub

__all__ = ["blueprint"]

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is alive and serving."""
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to take traffic: the database answers and the dispatcher (if run here) turns.

    More checks (the scheduler's heartbeat) come from ``extensions["govhub_readiness"]``;
    the body names every check, and says why a failed one failed.
    """
    hub: Hub = current_app.extensions["govhub"]
    checks: dict[str, Any] = {}
    try:
        hub.store.db.ping()
        checks["database"] = {"ok": True}
    except Exception as error:
        checks["database"] = {"ok": False, "error": type(error).__name__}
    if hub.dispatching:
        dispatcher = hub.dispatcher
        checks["dispatcher"] = heartbeat_check(
            dispatcher.heartbeat_age_s(), dispatcher.heartbeat_limit_s
        )
        if not dispatcher.alive and checks["dispatcher"]["ok"]:
            checks["dispatcher"] = {"ok": False, "error": "the dispatcher thread has stopped"}
    elif hub.expects_delivery:
        checks["dispatcher"] = _delivery_process(hub)
    for name, check in current_app.extensions.get("govhub_readiness", {}).items():
        result = check()
        if result is not None:  # None: the component does not run in this process
            checks[name] = result
    ready = all(c["ok"] for c in checks.values())
    return jsonify(
        {"status": "ready" if ready else "not ready", "checks": checks}
    ), 200 if ready else 503


def _delivery_process(hub: Hub) -> dict[str, Any]:
    """For a web worker of ``govhub run``: does a dispatcher beat (in another process)?"""
    limit = hub.dispatcher.heartbeat_limit_s
    try:
        beating = hub.store.nodes.nodes(
            since=utcnow() - dt.timedelta(seconds=limit), kind="dispatcher"
        )
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    if not beating:
        return {"ok": False, "error": f"no dispatcher beat in the last {limit:.0f} s"}
    return {"ok": True, "nodes": [node.node for node in beating]}
