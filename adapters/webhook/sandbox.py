"""A departmental business system (委办局业务系统) that receives the hub's webhooks.

It checks ``X-GovHub-Signature``, drops duplicates by ``Idempotency-Key`` as a careful
receiver does, and keeps what it received in memory for people and tests to look at
(``GET /received``).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from flask import Flask, Response, jsonify, request

from adapters.sdk.sandbox import SandboxInfo, install_faults
from adapters.webhook.signature import HEADER, SignatureError, verify

__all__ = ["DEFAULT_SECRET", "SANDBOX", "create_app"]

#: The sandbox's secret when none is set; the default configuration uses the same one.
DEFAULT_SECRET = "sandbox-department-secret-0001"  # noqa: S105 - a sandbox's public test value


def create_app(secret: str | None = None) -> Flask:
    """The department sandbox app.

    Args:
        secret: The HMAC key shared with the hub's ``webhook`` destination; defaults to
            ``$GOVHUB_DEPARTMENT_SECRET`` or :data:`DEFAULT_SECRET`.
    """
    key = secret or os.environ.get("GOVHUB_DEPARTMENT_SECRET", DEFAULT_SECRET)
    app = Flask("govhub.sandbox.department")
    lock = threading.Lock()
    received: list[dict[str, Any]] = []
    seen: set[str] = set()
    counters = {"requests": 0, "duplicates": 0}

    def reset() -> None:
        with lock:
            received.clear()
            seen.clear()
            counters.update(requests=0, duplicates=0)

    install_faults(app, reset)

    @app.post("/govhub")
    def receive() -> tuple[Response, int]:
        body = request.get_data()
        try:
            verify(key, body, request.headers.get(HEADER))
        except SignatureError as error:
            return jsonify({"error": str(error)}), 401
        envelope = json.loads(body)
        idempotency_key = request.headers.get("Idempotency-Key", "")
        with lock:
            counters["requests"] += 1
            if idempotency_key in seen:
                counters["duplicates"] += 1
                return jsonify({"received": True, "duplicate": True}), 200
            seen.add(idempotency_key)
            received.append({"idempotency_key": idempotency_key, "envelope": envelope})
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
