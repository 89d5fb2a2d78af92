"""Accepted means durable: ``kill -9`` of ``govhub run`` mid-delivery loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.store import Store
from tests.processes import Govhub, alive
from tests.support import Receiver, example, wait_for

MESSAGES = 500


def _write_config(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0
workers = 2

[database]
url = "sqlite:///{tmp_path / "govhub.db"}"

[sandbox]
enabled = false

[dispatcher]
workers = 8
poll_interval_s = 0.2
lease_s = 2

[[destinations]]
name = "civil_affairs"
adapter = "webhook"
url = "{receiver.url}"
secret = "{receiver.secret}"
max_in_flight = 8
retry = {{ max_attempts = 20, backoff_initial_s = 0.05, backoff_max_s = 0.5 }}

[[routes]]
name = "cases"
when = {{ type = "case.*" }}
to = ["civil_affairs"]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def processes() -> Iterator[list[Govhub]]:
    started: list[Govhub] = []
    yield started
    for process in started:
        process.stop()


def test_kill_9_while_delivering_then_restart_delivers_every_accepted_message(
    tmp_path: Path,
    receiver: Receiver,
    processes: list[Govhub],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _write_config(tmp_path, receiver)
    processes.append(Govhub(config, "run"))
    first = processes[0]
    store = Store(f"sqlite:///{tmp_path / 'govhub.db'}")
    key = store.clients.add("dept", allow=["case.*"])[1]
    store.close()

    receiver.gate.clear()  # hold deliveries so that plenty are in flight or queued at the kill
    session = requests.Session()
    accepted: set[str] = set()
    for n in range(MESSAGES):
        response = session.post(
            f"{first.url}/api/v1/messages",
            json={
                "type": "case.submitted",
                "id": f"crash-{n}",
                "payload": example("case.submitted", case_no=f"K-{n}"),
            },
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 202
        accepted.add(response.json()["id"])
    assert len(accepted) == MESSAGES

    receiver.gate.set()
    wait_for(lambda: len(receiver.accepted()) >= 100, 30, "some deliveries before the kill")
    assert len(first.processes()) >= 4  # the master, two web workers, the delivery process
    first.kill_all()  # kill -9 of every process of govhub run
    assert not any(alive(pid) for pid in first.processes() - {first.pid})
    delivered_before = {r.envelope["id"] for r in receiver.accepted()}
    assert len(delivered_before) < MESSAGES, "the kill came too late to prove anything"

    processes.append(Govhub(config, "run"))
    wait_for(
        lambda: {r.envelope["id"] for r in receiver.accepted()} >= accepted,
        60,
        "every message to arrive",
    )

    arrivals = receiver.accepted()
    unique = {r.headers["Idempotency-Key"] for r in arrivals}
    assert {r.envelope["id"] for r in arrivals} == accepted
    duplicates = len(arrivals) - len(unique)
    with capsys.disabled():
        print(
            f"\n[kill -9] {MESSAGES} accepted, {len(delivered_before)} delivered before the kill, "
            f"all {MESSAGES} delivered after restart; {duplicates} arrived twice "
            "(the receiver drops them by Idempotency-Key)"
        )
    # at-least-once: duplicates are bounded by what was in flight at the kill
    assert duplicates <= 8 * 2
