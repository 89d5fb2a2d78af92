"""The web application: every HTTP face (REST, SOAP, ops console, metrics) on one Flask app."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, request
from werkzeug.exceptions import BadRequest, HTTPException

from adapters.sdk.inbound import FAILED_AUTHENTICATION
from faces import console
from faces.http.limits import LIMITS_EXTENSION, Limits, limit_settings, retry_after_header
from faces.http.openapi import APP_PATHS
from faces.http.problems import Problem, problem_response
from faces.rest import (
    adapters,
    admin,
    api,
    cases,
    health,
    items,
    jobs,
    lookups,
    metrics,
    openapi,
    projects,
    replays,
)
from faces.rest.fastpath import IngestFastPath
from faces.soap import endpoint as soap
from hub.runtime import Hub

__all__ = ["BLUEPRINT_HOOKS", "create_app"]

log = logging.getLogger("govhub.web")

#: Other parts of the hub (SOAP, ops console, notification endpoints) register a
#: function here that adds their blueprints to the app.
BLUEPRINT_HOOKS: list[Callable[[Flask, Hub], None]] = []


def _throttle_failed_signatures(inbound: Blueprint, limits: Limits) -> None:
    """Count an inbound endpoint's failed signatures like failed logins on REST and SOAP.

    A counterpart's endpoint (payment or courier notifications) is reachable without an
    API key, so its signature is its authentication: an address that keeps sending forged
    ones is refused before the view (and its key lookups) runs.
    """

    @inbound.before_request
    def _refuse_throttled() -> Response | None:
        wait = limits.throttled(request.remote_addr)
        if wait is None:
            return None
        log.warning(
            "inbound %s refused: %s failed to authenticate too often",
            request.path,
            request.remote_addr or "?",
        )
        return Response(
            "fail: too many failed signatures from this address; try again later",
            status=429,
            mimetype="text/plain",
            headers=retry_after_header(wait),
        )

    @inbound.after_request
    def _count_failure(response: Response) -> Response:
        if getattr(g, FAILED_AUTHENTICATION, False):
            limits.failed(request.remote_addr)
        return response


def create_app(hub: Hub) -> Flask:
    """The Flask app serving ``hub``."""

    app = Flask("govhub")
    app.config["MAX_CONTENT_LENGTH"] = hub.config.server.max_body_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["govhub"] = hub
    app.extensions[LIMITS_EXTENSION] = Limits(limit_settings(hub.config))
    app.register_blueprint(api.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(adapters.blueprint)
    soap.register(app, hub)
    metrics.install(app, hub)
    console.install(app, hub)
    jobs.install(app, hub)
    admin.install(app, hub)
    items.install(app, hub)
    cases.install(app, hub)
    projects.install(app, hub)
    lookups.install(app, hub)
    replays.install(app, hub)
    for hook in BLUEPRINT_HOOKS:
        hook(app, hub)
    for name, adapter in hub.adapters.items():
        inbound = adapter.inbound()
        if inbound is not None:
            _throttle_failed_signatures(inbound, app.extensions[LIMITS_EXTENSION])
            app.register_blueprint(inbound, url_prefix=f"/inbound/{name}", name=f"inbound_{name}")
            app.extensions.setdefault(APP_PATHS, {}).update(adapter.inbound_paths())

    @app.before_request
    def _no_nul() -> None:
        # U+0000 cannot be stored (PostgreSQL) nor sensibly searched for: a query or path
        # holding it is refused here, before any view passes it to the database.
        if "\x00" in request.path or any(
            "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)
        ):
            raise BadRequest("the URL contains the character U+0000")

    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        return error.response(instance=request.path)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 413:
            cap = hub.config.server.max_body_bytes
            return problem_response(
                413, "too-large", "Request body too large", f"the limit is {cap} bytes"
            )
        slug = (error.name or "error").lower().replace(" ", "-")
        # A 405 says which methods the resource has (RFC 9110 §15.5.6): keep werkzeug's Allow.
        allow = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
        return problem_response(
            status, slug, error.name or "Error", error.description, headers=allow
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(
            500, "internal", "Internal error", "the hub failed; the error is logged"
        )

    soap_endpoint: soap.SoapEndpoint = app.extensions[soap.ENDPOINT_EXTENSION]
    app.wsgi_app = IngestFastPath(  # type: ignore[method-assign]
        app.wsgi_app,
        hub,
        direct={soap.PATH: soap_endpoint.call},
        limits=app.extensions[LIMITS_EXTENSION],
    )
    return app
