"""kill -9 of the hub in the middle of a joint review: no opinion lost, no department asked twice.

A child process is the hub: it delivers (webhooks to five department receivers on
127.0.0.1) and advances the flows. The departments answer through another hub process on
the same database. While one department's request is held in flight and two opinions are
in, the child is killed with -9 and started again. Afterwards every opinion is in the
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

from hub.config import parse_config
from hub.runtime import Hub
from tests.flows_support import DEPARTMENT_DESTINATIONS, Departments, at, flow_raw_config
from tests.support import Receiver, start_receiver, wait_for

pytestmark = pytest.mark.slow

CHILD = """
import json, sys, time
from pathlib import Path

from hub.config import parse_config
from hub.core.clock import HUB_TZ
import datetime as dt
from hub.runtime import Hub

raw = json.loads(sys.argv[1])
hub = Hub(parse_config(raw, Path(sys.argv[2])), job_specs=[])
hub.start_dispatcher()
now = dt.datetime(2026, 11, 3, 12, tzinfo=HUB_TZ)  # the simulated clock of the review
print("ready", flush=True)
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


def _start(raw: dict[str, object], path: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(raw), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


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
    child = _start(raw, path)
    try:
        project = Departments(departments_hub, "WH-KILL-1")
        project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
        for name in ("dept_development_reform", "dept_natural_resources"):
            wait_for(lambda n=name: _requests(receivers[n], "project_approval"), 15, name)
        project.opinion("project_approval", "development_reform", "approve", at("2026-11-03"))
        project.opinion("project_approval", "natural_resources", "approve", at("2026-11-03"))
        wait_for(
            lambda: _in_flight(departments_hub, "dept_ecology"), 15, "ecology's request in flight"
        )
        wait_for(lambda: ecology.holding == 1, 15, "ecology's system holding the request")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert child.stdout is not None
        child.stdout.close()
        ecology.gate.set()  # the held request is answered to a dead hub

        child = _start(raw, path)
        wait_for(lambda: _requests(ecology, "project_approval"), 15, "ecology's request")
        project.opinion("project_approval", "ecology", "approve", at("2026-11-04"))
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
