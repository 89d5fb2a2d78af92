"""A sandbox for any document/literal WSDL: one handler per operation, the rest is done.

:func:`wsdl_sandbox` builds the Flask app a generated adapter's ``sandbox.py`` returns
(``govhub adapter new NAME --from-wsdl``): it serves the WSDL at ``?wsdl`` with the
caller's address in it, checks the caller's credentials (HTTP Basic, a bearer token or a
WS-Security UsernameToken), validates every request body against the WSDL's XML Schema
(a ``soap:Client`` fault naming the field when it does not fit), hands the request to the
operation's handler as JSON values, and serializes the handler's answer with zeep,
checking it against the schema too (a ``soap:Server`` fault naming the field: the
sandbox's own answer is wrong). Faults and delays are injected as in every sandbox
(:func:`adapters.sdk.sandbox.install_faults`).
"""

from __future__ import annotations

import copy
import hmac
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from lxml import etree
from zeep import Client, Settings, Transport
from zeep.exceptions import Error as ZeepError
from zeep.wsdl.bindings.soap import Soap11Binding

from adapters.sdk.sandbox import install_faults
from adapters.sdk.sandbox_soap import (
    SoapRequestError,
    UsernameTokenVerifier,
    parse_envelope,
    soap_fault,
)
from adapters.sdk.soap_json import to_json
from adapters.sdk.xml import parse_declared, safe_parser
from hub.core.identifiers import mask_text

__all__ = ["AUTH_KINDS", "Handler", "WsdlService", "wsdl_sandbox"]

#: How a sandbox may want its callers to authenticate.
AUTH_KINDS = ("none", "basic", "bearer", "wsse")
#: An operation's handler: the request as JSON values → the response element's content.
Handler = Callable[[dict[str, Any]], Mapping[str, Any]]

_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_XSD = "http://www.w3.org/2001/XMLSchema"
_ADDRESSES = (
    "{http://schemas.xmlsoap.org/wsdl/soap/}address",
    "{http://schemas.xmlsoap.org/wsdl/soap12/}address",
)
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ?(?:\{[^}]*\})?([\w.-]+)")


class _LocalTransport(Transport):
    """A sandbox reads its own files only: nothing it loads may reach the network."""

    def load(self, url: str) -> bytes:
        if url.startswith(("http://", "https://")):
            raise SoapRequestError("soap:Server", f"the sandbox's WSDL imports {url}")
        content: bytes = super().load(url)
        return content


