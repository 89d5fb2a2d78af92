"""The SOAP look-ups: ``LookUpLicenses`` and ``LookUpIdentity`` for departments.

The same engine call as REST (``hub.pipeline.lookups``): the client's ``lookup:*`` grant,
the stated reason and service item, the audit, the masking by role. Refusals are SOAP
faults: ``forbidden`` (Client/Sender) without the grant, ``identifier-check`` for a code
that fails its check, ``unavailable`` (Server/Receiver) when the counterpart cannot answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from adapters.sdk.lookups import StatedUse
from faces.soap.envelope import SoapFault
from faces.soap.lookup_schema import IDENTITY_FIELDS, LICENCE_DATES, LICENCE_FIELDS
from hub.core.errors import FieldError
from hub.core.identifiers import IdentifierError
from hub.pipeline.lookups import LookupRefused, Lookups, LookupUnavailable
from hub.store import Client

__all__ = ["LookupOperations"]


class LookupOperations:
    """The handlers of the look-up operations.

    Args:
        lookups: The hub's look-ups.
        ns: The service's namespace.
    """

    def __init__(self, lookups: Lookups, ns: str) -> None:
        self.lookups = lookups
        self.q = f"{{{ns}}}"
        self.ns = ns

    def handlers(self) -> dict[str, Callable[[Client, etree._Element], etree._Element]]:
        """Operation name → handler."""
        return {"LookUpLicenses": self.licences, "LookUpIdentity": self.identity}

    def licences(self, client: Client, operation: etree._Element) -> etree._Element:
        """``LookUpLicenses``."""
        holder, code_type, use = self._request(operation, "LookUpLicenses", "holder")
        type_code = self._text(operation, "type_code")
        found = self._call(
            lambda: self.lookups.licences(
                client, holder, code_type, use, type_code=type_code, channel="soap"
            ),
            "/LookUpLicenses/holder",
        )
        root = etree.Element(self.q + "LookUpLicensesResponse", nsmap={"gh": self.ns})
        for item in found:
            licence = etree.SubElement(root, self.q + "licence")
            values = {name: item.get(name) for name in (*LICENCE_FIELDS, *LICENCE_DATES)}
            values["issuer_name"] = (item.get("issuer") or {}).get("name")
            values["holder_name"] = (item.get("holder") or {}).get("name")
            values["holder_code"] = (item.get("holder") or {}).get("code")
            for name, value in values.items():
                if value is not None:
                    etree.SubElement(licence, self.q + name).text = str(value)
        return root

    def identity(self, client: Client, operation: etree._Element) -> etree._Element:
        """``LookUpIdentity``."""
        code, code_type, use = self._request(operation, "LookUpIdentity", "code")
        found = self._call(
            lambda: self.lookups.identity_of(client, code, code_type, use, channel="soap"),
            "/LookUpIdentity/code",
        )
        root = etree.Element(self.q + "LookUpIdentityResponse", nsmap={"gh": self.ns})
        etree.SubElement(root, self.q + "found").text = "true" if found else "false"
        for name in (*IDENTITY_FIELDS, "legal_representative"):
            if found and found.get(name) is not None:
                etree.SubElement(root, self.q + name).text = str(found[name])
        return root

    def _text(self, operation: etree._Element, name: str) -> str | None:
        element = operation.find(self.q + name)
        text: str | None = element.text if element is not None else None
        return text.strip() if text and text.strip() else None

    def _request(
        self, operation: etree._Element, name: str, code_name: str
    ) -> tuple[str, str, StatedUse]:
        values = {}
        for field in (code_name, "reason", "item_code"):
            value = self._text(operation, field)
            if value is None:
                raise SoapFault(
                    f"{field} is required",
                    code="schema-violation",
                    errors=[FieldError(f"/{name}/{field}", "is required")],
                )
            values[field] = value
        code = values[code_name]
        code_type = self._text(operation, f"{code_name}_type") or (
            "111" if len(code) == 18 and code[:17].isdigit() else "001"
        )
        if code_type not in ("111", "001"):
            raise SoapFault(
                f"{code_name}_type must be 111 or 001",
                code="schema-violation",
                errors=[FieldError(f"/{name}/{code_name}_type", "must be 111 or 001")],
            )
        try:
            use = StatedUse(reason=values["reason"][:200], item_code=values["item_code"])
        except ValueError as error:
            raise SoapFault(
                str(error),
                code="schema-violation",
                errors=[FieldError(f"/{name}/item_code", str(error))],
            ) from None
        return code, code_type, use

    @staticmethod
    def _call(call: Callable[[], Any], path: str) -> Any:
        try:
            return call()
        except IdentifierError as error:
            raise SoapFault(
                "the identifier fails its check",
                code="identifier-check",
                errors=[FieldError(path, str(error))],
            ) from None
        except LookupRefused as error:
            raise SoapFault(str(error), code="forbidden") from None
        except LookupUnavailable as error:
            raise SoapFault(str(error), code="unavailable", sender=False) from None
