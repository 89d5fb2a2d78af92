"""SOAP 1.1 and 1.2 envelopes: opening requests, writing responses and faults.

Faults follow the WS-I Basic Profile: HTTP 500, ``soap:Client`` (1.1) or
``soap12:Sender`` (1.2) when the request is at fault, ``Server``/``Receiver`` when the
hub is; the detail is a ``gh:FaultDetail`` with a code and, per field, its path and the
reason. A fault never carries a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from faces.soap.xsdgen import NS
from hub.core.errors import FieldError

__all__ = [
    "SOAP11",
    "SOAP12",
    "VERSIONS",
    "SoapFault",
    "SoapVersion",
    "fault_envelope",
    "open_envelope",
    "response_envelope",
]

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_Q = f"{{{NS}}}"


@dataclass(frozen=True)
class SoapVersion:
    """What differs between SOAP 1.1 and 1.2 on the wire."""

    name: str
    namespace: str
    media_type: str
    client_code: str
    server_code: str

    @property
    def content_type(self) -> str:
        """The Content-Type of responses."""
        return f"{self.media_type}; charset=utf-8"

    def tag(self, local: str) -> str:
        """``{envelope namespace}local``."""
        return f"{{{self.namespace}}}{local}"


SOAP11 = SoapVersion("1.1", SOAP11_NS, "text/xml", "Client", "Server")
SOAP12 = SoapVersion("1.2", SOAP12_NS, "application/soap+xml", "Sender", "Receiver")
VERSIONS = {SOAP11_NS: SOAP11, SOAP12_NS: SOAP12}


class SoapFault(Exception):
    """Raise while handling a SOAP request to answer with a fault.

    Args:
        reason: What went wrong, for people (``faultstring`` / ``Reason``).
        code: A short machine-readable code for the detail (``schema-violation``).
        errors: Field-level reasons, with paths of elements.
        sender: True when the request is at fault (Client/Sender), False for the hub.
        subcode: A qualified subcode, e.g. ``(WSSE namespace, "FailedAuthentication")``.
        fault_code: Overrides Client/Server (``VersionMismatch``, ``MustUnderstand``).
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str = "bad-request",
        errors: Iterable[FieldError] = (),
        sender: bool = True,
        subcode: tuple[str, str] | None = None,
        fault_code: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.errors = tuple(errors)
        self.sender = sender
        self.subcode = subcode
        self.fault_code = fault_code

    @property
    def text(self) -> str:
        """The reason with the first failing field, as toolkits show only this line."""
        if not self.errors:
            return self.reason
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"{self.reason}: {first.path}: {first.message}{more}"


@dataclass(frozen=True)
class OpenedEnvelope:
    """A request's envelope, checked: its version, header blocks and operation element."""

    version: SoapVersion
    headers: Sequence[etree._Element]
    operation: etree._Element


def open_envelope(root: etree._Element, expected: SoapVersion | None) -> OpenedEnvelope:
    """Check the envelope's structure and find the operation element in its Body.

    Args:
        root: The parsed document.
        expected: The version the Content-Type announced, if it announced one.

    Raises:
        SoapFault: Not an envelope, another SOAP version, no Body, or an empty Body.
    """
    qname = etree.QName(root)
    version = VERSIONS.get(qname.namespace or "")
    if qname.localname != "Envelope":
        raise SoapFault("the body is not a SOAP envelope", code="not-soap")
    if version is None:
        raise SoapFault(
            "the envelope's namespace is neither SOAP 1.1 nor SOAP 1.2",
            code="version-mismatch",
            fault_code="VersionMismatch",
        )
    if expected is not None and expected is not version:
        # The media type says which SOAP the endpoint speaks on this request (SOAP 1.1 §4.4,
        # SOAP 1.2 part 2 §7.1.4): an envelope of the other version is a version mismatch,
        # answered in the version the media type announced.
        raise SoapFault(
            f"a SOAP {version.name} envelope was sent as {expected.media_type}; send SOAP 1.1"
            " as text/xml and SOAP 1.2 as application/soap+xml",
            code="version-mismatch",
            fault_code="VersionMismatch",
        )
    children = [child for child in root if isinstance(child.tag, str)]
    headers: list[etree._Element] = []
    if children and children[0].tag == version.tag("Header"):
        headers = [block for block in children.pop(0) if isinstance(block.tag, str)]
    if len(children) != 1 or children[0].tag != version.tag("Body"):
        raise SoapFault(
            "the envelope must hold an optional Header and then one Body, nothing else",
            code="bad-envelope",
            errors=[FieldError("/Envelope", "expected Header? then Body")],
        )
    operations = [child for child in children[0] if isinstance(child.tag, str)]
    if len(operations) != 1:
        raise SoapFault(
            "the Body must hold exactly one operation element",
            code="bad-envelope",
            errors=[FieldError("/Envelope/Body", f"holds {len(operations)} elements")],
        )
    return OpenedEnvelope(version, headers, operations[0])


def response_envelope(version: SoapVersion, payload: etree._Element) -> bytes:
    """A response envelope around ``payload``."""
    envelope = etree.Element(version.tag("Envelope"), nsmap={"soap": version.namespace, "gh": NS})
    etree.SubElement(envelope, version.tag("Body")).append(payload)
    return _serialise(envelope)


def fault_envelope(version: SoapVersion, fault: SoapFault) -> bytes:
    """A fault envelope for ``fault`` in the caller's SOAP version."""
    nsmap = {"soap": version.namespace, "gh": NS}
    if fault.subcode is not None:
        nsmap["wsse"] = fault.subcode[0]
    envelope = etree.Element(version.tag("Envelope"), nsmap=nsmap)
    body = etree.SubElement(envelope, version.tag("Body"))
    element = etree.SubElement(body, version.tag("Fault"))
    code = fault.fault_code or (version.client_code if fault.sender else version.server_code)
    detail = _detail(fault)
    if version is SOAP11:
        etree.SubElement(element, "faultcode").text = f"soap:{code}"
        etree.SubElement(element, "faultstring").text = fault.text
        etree.SubElement(element, "detail").append(detail)
    else:
        code_element = etree.SubElement(element, version.tag("Code"))
        etree.SubElement(code_element, version.tag("Value")).text = f"soap:{code}"
        if fault.subcode is not None:
            subcode = etree.SubElement(code_element, version.tag("Subcode"))
            etree.SubElement(subcode, version.tag("Value")).text = f"wsse:{fault.subcode[1]}"
        reason = etree.SubElement(element, version.tag("Reason"))
        text = etree.SubElement(reason, version.tag("Text"))
        text.set(f"{{{XML_NS}}}lang", "en")
        text.text = fault.text
        etree.SubElement(element, version.tag("Detail")).append(detail)
    return _serialise(envelope)


def _detail(fault: SoapFault) -> etree._Element:
    detail = etree.Element(_Q + "FaultDetail", nsmap={"gh": NS})
    etree.SubElement(detail, _Q + "code").text = fault.code
    for error in fault.errors:
        item = etree.SubElement(detail, _Q + "error")
        etree.SubElement(item, _Q + "path").text = error.path
        etree.SubElement(item, _Q + "message").text = error.message
    return detail


def _serialise(envelope: etree._Element) -> bytes:
    text: bytes = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
    return text
