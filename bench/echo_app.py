"""The baseline: a plain Flask JSON echo app on the same waitress setup as the hub."""

from __future__ import annotations

import sys

from flask import Flask, Response, jsonify, request

from faces.serving import start_server


def create_app() -> Flask:
    """POST /api/v1/messages parses the JSON body and answers 202 with a small JSON body."""
    app = Flask("echo")

    @app.post("/api/v1/messages")
    def echo() -> tuple[Response, int]:
        document = request.get_json()
        return jsonify(
            {"id": document.get("id"), "status": "accepted", "type": document.get("type")}
        ), 202

    return app


if __name__ == "__main__":
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    server = start_server(create_app(), "127.0.0.1", 0, threads=threads)
    print(f"echo listening on {server.url}", flush=True)
    server.server.run()
