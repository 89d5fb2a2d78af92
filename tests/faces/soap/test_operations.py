"""zeep, as a real WebService client, calls every operation over HTTP, SOAP 1.1 and 1.2."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from zeep import Client
from zeep.exceptions import Fault
from zeep.plugins import HistoryPlugin
from zeep.wsse.username import UsernameToken

from faces.soap.xsdgen import NS
from hub.store import MessageFilter
from tests.faces.soap.support import (
    envelope,
    fault_code,
    fault_errors,
    post,
    submit_case,
    username_token,
)
from tests.support import Receiver, RunningHub, example

PORTS = {"1.1": "GovHubServiceSoap", "1.2": "GovHubServiceSoap12"}


_opened: list[Client] = []


@pytest.fixture(autouse=True)
def _close_zeep_sessions() -> Iterator[None]:
    """zeep keeps a keep-alive session per client: close it, or its socket leaks."""
    yield
    while _opened:
        _opened.pop().transport.session.close()


def service(
    hub: RunningHub, version: str, wsse: Any = None, plugins: list[Any] | None = None
) -> Any:
    """A zeep client of the hub's WSDL, bound to the SOAP 1.1 or 1.2 port."""
    client = Client(f"{hub.url}/soap/GovHubService?wsdl", wsse=wsse, plugins=plugins or [])
    _opened.append(client)
    return client.bind("GovHubService", PORTS[version])


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("digest", [False, True], ids=["PasswordText", "PasswordDigest"])
def test_zeep_calls_every_operation_and_messages_reach_the_receiver(
    soap_hub: RunningHub, soap_receiver: Receiver, client_name: str, version: str, digest: bool
) -> None:
    key = soap_hub.client(client_name)
    soap = service(soap_hub, version, UsernameToken(client_name, key, use_digest=digest))
    case_no = f"SOAP-{client_name}"
    submitted = soap.SubmitCase(
        client_ref=f"{client_name}-1", CaseSubmitted=example("case.submitted", case_no=case_no)
    )
    status = soap.ReportCaseStatus(
        client_ref=f"{client_name}-2",
        CaseStatusChanged=example("case.status_changed", case_no=case_no),
    )
    completed = soap.CompleteCase(CaseCompleted=example("case.completed", case_no=case_no))
    generic = soap.SubmitMessage(
        type="case.status_changed",
        payload={"CaseStatusChanged": example("case.status_changed", case_no=case_no, status="8")},
    )
    as_json = soap.SubmitMessage(
        type="case.status_changed",
        correlation_id=case_no,
        payload={"json": json.dumps(example("case.status_changed", case_no=case_no, status="11"))},
    )
    answers = [submitted, status, completed, generic, as_json]
    assert all(a.status == "accepted" and a.duplicate is False for a in answers)
    assert {a.correlation_id for a in answers} == {case_no}
    assert [d.destination for d in submitted.delivery] == ["civil_affairs"]

    for answer in answers:
        assert soap_hub.wait_delivered(answer.message_id)["status"] == "delivered"
    got = [r.envelope for r in soap_receiver.accepted() if r.envelope["correlation_id"] == case_no]
    # the same case, delivered in the order it was accepted, exactly as a REST message
    assert [e["id"] for e in got] == [a.message_id for a in answers]
    first = got[0]
    assert first["type"] == "case.submitted"
    assert first["source"] == client_name
    assert first["client_ref"] == f"{client_name}-1"
    assert first["payload"] == example("case.submitted", case_no=case_no)
    assert got[2]["payload"]["deliver_by_courier"] is True  # booleans stay booleans
    assert soap_hub.message(submitted.message_id)["channel"] == "soap"

    queried = soap.QueryMessage(message_id=submitted.message_id)
    assert queried.status == "delivered"
    assert queried.type == "case.submitted"
    [delivery] = queried.delivery
    assert delivery.status == "delivered"
    assert delivery.attempts == 1
    assert delivery.attempt[0].outcome == "delivered"
    assert queried.payload.CaseSubmitted.applicant.name == "王秀英"
    by_ref = soap.QueryMessage(client_ref=f"{client_name}-2")
    assert by_ref.message_id == status.message_id


