"""POST /api/v1/messages: authentication, ACL, idempotency and every kind of bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
        destinations=[webhook_destination("civil_affairs", receiver)],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
        server={"host": "127.0.0.1", "port": 0, "max_body_bytes": 64 * 1024},
    )
    with running_hub(config, dispatch=False) as running:
        yield running


def _raw_post(
    hub: RunningHub, key: str | None, body: bytes, content_type: str = "application/json"
) -> Any:
    headers = {"Content-Type": content_type}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return hub.session.post(f"{hub.url}/api/v1/messages", data=body, headers=headers, timeout=10)


def _stored(hub: RunningHub) -> int:
    return len(hub.hub.store.messages.search(limit=200).items)


def _bad_inputs(key: str) -> list[tuple[str, str | None, bytes, str, int, str | None]]:
    valid = {"type": "case.submitted", "payload": example("case.submitted")}
    wrong_check = example("case.submitted")
    wrong_check["applicant"] = {**wrong_check["applicant"], "id_no": "11010519491231003X"}
    wrong_uscc = example("case.status_changed")
    wrong_uscc["department"] = {"code": "91110108551385082A", "name": "某局"}
    missing = example("case.submitted")
    del missing["item_code"]
    return [
        (
            "invalid JSON",
            key,
            b'{"type": "case.submitted", "payload": {',
            "application/json",
            400,
            None,
        ),
        ("JSON that is not an object", key, b"[1, 2]", "application/json", 400, None),
        (
            "NaN is not JSON",
            key,
            b'{"type": "case.submitted", "payload": {"x": NaN}}',
            "application/json",
            400,
            None,
        ),
        ("wrong content type", key, json.dumps(valid).encode(), "text/plain", 415, None),
        (
            "form content type",
            key,
            b"type=case.submitted",
            "application/x-www-form-urlencoded",
            415,
            None,
        ),
        (
            "body over the cap",
            key,
            json.dumps({**valid, "pad": "x" * 70_000}).encode(),
            "application/json",
            413,
            None,
        ),
        (
            "unknown type",
            key,
            json.dumps({"type": "case.unknown", "payload": {}}).encode(),
            "application/json",
            422,
            "type",
        ),
        (
            "missing payload",
            key,
            json.dumps({"type": "case.submitted"}).encode(),
            "application/json",
            422,
            "payload",
        ),
        (
            "unknown envelope field",
            key,
            json.dumps({**valid, "colour": "red"}).encode(),
            "application/json",
            422,
            "colour",
        ),
        (
            "schema violation",
            key,
            json.dumps({"type": "case.submitted", "payload": missing}).encode(),
            "application/json",
            422,
            "payload.item_code",
        ),
        (
            "wrong resident ID check digit",
            key,
            json.dumps({"type": "case.submitted", "payload": wrong_check}).encode(),
            "application/json",
            422,
            "payload.applicant.id_no",
        ),
        (
            "wrong credit code check character",
            key,
            json.dumps({"type": "case.status_changed", "payload": wrong_uscc}).encode(),
            "application/json",
            422,
            "payload.department.code",
        ),
        ("missing key", None, json.dumps(valid).encode(), "application/json", 401, None),
        (
            "wrong key",
            "ghk_000000000000_not-a-real-key-at-all",
            json.dumps(valid).encode(),
            "application/json",
            401,
            None,
        ),
    ]


def test_bad_input_gets_a_clear_problem_stores_nothing_and_the_hub_keeps_serving(
    hub: RunningHub,
) -> None:
    key = hub.client("dept")
    for label, used_key, body, content_type, status, path in _bad_inputs(key):
        response = _raw_post(hub, used_key, body, content_type)
        assert response.status_code == status, label
        assert response.headers["Content-Type"].startswith("application/problem+json"), label
        problem = response.json()
        assert problem["status"] == status, label
        assert problem["title"], label
        assert problem["type"].startswith("https://govhub.dev/problems/"), label
        if path is not None:
            assert path in [e["path"] for e in problem["errors"]], (label, problem)
        assert _stored(hub) == 0, label
    # and still serving
    ok = hub.post(key, {"type": "case.submitted", "payload": example("case.submitted")})
    assert ok.status_code == 202
    assert _stored(hub) == 1


def test_identifier_errors_never_echo_the_identifier(hub: RunningHub) -> None:
    key = hub.client("dept")
    payload = example("case.submitted")
    payload["applicant"] = {**payload["applicant"], "id_no": "11010519491231003X"}
    response = hub.post(key, {"type": "case.submitted", "payload": payload})
    assert response.status_code == 422
    assert "11010519491231003X" not in response.text
    assert "1231003" not in response.text
    [error] = response.json()["errors"]
    assert error == {
        "path": "payload.applicant.id_no",
        "message": "check digit (character 18) does not match (GB 11643-1999)",
    }


def test_missing_key_is_challenged(hub: RunningHub) -> None:
    response = hub.session.post(f"{hub.url}/api/v1/messages", json={}, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_type_the_client_may_not_send_is_forbidden(hub: RunningHub) -> None:
    key = hub.client("status-only", allow=("case.status_changed",))
    response = hub.post(key, {"type": "case.submitted", "payload": example("case.submitted")})
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert "case.submitted" in response.json()["detail"]
    assert _stored(hub) == 0
    allowed = hub.post(
        key, {"type": "case.status_changed", "payload": example("case.status_changed")}
    )
    assert allowed.status_code == 202


def test_revoked_key_is_refused(hub: RunningHub) -> None:
    key = hub.client("dept")
    assert hub.hub.store.clients.revoke("dept")
    response = hub.post(key, {"type": "case.submitted", "payload": example("case.submitted")})
    assert response.status_code == 401


def test_the_same_id_with_the_same_body_returns_the_first_answer(hub: RunningHub) -> None:
    key = hub.client("dept")
    payload = example("case.submitted")
    first = hub.post(key, {"type": "case.submitted", "id": "ref-1", "payload": payload})
    assert first.status_code == 202
    # The same message: fields in another order, the default correlation id spelt out,
    # other headers (metadata), and once below Flask's fast path too.
    again = {
        "payload": dict(reversed(list(payload.items()))),
        "correlation_id": payload["case_no"],
        "headers": {"trace_id": "retry-2"},
        "id": "ref-1",
        "type": "case.submitted",
    }
    for content_type in ("application/json", "application/vnd.govhub+json"):
        second = _raw_post(hub, key, json.dumps(again).encode(), content_type)
        assert second.status_code == 200
        assert second.json() == first.json()
    assert _stored(hub) == 1


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.govhub+json"])
def test_the_same_id_with_another_body_is_a_409_naming_the_id(
    hub: RunningHub, content_type: str
) -> None:
    key = hub.client("dept")
    first = hub.post(
        key, {"type": "case.submitted", "id": "ref-1", "payload": example("case.submitted")}
    ).json()
    changed = example("case.submitted", item_name="别的事项")
    for body in (
        {"type": "case.submitted", "id": "ref-1", "payload": changed},
        {"type": "case.status_changed", "id": "ref-1", "payload": example("case.status_changed")},
    ):
        refused = _raw_post(hub, key, json.dumps(body).encode(), content_type)
        assert refused.status_code == 409
        assert refused.headers["Content-Type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"].endswith("/id-reused")
        assert "'ref-1'" in problem["detail"]
        assert first["id"] in problem["detail"]
        assert problem["errors"] == [
            {"path": "id", "message": "was used before for a message with another body"}
        ]
    # A reused id with a body that is not even valid is explained as invalid.
    invalid = _raw_post(
        hub,
        key,
        json.dumps({"type": "case.submitted", "id": "ref-1", "payload": {"x": 1}}).encode(),
        content_type,
    )
    assert invalid.status_code == 422
    assert _stored(hub) == 1
    assert hub.message(first["id"])["payload"]["item_name"] == "老年人优待证办理"


def test_a_409_masks_a_resident_id_used_as_the_id(hub: RunningHub) -> None:
    key = hub.client("dept")
    ref = "ref-11010519491231002X"
    hub.post(key, {"type": "case.submitted", "id": ref, "payload": example("case.submitted")})
    changed = example("case.submitted", item_name="别的事项")
    refused = hub.post(key, {"type": "case.submitted", "id": ref, "payload": changed})
    assert refused.status_code == 409
    assert "11010519491231002X" not in refused.text
    assert "110105********002X" in refused.json()["detail"]


def test_the_same_id_from_two_clients_is_two_messages(hub: RunningHub) -> None:
    a, b = hub.client("a"), hub.client("b")
    one = hub.post(
        a, {"type": "case.submitted", "id": "ref-1", "payload": example("case.submitted")}
    )
    two = hub.post(
        b, {"type": "case.submitted", "id": "ref-1", "payload": example("case.submitted")}
    )
    assert one.status_code == two.status_code == 202
    assert one.json()["id"] != two.json()["id"]


def test_correlation_id_of_a_case_message_is_its_case_number(hub: RunningHub) -> None:
    key = hub.client("dept")
    default = hub.post(key, {"type": "case.submitted", "payload": example("case.submitted")}).json()
    assert default["correlation_id"] == "WH-2026-000123"
    given = hub.post(
        key,
        {
            "type": "case.submitted",
            "correlation_id": "SBLSH-9",
            "payload": example("case.submitted", case_no="SBLSH-9"),
        },
    ).json()
    assert given["correlation_id"] == "SBLSH-9"
    other = hub.post(
        key,
        {
            "type": "case.submitted",
            "correlation_id": "SBLSH-9",
            "payload": example("case.submitted"),
        },
    )
    assert other.status_code == 202  # kept as a key: see tests/faces/rest/test_case_keys.py
    assert other.json()["correlation_id"] == "WH-2026-000123"


def test_warn_only_credit_code_check_accepts_legacy_codes_with_a_warning(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = hub_config(tmp_path, validation={"uscc_check": "warn"})
    with running_hub(config, dispatch=False) as hub:
        key = hub.client("dept")
        payload = example("case.status_changed")
        payload["department"] = {"code": "91110108551385082A", "name": "试点单位"}
        response = hub.post(
            key, {"type": "case.status_changed", "id": "legacy", "payload": payload}
        )
        assert response.status_code == 202
        assert response.json()["warnings"][0]["path"] == "payload.department.code"
        again = hub.post(key, {"type": "case.status_changed", "id": "legacy", "payload": payload})
        assert again.json() == response.json()
        # the shape is still enforced in warn mode
        payload["department"] = {"code": "not-a-code", "name": "试点单位"}
        assert hub.post(key, {"type": "case.status_changed", "payload": payload}).status_code == 422


def test_text_with_u0000_is_refused_on_both_backends_and_the_hub_keeps_serving(
    tmp_path: Path, db_url: str
) -> None:
    # PostgreSQL cannot store U+0000 in text or JSONB; SQLite could, but a message must be
    # storable on either, so both refuse it the same way (and never with a 500).
    config = hub_config(tmp_path, database={"url": db_url})
    with running_hub(config, dispatch=False) as hub:
        key = hub.client("dept")
        valid = example("case.submitted")
        for body, path in [
            ({"payload": {**valid, "item_name": "a\u0000b"}}, "payload.item_name"),
            ({"payload": valid, "headers": {"trace": "\u0000"}}, "headers.trace"),
            ({"payload": valid, "id": "ref-\u0000"}, "id"),
            ({"payload": valid, "correlation_id": "\u0000"}, "correlation_id"),
        ]:
            for content_type in ("application/json", "application/vnd.govhub+json"):
                document = {"type": "case.submitted", **body}
                refused = _raw_post(hub, key, json.dumps(document).encode(), content_type)
                assert refused.status_code == 422, (path, refused.text)
                assert refused.headers["Content-Type"] == "application/problem+json"
                assert refused.json()["errors"] == [
                    {"path": path, "message": "must not contain U+0000"}
                ]
        for query in ("/api/v1/messages?type=%00", "/api/v1/messages/%00", "/ops/login?next=%00"):
            answer = hub.get(key, query)
            assert answer.status_code == 400, (query, answer.text)
        assert _stored(hub) == 0
        accepted = hub.post(key, {"type": "case.submitted", "payload": valid})
        assert accepted.status_code == 202


def test_an_unexpected_failure_is_the_same_logged_problem_on_both_paths(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    key = hub.client("dept")
    with hub.hub.store.db.write() as connection:  # the store breaks under the running hub
        connection.exec_driver_sql("DROP TABLE attempts")
        connection.exec_driver_sql("DROP TABLE deliveries")
    body = json.dumps({"type": "case.submitted", "payload": example("case.submitted")}).encode()
    answers = []
    for content_type in ("application/json", "application/vnd.govhub+json"):
        failed = _raw_post(hub, key, body, content_type)
        assert failed.status_code == 500
        assert failed.headers["Content-Type"] == "application/problem+json"
        answers.append({k: v for k, v in failed.json().items() if k != "instance"})
    assert (
        answers[0]
        == answers[1]
        == {
            "type": "https://govhub.dev/problems/internal",
            "title": "Internal error",
            "status": 500,
            "detail": "the hub failed; the error is logged",
        }
    )
    assert sum("unhandled error on POST /api/v1/messages" in r.message for r in caplog.records) == 2


@pytest.mark.parametrize("written", ["11010519491231002x", "110105491231002"])
def test_a_resident_id_in_another_accepted_form_is_stored_in_its_18_character_form(
    hub: RunningHub, written: str
) -> None:
    key = hub.client("dept")
    payload = example("case.submitted")
    payload["applicant"] = {**payload["applicant"], "id_no": written}
    response = hub.post(key, {"type": "case.submitted", "payload": payload})
    assert response.status_code == 202, response.text
    stored = hub.message(response.json()["id"])
    assert stored["payload"]["applicant"]["id_no"] == "11010519491231002X"
