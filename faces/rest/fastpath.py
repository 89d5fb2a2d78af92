"""The hot paths of ingest (``POST /api/v1/messages``, SOAP calls), below Flask.

Durable ingest is the hub's busiest request. Flask's request and response machinery costs
more CPU than validating, routing and storing the message, and under the GIL every
microsecond of it is paid by all concurrent requests. This WSGI middleware serves:

- REST: the common case — an authenticated client posting a well-formed JSON message it
  may send — through the very same :meth:`hub.pipeline.ingest.Ingest.submit`; every other request,
  and every request refused for any reason, goes to the Flask app unchanged, so errors are
  explained in exactly one place (:mod:`faces.rest.api`);
- SOAP: every POST to the service, through the same :meth:`SoapEndpoint.call` the Flask
  view uses (it answers faults itself and needs no request context).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request

from faces.rest.api import REQUEST_FAST
from faces.soap.endpoint import ENDPOINT_EXTENSION, SoapEndpoint
from faces.soap.endpoint import PATH as SOAP_PATH
from hub.pipeline.ingest import IngestError, Submission
from hub.runtime import Hub

__all__ = ["ENDPOINT_EXTENSION", "IngestFastPath"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PATH = "/api/v1/messages"


class _Refused(Exception):
    """Not the common case: let Flask answer."""


def _no_constants(name: str) -> Any:
    raise _Refused(name)


class IngestFastPath:
    """Serves well-formed message posts and SOAP calls; passes everything else to ``app``.

    Args:
        app: The Flask app (its WSGI callable).
        hub: The hub whose ingest pipeline and store to use.
        soap: The SOAP endpoint, when the app has one.
    """

    def __init__(self, app: WSGIApp, hub: Hub, soap: SoapEndpoint | None = None) -> None:
        self.app = app
        self.hub = hub
        self.soap = soap
        self.cap = hub.config.server.max_body_bytes

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO")
        if path == SOAP_PATH and self.soap is not None:
            response = self.soap.call(Request(environ))
            return response(environ, start_response)
        if path != PATH:
            return self.app(environ, start_response)
        try:
            return self._serve(environ, start_response)
        except _Refused:
            return self.app(environ, start_response)

    def _serve(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        media_type, _, parameters = environ.get("CONTENT_TYPE", "").partition(";")
        if media_type.strip().lower() != "application/json" or (
            parameters and parameters.strip().lower().replace(" ", "") != "charset=utf-8"
        ):
            raise _Refused
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or not 0 < int(length) <= self.cap:
            raise _Refused
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            raise _Refused
        client = self.hub.store.clients.authenticate(token.strip())
        if client is None:
            raise _Refused
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again if we pass
        try:
            document = json.loads(body, parse_constant=_no_constants)
        except ValueError:
            raise _Refused from None
        if not isinstance(document, dict) or not REQUEST_FAST.is_valid(document):
            raise _Refused
        submission = Submission(
            type=document["type"],
            payload=document["payload"],
            client_ref=document.get("id"),
            correlation_id=document.get("correlation_id"),
            headers=document.get("headers", {}),
        )
        try:
            acceptance = self.hub.ingest.submit(client, submission, channel="rest")
        except IngestError:
            # refused before anything was stored: Flask runs it again and explains why
            raise _Refused from None
        answer = json.dumps(acceptance.to_json(), ensure_ascii=False).encode()
        start_response(
            "202 Accepted" if acceptance.created else "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(answer))),
                ("Location", f"{PATH}/{acceptance.message_id}"),
            ],
        )
        return [answer]
