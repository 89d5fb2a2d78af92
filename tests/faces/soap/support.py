"""Raw SOAP requests for tests that need bytes zeep would never send."""

from __future__ import annotations

from typing import Any

import requests

from faces.soap.envelope import SOAP11_NS, SOAP12_NS
from faces.soap.wsse import WSSE_NS
from faces.soap.xsdgen import NS
from tests.support import RunningHub

SUBMIT_CASE = f"""<SubmitCase xmlns="{NS}">
  <client_ref>{{ref}}</client_ref>
  <CaseSubmitted>
    <case_no>{{case_no}}</case_no>
    <item_code>11371000004336447K4370220001000</item_code>
    <item_name>{{item_name}}</item_name>
    <applicant>
      <type>1</type><name>{{name}}</name><id_type>111</id_type><id_no>11010519491231002X</id_no>
    </applicant>
    <submitted_at>2026-11-27T09:30:00+08:00</submitted_at>
    <channel>window</channel>
  </CaseSubmitted>
</SubmitCase>"""


def submit_case(
    ref: str,
    case_no: str = "WH-2026-000900",
    name: str = "王秀英",
    item_name: str = "老年人优待证办理",
) -> str:
    """A SubmitCase operation element as text."""
    return SUBMIT_CASE.format(ref=ref, case_no=case_no, name=name, item_name=item_name)


def envelope(operation: str, *, version: str = "1.1", header: str = "", prolog: str = "") -> str:
    """A SOAP envelope around an operation element (text)."""
    namespace = SOAP11_NS if version == "1.1" else SOAP12_NS
    head = f"<soap:Header>{header}</soap:Header>" if header else ""
    return (
        f'{prolog}<soap:Envelope xmlns:soap="{namespace}">{head}'
        f"<soap:Body>{operation}</soap:Body></soap:Envelope>"
    )


def username_token(username: str, password: str) -> str:
    """A PasswordText UsernameToken header block (text)."""
    return (
        f'<wsse:Security xmlns:wsse="{WSSE_NS}"><wsse:UsernameToken>'
        f"<wsse:Username>{username}</wsse:Username><wsse:Password>{password}</wsse:Password>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def post(
    hub: RunningHub,
    body: bytes | str,
    *,
    key: str | None = None,
    version: str = "1.1",
    content_type: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    """POST raw bytes to the SOAP endpoint."""
    headers = {
        "Content-Type": content_type
        or (
            "text/xml; charset=utf-8" if version == "1.1" else "application/soap+xml; charset=utf-8"
        )
    }
    if version == "1.1":
        headers["SOAPAction"] = f'"{NS}/SubmitCase"'
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = body.encode("utf-8") if isinstance(body, str) else body
    return requests.post(
        f"{hub.url}/soap/GovHubService", data=data, headers=headers, timeout=10, **kwargs
    )


def fault_code(response: requests.Response) -> tuple[str, str]:
    """(faultcode or Code/Value, fault text) of a fault response."""
    from lxml import etree

    root = etree.fromstring(response.content)
    fault = root.find(f".//{{{SOAP11_NS}}}Fault")
    if fault is not None:
        return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""
    fault = root.find(f".//{{{SOAP12_NS}}}Fault")
    assert fault is not None, response.text
    code = fault.findtext(f"{{{SOAP12_NS}}}Code/{{{SOAP12_NS}}}Value") or ""
    return code, fault.findtext(f"{{{SOAP12_NS}}}Reason/{{{SOAP12_NS}}}Text") or ""


def fault_errors(response: requests.Response) -> list[tuple[str, str]]:
    """The (path, message) pairs of a fault's gh:FaultDetail."""
    from lxml import etree

    root = etree.fromstring(response.content)
    return [
        (e.findtext(f"{{{NS}}}path") or "", e.findtext(f"{{{NS}}}message") or "")
        for e in root.iter(f"{{{NS}}}error")
    ]
