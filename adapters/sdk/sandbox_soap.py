"""Building blocks for SOAP sandboxes: envelopes, faults, WS-Security checks, WSDL serving.

A SOAP sandbox must behave like a real service: read envelopes safely, validate bodies
against the WSDL's schema, check the UsernameToken as WSS 1.1 says (digest, created time
window, nonce replay), and answer faults shaped as WS-I Basic Profile wants (HTTP 500,
``soap:Client`` for the caller's mistakes, ``soap:Server`` for its own trouble).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Response
from lxml import etree

from adapters.sdk.xml import XmlError, parse_declared, safe_parser
from hub.core.identifiers import mask_text

__all__ = [
    "SOAP11_ENV",
    "WSSE_NS",
    "SoapRequestError",
    "UsernameTokenVerifier",
    "Wsdl",
    "parse_envelope",
    "soap_fault",
    "soap_response",
]

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
MAX_REQUEST_BYTES = 1024 * 1024


class SoapRequestError(Exception):
    """A request the service refuses with a fault.

    Args:
        code: The fault code, ``soap:Client`` / ``soap:Server`` / ``wsse:...``.
        message: The fault string.
        detail_code: The service's own error code, put in the detail.
        field: The field at fault, put in the detail.
    """

    def __init__(
        self, code: str, message: str, *, detail_code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail_code = detail_code
        self.field = field


def soap_response(body_child: Any) -> Response:
    """A SOAP 1.1 envelope around ``body_child``, HTTP 200."""
    envelope = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soap": SOAP11_ENV})
    etree.SubElement(envelope, f"{{{SOAP11_ENV}}}Body").append(body_child)
    return Response(
        etree.tostring(envelope, xml_declaration=True, encoding="utf-8"),
        status=200,
        mimetype="text/xml",
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )


def soap_fault(
    code: str,
    message: str,
    *,
    detail_ns: str | None = None,
    detail_code: str | None = None,
    field: str | None = None,
) -> Response:
    """A SOAP 1.1 fault, HTTP 500 (WS-I Basic Profile R1126).

    Args:
        code: ``soap:Client``, ``soap:Server`` or ``wsse:FailedAuthentication``-style QName.
        message: The fault string.
        detail_ns: Namespace of the ``HallError``-style detail element.
        detail_code: The service's error code in the detail.
        field: The field at fault in the detail.
    """
    nsmap = {"soap": SOAP11_ENV, "wsse": WSSE_NS}
    envelope = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap=nsmap)
    body = etree.SubElement(envelope, f"{{{SOAP11_ENV}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP11_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = message
    if detail_code is not None and detail_ns is not None:
        detail = etree.SubElement(fault, "detail")
        error = etree.SubElement(detail, f"{{{detail_ns}}}HallError", nsmap={"h": detail_ns})
        etree.SubElement(error, f"{{{detail_ns}}}code").text = detail_code
        if field:
            etree.SubElement(error, f"{{{detail_ns}}}field").text = field
    return Response(
        etree.tostring(envelope, xml_declaration=True, encoding="utf-8"),
        status=500,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )


def parse_envelope(data: bytes, content_type: str | None) -> tuple[Any, Any]:
    """The ``Header`` (or ``None``) and the first ``Body`` element of a SOAP 1.1 request.

    Raises:
        SoapRequestError: Too large, not XML, not SOAP 1.1, or an empty body.
    """
    if len(data) > MAX_REQUEST_BYTES:
        raise SoapRequestError("soap:Client", f"the request is over {MAX_REQUEST_BYTES} bytes")
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/soap+xml":
        raise SoapRequestError("soap:VersionMismatch", "this service speaks SOAP 1.1 only")
    if media not in ("text/xml", "application/xml"):
        raise SoapRequestError("soap:Client", "send the envelope as text/xml")
    try:
        root = parse_declared(data, limit=MAX_REQUEST_BYTES)
    except XmlError as error:
        raise SoapRequestError("soap:Client", str(error)) from None
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise SoapRequestError("soap:VersionMismatch", "this service speaks SOAP 1.1 only")
    if root.tag != f"{{{SOAP11_ENV}}}Envelope":
        raise SoapRequestError("soap:Client", "the document is not a SOAP 1.1 Envelope")
    header = root.find(f"{{{SOAP11_ENV}}}Header")
    body = root.find(f"{{{SOAP11_ENV}}}Body")
    children = [c for c in (body if body is not None else ()) if isinstance(c.tag, str)]
    if not children:
        raise SoapRequestError("soap:Client", "the Body is empty")
    return header, children[0]


class UsernameTokenVerifier:
    """Checks WS-Security UsernameTokens (PasswordText or PasswordDigest).

    Args:
        users: Username → password.
        window_s: How far ``Created`` may be from now (and how long nonces are kept).
    """

    def __init__(self, users: Mapping[str, str], window_s: float = 300.0) -> None:
        self.users = dict(users)
        self.window_s = window_s
        self._nonces: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, header: Any) -> str:
        """The authenticated username.

        Raises:
            SoapRequestError: ``wsse:InvalidSecurity`` (no or malformed header),
                ``wsse:FailedAuthentication`` (wrong user or password, replayed nonce),
                ``wsse:MessageExpired`` (``Created`` outside the window).
        """
        token = (
            None
            if header is None
            else header.find(f"{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
        )
        if token is None:
            raise SoapRequestError("wsse:InvalidSecurity", "a wsse:UsernameToken is required")
        username = (token.findtext(f"{{{WSSE_NS}}}Username") or "").strip()
        password = token.find(f"{{{WSSE_NS}}}Password")
        expected = self.users.get(username)
        if password is None or expected is None:
            raise _failed()
        kind = password.get("Type", f"{_PROFILE}#PasswordText")
        given = (password.text or "").strip()
        if kind.endswith("#PasswordText"):
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise _failed()
            return username
        if not kind.endswith("#PasswordDigest"):
            raise SoapRequestError("wsse:UnsupportedSecurityToken", "unknown password type")
        nonce_text = (token.findtext(f"{{{WSSE_NS}}}Nonce") or "").strip()
        created = (token.findtext(f"{{{WSU_NS}}}Created") or "").strip()
        try:
            nonce = base64.b64decode(nonce_text, validate=True)
            moment = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            raise SoapRequestError("wsse:InvalidSecurity", "malformed Nonce or Created") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        if abs((dt.datetime.now(dt.UTC) - moment).total_seconds()) > self.window_s:
            raise SoapRequestError("wsse:MessageExpired", "Created is outside the time window")
        digest = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + expected.encode()).digest()  # noqa: S324 - WSS 1.1 mandates SHA-1
        ).decode()
        if not hmac.compare_digest(digest, given):
            raise _failed()
        self._remember(nonce_text)
        return username

    def _remember(self, nonce: str) -> None:
        now = time.monotonic()
        with self._lock:
            for old in [n for n, at in self._nonces.items() if now - at > self.window_s]:
                del self._nonces[old]
            if nonce in self._nonces:
                raise SoapRequestError("wsse:FailedAuthentication", "the nonce was used before")
            self._nonces[nonce] = now


def _failed() -> SoapRequestError:
    return SoapRequestError(
        "wsse:FailedAuthentication",
        "The security token could not be authenticated or authorized",
    )


class Wsdl:
    """A WSDL file served with the caller's address, and the schema in its ``types``.

    Args:
        path: The WSDL file.
    """

    def __init__(self, path: Path) -> None:
        self.text = path.read_text(encoding="utf-8")
        root = etree.fromstring(self.text.encode(), safe_parser())
        schema_element = root.find(
            "{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema"
        )
        if schema_element is None:
            raise ValueError(f"{path} has no inline xs:schema in wsdl:types")
        self.target_namespace: str = root.get("targetNamespace", "")
        self.schema = etree.XMLSchema(copy.deepcopy(schema_element))

    def served_at(self, address: str) -> Response:
        """The WSDL with ``soap:address`` set to ``address``."""
        start = self.text.index('<soap:address location="') + len('<soap:address location="')
        end = self.text.index('"', start)
        text = self.text[:start] + address + self.text[end:]
        return Response(text.encode(), headers={"Content-Type": "text/xml; charset=utf-8"})

    def validate(self, element: Any) -> None:
        """Check a body element against the schema.

        Raises:
            SoapRequestError: ``soap:Client`` naming the first field at fault.
        """
        document = etree.ElementTree(copy.deepcopy(element))
        if self.schema.validate(document):
            return
        error = self.schema.error_log.last_error
        field = _field_of(error.path if error is not None else "")
        reason = mask_text(error.message) if error is not None else "invalid"
        raise SoapRequestError("soap:Client", f"{field}: {reason}", detail_code="1000", field=field)


def _field_of(path: str) -> str:
    # "/tns:PushProcess/tns:BLZT" → "BLZT"; lxml paths carry prefixes and positions.
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.split(":")[-1].split("[")[0] or "(body)"