class WsdlService:
    """The WSDL a sandbox answers: its first SOAP 1.1 port's operations and its schema.

    Args:
        path: The WSDL file (its imports beside it).

    Raises:
        ValueError: The WSDL has no SOAP 1.1 port.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = parse_declared(path.read_bytes())
        self.target_namespace = self.root.get("targetNamespace", "")
        settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True, xml_huge_tree=False)
        client = Client(str(path), settings=settings, transport=_LocalTransport())
        self.types = client.wsdl.types
        ports = [
            port
            for service in client.wsdl.services.values()
            for port in service.ports.values()
            if isinstance(port.binding, Soap11Binding)
        ]
        if not ports:
            raise ValueError(f"{path} has no SOAP 1.1 port")
        self.operations: dict[str, Any] = dict(ports[0].binding._operations)
        self._by_element = {
            op.input.body.qname.text: name
            for name, op in self.operations.items()
            if op.input.body is not None
        }
        self.schema = _types_schema(self.root, path)

    def served_at(self, address: str) -> Response:
        """The WSDL with every SOAP address set to ``address``."""
        root = copy.deepcopy(self.root)
        for tag in _ADDRESSES:
            for element in root.iter(tag):
                element.set("location", address)
        body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
        return Response(body, headers={"Content-Type": "text/xml; charset=utf-8"})

    def operation_of(self, body: Any) -> str:
        """The operation a request body element calls.

        Raises:
            SoapRequestError: ``soap:Client``: no operation takes that element.
        """
        name = self._by_element.get(str(body.tag))
        if name is None:
            raise SoapRequestError("soap:Client", f"no operation takes {body.tag}")
        return name

    def validate(self, element: Any, *, code: str = "soap:Client") -> None:
        """Check a body element against the WSDL's schema.

        Raises:
            SoapRequestError: ``code`` (``soap:Client`` for a request), naming the field.
        """
        if self.schema is None or self.schema.validate(etree.ElementTree(copy.deepcopy(element))):
            return
        error = self.schema.error_log.last_error
        message = error.message if error is not None else "does not fit the schema"
        expected = _EXPECTED.search(message)
        field = expected.group(1) if expected else _field_of(error.path if error else "")
        raise SoapRequestError(code, f"{field}: {mask_text(message)}", field=field)

    def arguments(self, operation: str, body: Any) -> dict[str, Any]:
        """A request body as JSON values (the input element's content)."""
        value = to_json(self.operations[operation].input.body.parse(body, self.types))
        return value if isinstance(value, dict) else {}

    def answer(self, operation: str, values: Mapping[str, Any]) -> Response:
        """The SOAP 1.1 response of ``operation`` with ``values`` as its content.

        Raises:
            SoapRequestError: ``soap:Server``: the values do not fit the output element.
        """
        try:
            message = self.operations[operation].output.serialize(**values)
        except (ZeepError, TypeError, ValueError) as error:
            raise SoapRequestError(
                "soap:Server", f"the sandbox's answer to {operation} does not fit: {error}"
            ) from None
        envelope = message.content
        body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        for child in body if body is not None else ():
            self.validate(child, code="soap:Server")
        return Response(
            etree.tostring(envelope, xml_declaration=True, encoding="utf-8"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )


def _field_of(path: str) -> str:
    # "/ns0:Add/ns0:intA" → "intA"; lxml paths carry prefixes and positions.
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.split(":")[-1].split("[")[0] or "(body)"


class _InlineSchemas(etree.Resolver):  # type: ignore[misc] # lxml has no stubs here
    """Serves the WSDL's inline schemas to each other, by made-up locations."""

    def __init__(self, documents: Mapping[str, bytes]) -> None:
        super().__init__()
        self.documents = dict(documents)

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        found = self.documents.get(system_url)
        return None if found is None else self.resolve_string(found, context, base_url=system_url)


def _types_schema(root: Any, path: Path) -> Any:
    """One XMLSchema for every ``xs:schema`` in the WSDL's ``types`` (``None``: none)."""
    schemas = list(root.iterfind(f"{{{_WSDL}}}types/{{{_XSD}}}schema"))
    if not schemas:
        return None
    base = path.resolve().parent.as_uri()
    locations = {
        schema.get("targetNamespace", ""): f"{base}/__inline_{number}.xsd"
        for number, schema in enumerate(schemas)
    }
    documents: dict[str, bytes] = {}
    for number, schema in enumerate(schemas):
        # Standalone, a schema needs the prefixes it inherited from wsdl:definitions.
        standalone = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=schema.nsmap)
        standalone.extend(copy.deepcopy(child) for child in schema)
        for imported in standalone.iterfind(f"{{{_XSD}}}import"):
            namespace = imported.get("namespace", "")
            if not imported.get("schemaLocation") and namespace in locations:
                imported.set("schemaLocation", locations[namespace])
        documents[f"{base}/__inline_{number}.xsd"] = etree.tostring(standalone)
    parser = safe_parser()
    parser.resolvers.add(_InlineSchemas(documents))
    if len(schemas) == 1:
        only = next(iter(documents))
        return etree.XMLSchema(etree.fromstring(documents[only], parser, base_url=only))
    wrapper = etree.Element(f"{{{_XSD}}}schema", nsmap={"xs": _XSD})
    for namespace, location in locations.items():
        etree.SubElement(wrapper, f"{{{_XSD}}}import", namespace=namespace, schemaLocation=location)
    document = etree.fromstring(etree.tostring(wrapper), parser, base_url=f"{base}/__types.xsd")
    return etree.XMLSchema(document)


def _authenticate(auth: str, username: str | None, secret: str | None) -> Response | None:
    """``None`` when the request's HTTP credentials are right (or none are asked)."""
    given = request.headers.get("Authorization", "")
    if auth == "basic":
        credentials = request.authorization
        if (
            credentials is not None
            and credentials.type == "basic"
            and hmac.compare_digest(str(credentials.username or ""), username or "")
            and hmac.compare_digest(str(credentials.password or ""), secret or "")
        ):
            return None
        refused = jsonify({"error": "sandbox: HTTP Basic credentials are missing or wrong"})
        refused.headers["WWW-Authenticate"] = 'Basic realm="sandbox"'
    elif auth == "bearer":
        scheme, _, token = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), secret or ""):
            return None
        refused = jsonify({"error": "sandbox: the bearer token is missing or wrong"})
        refused.headers["WWW-Authenticate"] = 'Bearer realm="sandbox"'
    else:
        return None
    refused.status_code = 401
    return refused


