"""A ``govhub worker`` killed with -9 in the middle of a catalogue sync resumes from its cursor.

5,000 items come from the hall sandbox in pages of 50; the worker is killed once some
pages are stored; the restarted worker goes on from the cursor. Every item ends up stored
once, as version 1: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from adapters.provincial_hall.sandbox import DEFAULT_PASSWORD, ENDPOINT, create_app
from faces.serving import RunningServer, serve_in_thread
from hub.store import Store
from tests.support import wait_for

pytestmark = pytest.mark.slow

GOVHUB = str(Path(sys.executable).with_name("govhub"))
JOB = "hall.sync_items"
ITEMS = 5000
PAGE = 50


@pytest.fixture
def hall() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(items=ITEMS), "127.0.0.1", 0, threads=4)
    # A little slowness per call, so the sync takes long enough to be interrupted.
    requests.post(f"{server.url}/_sandbox/faults", json={"delay_s": 0.03}, timeout=5)
    yield server
    server.stop()


def _config(tmp_path: Path, hall_url: str) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "govhub.db"}"

[sandbox]
enabled = false

[scheduler]
poll_interval_s = 0.1
lease_s = 3

[[destinations]]
name = "provincial_hall"
adapter = "provincial_hall"
url = "{hall_url}{ENDPOINT}"
username = "govhub"
password = "{DEFAULT_PASSWORD}"
timeout_s = 10

[jobs."{JOB}"]
every = "2s"
page_size = {PAGE}

[jobs."hall.pull_applications"]
enabled = false

[jobs."supervision.evaluate"]
enabled = false
""",
        encoding="utf-8",
    )
    return path


class Worker:
    """One ``govhub worker`` process at a time."""

    def __init__(self, config: Path, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        with (self.logs / f"worker-{len(self.started)}.log").open("wb") as log:
            process = subprocess.Popen(
                [GOVHUB, "--config", str(self.config), "worker"],
                env=dict(os.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung worker
                process.kill()
                process.wait()


@pytest.fixture
def worker(tmp_path: Path, hall: RunningServer) -> Iterator[Worker]:
    running = Worker(_config(tmp_path, hall.url), tmp_path)
    yield running
    running.stop_all()


def test_kill_9_mid_sync_resumes_from_the_cursor_with_nothing_lost_or_duplicated(
    tmp_path: Path, worker: Worker
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'govhub.db'}")
    try:
        victim = worker.start()

        def partly_synced() -> bool:
            state = store.jobs.state(JOB)
            return state.cursor is not None and 10 * PAGE <= store.items.count() < ITEMS // 2

        wait_for(partly_synced, 60, "the sync to store some pages")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        stored_at_kill = store.items.count()
        cursor_at_kill = store.jobs.state(JOB).cursor
        assert stored_at_kill < ITEMS

        worker.start()  # the restart
        wait_for(
            lambda: any(r.status == "ok" for r in store.runs.list_runs(JOB, limit=100).items),
            120,
            "a sync run to finish",
        )
        worker.stop_all()
        runs = store.runs.list_runs(JOB, limit=100).items
        count, versions = store.items.count(), store.items.version_count()
        highest = max(v.version for v in store.items.search(limit=200).items)
    finally:
        store.close()

    assert count == ITEMS, "an item is missing"
    assert versions == ITEMS, "an item was stored twice"
    assert highest == 1
    killed = [r for r in runs if r.node and str(victim.pid) in r.node]
    assert [r.status for r in killed] == ["failed"]
    assert "interrupted" in (killed[0].error or "")
    resumed = next(r for r in reversed(runs) if r.status == "ok")
    assert resumed.cursor_before == cursor_at_kill
    # It read what was after the cursor: the rest, plus at most the page stored but not
    # yet passed by the cursor when the process died.
    assert ITEMS - stored_at_kill <= resumed.read <= ITEMS - stored_at_kill + PAGE
