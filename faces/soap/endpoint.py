"""``/soap/GovHubService``: the WSDL and XSDs on GET, SOAP 1.1 and 1.2 requests on POST."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from lxml import etree
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wrappers import Request

from faces.http.auth import bearer_token
from faces.http.limits import LIMITS_EXTENSION, Limits, retry_after_header
from faces.http.openapi import add_paths
from faces.http.problems import Problem
from faces.soap.envelope import (
    SOAP11,
    SOAP12,
    SoapFault,
    SoapVersion,
    fault_envelope,
    open_envelope,
    response_envelope,
)
from faces.soap.model import ModelError
from faces.soap.service import SoapService
from faces.soap.settings import SoapSettings, soap_settings
from faces.soap.wsse import WSSE_NS, Authenticator, WrongCredentials
from faces.soap.xmlsafe import XmlRefused, parse
from faces.soap.xsdgen import SERVICE_NAME, Contract, build_contract
from hub.core.errors import FieldError
from hub.observability.tracing import continuing
from hub.runtime import Hub
from hub.store import Client

__all__ = ["ENDPOINT_EXTENSION", "PATH", "SoapEndpoint", "register"]

log = logging.getLogger("govhub.soap")

PATH = f"/soap/{SERVICE_NAME}"
ENDPOINT_EXTENSION = "govhub_soap"
_MEDIA_TYPES = {SOAP11.media_type: SOAP11, SOAP12.media_type: SOAP12}
_UNDERSTOOD = {f"{{{WSSE_NS}}}Security"}
_ACTOR_NEXT = "http://schemas.xmlsoap.org/soap/actor/next"
_ROLES_12 = {
    "http://www.w3.org/2003/05/soap-envelope/role/next",
    "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver",
}
_WSDL_CACHE_SIZE = 16

blueprint = Blueprint("soap", __name__)


class SoapEndpoint:
    """The SOAP side of one hub: its contract, service, authenticator and limits."""

    def __init__(self, hub: Hub, contract: Contract, settings: SoapSettings) -> None:
        self.hub = hub
        self.contract = contract
        self.settings = settings
        self.service = SoapService(hub, contract)
        self.authenticator = Authenticator(hub.store, tolerance_s=settings.timestamp_tolerance_s)
        self._served: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.limits: Limits | None = None  # the app's (faces.http.limits), set by register

    # ------------------------------------------------------------------ contract

    def document(self, name: str, address: str) -> bytes | None:
        """The WSDL (``name`` = ``wsdl``) or an XSD, with locations pointing at ``address``."""
        key = (name, address)
        with self._lock:
            if key in self._served:
                self._served.move_to_end(key)
                return self._served[key]
        source = self.contract.documents.get(
            f"wsdl/{SERVICE_NAME}.wsdl" if name == "wsdl" else f"xsd/{name}"
        )
        if source is None:
            return None
        served = _relocate(source, address)
        with self._lock:
            self._served[key] = served
            # The address comes from the Host header: keep only a few variants.
            while len(self._served) > _WSDL_CACHE_SIZE:
                self._served.popitem(last=False)
        return served

    def address(self) -> str:
        """Where callers reach the service: ``[server] public_url`` or this request's host."""
        base = self.settings.public_url or request.host_url
        return base.rstrip("/") + PATH

    # ------------------------------------------------------------------ requests

    def call(self, incoming: Request) -> Response:
        """Answer one POSTed SOAP request with a response or a fault.

        Args:
            incoming: The request (Flask's, or a plain werkzeug one on the hot path,
                :mod:`faces.rest.fastpath`: nothing here needs Flask's request context).
        """
        announced = _MEDIA_TYPES.get(incoming.mimetype or "")
        version = announced or SOAP11
        try:
            if announced is None:
                return self._fault(
                    version,
                    SoapFault(
                        "send SOAP 1.1 as text/xml or SOAP 1.2 as application/soap+xml",
                        code="unsupported-media-type",
                    ),
                    status=415,
                )
            root = parse(
                self._body(incoming),
                incoming.mimetype_params.get("charset"),
                max_depth=self.settings.max_depth,
            )
            opened = open_envelope(root, announced)
            version = opened.version
            _check_must_understand(opened.version, opened.headers)
            client = self._authenticate(incoming, opened.headers)
            with continuing(
                incoming.headers.get("traceparent"), incoming.headers.get("tracestate")
            ):
                answer = self.service.handle(client, opened.operation)
        except _Limited as limited:
            response = self._fault(version, limited.fault)
            response.headers.update(retry_after_header(limited.wait))
            return response
        except SoapFault as fault:
            return self._fault(version, fault)
        except XmlRefused as refused:
            return self._fault(version, SoapFault(str(refused), code="malformed-xml"))
        except Exception:
            log.exception("SOAP request failed on %s", incoming.path)
            return self._fault(
                version,
                SoapFault("the hub failed; the error is logged", code="internal", sender=False),
            )
        return Response(response_envelope(version, answer), 200, content_type=version.content_type)

    def _authenticate(self, incoming: Request, headers: Sequence[etree._Element]) -> Client:
        limits, address = self.limits, incoming.remote_addr
        if limits is not None and (wait := limits.throttled(address)) is not None:
            raise _Limited(
                SoapFault(
                    "this address sent too many wrong credentials lately; try again after"
                    f" {retry_after_header(wait)['Retry-After']} s",
                    code="too-many-failures",
                ),
                wait,
            )
        try:
            client = self.authenticator.authenticate(headers, bearer_token(incoming))
        except WrongCredentials:
            if limits is not None:
                limits.failed(address)
            raise
        if limits is not None and (wait := limits.admit(client.name)) is not None:
            raise _Limited(
                SoapFault(
                    "this client is over its rate ([limits]); try again after"
                    f" {retry_after_header(wait)['Retry-After']} s",
                    code="rate-limited",
                ),
                wait,
            )
        return client

    def _body(self, incoming: Request) -> bytes:
        cap = self.settings.max_body_bytes
        too_large = SoapFault(f"the request is larger than {cap} bytes", code="too-large")
        if incoming.content_length is not None and incoming.content_length > cap:
            raise too_large
        try:
            body = incoming.stream.read(cap + 1)
        except (RequestEntityTooLarge, ClientDisconnected):
            raise too_large from None
        if len(body) > cap:
            raise too_large
        if not body:
            raise SoapFault("the request has no body", code="malformed-xml")
        return body

    @staticmethod
    def _fault(version: SoapVersion, fault: SoapFault, status: int = 500) -> Response:
        if not fault.sender:
            log.warning("SOAP fault (hub side): %s", fault.reason)
        return Response(fault_envelope(version, fault), status, content_type=version.content_type)


