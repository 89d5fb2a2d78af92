"""SOAP senders name a schema version on SubmitMessage; the typed operations stay version 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from zeep import Client
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

from faces.soap.xsdgen import NS
from hub.schemas import SchemaRegistry
from tests.support import Receiver, RunningHub, example, wait_for

_opened: list[Client] = []


@pytest.fixture(autouse=True)
def _close_zeep_sessions() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().transport.session.close()


def service(hub: RunningHub, name: str) -> Any:
    key = hub.client(name)
    client = Client(f"{hub.url}/soap/GovHubService?wsdl", wsse=UsernameToken(name, key))
    _opened.append(client)
    return client.bind("GovHubService", "GovHubServiceSoap")


def test_submit_message_with_schema_version_2_is_validated_and_stored_as_v2(
    soap_hub: RunningHub, soap_receiver: Receiver, client_name: str
) -> None:
    payload = SchemaRegistry().example("case.submitted", 2)
    payload["case_no"] = f"SOAP-V2-{client_name}"
    answer = service(soap_hub, client_name).SubmitMessage(
        type="case.submitted", schema_version=2, payload={"json": json.dumps(payload)}
    )
    assert answer.status == "accepted"
    stored = soap_hub.message(answer.message_id)
    assert stored["headers"]["schema_version"] == 2
    assert stored["payload"] == payload
    got = wait_for(
        lambda: [
            r.envelope for r in soap_receiver.accepted() if r.envelope["id"] == answer.message_id
        ],
        message="the v2 message at the receiver",
    )
    # the receiver names no version: it gets version 1, what it was written against
    assert got[0]["payload"]["channel"] == payload["intake"]["channel"]
    assert (got[0]["headers"]["schema_version"], got[0]["headers"]["schema_version_sent"]) == (1, 2)


def test_typed_operation_stays_version_1(soap_hub: RunningHub, client_name: str) -> None:
    case = example("case.submitted", case_no=f"SOAP-V1-{client_name}")
    answer = service(soap_hub, client_name).SubmitCase(CaseSubmitted=case)
    assert soap_hub.message(answer.message_id)["headers"]["schema_version"] == 1


def _errors(fault: Fault) -> list[tuple[str, str]]:
    assert fault.detail is not None
    return [
        (e.findtext(f"{{{NS}}}path") or "", e.findtext(f"{{{NS}}}message") or "")
        for e in fault.detail.iter(f"{{{NS}}}error")
    ]


def test_v1_payload_sent_as_version_2_is_a_client_fault_naming_the_fields(
    soap_hub: RunningHub, client_name: str
) -> None:
    case = example("case.submitted", case_no=f"SOAP-X-{client_name}")
    with pytest.raises(Fault) as fault:
        service(soap_hub, client_name).SubmitMessage(
            type="case.submitted", schema_version=2, payload={"json": json.dumps(case)}
        )
    assert fault.value.code.endswith("Client")
    assert {path for path, _ in _errors(fault.value)} == {
        "/SubmitMessage/payload/json/channel",
        "/SubmitMessage/payload/json/intake",
    }


def test_unknown_version_and_xml_payload_of_version_2_are_refused_naming_schema_version(
    soap_hub: RunningHub, client_name: str
) -> None:
    soap = service(soap_hub, client_name)
    with pytest.raises(Fault) as fault:
        soap.SubmitMessage(
            type="case.status_changed",
            schema_version=2,
            payload={"json": json.dumps(example("case.status_changed"))},
        )
    assert _errors(fault.value) == [
        ("/SubmitMessage/schema_version", "case.status_changed has no version 2; its versions: 1")
    ]
    with pytest.raises(Fault) as fault:
        soap.SubmitMessage(
            type="case.submitted",
            schema_version=2,
            payload={"CaseSubmitted": example("case.submitted")},
        )
    [(path, message)] = _errors(fault.value)
    assert path == "/SubmitMessage/schema_version"
    assert "send version 2 as JSON in payload/json" in message
