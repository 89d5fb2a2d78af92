"""``GET /metrics``: every metric of the hub, in Prometheus text format."""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, current_app, request

from faces.http.auth import bearer_token
from faces.http.openapi import add_paths
from faces.http.problems import Problem
from faces.http.settings import ops_settings
from hub.runtime import Hub

__all__ = ["blueprint", "install"]

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    """Every metric, in Prometheus text format."""
    hub: Hub = current_app.extensions["govhub"]
    token: str | None = current_app.config.get("GOVHUB_METRICS_TOKEN")
    if token is not None:
        given = bearer_token() or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Problem(
                401,
                "unauthenticated",
                "Authentication required",
                "send the metrics token as `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": 'Bearer realm="govhub-metrics"'},
            )
    body, content_type = hub.metrics.render(request.headers.get("Accept", ""))
    return Response(body, content_type=content_type)


def install(app: Flask, hub: Hub) -> None:
    """Serve ``/metrics`` on ``app`` and describe it in the OpenAPI document."""
    app.config["GOVHUB_METRICS_TOKEN"] = ops_settings(hub.config).metrics_token
    app.register_blueprint(blueprint)
    add_paths(
        {
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "description": (
                        "Messages received, deliveries by outcome, latency, backlog, dead"
                        " letters, job runs, circuit state. Open unless `[ops] metrics_token`"
                        " is set."
                    ),
                    "operationId": "getMetrics",
                    "tags": ["operations"],
                    "security": [{}, {"apiKey": []}],
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format 0.0.4.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": {"description": "A metrics token is configured and was not sent."},
                    },
                }
            }
        }
    )
