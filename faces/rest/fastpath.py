"""The hot path of REST ingest (``POST /api/v1/messages``), below Flask.

Durable ingest is the hub's busiest request. Flask's request and response machinery costs
more CPU than validating, routing and storing the message, and under the GIL every
microsecond of it is paid by all concurrent requests. This WSGI middleware serves the
common case — an authenticated client posting a well-formed JSON message — through the
very same :meth:`hub.pipeline.ingest.Ingest.submit` and the same helpers the Flask view
uses (:mod:`faces.rest.api`), and answers a refusal by ingest itself, with the same
problem document. Anything unusual (another media type, no or an unknown key, malformed
JSON or fields) is handed to the Flask view before ingest ran, so it is explained there.

Other POST paths may be served below Flask too (``direct``): the app factory hands the
SOAP endpoint's ``call`` in, which needs no request context either.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from faces.http.auth import parse_bearer, too_many_requests
from faces.http.limits import Limits
from faces.http.problems import problem_response
from faces.http.tls import TLS_CLIENT
from faces.rest.api import MESSAGES_PATH, REQUEST_FAST, ingest_problem, location, submission_of
from hub.observability.tracing import continuing
from hub.pipeline.ingest import IngestError
from hub.runtime import Hub

__all__ = ["IngestFastPath"]

log = logging.getLogger("govhub.web")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: Serves one POSTed request without Flask.
Direct = Callable[[Request], Response]


class _HandOver(Exception):
    """Not the common case: the Flask view answers (ingest has not run)."""


def _no_constants(name: str) -> Any:
    raise _HandOver(name)


class IngestFastPath:
    """Serves well-formed message posts (and ``direct`` paths); passes the rest to ``app``.

    Args:
        app: The Flask app (its WSGI callable).
        hub: The hub whose ingest pipeline and store to use.
        direct: More POST paths served below Flask, by path.
    """

    def __init__(
        self,
        app: WSGIApp,
        hub: Hub,
        direct: Mapping[str, Direct] | None = None,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.app = app
        self.hub = hub
        self.direct = dict(direct or {})
        self.cap = hub.config.server.max_body_bytes
        self.limits = limits

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        serve = self.direct.get(path)
        if serve is not None:
            return serve(Request(environ))(environ, start_response)
        if path != MESSAGES_PATH:
            return self.app(environ, start_response)
        try:
            return self._serve(environ, start_response)
        except _HandOver:
            return self.app(environ, start_response)
        except Exception:
            # As the Flask app answers an unexpected error: logged, and a problem document.
            log.exception("unhandled error on POST %s", MESSAGES_PATH)
            failed = problem_response(
                500, "internal", "Internal error", "the hub failed; the error is logged"
            )
            return failed(environ, start_response)

    def _serve(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        media_type, _, parameters = environ.get("CONTENT_TYPE", "").partition(";")
        if media_type.strip().lower() != "application/json" or (
            parameters and parameters.strip().lower().replace(" ", "") != "charset=utf-8"
        ):
            raise _HandOver
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or not 0 < int(length) <= self.cap:
            raise _HandOver
        limits = self.limits
        if limits is not None and limits.throttled(environ.get("REMOTE_ADDR")) is not None:
            raise _HandOver  # the view answers the 429
        token = parse_bearer(environ.get("HTTP_AUTHORIZATION", ""))
        client = self.hub.store.clients.authenticate(token) if token else None
        if client is None:
            raise _HandOver
        certified = environ.get(TLS_CLIENT)
        if certified is not None and certified != client.name:
            raise _HandOver  # the view refuses credentials of another client
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again if we hand over
        try:
            document = json.loads(body, parse_constant=_no_constants)
        except ValueError:
            raise _HandOver from None
        if not isinstance(document, dict) or not REQUEST_FAST.is_valid(document):
            raise _HandOver
        # taken only here: a request handed over takes its token in the view instead
        if limits is not None and (wait := limits.admit(client.name)) is not None:
            refusal = too_many_requests(wait).response(instance=MESSAGES_PATH)
            return refusal(environ, start_response)
        try:
            with continuing(environ.get("HTTP_TRACEPARENT"), environ.get("HTTP_TRACESTATE")):
                acceptance = self.hub.ingest.submit(client, submission_of(document), channel="rest")
        except IngestError as error:
            refusal = ingest_problem(error).response(instance=MESSAGES_PATH)
            return refusal(environ, start_response)
        answer = json.dumps(acceptance.to_json(), ensure_ascii=False).encode()
        start_response(
            "202 Accepted" if acceptance.created else "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(answer))),
                ("Location", location(acceptance.message_id)),
            ],
        )
        return [answer]