class _Limited(Exception):
    def __init__(self, fault: SoapFault, wait: float) -> None:
        super().__init__(fault.reason)
        self.fault = fault
        self.wait = wait


def _check_must_understand(version: SoapVersion, headers: Sequence[etree._Element]) -> None:
    for block in headers:
        flag = block.get(version.tag("mustUnderstand"))
        if flag not in ("1", "true"):
            continue
        if version is SOAP11:
            actor = block.get(version.tag("actor"))
            if actor is not None and actor != _ACTOR_NEXT:
                continue
        else:
            role = block.get(version.tag("role"))
            if role is not None and role not in _ROLES_12:
                continue
        if block.tag not in _UNDERSTOOD:
            raise SoapFault(
                f"the header {etree.QName(block).localname} must be understood, and the hub"
                " does not understand it",
                code="must-understand",
                fault_code="MustUnderstand",
            )


def _relocate(source: bytes, address: str) -> bytes:
    """Point a contract document's addresses and schema locations at ``address``."""
    root = etree.fromstring(source)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        location = element.get("schemaLocation")
        if location is not None:
            name = location.rsplit("/", 1)[-1]
            element.set("schemaLocation", f"{address}?xsd={name}")
        if etree.QName(element).localname == "address" and element.get("location"):
            element.set("location", address)
    served: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return served


def _endpoint() -> SoapEndpoint:
    endpoint: SoapEndpoint = current_app.extensions[ENDPOINT_EXTENSION]
    return endpoint


