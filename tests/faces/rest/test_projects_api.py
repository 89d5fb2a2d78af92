"""``/api/v1/flows`` and ``/api/v1/projects``: operators read flows, projects and their clocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flows_support import Departments, at, flow_config
from tests.support import RunningHub, running_hub

PROPOSAL = [{"code": "project_proposal", "name": "项目申请书", "ref": "sha256:abc"}]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningHub]:
    with running_hub(flow_config(tmp_path), dispatch=False) as running:
        project = Departments(running.hub, "WH-API-1")
        project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
        project.approve_all("project_approval", at("2026-11-06"))
        running.hub.flows.advance(at("2026-11-06", 12))
        yield running


def test_projects_are_listed_by_state_and_light(served: RunningHub) -> None:
    key = served.client("ops", role="operator")
    listed = served.get(key, "/api/v1/projects?state=running").json()["items"]
    assert [p["project_no"] for p in listed] == ["WH-API-1"]
    assert listed[0]["modules"][0]["status"] == "approved"
    assert served.get(key, "/api/v1/projects?state=approved").json()["items"] == []
    bad = served.get(key, "/api/v1/projects?light=purple")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["path"] == "light"


def test_a_project_shows_its_modules_departments_and_clock(served: RunningHub) -> None:
    key = served.client("ops", role="operator")
    project = served.get(key, "/api/v1/projects/WH-API-1").json()
    assert project["limit_days"] == 28
    assert project["clock"]["due_on"] == "2026-12-10"
    land = project["modules"][1]
    assert (land["status"], land["due_on"]) == ("running", "2026-11-13")
    assert [d["department"] for d in land["departments"]] == [
        "natural_resources",
        "development_reform",
        "housing",
    ]
    assert served.get(key, "/api/v1/projects/WH-NONE").status_code == 404


def test_flows_list_each_modules_on_time_rate(served: RunningHub) -> None:
    key = served.client("ops", role="operator")
    [flow] = served.get(key, "/api/v1/flows").json()["items"]
    assert flow["limit_days"] == 28
    first = flow["modules"][0]
    assert (first["finished"], first["on_time"], first["on_time_rate"]) == (1, 1, 1.0)
    assert flow["modules"][1]["on_time_rate"] is None


def test_only_operators_read_projects(served: RunningHub) -> None:
    key = served.client("dept", allow=["flow.*"])
    assert served.get(key, "/api/v1/projects").status_code == 403
    assert served.get(None, "/api/v1/projects").status_code == 401
