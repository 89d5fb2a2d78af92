"""The baseline: a plain Flask JSON echo app, served by gunicorn with 2 sync workers.

Run: ``gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench echo_app:app`` (``bench/run.py``
starts it so). ``POST /api/v1/messages`` parses the JSON body and answers 202
with a small JSON body, as the hub's ingest does, without validating or storing anything.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

__all__ = ["app", "create_app"]


def create_app() -> Flask:
    """The echo app: every POST parses its JSON body and answers 202."""
    echo = Flask("echo")

    @echo.post("/api/v1/messages")
    def accept() -> tuple[Response, int]:
        document = request.get_json(force=True, silent=True) or {}
        return jsonify(
            {"id": document.get("id"), "status": "accepted", "type": document.get("type")}
        ), 202

    return echo


app = create_app()
