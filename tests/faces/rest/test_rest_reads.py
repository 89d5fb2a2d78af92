"""Reading messages and dead letters back: who sees what, filters, keyset pagination."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import RunningHub, example, hub_config, running_hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        yield running


def test_a_client_reads_what_it_sent_and_only_that(hub: RunningHub) -> None:
    mine, theirs = hub.client("mine"), hub.client("theirs")
    operator = hub.client("ops", allow=(), role="operator")
    own = hub.post(mine, {"type": "case.submitted", "payload": example("case.submitted")}).json()[
        "id"
    ]
    other = hub.post(
        theirs, {"type": "case.submitted", "payload": example("case.submitted")}
    ).json()["id"]

    assert hub.get(mine, f"/api/v1/messages/{own}").status_code == 200
    hidden = hub.get(mine, f"/api/v1/messages/{other}")
    assert hidden.status_code == 404
    assert hidden.headers["Content-Type"].startswith("application/problem+json")
    assert [m["id"] for m in hub.get(mine, "/api/v1/messages").json()["items"]] == [own]
    # a client cannot widen its view with ?source=
    assert [m["id"] for m in hub.get(mine, "/api/v1/messages?source=theirs").json()["items"]] == [
        own
    ]

    everything = hub.get(operator, "/api/v1/messages").json()["items"]
    assert {m["id"] for m in everything} == {own, other}
    assert hub.get(operator, f"/api/v1/messages/{other}").json()["source"] == "theirs"
    only = hub.get(operator, "/api/v1/messages?source=theirs").json()["items"]
    assert [m["id"] for m in only] == [other]


def test_message_shows_payload_status_and_deliveries(hub: RunningHub) -> None:
    key = hub.client("dept")
    message_id = hub.post(
        key, {"type": "case.submitted", "id": "r1", "payload": example("case.submitted")}
    ).json()["id"]
    shown = hub.get(key, f"/api/v1/messages/{message_id}").json()
    assert shown["type"] == "case.submitted"
    assert shown["client_ref"] == "r1"
    assert shown["channel"] == "rest"
    assert shown["status"] == "unrouted"
    assert shown["payload"]["applicant"]["name"] == "王秀英"
    assert shown["created_at"].endswith("+08:00")
    assert shown["deliveries"] == []


def test_list_filters_by_type_case_and_status(hub: RunningHub) -> None:
    key = hub.client("dept")
    submitted = hub.post(
        key, {"type": "case.submitted", "payload": example("case.submitted", case_no="A-1")}
    )
    changed = hub.post(
        key,
        {"type": "case.status_changed", "payload": example("case.status_changed", case_no="A-1")},
    )
    hub.post(key, {"type": "case.submitted", "payload": example("case.submitted", case_no="B-2")})

    def ids(query: str) -> list[str]:
        response = hub.get(key, f"/api/v1/messages?{query}")
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["items"]]

    assert ids("correlation_id=A-1") == [changed.json()["id"], submitted.json()["id"]]
    assert ids("type=case.status_changed") == [changed.json()["id"]]
    assert len(ids("type=case.*")) == 3
    assert len(ids("status=unrouted")) == 3
    assert ids("status=delivered") == []
    bad = hub.get(key, "/api/v1/messages?status=lost")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["path"] == "status"
    assert hub.get(key, "/api/v1/messages?limit=0").status_code == 400
    assert hub.get(key, "/api/v1/messages?limit=abc").status_code == 400
    # An empty status is not "any status": the spec's enum does not allow it, nor does the hub.
    empty = hub.get(key, "/api/v1/messages?status=")
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["path"] == "status"


def test_keyset_pagination_walks_every_message_once_newest_first(hub: RunningHub) -> None:
    key = hub.client("dept")
    sent = [
        hub.post(
            key, {"type": "case.submitted", "payload": example("case.submitted", case_no=f"P-{n}")}
        ).json()["id"]
        for n in range(7)
    ]
    seen: list[str] = []
    after = ""
    pages = 0
    while True:
        page = hub.get(key, f"/api/v1/messages?limit=3&after={after}").json()
        seen += [m["id"] for m in page["items"]]
        pages += 1
        if page["next"] is None:
            break
        after = page["next"]
    assert pages == 3
    assert seen == sorted(sent, reverse=True)
    assert "payload" not in page["items"][0]  # lists stay small; the message page has the payload


def test_unknown_message_is_404(hub: RunningHub) -> None:
    key = hub.client("dept")
    assert hub.get(key, "/api/v1/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ").status_code == 404


def test_replay_of_an_unknown_delivery_is_404(hub: RunningHub) -> None:
    operator = hub.client("ops", allow=(), role="operator")
    response = hub.session.post(
        f"{hub.url}/api/v1/dead-letters/nope/replay",
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert response.status_code == 404


def test_bulk_replay_needs_ids_or_a_filter(hub: RunningHub) -> None:
    operator = hub.client("ops", allow=(), role="operator")
    response = hub.session.post(
        f"{hub.url}/api/v1/dead-letters/replay",
        headers={"Authorization": f"Bearer {operator}"},
        json={},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "ids"


def test_health_and_readiness(hub: RunningHub) -> None:
    assert hub.get(None, "/healthz").json() == {"status": "ok"}
    ready = hub.get(None, "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == {"ok": True}


def test_unknown_route_is_a_problem_document(hub: RunningHub) -> None:
    response = hub.get(None, "/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")
