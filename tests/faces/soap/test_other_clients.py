"""What SOAP clients nobody here wrote send: node-soap's element order, suds' one nonce."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from xml.sax.saxutils import escape

from faces.soap.envelope import SOAP11_NS
from faces.soap.wsse import WSSE_NS, WSU_NS
from faces.soap.xsdgen import NS
from hub.store import MessageFilter
from tests.faces.soap.support import fault_code, fault_errors, post, username_token
from tests.support import RunningHub, example

PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"


def node_soap_xml(name: str, value: Any) -> str:
    """``value`` as node-soap writes it: elements in the order of the object's keys."""
    if isinstance(value, list):
        return "".join(node_soap_xml(name, item) for item in value)
    if isinstance(value, dict):
        inner = "".join(node_soap_xml(key, item) for key, item in value.items())
        return f"<tns:{name}>{inner}</tns:{name}>"
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    return f"<tns:{name}>{escape(text)}</tns:{name}>"


def node_soap_envelope(operation: str, arguments: dict[str, Any], header: str) -> str:
    body = "".join(node_soap_xml(key, item) for key, item in arguments.items())
    return (
        f'<soap:Envelope xmlns:soap="{SOAP11_NS}" xmlns:tns="{NS}">'
        f"<soap:Header>{header}</soap:Header>"
        f"<soap:Body><tns:{operation}>{body}</tns:{operation}></soap:Body></soap:Envelope>"
    )


def test_a_case_in_the_order_of_our_example_file_as_node_soap_sends_it_is_accepted(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    case = example("case.submitted", case_no=f"NODE-{client_name}")
    # The example file's order (submitted_at before applicant), the applicant's fields
    # shuffled too, and client_ref after the case, as a JavaScript object would have them.
    case["applicant"] = dict(reversed(list(case["applicant"].items())))
    case = {"materials": case.pop("materials"), **case}
    arguments = {"CaseSubmitted": case, "client_ref": f"{client_name}-node"}
    response = post(
        soap_hub, node_soap_envelope("SubmitCase", arguments, username_token(client_name, key))
    )
    assert response.status_code == 200, response.text
    [stored] = soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items
    assert stored.envelope.payload == example("case.submitted", case_no=f"NODE-{client_name}")
    assert [m["name"] for m in stored.envelope.payload["materials"]] == [
        "居民身份证",
        "近期免冠照片",
    ]
    assert stored.envelope.client_ref == f"{client_name}-node"


def test_an_unknown_element_in_any_order_is_still_refused_by_name(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    case = {"nickname": "秀英", **example("case.submitted")}
    response = post(
        soap_hub,
        node_soap_envelope("SubmitCase", {"CaseSubmitted": case}, username_token(client_name, key)),
    )
    assert response.status_code == 500
    assert fault_code(response)[0] == "soap:Client"
    [(path, message)] = fault_errors(response)
    assert path == "/SubmitCase/CaseSubmitted/nickname"
    # libxml2 may add which optional elements could come there instead
    assert message.startswith("This element is not expected"), message


def suds_token(username: str, password: str, nonce: str, created: dt.datetime) -> str:
    """suds' usual recipe: one UsernameToken (PasswordText, a nonce and a Created time
    set once) in the client's options, so every call sends the very same token."""
    return (
        f'<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"><wsse:UsernameToken>'
        f"<wsse:Username>{username}</wsse:Username>"
        f'<wsse:Password Type="{PROFILE}#PasswordText">{password}</wsse:Password>'
        f"<wsse:Nonce>{nonce}</wsse:Nonce>"
        f"<wsu:Created>{created:%Y-%m-%dT%H:%M:%SZ}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def test_password_text_with_the_one_nonce_and_created_of_suds_works_call_after_call(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    set_once = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)  # the client started long ago
    header = suds_token(client_name, key, "c3Vkcy1ub25jZS0x", set_once)
    for call in range(3):
        case = example("case.submitted", case_no=f"SUDS-{client_name}-{call}")
        response = post(soap_hub, node_soap_envelope("SubmitCase", {"CaseSubmitted": case}, header))
        assert response.status_code == 200, response.text
    stored = soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items
    assert len(stored) == 3


def test_password_text_with_a_wrong_key_is_refused_whatever_the_nonce(
    soap_hub: RunningHub, client_name: str
) -> None:
    soap_hub.client(client_name)
    header = suds_token(client_name, "ghk_wrong", "c3Vkcy1ub25jZS0y", dt.datetime.now(dt.UTC))
    response = post(
        soap_hub,
        node_soap_envelope("SubmitCase", {"CaseSubmitted": example("case.submitted")}, header),
    )
    assert response.status_code == 500
    assert "username or password is wrong" in fault_code(response)[1]
