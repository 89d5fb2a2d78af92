"""kill -9 of the hub in the middle of a joint review: no opinion lost, no department asked twice.

A child process is the hub: it serves REST, delivers (webhooks to five department
receivers on 127.0.0.1) and advances the flows. While one department's request is held in
flight, two departments post their opinions to it, and it is killed with -9 the instant
the second 202 came back; then it is started again (the same opinion sent again is
answered with its first acceptance). Afterwards every opinion is in the
project, the module completed, and each department got one request per module: a
delivery sent again after the crash carries the same ``Idempotency-Key`` (counted here),
and no second request was ever stored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.config import parse_config
from hub.runtime import Hub
from tests import netguard
from tests.flows_support import DEPARTMENT_DESTINATIONS, Departments, at, flow_raw_config
from tests.support import Receiver, start_receiver, wait_for

pytestmark = pytest.mark.slow

CHILD = """
import json, sys, time
from pathlib import Path

from faces.app import create_app
from faces.serving import serve_in_thread
from hub.config import parse_config
from hub.core.clock import HUB_TZ
import datetime as dt
from hub.runtime import Hub

raw = json.loads(sys.argv[1])
hub = Hub(parse_config(raw, Path(sys.argv[2])), job_specs=[])
server = serve_in_thread(create_app(hub), "127.0.0.1", 0, threads=4)
hub.start_dispatcher()
now = dt.datetime(2026, 11, 3, 12, tzinfo=HUB_TZ)  # the simulated clock of the review
print(server.url, flush=True)
while True:
    hub.flows.advance(now)
    time.sleep(0.02)
"""

PROPOSAL = [{"code": "project_proposal", "name": "项目申请书", "ref": "sha256:abc"}]


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    started = {name: start_receiver() for name in (*DEPARTMENT_DESTINATIONS, "e_license")}
    yield started
    for receiver in started.values():
        receiver.gate.set()
        receiver.server.stop()


def _start(raw: dict[str, object], path: Path) -> tuple[subprocess.Popen[str], str]:
    """The hub in a child process; its URL."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(raw), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    url = child.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    netguard.opened_by_this_run(url)  # the child bound it, for this test
    return child, url


def _opinion(
    url: str, keys: dict[str, str], project: Departments, department: str, when: str
) -> requests.Response:
    """A department's approval, sent over REST to the hub at ``url``."""
    found = project.flow.departments[department]
    return requests.post(
        f"{url}/api/v1/messages",
        json={
            "type": "flow.opinion",
            "id": f"WH-KILL-1/{department}",
            "payload": {
                "project_no": "WH-KILL-1",
                "flow": project.flow.id,
                "module": "project_approval",
                "department": {"code": found.code, "name": found.name},
                "opinion": "approve",
                "opinion_at": when,
            },
        },
        headers={"Authorization": f"Bearer {keys[department]}"},
        timeout=10,
    )


def _requests(receiver: Receiver, module: str) -> list[tuple[str, str]]:
    """(Idempotency-Key, message id) of each review request a department got."""
    return [
        (r.headers["Idempotency-Key"], r.envelope["id"])
        for r in receiver.accepted()
        if r.envelope["type"] == "flow.review_requested"
        and r.envelope["payload"]["module"] == module
    ]


def test_kill_9_mid_review_loses_no_opinion_and_asks_no_department_twice(
    tmp_path: Path, receivers: dict[str, Receiver]
) -> None:
    raw = flow_raw_config(tmp_path, {name: r.url for name, r in receivers.items()})
    path = tmp_path / "govhub.toml"
    departments_hub = Hub(parse_config(raw, path), job_specs=[])
    ecology = receivers["dept_ecology"]
    ecology.gate.clear()  # its system is slow: the request stays in flight
    keys = {
        name: departments_hub.store.clients.add(f"dept-{name}", allow=["flow.*"])[1]
        for name in ("development_reform", "natural_resources", "ecology")
    }
    child, url = _start(raw, path)
    try:
        project = Departments(departments_hub, "WH-KILL-1")
        project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
        for name in ("dept_development_reform", "dept_natural_resources"):
            wait_for(lambda n=name: _requests(receivers[n], "project_approval"), 15, name)
        wait_for(
            lambda: _in_flight(departments_hub, "dept_ecology"), 15, "ecology's request in flight"
        )
        wait_for(lambda: ecology.holding == 1, 15, "ecology's system holding the request")
        # Two opinions accepted by the hub that is then killed the instant the second 202
        # came back, before it could act on it.
        first = _opinion(url, keys, project, "development_reform", "2026-11-03T10:00:00+08:00")
        second = _opinion(url, keys, project, "natural_resources", "2026-11-03T11:00:00+08:00")
        os.kill(child.pid, signal.SIGKILL)
        assert (first.status_code, second.status_code) == (202, 202)
        child.wait(10)
        assert child.stdout is not None
        child.stdout.close()
        ecology.gate.set()  # the held request is answered to a dead hub

        child, url = _start(raw, path)
        wait_for(lambda: _requests(ecology, "project_approval"), 15, "ecology's request")
        again = _opinion(url, keys, project, "natural_resources", "2026-11-03T11:00:00+08:00")
        assert again.status_code == 200  # the same id: the first acceptance, nothing new
        last = _opinion(url, keys, project, "ecology", "2026-11-04T10:00:00+08:00")
        assert last.status_code == 202
        wait_for(
            lambda: all(
                _requests(receivers[d], "land_approval")
                for d in ("dept_natural_resources", "dept_development_reform", "dept_housing")
            ),
            15,
            "the land approval module's requests",
        )
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert child.stdout is not None
        child.stdout.close()

    view = departments_hub.flows.view("WH-KILL-1", at("2026-11-04", 12))
    departments_hub.close()
    assert view is not None
    module = view["modules"][0]
    assert module["status"] == "approved"
    assert sorted((o["department"], o["effect"]) for o in module["opinions"]) == [
        ("development_reform", "answer"),
        ("ecology", "answer"),
        ("natural_resources", "answer"),
    ]
    arrivals: Counter[str] = Counter()
    for name in ("dept_development_reform", "dept_natural_resources", "dept_ecology"):
        got = _requests(receivers[name], "project_approval")
        assert len({key for key, _ in got}) == 1, name  # one delivery...
        assert len({message for _, message in got}) == 1, name  # ...of one request
        arrivals[name] = len(got)
    # At-least-once: the request held when the hub died arrived again after the restart
    # under the same Idempotency-Key (so did any whose outcome the hub had not written).
    assert arrivals["dept_ecology"] >= 2
    duplicates = sum(arrivals.values()) - len(arrivals)
    assert 1 <= duplicates <= len(arrivals)
    print(f"review request arrivals per department: {dict(arrivals)}; duplicates {duplicates}")


def _in_flight(hub: Hub, destination: str) -> bool:
    from hub.store import MessageFilter

    page = hub.store.messages.search(
        MessageFilter(type="flow.review_requested", destination=destination), limit=10
    )
    for item in page.items:
        view = hub.store.messages.get(item.envelope.id)
        if view is not None and any(
            d.destination == destination and d.status == "inflight" for d in view.deliveries
        ):
            return True
    return False
