"""Signed licences on their way out, signature checks on the way in."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.signature.adapter import SignatureAdapter, canonical_payload
from adapters.signature.sandbox import DEFAULT_API_KEY, create_app
from adapters.signature.verification import Signature, SignatureProblem
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.store import MessageFilter
from tests.fullonline import RunningSandbox, serving
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    wait_for,
    webhook_destination,
)

LICENCE = example("license.issued")


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    return tmp_path / "certs"


@pytest.fixture
def signing_server(certs: Path) -> Iterator[RunningSandbox]:
    with serving(create_app(certs)) as sandbox:
        yield sandbox


def signature_destination(url: str, certs: Path, **extra: Any) -> dict[str, Any]:
    return {
        "name": "signature",
        "adapter": "signature",
        "url": url,
        "api_key": DEFAULT_API_KEY,
        "ca_certificate": str(certs / "ca" / "ca.pem"),
        **extra,
    }


@pytest.fixture
def hub(
    tmp_path: Path, certs: Path, signing_server: RunningSandbox, receiver: Receiver
) -> Iterator[RunningHub]:
    config = hub_config(
        tmp_path,
        destinations=[
            signature_destination(signing_server.url, certs, require_signature=["license.revoked"]),
            webhook_destination("library", receiver),
        ],
        routes=[
            {
                "name": "licences signed for the library",
                "when": {"type": "license.issued"},
                "transform": "signature.sign_license",
                "to": ["library"],
            }
        ],
    )
    with running_hub(config) as running:
        yield running


def _signer(hub: RunningHub) -> SignatureAdapter:
    adapter = hub.hub.adapters["signature"]
    assert isinstance(adapter, SignatureAdapter)
    return adapter


def _carried(envelope: dict[str, Any]) -> Signature:
    fields = envelope["headers"]["signature"]
    return Signature(
        algorithm=fields["algorithm"],
        digest_algorithm=fields["digest_algorithm"],
        value=fields["value"],
        certificate=fields["certificate"],
        serial=fields["serial"],
        signed_at=fields["signed_at"],
    )


def test_licence_reaches_the_library_signed_and_one_changed_byte_fails(
    hub: RunningHub, receiver: Receiver
) -> None:
    key = hub.client("market_regulation", allow=["license.*"])
    response = hub.post(key, {"type": "license.issued", "payload": LICENCE})
    assert response.status_code == 202, response.text
    hub.wait_delivered(response.json()["id"])
    [got] = receiver.accepted()
    envelope = got.envelope
    assert envelope["headers"]["transformed_by"] == "signature.sign_license"
    assert envelope["payload"] == LICENCE
    signature = _carried(envelope)
    signer = _signer(hub)
    signer.verify(canonical_payload(envelope["payload"]), signature)

    tampered = copy.deepcopy(envelope["payload"])
    tampered["file"]["sha256"] = "6" + tampered["file"]["sha256"][1:]
    with pytest.raises(SignatureProblem) as raised:
        signer.verify(canonical_payload(tampered), signature)
    assert raised.value.field == "value"
    # the stored message is the one the department sent, unsigned
    stored = hub.message(response.json()["id"])
    assert "signature" not in stored["headers"]


def test_licence_waits_for_a_signing_server_that_is_down(
    hub: RunningHub, signing_server: RunningSandbox, receiver: Receiver
) -> None:
    signing_server.post("/_sandbox/faults", {"down": True})
    key = hub.client("market_regulation", allow=["license.*"])
    message_id = hub.post(key, {"type": "license.issued", "payload": LICENCE}).json()["id"]
    wait_for(
        lambda: hub.message(message_id)["deliveries"][0]["attempts"] >= 1,
        message="a first attempt",
    )
    assert receiver.accepted() == []
    signing_server.post("/_sandbox/faults", {})

    message = hub.wait_delivered(message_id)

    [delivery] = message["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["history"][0]["outcome"] == "retry"
    assert len(receiver.accepted()) == 1


def _signed(hub: RunningHub, message_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    envelope = Envelope(new_id(), message_type, "test", payload, utcnow())
    signed = _signer(hub).sign_message(envelope)
    return {"type": message_type, "payload": payload, "headers": signed.headers}


def test_inbound_message_with_a_valid_signature_is_accepted(hub: RunningHub) -> None:
    key = hub.client("hall", allow=["case.*"])
    document = _signed(hub, "case.submitted", example("case.submitted"))
    assert hub.post(key, document).status_code == 202


def test_inbound_message_whose_signature_does_not_verify_is_refused_naming_the_field(
    hub: RunningHub,
) -> None:
    key = hub.client("hall", allow=["case.*"])
    document = _signed(hub, "case.submitted", example("case.submitted"))
    document["payload"] = {**document["payload"], "item_name": "老年人优待证补办"}

    response = hub.post(key, document)

    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["path"] == "headers.signature.value"
    assert hub.hub.store.messages.search(MessageFilter(type="case.submitted")).items == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"certificate": "not a certificate"}, "headers.signature.certificate"),
        ({"algorithm": "MD5-RSA"}, "headers.signature.algorithm"),
        ({"value": None}, "headers.signature.value"),
    ],
)
def test_inbound_signature_that_is_malformed_is_refused_naming_the_field(
    hub: RunningHub, change: dict[str, Any], path: str
) -> None:
    key = hub.client("hall", allow=["case.*"])
    document = _signed(hub, "case.submitted", example("case.submitted"))
    fields = {**document["headers"]["signature"], **change}
    document["headers"]["signature"] = {k: v for k, v in fields.items() if v is not None}

    response = hub.post(key, document)

    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == [path]


def test_type_that_must_arrive_signed_is_refused_unsigned(hub: RunningHub) -> None:
    key = hub.client("market_regulation", allow=["license.*"])
    response = hub.post(key, {"type": "license.revoked", "payload": example("license.revoked")})
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["headers.signature"]
    signed = _signed(hub, "license.revoked", example("license.revoked"))
    assert hub.post(key, signed).status_code == 202


def test_signed_message_cannot_be_checked_while_the_crl_is_unreachable(
    hub: RunningHub, signing_server: RunningSandbox
) -> None:
    key = hub.client("hall", allow=["case.*"])
    document = _signed(hub, "case.submitted", example("case.submitted"))
    _signer(hub).crl.invalidate()
    signing_server.post("/_sandbox/faults", {"down": True})

    response = hub.post(key, document)

    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert hub.hub.store.messages.search(MessageFilter(type="case.submitted")).items == []


def test_the_library_keeps_the_route_signature_with_the_archived_licence(
    tmp_path: Path, certs: Path, signing_server: RunningSandbox
) -> None:
    from adapters.e_license.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from adapters.e_license.sandbox import create_app as library_app

    with serving(library_app()) as library:
        config = hub_config(
            tmp_path,
            destinations=[
                signature_destination(signing_server.url, certs),
                {
                    "name": "e_license",
                    "adapter": "e_license",
                    "url": library.url,
                    "client_id": DEFAULT_CLIENT_ID,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                },
            ],
            routes=[
                {
                    "name": "licences signed for the library",
                    "when": {"type": "license.issued"},
                    "transform": "signature.sign_license",
                    "to": ["e_license"],
                }
            ],
        )
        with running_hub(config) as hub:
            key = hub.client("market_regulation", allow=["license.*"])
            response = hub.post(key, {"type": "license.issued", "payload": LICENCE})
            assert response.status_code == 202, response.text
            assert hub.wait_delivered(response.json()["id"])["status"] == "delivered"
            [archived] = library.get("/_sandbox/licenses").json()["items"]
            carried = archived["signature"]
            signature = _carried({"headers": {"signature": carried}})
            _signer(hub).verify(canonical_payload(LICENCE), signature)
