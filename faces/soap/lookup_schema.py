"""The XML Schema of the look-up operations (``LookUpLicenses``, ``LookUpIdentity``).

Kept apart from their handlers (``faces.soap.lookups``) so the contract generator
(``faces.soap.xsdgen``) writes them without importing the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

__all__ = [
    "IDENTITY_FIELDS",
    "LICENCE_DATES",
    "LICENCE_FIELDS",
    "LOOKUP_OPERATIONS",
    "add_lookup_elements",
]

LOOKUP_OPERATIONS = ("LookUpLicenses", "LookUpIdentity")
_XS = "{http://www.w3.org/2001/XMLSchema}"
LICENCE_FIELDS = ("license_id", "name", "type_code", "number", "status", "issued_on")
LICENCE_DATES = ("valid_from", "valid_until")
IDENTITY_FIELDS = ("code", "code_type", "name", "kind", "level_of_assurance")


def add_lookup_elements(root: etree._Element, document: Callable[[Any, str], None]) -> None:
    """Write the look-up operations' elements into the service schema ``root``.

    Args:
        root: The ``xs:schema`` of the service.
        document: Adds an ``xs:annotation`` with a line of documentation.
    """

    def element(parent: etree._Element, name: str, type_: str, optional: bool = False) -> None:
        attributes = {"name": name, "type": type_}
        if optional:
            attributes["minOccurs"] = "0"
        etree.SubElement(parent, _XS + "element", attributes)

    def request(name: str, doc: str, code: str) -> etree._Element:
        top = etree.SubElement(root, _XS + "element", name=name)
        document(top, doc)
        every = etree.SubElement(etree.SubElement(top, _XS + "complexType"), _XS + "all")
        element(every, code, "xs:string")
        element(every, f"{code}_type", "xs:string", optional=True)
        element(every, "reason", "xs:string")
        element(every, "item_code", "xs:string")
        return every

    licences = request(
        "LookUpLicenses",
        "The licences the e-license library holds for a holder (needs lookup:licenses).",
        "holder",
    )
    element(licences, "type_code", "xs:string", optional=True)
    licence = etree.SubElement(root, _XS + "complexType", name="LicenceType")
    document(licence, "A licence as the library holds it (holder masked for operators).")
    fields = etree.SubElement(licence, _XS + "sequence")
    for name in (*LICENCE_FIELDS, *LICENCE_DATES, "issuer_name", "holder_name", "holder_code"):
        element(fields, name, "xs:string", optional=name not in ("license_id", "status"))
    answer = etree.SubElement(root, _XS + "element", name="LookUpLicensesResponse")
    sequence = etree.SubElement(etree.SubElement(answer, _XS + "complexType"), _XS + "sequence")
    etree.SubElement(
        sequence,
        _XS + "element",
        name="licence",
        type="gh:LicenceType",
        minOccurs="0",
        maxOccurs="unbounded",
    )

    request(
        "LookUpIdentity",
        "A verified identity at the unified identity service (needs lookup:identities).",
        "code",
    )
    answer = etree.SubElement(root, _XS + "element", name="LookUpIdentityResponse")
    sequence = etree.SubElement(etree.SubElement(answer, _XS + "complexType"), _XS + "sequence")
    element(sequence, "found", "xs:boolean")
    for name in (*IDENTITY_FIELDS, "legal_representative"):
        element(sequence, name, "xs:int" if name == "level_of_assurance" else "xs:string", True)
