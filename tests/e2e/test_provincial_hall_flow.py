"""End to end through a running hub: the provincial hall in, departments out, and back.

The scheduler that reads the hall every minute is built elsewhere; these tests drive the
adapter's read and publish through its context, as that job does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.provincial_hall.sandbox import DEFAULT_PASSWORD, ENDPOINT, create_app
from faces.serving import RunningServer, serve_in_thread
from hub.store import MessageFilter
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    wait_for,
    webhook_destination,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def hall() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    yield server
    server.stop()


def hall_destination(hall: RunningServer, **extra: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": "provincial_hall",
        "adapter": "provincial_hall",
        "url": f"{hall.url}{ENDPOINT}",
        "username": "govhub",
        "password": DEFAULT_PASSWORD,
        "timeout_s": 5,
        "retry": {"max_attempts": 200, "backoff_initial_s": 0.05, "backoff_max_s": 0.2},
        "circuit": {"failure_threshold": 3, "open_s": 0.5},
    }
    table.update(extra)
    return table


ROUTES = [
    {
        "name": "applications to civil affairs",
        "when": {"type": "case.submitted"},
        "to": ["civil_affairs"],
    },
    {
        "name": "process to the hall",
        "when": {"type": "case.status_changed"},
        "to": ["provincial_hall"],
    },
    {"name": "results to the hall", "when": {"type": "case.completed"}, "to": ["provincial_hall"]},
]


@pytest.fixture
def hub(tmp_path: Path, hall: RunningServer, receiver: Receiver) -> Iterator[RunningHub]:
    config = hub_config(
        tmp_path,
        destinations=[hall_destination(hall), webhook_destination("civil_affairs", receiver)],
        routes=ROUTES,
    )
    with running_hub(config) as running:
        yield running


def seed(hall: RunningServer, *sblsh: str) -> None:
    requests.post(
        f"{hall.url}/_sandbox/applications", json=[{"SBLSH": s} for s in sblsh], timeout=5
    ).raise_for_status()


def case_state(hall: RunningServer, sblsh: str) -> dict[str, Any]:
    answer: dict[str, Any] = requests.get(f"{hall.url}/_sandbox/cases/{sblsh}", timeout=5).json()
    return answer


def pull_applications(hub: RunningHub) -> int:
    """What the hall sync job does each minute: read, publish, advance."""
    adapter = hub.hub.adapters["provincial_hall"]
    published = 0
    cursor = None
    while True:
        batch = adapter.read("applications", cursor, 50)
        for record in batch.records:
            adapter.context.publish(
                record.type,
                record.payload,
                correlation_id=record.correlation_id,
                client_ref=record.key,
                channel="job",
            )
            published += 1
        cursor = batch.cursor or cursor
        if not batch.more:
            return published


def test_online_application_read_from_the_hall_reaches_the_department(
    hub: RunningHub, hall: RunningServer, receiver: Receiver
) -> None:
    seed(hall, "SD202611270001")
    assert pull_applications(hub) == 1

    [got] = wait_for(receiver.accepted, message="the department to receive the application")
    envelope = got.envelope
    assert envelope["type"] == "case.submitted"
    assert envelope["source"] == "provincial_hall"
    assert envelope["correlation_id"] == "SD202611270001"
    assert envelope["client_ref"] == "SD202611270001"
    assert envelope["payload"]["case_no"] == "SD202611270001"
    assert envelope["payload"]["channel"] in ("online", "mobile")

    # Reading the same applications again (a job re-run after a crash) stores nothing new.
    assert pull_applications(hub) == 1
    page = hub.hub.store.messages.search(MessageFilter(type="case.submitted"))
    assert len(page.items) == 1
    assert len(receiver.accepted()) == 1


def test_completion_posted_by_a_department_reaches_the_hall(
    hub: RunningHub, hall: RunningServer
) -> None:
    seed(hall, "WH-2026-000123")
    key = hub.client("civil-affairs-system", allow=("case.*",))
    processing = hub.post(
        key, {"type": "case.status_changed", "payload": example("case.status_changed")}
    )
    assert processing.status_code == 202
    assert hub.wait_delivered(processing.json()["id"])["status"] == "delivered"
    assert case_state(hall, "WH-2026-000123")["state"] == "processing"

    completed = hub.post(key, {"type": "case.completed", "payload": example("case.completed")})
    assert completed.status_code == 202
    message = hub.wait_delivered(completed.json()["id"])
    [delivery] = message["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["destination"] == "provincial_hall"

    state = case_state(hall, "WH-2026-000123")
    assert state["state"] == "completed"
    assert state["result"] == "0"
    # the hall saw the delivery id as the event number: retries cannot double the result
    assert state["events"][-1]["SJBH"] == delivery["id"]


def test_completion_for_a_case_the_hall_never_had_is_a_dead_letter_with_its_reason(
    hub: RunningHub,
) -> None:
    key = hub.client("civil-affairs-system", allow=("case.*",))
    posted = hub.post(
        key, {"type": "case.completed", "payload": example("case.completed", case_no="WH-NONE")}
    )
    message = hub.wait_delivered(posted.json()["id"])
    [delivery] = message["deliveries"]
    assert delivery["status"] == "dead"
    assert delivery["attempts"] == 1
    assert "1001" in delivery["last_error"]
    assert "办件不存在" in delivery["last_error"]


def test_hall_down_deliveries_wait_circuit_opens_nothing_lost_then_they_go_out(
    hub: RunningHub, hall: RunningServer
) -> None:
    cases = [f"WH-DOWN-{n}" for n in range(4)]
    seed(hall, *cases)
    key = hub.client("civil-affairs-system", allow=("case.*",))
    operator = hub.client("ops", allow=(), role="operator")
    requests.post(f"{hall.url}/_sandbox/faults", json={"down": True}, timeout=5).raise_for_status()

    ids = [
        hub.post(
            key, {"type": "case.completed", "payload": example("case.completed", case_no=case)}
        ).json()["id"]
        for case in cases
    ]

    def hall_status() -> dict[str, Any]:
        items = hub.get(operator, "/api/v1/adapters").json()["items"]
        found: dict[str, Any] = next(i for i in items if i["name"] == "provincial_hall")
        return found

    opened = wait_for(
        lambda: (s := hall_status())["circuit"]["state"] == "open" and s,
        timeout=15,
        message="the hall's circuit to open",
    )
    assert opened["health"] == "down"
    assert opened["backlog"] == len(cases)
    assert "503" in opened["circuit"]["last_error"]
    assert opened["last_delivery"]["outcome"] == "retry"
    # waiting, not lost: every message is still pending, none dead
    assert {hub.message(i)["status"] for i in ids} == {"pending"}
    assert hub.get(operator, "/api/v1/dead-letters").json()["items"] == []
    assert all(case_state(hall, case)["state"] == "submitted" for case in cases)

    requests.post(f"{hall.url}/_sandbox/faults", json={}, timeout=5).raise_for_status()

    for message_id in ids:
        message = hub.wait_delivered(message_id, timeout=20)
        [delivery] = message["deliveries"]
        assert delivery["status"] == "delivered"
    retried = [hub.message(i)["deliveries"][0]["history"] for i in ids]
    assert any(
        attempt["outcome"] == "retry" and attempt["status_code"] == 503
        for history in retried
        for attempt in history
    )
    for case in cases:
        state = case_state(hall, case)
        assert state["state"] == "completed"
        assert len(state["events"]) == 1, "one result per case, however often it was tried"
    recovered = wait_for(
        lambda: (s := hall_status())["circuit"]["state"] == "closed" and s,
        message="the circuit to close",
    )
    assert recovered["backlog"] == 0
    assert recovered["health"] == "ok"