@blueprint.get(PATH)
def contract_document() -> Response:
    """The WSDL (``?wsdl``, or no query at all) or one of its XSDs (``?xsd=<name>``)."""
    endpoint = _endpoint()
    xsd = request.args.get("xsd")
    if xsd is None:
        name = "wsdl"  # ?wsdl, as toolkits ask, or nothing at all
    elif xsd:
        name = xsd
    else:
        raise Problem(
            400,
            "bad-parameter",
            "Bad query parameter",
            "xsd must name a schema",
            errors=[FieldError("xsd", "must name one of the service's schemas")],
        )
    document = endpoint.document(name, endpoint.address())
    if document is None:
        known = ", ".join(endpoint.contract.xsd_names)
        raise Problem(404, "not-found", "Not found", f"no such schema; known: {known}")
    return Response(document, 200, content_type="text/xml; charset=utf-8")


@blueprint.post(PATH)
def soap_call() -> Response:
    """A SOAP 1.1 or 1.2 request."""
    return _endpoint().call(request)


def register(app: Flask, hub: Hub) -> None:
    """Mount the SOAP endpoint on ``app`` (its contract is generated from ``hub``'s schemas)."""

    def skipped(message_type: str, error: ModelError) -> None:
        log.error(
            "SOAP: no typed operation for %s (SubmitMessage takes it as JSON): %s",
            message_type,
            error,
        )

    contract = build_contract(hub.schemas, on_error=skipped)
    endpoint = SoapEndpoint(hub, contract, soap_settings(hub.config))
    endpoint.limits = app.extensions.get(LIMITS_EXTENSION)
    app.extensions[ENDPOINT_EXTENSION] = endpoint
    app.register_blueprint(blueprint)
    add_paths(_OPENAPI_PATHS)


_FAULT = {
    "description": "A SOAP fault (WS-I Basic Profile): Client/Sender for a bad request with"
    " the failing element's path and the reason in gh:FaultDetail, Server/Receiver for the"
    " hub's own trouble.",
    "content": {
        "text/xml": {"schema": {"type": "string"}},
        "application/soap+xml": {"schema": {"type": "string"}},
    },
}
_OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    PATH: {
        "get": {
            "summary": "The WSDL (?wsdl) or one of its XML Schemas (?xsd=<name>)",
            "operationId": "soapContract",
            "tags": ["soap"],
            "security": [],
            "parameters": [
                {
                    "name": "wsdl",
                    "in": "query",
                    "allowEmptyValue": True,
                    "schema": {"type": "string"},
                },
                {
                    "name": "xsd",
                    "in": "query",
                    "description": "The name of one of the service's XML Schemas.",
                    "schema": {"type": "string", "minLength": 1},
                },
            ],
            "responses": {
                "200": {
                    "description": "The document: the WSDL, unless ?xsd names a schema.",
                    "content": {"text/xml": {"schema": {"type": "string"}}},
                },
                "400": {
                    "description": "An empty ?xsd=",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
                "404": {
                    "description": "No such schema",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            },
        },
        "post": {
            "summary": "A SOAP 1.1 (text/xml) or 1.2 (application/soap+xml) request",
            "description": "Operations SubmitMessage, one typed operation per canonical type"
            " (SubmitCase, ReportCaseStatus, CompleteCase, ...) and QueryMessage; see the"
            " WSDL. Authenticate with a WS-Security UsernameToken (username = client name,"
            " password = API key) or Authorization: Bearer.",
            "operationId": "soapCall",
            "tags": ["soap"],
            "security": [{}, {"apiKey": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "text/xml": {"schema": {"type": "string"}},
                    "application/soap+xml": {"schema": {"type": "string"}},
                },
            },
            "responses": {
                "200": {
                    "description": "The operation's response envelope",
                    "content": {
                        "text/xml": {"schema": {"type": "string"}},
                        "application/soap+xml": {"schema": {"type": "string"}},
                    },
                },
                "415": {
                    "description": "Neither text/xml nor application/soap+xml",
                    "content": {"text/xml": {"schema": {"type": "string"}}},
                },
                "500": _FAULT,
            },
        },
    }
}
