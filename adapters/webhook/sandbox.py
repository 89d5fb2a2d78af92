"""A departmental business system (委办局业务系统) that receives the hub's webhooks.

It checks ``X-GovHub-Signature``, drops duplicates by ``Idempotency-Key`` as a careful
receiver does, answers the hub's signed pings (``X-GovHub-Event: ping``) without storing
them, and keeps what it received in memory for people and tests to look at
(``GET /received``: each with its ``Idempotency-Key``, its ``X-GovHub-Signature``, verified,
and its ``traceparent``; ``GET /_sandbox/effects`` lists one effect per distinct delivery).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from flask import Flask, Response, jsonify, request

from adapters.sdk.sandbox import SandboxInfo, install_faults
from adapters.webhook.signature import EVENT_HEADER, HEADER, SignatureError, verify

__all__ = ["DEFAULT_SECRET", "SANDBOX", "SECRET_ENV", "create_app"]

#: The sandbox's secret when none is set; the default configuration uses the same one.
DEFAULT_SECRET = "sandbox-department-secret-0001"  # noqa: S105 - a sandbox's public test value
#: The environment variable that sets the sandbox's secret.
SECRET_ENV = "GOVHUB_DEPARTMENT_SECRET"  # noqa: S105 - a variable's name, not a secret
MAX_BODY_BYTES = 4 * 1024 * 1024


def create_app(secret: str | None = None) -> Flask:
    """The department sandbox app.

    Args:
        secret: The HMAC key shared with the hub's ``webhook`` destination; defaults to
            ``$GOVHUB_DEPARTMENT_SECRET`` or :data:`DEFAULT_SECRET`.
    """
    key = secret or os.environ.get(SECRET_ENV, DEFAULT_SECRET)
    app = Flask("govhub.sandbox.department")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    lock = threading.Lock()
    received: list[dict[str, Any]] = []
    seen: set[str] = set()
    counters = {"requests": 0, "duplicates": 0, "pings": 0}

    def reset() -> None:
        with lock:
            received.clear()
            seen.clear()
            counters.update(requests=0, duplicates=0, pings=0)

    def effects() -> list[dict[str, Any]]:
        with lock:
            return [
                {"kind": item["envelope"].get("type"), "key": item["idempotency_key"]}
                for item in received
            ]

    install_faults(app, reset, effects=effects)

    @app.post("/govhub")
    def receive() -> tuple[Response, int]:
        body = request.get_data()
        try:
            verify(key, body, request.headers.get(HEADER))
        except SignatureError as error:
            return jsonify({"error": str(error)}), 401
        if request.headers.get(EVENT_HEADER) == "ping":
            with lock:
                counters["pings"] += 1
            return jsonify({"pong": True}), 200
        try:
            envelope = json.loads(body)
        except ValueError:
            return jsonify({"error": "the body is not JSON"}), 400
        if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
            return jsonify({"error": "the body is not an envelope"}), 400
        idempotency_key = request.headers.get("Idempotency-Key", "")
        if not idempotency_key:
            return jsonify({"error": "Idempotency-Key is required"}), 400
        with lock:
            counters["requests"] += 1
            if idempotency_key in seen:
                counters["duplicates"] += 1
                return jsonify({"received": True, "duplicate": True}), 200
            seen.add(idempotency_key)
            received.append(
                {
                    "idempotency_key": idempotency_key,
                    # What a department checks: the header, verified against the secret.
                    "signature": {"header": request.headers.get(HEADER), "verified": True},
                    # the hub's trace of this delivery (W3C), to match with its logs
                    "traceparent": request.headers.get("traceparent"),
                    "envelope": envelope,
                }
            )
        return jsonify({"received": True, "duplicate": False}), 200

    @app.get("/received")
    def list_received() -> Response:
        kind = request.args.get("type")
        case_no = request.args.get("case_no")
        with lock:
            items = [
                item
                for item in received
                if (not kind or item["envelope"]["type"] == kind)
                and (not case_no or item["envelope"].get("correlation_id") == case_no)
            ]
            return jsonify({"items": items, **counters})

    return app


SANDBOX = SandboxInfo(
    name="department",
    default_port=9901,
    create_app=create_app,
    description="a departmental business system receiving webhooks (民政局)",
)
