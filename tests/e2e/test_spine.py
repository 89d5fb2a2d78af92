"""The delivery spine across processes and nodes: several web workers and a delivery process
under ``govhub run``, several ``govhub worker`` nodes on one PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.store import Store
from tests.processes import Govhub, alive
from tests.support import Receiver, example, wait_for


def _config(
    tmp_path: Path,
    database_url: str,
    receiver: Receiver,
    *,
    max_in_flight: int = 16,
    workers: int = 16,
    lease_s: float = 3,
    max_attempts: int = 20,
) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0
workers = 2

[database]
url = "{database_url}"

[sandbox]
enabled = false

[dispatcher]
workers = {workers}
poll_interval_s = 0.2
lease_s = {lease_s}

[[destinations]]
name = "civil_affairs"
adapter = "webhook"
url = "{receiver.url}"
secret = "{receiver.secret}"
max_in_flight = {max_in_flight}
retry = {{ max_attempts = {max_attempts}, backoff_initial_s = 0.02, backoff_max_s = 0.1 }}
circuit = {{ failure_threshold = 1000, open_s = 1 }}

[[routes]]
name = "cases"
when = {{ type = "case.*" }}
to = ["civil_affairs"]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def started() -> Iterator[list[Govhub]]:
    running: list[Govhub] = []
    yield running
    for process in running:
        process.stop()


def _accept(store: Store, count: int, *, cases: int | None = None) -> list[str]:
    """Store ``count`` case messages routed to civil_affairs; their ids, in acceptance order.

    With ``cases``, the messages belong round-robin to that many cases (the correlation id).
    """
    ids = []
    for n in range(count):
        case_no = f"C-{n % cases}" if cases else f"C-{n}"
        envelope = Envelope(
            id=new_id(),
            type="case.submitted",
            source="dept",
            payload=example("case.submitted", case_no=case_no),
            created_at=utcnow(),
            client_ref=f"m-{n}",
            correlation_id=case_no,
        )
        store.messages.accept(envelope, channel="rest", targets=[("civil_affairs", "cases")])
        ids.append(envelope.id)
    return ids


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_run_serves_from_several_processes_and_ctrl_c_stops_them_all(
    tmp_path: Path, receiver: Receiver, started: list[Govhub]
) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'govhub.db'}", receiver)
    hub = Govhub(config, "run")
    started.append(hub)
    store = Store(f"sqlite:///{tmp_path / 'govhub.db'}")
    key = store.clients.add("dept", allow=["case.*"])[1]
    store.close()
    session = requests.Session()
    posted = 40
    for n in range(posted):
        response = session.post(
            f"{hub.url}/api/v1/messages",
            json={"type": "case.submitted", "id": f"p-{n}", "payload": example("case.submitted")},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 202
    wait_for(lambda: len(receiver.accepted()) == posted, 30, "every message to be delivered")

    # the master, two gunicorn workers, the delivery process
    wait_for(lambda: len(hub.processes()) >= 4, 30, "the web workers and the delivery process")
    processes = hub.processes()
    for _ in range(10):  # a new connection each time: any web worker may answer
        answer = requests.get(f"{hub.url}/readyz", timeout=10, headers={"Connection": "close"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"]["dispatcher"]["ok"] is True
    # /metrics of a web worker counts what the delivery process delivered
    metrics = requests.get(f"{hub.url}/metrics", timeout=10).text
    assert _metric(metrics, "govhub_deliveries_total", outcome="delivered") == posted
    assert _metric(metrics, "govhub_messages_received_total", channel="rest") == posted

    hub.interrupt()  # Ctrl-C
    hub.process.wait(30)
    wait_for(lambda: not any(alive(pid) for pid in processes), 30, "every process to stop")
    assert any("stopping" in line for line in hub.lines)


def test_serve_with_workers_runs_that_many_web_processes(
    tmp_path: Path, receiver: Receiver, started: list[Govhub]
) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'govhub.db'}", receiver)
    hub = Govhub(config, "serve", "--workers", "3")
    started.append(hub)
    # the master and three workers (forked once it listens), nothing delivering
    wait_for(lambda: len(hub.processes()) == 4, 30, "three web workers")
    answer = requests.get(f"{hub.url}/readyz", timeout=10)
    assert answer.status_code == 200
    assert "dispatcher" not in answer.json()["checks"]


def test_kill_9_of_one_of_two_workers_on_postgresql_loses_nothing(
    tmp_path: Path, postgres_url: str, receiver: Receiver, started: list[Govhub]
) -> None:
    total = 2000
    config = _config(tmp_path, postgres_url, receiver, lease_s=2)
    store = Store(postgres_url)
    accepted = set(_accept(store, total))
    slow = threading.Event()

    def pace(_envelope: dict[str, Any]) -> None:
        slow.wait(0.002)  # a counterpart that takes a moment, so work is in flight

    receiver.decide = lambda envelope: pace(envelope)  # type: ignore[func-returns-value]
    first = Govhub(config, "worker", ready="GovHub worker running")
    second = Govhub(config, "worker", ready="GovHub worker running")
    started.extend([first, second])
    wait_for(lambda: len(receiver.accepted()) >= 300, 60, "deliveries under way")
    first.kill_all()
    killed_at = len(receiver.accepted())
    assert killed_at < total, "the kill came too late to prove anything"

    wait_for(
        lambda: {r.envelope["id"] for r in receiver.accepted()} >= accepted,
        120,
        "every delivery to arrive",
    )
    arrivals = receiver.accepted()
    keys_of: dict[str, set[str]] = defaultdict(set)
    for arrival in arrivals:
        keys_of[arrival.envelope["id"]].add(arrival.headers["Idempotency-Key"])
    duplicates = len(arrivals) - len(keys_of)
    print(f"\n[kill -9 one of two workers] {total} delivered, {duplicates} twice")
    # a duplicate is the same delivery again: the receiver can drop it by its key
    assert all(len(keys) == 1 for keys in keys_of.values())
    assert duplicates <= 16  # at most what the killed worker had in flight
    wait_for(lambda: not store.deliveries.backlog(), 30, "the outbox to be empty")
    store.close()


def test_order_per_case_holds_with_two_workers_and_retries(
    tmp_path: Path, postgres_url: str, receiver: Receiver, started: list[Govhub]
) -> None:
    cases, per_case = 40, 6
    config = _config(tmp_path, postgres_url, receiver)
    store = Store(postgres_url)
    order = _accept(store, cases * per_case, cases=cases)
    failed_once: set[str] = set()

    def flaky(envelope: dict[str, Any]) -> int | None:
        # every third message of a case fails on its first attempt: a retry mid-case
        third = int(envelope["client_ref"].split("-")[1]) // cases % 3 == 1
        if third and envelope["id"] not in failed_once:
            failed_once.add(envelope["id"])
            return 503
        return None

    receiver.decide = flaky
    started.extend(
        [
            Govhub(config, "worker", ready="GovHub worker running"),
            Govhub(config, "worker", ready="GovHub worker running"),
        ]
    )
    wait_for(
        lambda: len({r.envelope["id"] for r in receiver.accepted()}) == len(order),
        120,
        "every message to arrive",
    )
    position = {message_id: n for n, message_id in enumerate(order)}
    by_case: dict[str, list[int]] = defaultdict(list)
    for arrival in receiver.accepted():
        by_case[arrival.envelope["correlation_id"]].append(position[arrival.envelope["id"]])
    assert len(by_case) == cases
    assert all(arrived == sorted(arrived) for arrived in by_case.values())
    assert len(failed_once) == cases * 2  # the retries did happen, in the middle of cases
    store.close()
