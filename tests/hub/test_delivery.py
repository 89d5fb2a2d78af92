"""Messages posted over REST reach webhook receivers: signed, retried, dead-lettered, ordered,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.webhook.signature import HEADER, verify
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    wait_for,
    webhook_destination,
)


@pytest.fixture
def hub(tmp_path: Path, db_url: str, receiver: Receiver) -> Iterator[RunningHub]:
    """A hub on each database (SQLite and PostgreSQL): every guarantee holds on both."""
    config = hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver)],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
        database={"url": db_url},
    )
    with running_hub(config) as running:
        yield running


def test_posted_message_reaches_receiver_signed_with_one_attempt(
    hub: RunningHub, receiver: Receiver
) -> None:
    key = hub.client("dept")
    response = hub.post(key, {"type": "case.submitted", "payload": example("case.submitted")})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    [delivery] = body["deliveries"]
    assert delivery["destination"] == "civil_affairs"

    message = hub.wait_delivered(body["id"])
    [got] = receiver.accepted()
    verify(receiver.secret, got.body, got.headers[HEADER])  # raises if the signature is wrong
    assert got.headers["Idempotency-Key"] == delivery["id"]
    assert got.envelope["payload"]["applicant"]["name"] == "王秀英"
    assert got.envelope["correlation_id"] == "WH-2026-000123"
    assert got.envelope["source"] == "dept"
    [stored] = message["deliveries"]
    assert stored["status"] == "delivered"
    assert stored["attempts"] == 1
    assert [a["outcome"] for a in stored["history"]] == ["delivered"]

    shown = hub.get(key, f"/api/v1/messages/{body['id']}").json()
    assert shown["status"] == "delivered"
    assert shown["deliveries"][0]["attempts"] == 1


def test_receiver_failing_twice_gets_the_message_on_the_third_attempt(
    hub: RunningHub, receiver: Receiver
) -> None:
    receiver.respond_with(503, 503)
    key = hub.client("dept")
    message_id = hub.post(
        key, {"type": "case.submitted", "payload": example("case.submitted")}
    ).json()["id"]

    message = hub.wait_delivered(message_id)
    [delivery] = message["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 3
    assert [a["outcome"] for a in delivery["history"]] == ["retry", "retry", "delivered"]
    assert delivery["history"][0]["status_code"] == 503
    assert "503" in delivery["history"][0]["error"]
    assert [r.status for r in receiver.received] == [503, 503, 200]
    # one Idempotency-Key across every retry, so the receiver can drop duplicates
    assert len({r.headers["Idempotency-Key"] for r in receiver.received}) == 1


def test_receiver_refusing_with_400_dead_letters_at_once_and_replay_delivers(
    hub: RunningHub, receiver: Receiver
) -> None:
    receiver.respond_with(400)
    key = hub.client("dept")
    operator = hub.client("ops", allow=(), role="operator")
    message_id = hub.post(
        key, {"type": "case.submitted", "payload": example("case.submitted")}
    ).json()["id"]

    message = hub.wait_delivered(message_id)
    [delivery] = message["deliveries"]
    assert message["status"] == "dead"
    assert delivery["status"] == "dead"
    assert delivery["attempts"] == 1
    assert "HTTP 400" in delivery["last_error"]

    dead = hub.get(operator, "/api/v1/dead-letters").json()["items"]
    assert [d["id"] for d in dead] == [delivery["id"]]
    assert hub.get(key, "/api/v1/dead-letters").json()["items"][0]["id"] == delivery["id"]

    # a plain client may look but not replay
    assert (
        hub.session.post(
            f"{hub.url}/api/v1/dead-letters/{delivery['id']}/replay",
            headers={"Authorization": f"Bearer {key}"},
        ).status_code
        == 403
    )

    replay = hub.session.post(
        f"{hub.url}/api/v1/dead-letters/{delivery['id']}/replay",
        headers={"Authorization": f"Bearer {operator}"},
        json={"reason": "receiver fixed"},
    )
    assert replay.status_code == 202
    message = wait_for(lambda: (m := hub.message(message_id))["status"] == "delivered" and m)
    assert [a["outcome"] for a in message["deliveries"][0]["history"]] == ["dead", "delivered"]
    assert hub.get(operator, "/api/v1/dead-letters").json()["items"] == []
    audit = hub.hub.store.audit.trail()
    assert audit[0]["action"] == "dlq.replay"
    assert audit[0]["actor"] == "ops"
    assert audit[0]["target"] == delivery["id"]

    again = hub.session.post(
        f"{hub.url}/api/v1/dead-letters/{delivery['id']}/replay",
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert again.status_code == 409


def test_bulk_replay_by_destination(hub: RunningHub, receiver: Receiver) -> None:
    receiver.respond_with(422, 422)
    key = hub.client("dept")
    operator = hub.client("ops", allow=(), role="operator")
    ids = [
        hub.post(
            key, {"type": "case.submitted", "payload": example("case.submitted", case_no=f"C-{n}")}
        ).json()["id"]
        for n in range(2)
    ]
    for message_id in ids:
        assert hub.wait_delivered(message_id)["status"] == "dead"
    response = hub.session.post(
        f"{hub.url}/api/v1/dead-letters/replay",
        headers={"Authorization": f"Bearer {operator}"},
        json={"destination": "civil_affairs"},
    )
    assert response.status_code == 202
    assert response.json()["count"] == 2
    for message_id in ids:
        wait_for(lambda m=message_id: hub.message(m)["status"] == "delivered")


def test_exhausted_retries_dead_letter_with_every_attempt_recorded(
    hub: RunningHub, receiver: Receiver
) -> None:
    receiver.respond_with(*([500] * 10))
    key = hub.client("dept")
    message_id = hub.post(
        key, {"type": "case.submitted", "payload": example("case.submitted")}
    ).json()["id"]
    message = hub.wait_delivered(message_id)
    [delivery] = message["deliveries"]
    assert delivery["status"] == "dead"
    assert len(delivery["history"]) == 5  # max_attempts in the test destination
    assert delivery["last_error"].startswith("gave up after 5 attempts")


def test_same_case_is_delivered_in_acceptance_order_even_when_the_first_needs_retries(
    hub: RunningHub, receiver: Receiver
) -> None:
    receiver.respond_with(503, 503, 503)
    key = hub.client("dept")
    first = hub.post(key, {"type": "case.submitted", "payload": example("case.submitted")}).json()[
        "id"
    ]
    second = hub.post(
        key, {"type": "case.status_changed", "payload": example("case.status_changed")}
    ).json()["id"]
    third = hub.post(key, {"type": "case.completed", "payload": example("case.completed")}).json()[
        "id"
    ]
    for message_id in (first, second, third):
        hub.wait_delivered(message_id)
    order = [r.envelope["id"] for r in receiver.accepted()]
    assert order == [first, second, third]


def test_other_cases_are_not_held_back_by_a_stuck_case(hub: RunningHub, receiver: Receiver) -> None:
    failures = {"STUCK": 3}

    def decide(envelope: dict[str, object]) -> int | None:
        case = str(envelope["correlation_id"])
        if failures.get(case, 0) > 0:
            failures[case] -= 1
            return 503
        return None

    receiver.decide = decide
    key = hub.client("dept")
    stuck = hub.post(
        key, {"type": "case.submitted", "payload": example("case.submitted", case_no="STUCK")}
    ).json()
    free = hub.post(
        key, {"type": "case.submitted", "payload": example("case.submitted", case_no="FREE")}
    ).json()
    assert hub.wait_delivered(free["id"])["deliveries"][0]["attempts"] == 1
    assert hub.wait_delivered(stuck["id"])["deliveries"][0]["attempts"] == 4
    assert [r.envelope["correlation_id"] for r in receiver.accepted()] == ["FREE", "STUCK"]


def test_a_message_may_go_to_several_destinations_and_unrouted_is_visible(
    tmp_path: Path, db_url: str, make_receiver: Callable[[], Receiver]
) -> None:
    a, b = make_receiver(), make_receiver()
    config = hub_config(
        tmp_path,
        database={"url": db_url},
        destinations=[webhook_destination("a", a), webhook_destination("b", b)],
        routes=[
            {"name": "all submitted", "when": {"type": "case.submitted"}, "to": ["a"]},
            {
                "name": "old-age cards",
                "when": {
                    "type": "case.*",
                    "payload.item_code": ["11371000004336447K4370220001000"],
                },
                "to": ["a", "b"],
            },
        ],
    )
    with running_hub(config) as hub:
        key = hub.client("dept")
        routed = hub.post(
            key, {"type": "case.submitted", "payload": example("case.submitted")}
        ).json()
        assert sorted(d["destination"] for d in routed["deliveries"]) == ["a", "b"]
        unrouted = hub.post(
            key, {"type": "case.status_changed", "payload": example("case.status_changed")}
        ).json()
        assert unrouted["deliveries"] == []
        hub.wait_delivered(routed["id"])
        assert len(a.accepted()) == 1
        assert len(b.accepted()) == 1
        assert hub.message(unrouted["id"])["status"] == "unrouted"
        listed = hub.get(key, "/api/v1/messages?status=unrouted").json()["items"]
        assert [m["id"] for m in listed] == [unrouted["id"]]


def test_one_slow_destination_does_not_starve_the_others(
    tmp_path: Path, db_url: str, make_receiver: Callable[[], Receiver]
) -> None:
    slow, fast = make_receiver(), make_receiver()
    slow.gate.clear()  # the slow department answers nothing until released
    config = hub_config(
        tmp_path,
        database={"url": db_url},
        destinations=[
            webhook_destination("slow", slow, max_in_flight=2),
            webhook_destination("fast", fast),
        ],
        routes=[
            {"name": "to slow", "when": {"type": "case.submitted"}, "to": ["slow"]},
            {"name": "to fast", "when": {"type": "case.completed"}, "to": ["fast"]},
        ],
    )
    with running_hub(config) as hub:
        key = hub.client("dept")
        for n in range(8):
            hub.post(
                key,
                {"type": "case.submitted", "payload": example("case.submitted", case_no=f"S-{n}")},
            )
        done = hub.post(
            key, {"type": "case.completed", "payload": example("case.completed")}
        ).json()
        assert hub.wait_delivered(done["id"])["status"] == "delivered"
        assert hub.hub.dispatcher.circuits()["slow"]["in_flight"] == 2
        slow.gate.set()
        wait_for(lambda: len(slow.accepted()) == 8, timeout=15)


def test_circuit_opens_for_a_down_counterpart_and_closes_when_it_returns(
    tmp_path: Path, db_url: str, receiver: Receiver
) -> None:
    config = hub_config(
        tmp_path,
        database={"url": db_url},
        destinations=[
            webhook_destination(
                "dept",
                receiver,
                retry={"max_attempts": 100, "backoff_initial_s": 0.05, "backoff_max_s": 0.1},
                circuit={"failure_threshold": 3, "open_s": 0.5},
            )
        ],
        routes=[{"name": "all", "when": {"type": "*"}, "to": ["dept"]}],
    )
    receiver.respond_with(*([503] * 6))
    with running_hub(config) as hub:
        key = hub.client("dept-system")
        message_id = hub.post(
            key, {"type": "case.submitted", "payload": example("case.submitted")}
        ).json()["id"]
        wait_for(
            lambda: hub.hub.dispatcher.circuits()["dept"]["state"] == "open",
            message="circuit to open",
        )
        message = hub.wait_delivered(message_id, timeout=20)
        assert message["status"] == "delivered"
        assert hub.hub.dispatcher.circuits()["dept"]["state"] == "closed"
        assert len(receiver.received) == 7
        # while the circuit was open the hub waited open_s (0.5 s), far longer than the
        # 0.1 s backoff cap, instead of hammering the counterpart
        history = message["deliveries"][0]["history"]
        gaps = [
            dt.datetime.fromisoformat(b["started_at"]) - dt.datetime.fromisoformat(a["finished_at"])
            for a, b in itertools.pairwise(history)
        ]
        assert max(gaps) >= dt.timedelta(seconds=0.45)


def test_concurrent_posts_of_the_same_id_store_one_message(hub: RunningHub) -> None:
    key = hub.client("dept")
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def post() -> None:
        response = hub.post(
            key, {"type": "case.submitted", "id": "race-1", "payload": example("case.submitted")}
        )
        with lock:
            answers.append((response.status_code, response.json()["id"]))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for code, _ in answers) == [200] * 7 + [202]
    assert len({message_id for _, message_id in answers}) == 1
    assert len(hub.hub.store.messages.search().items) == 1
