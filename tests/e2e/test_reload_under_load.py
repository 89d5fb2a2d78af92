"""A route change reloaded into a running ``govhub run`` (two web workers and a delivery
process) while wrk posts: nothing lost, nothing twice, every message routed by the old
routes or by the new, never by neither or both; an invalid reload changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from hub.core.clock import utcnow
from hub.store import MessageFilter, Store
from tests.processes import Govhub
from tests.support import Receiver, example, wait_for

pytestmark = pytest.mark.slow

POST_LUA = Path(__file__).resolve().parents[2] / "bench" / "post.lua"
RATE = 150  # messages a second: what the delivery process keeps up with on a busy machine
#: The longest the load runs; it is stopped as soon as it has posted past the reload.
SECONDS = 60


def _write(path: Path, database: str, original: Receiver, archive: Receiver | None) -> None:
    destinations = [("civil_affairs", original)] + ([("archive", archive)] if archive else [])
    tables = [
        f'[[destinations]]\nname = "{name}"\nadapter = "webhook"\nurl = "{r.url}"\n'
        f'secret = "{r.secret}"\nretry = {{ max_attempts = 20, backoff_initial_s = 0.02,'
        " backoff_max_s = 0.1 }\n"
        for name, r in destinations
    ]
    tables.append(
        '[[routes]]\nname = "cases"\nwhen = { type = "case.*" }\nto = ["civil_affairs"]\n'
    )
    if archive:
        tables.append(
            '[[routes]]\nname = "cases to the archive"\nwhen = { type = "case.*" }\n'
            'to = ["archive"]\n'
        )
    path.write_text(
        '[server]\nhost = "127.0.0.1"\nport = 0\nworkers = 2\n\n'
        f'[database]\nurl = "{database}"\n\n[sandbox]\nenabled = false\n\n'
        "[dispatcher]\nworkers = 16\npoll_interval_s = 0.2\nlease_s = 5\n\n" + "\n".join(tables),
        encoding="utf-8",
    )


def _reload(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faces.cli", "--config", str(config), "reload", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _wrk(url: str, key: str) -> subprocess.Popen[str]:
    body = json.dumps(
        {
            "type": "case.submitted",
            "id": "__ID__",
            "payload": example("case.submitted", case_no="__ID__"),
        }
    )
    return subprocess.Popen(
        ["wrk", "-t2", "-c4", f"-d{SECONDS}s", "--timeout", "10s", "-s", str(POST_LUA), url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "GOVHUB_BENCH_BODY": body,
            "GOVHUB_BENCH_KEY": key,
            "GOVHUB_BENCH_RUN": uuid.uuid4().hex[:8],
            "GOVHUB_BENCH_RATE": str(RATE),
            "GOVHUB_BENCH_CONNECTIONS": "4",
        },
    )


def _python_load(url: str, key: str, stop: threading.Event) -> threading.Thread:
    """Where wrk is not installed: one thread posting at about the same rate."""

    def post() -> None:
        session = requests.Session()
        run = uuid.uuid4().hex[:8]
        deadline = time.monotonic() + SECONDS
        n = 0
        while time.monotonic() < deadline and not stop.is_set():
            n += 1
            ref = f"p{run}-{n}"
            session.post(
                url,
                json={
                    "type": "case.submitted",
                    "id": ref,
                    "payload": example("case.submitted", case_no=ref),
                },
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
            stop.wait(1 / RATE)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def started() -> Iterator[list[Govhub]]:
    running: list[Govhub] = []
    yield running
    for process in running:
        process.stop()


def _every_message(store: Store, where: MessageFilter) -> list[tuple[str, dt.datetime]]:
    found: list[tuple[str, dt.datetime]] = []
    after = None
    while True:
        page = store.messages.search(where, after=after, limit=500)
        found.extend((item.envelope.id, item.envelope.created_at) for item in page.items)
        if page.next is None:
            return found
        after = page.next


def test_a_route_change_reloaded_under_load_loses_and_duplicates_nothing(
    tmp_path: Path, make_receiver: Callable[[], Receiver], started: list[Govhub]
) -> None:
    original, archive = make_receiver(), make_receiver()
    database = f"sqlite:///{tmp_path / 'govhub.db'}"
    config = tmp_path / "govhub.toml"
    _write(config, database, original, None)
    hub = Govhub(config, "run")
    started.append(hub)
    store = Store(database)
    key = store.clients.add("dept", allow=["case.*"])[1]
    since = utcnow()
    wait_for(
        lambda: len(store.generations.processes(since=since)) == 3,
        30,
        "both web workers and the delivery process to follow the configuration",
    )
    endpoint = f"{hub.url}/api/v1/messages"

    def probe(ref: str) -> str:
        # a new connection each time: either web worker may answer
        response = requests.post(
            endpoint,
            json={
                "type": "case.submitted",
                "id": ref,
                "payload": example("case.submitted", case_no=ref),
            },
            headers={"Authorization": f"Bearer {key}", "Connection": "close"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        message_id: str = response.json()["id"]
        return message_id

    stop = threading.Event()
    load = _wrk(endpoint, key) if shutil.which("wrk") else _python_load(endpoint, key, stop)
    wait_for(lambda: len(original.accepted()) >= 100, 30, "the load to be delivered")
    before = [probe(f"before-{n}") for n in range(4)]

    _write(config, database, original, archive)
    reload_started = utcnow()
    reloaded = _reload(config)
    reload_ended = utcnow()
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    rollout = json.loads(reloaded.stdout)["rollout"]
    assert rollout["complete"] is True
    assert sorted(p["kind"] for p in rollout["applied"]) == ["delivery", "web", "web"]
    after = [probe(f"after-{n}") for n in range(10)]

    # the load goes on past the reload, however long the reload took on this machine
    wait_for(
        lambda: (
            store.messages.search(MessageFilter(source="dept", since=reload_ended), limit=50).next
        ),
        60,
        "the load to post past the reload",
    )
    if isinstance(load, subprocess.Popen):
        load.send_signal(signal.SIGINT)  # wrk still prints its report
        output = load.communicate(timeout=30)[0]
        assert "Requests/sec" in output, output
    else:
        stop.set()
        load.join(30)

    # an invalid reload: refused whole, the routes that ran keep running
    config.write_text(config.read_text() + '\n[[routes]]\nname = "x"\nto = ["nowhere"]\n')
    refused = _reload(config)
    assert refused.returncode == 1
    assert "reload refused" in refused.stderr
    assert "routes[2].to[0]" in refused.stderr
    hub.process.send_signal(signal.SIGHUP)  # the same, asked of govhub run's master
    wait_for(
        lambda: any("reload (SIGHUP) refused" in line for line in hub.lines),
        30,
        "the master to refuse the reload",
    )
    still = probe("after-refusal")

    accepted = dict(_every_message(store, MessageFilter(source="dept")))
    wait_for(lambda: not store.deliveries.backlog(), 60, "every delivery to be made")
    routed_new = {m for m, _at in _every_message(store, MessageFilter(destination="archive"))}
    at_original = Counter(r.envelope["id"] for r in original.accepted())
    at_archive = Counter(r.envelope["id"] for r in archive.accepted())
    print(
        f"\n[reload under load] {len(accepted)} accepted, {len(routed_new)} routed the new way;"
        f" reload took {(reload_ended - reload_started).total_seconds():.2f} s"
    )

    # nothing lost, nothing twice: every accepted message reached civil affairs once
    assert set(at_original) == set(accepted)
    assert set(at_original.values()) == {1}
    # the archive got exactly the messages routed to it, once each
    assert set(at_archive) == routed_new
    assert set(at_archive.values()) == {1}
    # routed by the old routes or by the new: before the reload began, the old ...
    old_only = {m for m, at in accepted.items() if at < reload_started}
    assert old_only
    assert not old_only & routed_new
    assert not set(before) & routed_new
    # ... and once it said every process runs it, the new, on either web worker
    new_ones = {m for m, at in accepted.items() if at > reload_ended}
    assert new_ones - set(after) - {still}, "the load ended before the reload: prove nothing"
    assert new_ones <= routed_new
    assert {*after, still} <= routed_new
    store.close()
