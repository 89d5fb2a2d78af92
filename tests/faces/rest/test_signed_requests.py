"""Signed REST requests (HMAC-SM3 / HMAC-SHA256) and SM3-signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.webhook.signature import SignatureError, sign, verify
from faces.http.signing import sign_request, signed_text
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    webhook_destination,
)


@pytest.fixture
def hub(tmp_path: Path, receiver: Receiver) -> Iterator[RunningHub]:
    config = hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver, signature="hmac-sm3")],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    )
    with running_hub(config, dispatch=True) as running:
        yield running


def _nonce() -> str:
    return secrets.token_hex(12)


def _signed_post(
    hub: RunningHub,
    key: str,
    document: Any,
    *,
    client: str = "dept",
    algorithm: str = "sm3",
    timestamp: int | None = None,
    nonce: str | None = None,
    sent: bytes | None = None,
) -> requests.Response:
    body = json.dumps(document).encode()
    authorization = sign_request(
        key,
        client,
        "POST",
        "/api/v1/messages",
        body,
        algorithm=algorithm,
        timestamp=timestamp,
        nonce=nonce or _nonce(),
    )
    return hub.session.post(
        f"{hub.url}/api/v1/messages",
        data=body if sent is None else sent,
        headers={"Content-Type": "application/json", "Authorization": authorization},
        timeout=10,
    )


def _stored(hub: RunningHub) -> int:
    return len(hub.hub.store.messages.search(limit=200).items)


def _case(ref: str) -> dict[str, Any]:
    return {"type": "case.submitted", "id": ref, "payload": example("case.submitted")}


def test_the_signed_text_is_the_five_lines_a_client_reads_in_the_docs() -> None:
    # Written out independently of sign_request: HMAC-SM3 from hashlib's OpenSSL binding.
    body = b'{"a":1}'
    text = signed_text("post", "/api/v1/messages?x=1", 1764800000, "n" * 16, "ab")
    assert text == b"POST\n/api/v1/messages?x=1\n1764800000\nnnnnnnnnnnnnnnnn\nab"
    header = sign_request(
        "gh_key", "dept", "POST", "/p", body, timestamp=1764800000, nonce="n" * 16
    )
    body_hash = hashlib.new("sm3", body).hexdigest()
    expected = hmac.new(
        b"gh_key", f"POST\n/p\n1764800000\n{'n' * 16}\n{body_hash}".encode(), "sm3"
    ).hexdigest()
    assert header == f"HMAC-SM3 client=dept,ts=1764800000,nonce={'n' * 16},sig={expected}"


@pytest.mark.parametrize("algorithm", ["sm3", "sha256"])
def test_a_signed_request_is_accepted_like_a_bearer_one(hub: RunningHub, algorithm: str) -> None:
    key = hub.client("dept")
    response = _signed_post(hub, key, _case(f"s-{algorithm}"), algorithm=algorithm)
    assert response.status_code == 202, response.text
    stored = hub.message(response.json()["id"])
    assert stored["source"] == "dept"


def test_a_signed_read_with_a_query_is_accepted(hub: RunningHub) -> None:
    key = hub.client("dept")
    target = "/api/v1/messages?type=case.submitted&limit=5"
    authorization = sign_request(key, "dept", "GET", target, b"", nonce=_nonce())
    response = hub.session.get(
        f"{hub.url}{target}", headers={"Authorization": authorization}, timeout=10
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sent": b'{"type": "case.submitted", "payload": {}}'}, "does not match"),
        ({"timestamp": -301}, "more than 300 s from the hub's clock"),
        ({"timestamp": +330}, "more than 300 s from the hub's clock"),
        ({"client": "nobody"}, "unknown or revoked client"),
        ({"nonce": "short"}, "nonce must be 16 to 64 characters"),
    ],
    ids=["tampered body", "stale", "from the future", "unknown client", "bad nonce"],
)
def test_a_bad_signed_request_is_a_401_saying_why_and_stores_nothing(
    hub: RunningHub, change: dict[str, Any], reason: str
) -> None:
    key = hub.client("dept")
    if "timestamp" in change:  # an offset from now, taken when the test runs
        change = {"timestamp": int(time.time()) + change["timestamp"]}
    response = _signed_post(hub, key, _case("bad"), **change)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert reason in response.json()["detail"]
    assert key not in response.text
    assert _stored(hub) == 0


def test_a_reused_nonce_is_refused_and_the_replay_stores_nothing(hub: RunningHub) -> None:
    key = hub.client("dept")
    nonce = _nonce()
    first = _signed_post(hub, key, _case("once"), nonce=nonce)
    assert first.status_code == 202
    again = _signed_post(hub, key, _case("twice"), nonce=nonce)
    assert again.status_code == 401
    assert "nonce was used before" in again.json()["detail"]
    assert _stored(hub) == 1


def test_a_signature_by_another_key_does_not_use_up_the_clients_nonce(hub: RunningHub) -> None:
    key = hub.client("dept")
    nonce = _nonce()
    forged = _signed_post(hub, "gh_not_the_key", _case("f"), nonce=nonce)
    assert forged.status_code == 401
    assert _signed_post(hub, key, _case("real"), nonce=nonce).status_code == 202


def test_a_webhook_can_be_signed_with_hmac_sm3(hub: RunningHub, receiver: Receiver) -> None:
    key = hub.client("dept")
    accepted = hub.post(key, _case("to-the-department"))
    assert accepted.status_code == 202
    assert hub.wait_delivered(accepted.json()["id"])["status"] == "delivered"
    header = receiver.received[-1].headers["X-GovHub-Signature"]
    assert ",sm3=" in header
    assert ",v1=" not in header


def test_webhook_signatures_verify_with_either_algorithm() -> None:
    body = b'{"id":"1"}'
    moment = int(time.time())
    sm3 = sign("s" * 16, body, moment, algorithm="hmac-sm3")
    expected = hmac.new(b"s" * 16, f"{moment}.".encode() + body, "sm3").hexdigest()
    assert sm3 == f"t={moment},sm3={expected}"
    verify("s" * 16, body, sm3)
    verify("s" * 16, body, sign("s" * 16, body))
    with pytest.raises(SignatureError, match="does not match"):
        verify("s" * 16, body + b" ", sm3)
