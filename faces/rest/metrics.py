"""``GET /metrics``: every metric of the hub, in Prometheus text format.

The metrics name every message type and destination and count the traffic of each, so
they are not for everyone: with ``[ops] metrics_token`` set, a scraper sends it as
``Authorization: Bearer <token>`` (from anywhere); without one, only this machine may ask
(a scraper or agent on the same host).
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Flask, Response, current_app, request

from faces.http.auth import bearer_token
from faces.http.openapi import add_paths, problem_content
from faces.http.problems import Problem
from faces.http.settings import ops_settings
from hub.runtime import Hub

__all__ = ["blueprint", "install", "is_loopback"]

blueprint = Blueprint("metrics", __name__)


def is_loopback(address: str | None) -> bool:
    """Whether a peer address is this machine (``127.0.0.0/8``, ``::1``, IPv4-mapped)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


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
    elif not is_loopback(request.remote_addr):
        raise Problem(
            403,
            "forbidden",
            "Forbidden",
            "without [ops] metrics_token, /metrics answers only on the hub's own machine",
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
                        " letters, job runs, circuit state. With `[ops] metrics_token` set,"
                        " send it as `Authorization: Bearer <token>`; without one, only"
                        " requests from the hub's own machine (loopback) are answered."
                    ),
                    "operationId": "getMetrics",
                    "tags": ["operations"],
                    "security": [{}, {"metricsToken": []}],
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format 0.0.4.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": problem_content("A metrics token is configured and was not sent."),
                        "403": problem_content(
                            "No metrics token is configured and the request is not from the"
                            " hub's own machine."
                        ),
                    },
                }
            }
        }
    )
