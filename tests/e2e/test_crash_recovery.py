"""Accepted means durable: ``kill -9`` of ``govhub run`` mid-delivery loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.store import Store
from tests import netguard
from tests.support import Receiver, example, wait_for

MESSAGES = 500


def _write_config(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0

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


class HubProcess:
    """``govhub run`` as a child process; ``url`` read from what it prints."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "faces.cli", "--config", str(config), "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        line = wait_for(
            lambda: next((text for text in self.lines if "listening on" in text), None),
            30,
            "the hub to listen",
        )
        self.url = line.rsplit(" ", 1)[1].strip()
        netguard.opened_by_this_run(self.url)  # the child bound it, for this test

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                self.lines.append(line)
        except ValueError:  # closed by kill()/terminate() while reading: the process is gone
            return

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._close()

    def _close(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()


@pytest.fixture
def processes() -> Iterator[list[HubProcess]]:
    started: list[HubProcess] = []
    yield started
    for process in started:
        process.terminate()


def test_kill_9_while_delivering_then_restart_delivers_every_accepted_message(
    tmp_path: Path,
    receiver: Receiver,
    processes: list[HubProcess],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _write_config(tmp_path, receiver)
    processes.append(HubProcess(config))
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
    first.kill()
    delivered_before = {r.envelope["id"] for r in receiver.accepted()}
    assert len(delivered_before) < MESSAGES, "the kill came too late to prove anything"

    processes.append(HubProcess(config))
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
