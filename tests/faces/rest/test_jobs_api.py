"""``/api/v1/jobs``: list, runs, run now, pause, resume: operators only, all in the OpenAPI spec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.scheduler import JobContext, minutes
from tests.scheduling import Probe, probe_job, scheduler_config, serving_hub, wait_run
from tests.support import RunningHub, wait_for


def _counting(ctx: JobContext) -> None:
    ctx.count_read(2)
    ctx.log.info("read two records")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    specs = [
        probe_job(Probe(body=_counting), "test.probe", every=minutes(5)),
        probe_job(Probe(), "test.off"),
        probe_job(Probe(), "hall.pull_applications", adapter="provincial_hall"),
    ]
    config = scheduler_config(tmp_path, jobs={"test.off": {"enabled": False}})
    with serving_hub(config, specs, scheduler=True) as running:
        yield running


def _post(hub: RunningHub, key: str | None, path: str, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return hub.session.post(f"{hub.url}{path}", json=body, headers=headers, timeout=10)


def test_list_shows_schedule_state_next_due_and_the_running_scheduler(hub: RunningHub) -> None:
    key = hub.client("ops", allow=(), role="operator")
    response = hub.get(key, "/api/v1/jobs")
    assert response.status_code == 200
    body = response.json()
    jobs = {job["id"]: job for job in body["items"]}
    probe = jobs["test.probe"]
    assert probe["schedule"] == {"kind": "interval", "every_s": 300, "text": "every 5 min"}
    assert probe["timezone"] == "Asia/Shanghai"
    assert probe["misfire"] == "run_once"
    assert probe["state"] == "scheduled"
    assert probe["next_due"].endswith("+08:00")
    assert probe["next_due"][14:16] in {
        "00",
        "05",
        "10",
        "15",
        "20",
        "25",
        "30",
        "35",
        "40",
        "45",
        "50",
        "55",
    }
    assert probe["last_run"] is None
    assert jobs["test.off"]["state"] == "disabled"
    assert jobs["hall.pull_applications"]["state"] == "unavailable"
    assert "provincial_hall" in jobs["hall.pull_applications"]["unavailable_reason"]
    assert [node["node"] for node in body["schedulers"]] == [hub.hub.scheduler.node]  # type: ignore[union-attr]


def test_run_now_runs_on_the_scheduler_and_its_run_and_log_can_be_read(hub: RunningHub) -> None:
    key = hub.client("ops", allow=(), role="operator")
    response = _post(hub, key, "/api/v1/jobs/test.probe/run")
    assert response.status_code == 202
    queued = response.json()
    assert queued["status"] in ("queued", "running", "ok")
    assert queued["trigger"] == "manual"
    assert queued["requested_by"] == "ops"
    assert response.headers["Location"] == f"/api/v1/jobs/test.probe/runs/{queued['id']}"

    finished = wait_run(hub.hub, queued["id"])
    assert finished.status == "ok"
    runs = hub.get(key, "/api/v1/jobs/test.probe/runs").json()
    assert [run["id"] for run in runs["items"]] == [queued["id"]]
    assert runs["items"][0]["counts"] == {"read": 2, "published": 0, "failed": 0}
    assert "log" not in runs["items"][0]
    detail = hub.get(key, f"/api/v1/jobs/test.probe/runs/{queued['id']}").json()
    assert [line["message"] for line in detail["log"]][-1] == "read two records"
    listed = hub.get(key, "/api/v1/jobs/test.probe").json()
    assert listed["last_run"]["id"] == queued["id"]
    assert listed["last_run"]["status"] == "ok"


def test_pause_and_resume_change_the_state_and_are_audited(hub: RunningHub) -> None:
    key = hub.client("ops", allow=(), role="operator")
    paused = _post(hub, key, "/api/v1/jobs/test.probe/pause", {"reason": "hall maintenance"})
    assert paused.status_code == 200
    assert paused.json()["state"] == "paused"
    assert paused.json()["paused_by"] == "ops"
    assert paused.json()["next_due"] is None
    resumed = _post(hub, key, "/api/v1/jobs/test.probe/resume")
    assert resumed.status_code == 200
    assert resumed.json()["state"] == "scheduled"
    actions = [a["action"] for a in hub.hub.store.audit.trail()]
    assert "job.pause" in actions
    assert "job.resume" in actions


def test_non_operators_and_anonymous_callers_are_refused(hub: RunningHub) -> None:
    client = hub.client("dept")
    assert hub.get(None, "/api/v1/jobs").status_code == 401
    assert hub.get(client, "/api/v1/jobs").status_code == 403
    assert hub.get(client, "/api/v1/jobs/test.probe/runs").status_code == 403
    for action in ("run", "pause", "resume"):
        response = _post(hub, client, f"/api/v1/jobs/test.probe/{action}")
        assert response.status_code == 403
        assert response.headers["Content-Type"] == "application/problem+json"
    assert hub.hub.jobs.runs("test.probe").items == []


def test_unknown_jobs_bad_parameters_and_unavailable_jobs_get_problems(hub: RunningHub) -> None:
    key = hub.client("ops", allow=(), role="operator")
    missing = _post(hub, key, "/api/v1/jobs/no.such/run")
    assert missing.status_code == 404
    assert "no.such" in missing.json()["detail"]
    assert hub.get(key, "/api/v1/jobs/no.such/runs").status_code == 404
    assert _post(hub, key, "/api/v1/jobs/test.off/run").status_code == 409
    unavailable = _post(hub, key, "/api/v1/jobs/hall.pull_applications/run")
    assert unavailable.status_code == 409
    assert "provincial_hall" in unavailable.json()["detail"]
    bad = hub.get(key, "/api/v1/jobs/test.probe/runs", params={"status": "finished"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["path"] == "status"
    extra = _post(hub, key, "/api/v1/jobs/test.probe/pause", {"why": "x"})
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["path"] == "why"
    assert hub.get(key, "/api/v1/jobs/test.probe/runs/nope").status_code == 404


def test_every_jobs_route_is_in_the_openapi_spec_and_the_spec_is_valid(hub: RunningHub) -> None:
    from openapi_spec_validator import validate

    spec = hub.get(None, "/api/v1/openapi.json").json()
    validate(spec)
    app = _app_routes(hub)
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    for path, method in app:
        assert (path, method) in documented, f"{method} {path} is not in the OpenAPI spec"


def _app_routes(hub: RunningHub) -> set[tuple[str, str]]:
    import re

    from faces.app import create_app

    app = create_app(hub.hub)
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/jobs"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routes.add((path, method))
    assert routes
    return routes


def test_readiness_reports_the_scheduler(hub: RunningHub) -> None:
    response = hub.get(None, "/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["scheduler"]["ok"] is True
    assert checks["scheduler"]["node"] == hub.hub.scheduler.node  # type: ignore[union-attr]


def test_readiness_fails_when_the_scheduler_stops_beating(hub: RunningHub) -> None:
    scheduler = hub.hub.scheduler
    assert scheduler is not None
    scheduler.runner._stopping.set()  # housekeeping ends, as if its thread had died
    scheduler.runner.wake()
    wait_for(lambda: not scheduler.runner.alive, 5, "housekeeping to stop")
    response = hub.get(None, "/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["scheduler"]["ok"] is False