def wsdl_sandbox(
    name: str,
    wsdl_file: Path,
    handlers: Mapping[str, Handler],
    *,
    endpoint: str,
    auth: str = "none",
    username: str | None = None,
    secret: str | None = None,
    reset: Callable[[], None] | None = None,
) -> Flask:
    """A sandbox answering the operations of ``wsdl_file`` at ``endpoint``.

    Args:
        name: The sandbox's name (its Flask app is ``govhub.sandbox.<name>``).
        wsdl_file: The WSDL (document/literal, a SOAP 1.1 port).
        handlers: Operation name → handler; an operation without one gets a
            ``soap:Server`` fault saying so.
        endpoint: The path it answers at (``/soap/<Service>``).
        auth: One of :data:`AUTH_KINDS`.
        username: The user it accepts (``basic``, ``wsse``).
        secret: The password (``basic``, ``wsse``) or the token (``bearer``).
        reset: Clears the handlers' own state (``POST /_sandbox/reset``).

    Raises:
        ValueError: An unknown ``auth``, or a WSDL without a SOAP 1.1 port.
    """
    if auth not in AUTH_KINDS:
        raise ValueError(f"auth is one of {', '.join(AUTH_KINDS)}, not {auth!r}")
    app = Flask(f"govhub.sandbox.{name}")
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    service = WsdlService(wsdl_file)
    verifier = UsernameTokenVerifier({username or "": secret or ""}) if auth == "wsse" else None

    def render_fault(kind: str) -> Response | None:
        if kind == "server":
            return soap_fault("soap:Server", "sandbox: injected server fault")
        if kind == "client":
            return soap_fault("soap:Client", "sandbox: injected client fault")
        return None

    install_faults(app, reset, render_fault=render_fault)

    @app.get(endpoint)
    def get_wsdl() -> Response | tuple[Response, int]:
        if "wsdl" not in {key.lower() for key in request.args}:
            return jsonify({"error": "POST SOAP 1.1 envelopes here; the WSDL is at ?wsdl"}), 405
        return service.served_at(request.host_url.rstrip("/") + endpoint)

    @app.post(endpoint)
    def answer() -> Response:
        refused = _authenticate(auth, username, secret)
        if refused is not None:
            return refused
        try:
            header, body = parse_envelope(request.get_data(), request.content_type)
            if verifier is not None:
                verifier.verify(header)
            operation = service.operation_of(body)
            service.validate(body)
            handler = handlers.get(operation)
            if handler is None:
                raise SoapRequestError("soap:Server", f"the sandbox does not answer {operation}")
            return service.answer(operation, handler(service.arguments(operation, body)))
        except SoapRequestError as error:
            return soap_fault(error.code, error.message)

    return app
