"""``/healthz`` and ``/readyz``: which check failed, and why."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from hub.observability.heartbeats import Heartbeat, heartbeat_check
from tests.support import hub_config, running_hub


def test_readyz_reports_database_and_dispatcher_heartbeat(tmp_path: Path) -> None:
    with running_hub(hub_config(tmp_path)) as running:
        assert requests.get(running.url + "/healthz", timeout=10).json() == {"status": "ok"}
        body = requests.get(running.url + "/readyz", timeout=10).json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True}
    dispatcher = body["checks"]["dispatcher"]
    assert dispatcher["ok"] is True
    assert 0 <= dispatcher["age_s"] < dispatcher["max_age_s"]


def test_stale_dispatcher_heartbeat_makes_the_node_unready(tmp_path: Path) -> None:
    # A dispatcher whose loop stopped turning: started, then its heartbeat left behind.
    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        running.hub.dispatching = True
        running.hub.dispatcher.heartbeat = time.monotonic() - 60
        response = requests.get(running.url + "/readyz", timeout=10)
        running.hub.dispatching = False
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["dispatcher"]["ok"] is False
    assert body["checks"]["dispatcher"]["error"].startswith("last heartbeat 60 s ago")


def test_a_web_only_node_does_not_check_a_dispatcher(tmp_path: Path) -> None:
    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        body = requests.get(running.url + "/readyz", timeout=10).json()
    assert set(body["checks"]) == {"database"}


def test_heartbeat_ages_and_goes_stale() -> None:
    beat = Heartbeat(max_age_s=5)
    assert beat.check() == {
        "ok": False,
        "age_s": None,
        "max_age_s": 5,
        "error": "no heartbeat yet",
    }
    beat.beat()
    assert beat.check()["ok"] is True
    assert heartbeat_check(7.2, 5)["error"] == "last heartbeat 7 s ago (limit 5 s)"