def test_same_client_ref_twice_over_soap_stores_one_message(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    soap = service(soap_hub, "1.1", UsernameToken(client_name, key, use_digest=True))
    payload = example("case.submitted", case_no=f"IDEM-{client_name}")
    first = soap.SubmitCase(client_ref="same-ref", CaseSubmitted=payload)
    again = soap.SubmitCase(client_ref="same-ref", CaseSubmitted=payload)
    assert first.duplicate is False
    assert again.duplicate is True
    assert again.message_id == first.message_id
    assert [d.id for d in again.delivery] == [d.id for d in first.delivery]
    assert len(soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items) == 1


def test_same_client_ref_over_soap_then_rest_stores_one_message(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    soap = service(soap_hub, "1.2", UsernameToken(client_name, key))
    payload = example("case.submitted", case_no=f"BOTH-{client_name}")
    over_soap = soap.SubmitCase(client_ref="shared-ref", CaseSubmitted=payload)
    over_rest = soap_hub.post(
        key, {"type": "case.submitted", "id": "shared-ref", "payload": payload}
    )
    assert over_rest.status_code == 200
    assert over_rest.json()["id"] == over_soap.message_id
    # and the other way round
    rest_first = soap_hub.post(
        key, {"type": "case.submitted", "id": "rest-ref", "payload": payload}
    )
    assert rest_first.status_code == 202
    soap_again = soap.SubmitCase(client_ref="rest-ref", CaseSubmitted=payload)
    assert soap_again.duplicate is True
    assert soap_again.message_id == rest_first.json()["id"]
    assert len(soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items) == 2


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_same_client_ref_with_another_body_is_a_fault_naming_the_id(
    soap_hub: RunningHub, client_name: str, version: str
) -> None:
    key = soap_hub.client(client_name)
    soap = service(soap_hub, version, UsernameToken(client_name, key))
    payload = example("case.submitted", case_no=f"REUSE-{client_name}")
    first = soap.SubmitCase(client_ref="reused-ref", CaseSubmitted=payload)
    changed = {**payload, "item_name": "别的事项"}
    with pytest.raises(Fault) as raised:
        soap.SubmitCase(client_ref="reused-ref", CaseSubmitted=changed)
    assert raised.value.code == ("soap:Client" if version == "1.1" else "soap:Sender")
    assert "'reused-ref' was used before for another message" in raised.value.message
    assert first.message_id in raised.value.message
    assert "/SubmitCase/client_ref" in raised.value.message
    # REST sending the same id with yet another body is refused the same way.
    over_rest = soap_hub.post(
        key,
        {"type": "case.submitted", "id": "reused-ref", "payload": {**payload, "channel": "mobile"}},
    )
    assert over_rest.status_code == 409
    stored = soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items
    assert [m.envelope.payload["item_name"] for m in stored] == [payload["item_name"]]


def test_an_api_key_in_the_authorization_header_also_works(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    from zeep.transports import Transport

    client = Client(f"{soap_hub.url}/soap/GovHubService?wsdl", transport=Transport(session=session))
    _opened.append(client)
    answer = client.service.SubmitCase(CaseSubmitted=example("case.submitted", case_no="BEARER-1"))
    assert answer.status == "accepted"
    assert soap_hub.message(answer.message_id)["source"] == client_name


@pytest.mark.parametrize("digest", [False, True], ids=["PasswordText", "PasswordDigest"])
def test_wrong_password_is_a_client_fault_and_stores_nothing(
    soap_hub: RunningHub, client_name: str, digest: bool
) -> None:
    soap_hub.client(client_name)
    other_key = soap_hub.client(f"{client_name}-other")
    soap = service(soap_hub, "1.1", UsernameToken(client_name, other_key, use_digest=digest))
    with pytest.raises(Fault) as raised:
        soap.SubmitCase(CaseSubmitted=example("case.submitted"))
    assert raised.value.code == "soap:Client"
    assert "username or password is wrong" in raised.value.message
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []


def test_unknown_user_and_revoked_client_are_refused(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    soap = service(soap_hub, "1.2", UsernameToken("nobody", key, use_digest=True))
    with pytest.raises(Fault) as raised:
        soap.SubmitCase(CaseSubmitted=example("case.submitted"))
    assert raised.value.code == "soap:Sender"
    soap_hub.hub.store.clients.revoke(client_name)
    for digest in (False, True):
        revoked = service(soap_hub, "1.2", UsernameToken(client_name, key, use_digest=digest))
        with pytest.raises(Fault, match="username or password is wrong"):
            revoked.SubmitCase(CaseSubmitted=example("case.submitted"))


def test_replayed_digest_request_is_refused(soap_hub: RunningHub, client_name: str) -> None:
    key = soap_hub.client(client_name)
    history = HistoryPlugin()
    soap = service(soap_hub, "1.1", UsernameToken(client_name, key, use_digest=True), [history])
    first = soap.SubmitCase(client_ref="replay-1", CaseSubmitted=example("case.submitted"))
    assert first.status == "accepted"
    from lxml import etree

    captured = etree.tostring(history.last_sent["envelope"])
    replayed = post(soap_hub, captured)
    assert replayed.status_code == 500
    code, text = fault_code(replayed)
    assert code == "soap:Client"
    assert "nonce was used before" in text
    assert len(soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items) == 1


def test_stale_or_future_created_time_is_refused(soap_hub: RunningHub, client_name: str) -> None:
    key = soap_hub.client(client_name)
    now = dt.datetime.now(dt.UTC)
    for created in (now - dt.timedelta(minutes=10), now + dt.timedelta(minutes=10)):
        token = UsernameToken(client_name, key, use_digest=True, created=created)
        with pytest.raises(Fault, match="from the hub's clock") as raised:
            service(soap_hub, "1.2", token).SubmitCase(CaseSubmitted=example("case.submitted"))
        assert raised.value.code == "soap:Sender"
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []


def test_missing_credentials_are_a_client_fault(soap_hub: RunningHub) -> None:
    with pytest.raises(Fault, match="authentication required") as raised:
        service(soap_hub, "1.1").SubmitCase(CaseSubmitted=example("case.submitted"))
    assert raised.value.code == "soap:Client"


def test_type_outside_the_allow_list_is_forbidden(soap_hub: RunningHub, client_name: str) -> None:
    key = soap_hub.client(client_name, allow=("case.submitted",))
    soap = service(soap_hub, "1.1", UsernameToken(client_name, key))
    with pytest.raises(Fault, match=r"may not send case\.completed") as raised:
        soap.CompleteCase(CaseCompleted=example("case.completed"))
    assert raised.value.detail.findtext(f".//{{{NS}}}code") == "forbidden"


@pytest.mark.parametrize(("version", "code"), [("1.1", "soap:Client"), ("1.2", "soap:Sender")])
def test_invalid_payload_fault_names_the_failing_element(
    soap_hub: RunningHub, client_name: str, version: str, code: str
) -> None:
    key = soap_hub.client(client_name)
    soap = service(soap_hub, version, UsernameToken(client_name, key))
    bad_id = example("case.submitted")
    bad_id["applicant"] = dict(bad_id["applicant"], id_no="110105194912310021")
    with pytest.raises(Fault) as raised:
        soap.SubmitCase(CaseSubmitted=bad_id)
    assert raised.value.code == code
    assert "/SubmitCase/CaseSubmitted/applicant/id_no" in raised.value.message
    assert "110105194912310021" not in raised.value.message  # never echo an identifier
    detail = raised.value.detail
    assert detail.findtext(f".//{{{NS}}}path") == "/SubmitCase/CaseSubmitted/applicant/id_no"

    bad_status = example("case.status_changed", status="99")
    with pytest.raises(Fault) as raised:
        soap.ReportCaseStatus(CaseStatusChanged=bad_status)
    assert raised.value.code == code
    assert "/ReportCaseStatus/CaseStatusChanged/status" in raised.value.message
    assert "must be one of" in raised.value.message or "set" in raised.value.message
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []


def test_schema_errors_have_paths_with_list_positions(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    operation = submit_case("pos-1").replace(
        "<channel>window</channel>",
        "<channel>window</channel><materials><name>a</name></materials>"
        "<materials><name>b</name><colour>red</colour></materials>",
    )
    response = post(soap_hub, envelope(operation), key=key)
    assert response.status_code == 500
    [(path, message)] = fault_errors(response)
    assert path == "/SubmitCase/CaseSubmitted/materials[2]/colour"
    assert "not expected" in message


def test_query_of_another_clients_message_is_not_found(
    soap_hub: RunningHub, client_name: str
) -> None:
    owner_key = soap_hub.client(client_name)
    snoop_key = soap_hub.client(f"{client_name}-snoop")
    sent = service(soap_hub, "1.1", UsernameToken(client_name, owner_key)).SubmitCase(
        CaseSubmitted=example("case.submitted")
    )
    snoop = service(soap_hub, "1.1", UsernameToken(f"{client_name}-snoop", snoop_key))
    with pytest.raises(Fault, match="no such message"):
        snoop.QueryMessage(message_id=sent.message_id)


def test_submit_message_with_a_mismatched_payload_element_is_refused(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    soap = service(soap_hub, "1.2", UsernameToken(client_name, key))
    with pytest.raises(Fault, match="payload element does not match") as raised:
        soap.SubmitMessage(
            type="case.completed", payload={"CaseSubmitted": example("case.submitted")}
        )
    assert raised.value.code == "soap:Sender"


def test_unknown_must_understand_header_gets_a_must_understand_fault(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    header = '<x:Transaction xmlns:x="urn:other" soap:mustUnderstand="1">5</x:Transaction>'
    response = post(soap_hub, envelope(submit_case("mu-1"), header=header), key=key)
    assert response.status_code == 500
    assert fault_code(response)[0] == "soap:MustUnderstand"
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []


def test_text_password_token_in_a_raw_envelope_works(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    body = envelope(submit_case("raw-1"), header=username_token(client_name, key), version="1.2")
    response = post(soap_hub, body, version="1.2")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/soap+xml")
    assert b"<gh:status>accepted</gh:status>" in response.content


@pytest.mark.parametrize(
    ("content_type", "version", "status"),
    [
        ("application/soap+xml; charset=utf-8", "1.1", 500),
        ("text/xml; charset=utf-8", "1.2", 500),
        ("application/json", "1.1", 415),
    ],
)
def test_content_type_must_match_the_envelope_version(
    soap_hub: RunningHub, client_name: str, content_type: str, version: str, status: int
) -> None:
    key = soap_hub.client(client_name)
    body = envelope(submit_case("ct-1"), version=version)
    response = post(soap_hub, body, key=key, content_type=content_type)
    assert response.status_code == status
    assert "Traceback" not in response.text
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []


def test_the_hubs_own_trouble_is_a_server_fault_without_traceback(
    soap_hub: RunningHub, client_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = soap_hub.client(client_name)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(soap_hub.hub.ingest, "submit", broken)
    for version, code in (("1.1", "soap:Server"), ("1.2", "soap:Receiver")):
        response = post(
            soap_hub, envelope(submit_case("boom"), version=version), key=key, version=version
        )
        assert response.status_code == 500
        assert fault_code(response) == (code, "the hub failed; the error is logged")
        assert "on fire" not in response.text
        assert "Traceback" not in response.text


def test_wsdl_address_is_where_the_hub_listens(soap_hub: RunningHub) -> None:
    response = requests.get(f"{soap_hub.url}/soap/GovHubService?wsdl", timeout=10)
    assert response.status_code == 200
    assert f'location="{soap_hub.url}/soap/GovHubService"' in response.text
    assert (
        f'schemaLocation="{soap_hub.url}/soap/GovHubService?xsd=GovHubService.xsd"' in response.text
    )
    other_host = requests.get(
        f"{soap_hub.url}/soap/GovHubService?wsdl",
        headers={"Host": "hub.example.gov.cn"},
        timeout=10,
    )
    assert 'location="http://hub.example.gov.cn/soap/GovHubService"' in other_host.text
    xsd = requests.get(f"{soap_hub.url}/soap/GovHubService?xsd=case.submitted.xsd", timeout=10)
    assert xsd.status_code == 200
    assert "CaseSubmittedType" in xsd.text
    assert (
        requests.get(
            f"{soap_hub.url}/soap/GovHubService?xsd=../../etc/passwd", timeout=10
        ).status_code
        == 404
    )
    # No query at all is the WSDL too; an empty ?xsd= names nothing.
    bare = requests.get(f"{soap_hub.url}/soap/GovHubService", timeout=10)
    assert bare.status_code == 200
    assert bare.content == response.content
    empty = requests.get(f"{soap_hub.url}/soap/GovHubService?wsdl&xsd=", timeout=10)
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["path"] == "xsd"


def test_wsdl_address_uses_public_url_when_configured(tmp_path: Any) -> None:
    from tests.support import hub_config, running_hub

    config = hub_config(
        tmp_path,
        server={"host": "127.0.0.1", "port": 0, "public_url": "https://govhub.weihai.gov.cn/"},
    )
    with running_hub(config, dispatch=False) as hub:
        text = requests.get(f"{hub.url}/soap/GovHubService?wsdl", timeout=10).text
    assert 'location="https://govhub.weihai.gov.cn/soap/GovHubService"' in text


def test_soap_route_is_in_the_openapi_document(soap_hub: RunningHub) -> None:
    spec = requests.get(f"{soap_hub.url}/api/v1/openapi.json", timeout=10).json()
    assert set(spec["paths"]["/soap/GovHubService"]) == {"get", "post"}
