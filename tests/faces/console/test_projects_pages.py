"""The console's approval-flow pages: projects by state and light, a project's chart, in Chinese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flows_support import Departments, at, flow_config
from tests.ops_support import RunningConsole, running_console, signed_in

PROPOSAL = [{"code": "project_proposal", "name": "项目申请书", "ref": "sha256:abc"}]


@pytest.fixture
def flows_console(tmp_path: Path) -> Iterator[RunningConsole]:
    with running_console(flow_config(tmp_path), "operator", "viewer") as running:
        hub = running.hub
        late = Departments(hub, "WH-LATE-1")  # 生态环境局 never answers
        late.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
        late.approve_all("project_approval", at("2026-11-03"), except_for=("ecology",))
        done = Departments(hub, "WH-DONE-1")
        done.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
        done.approve_all("project_approval", at("2026-11-05"))
        done.opinion("land_approval", "housing", "reject", at("2026-11-06"), reason="规划条件不符")
        hub.flows.advance(at("2026-11-06", 12))
        hub.flows.evaluate(at("2026-11-12", 12))
        yield running


def test_projects_page_counts_projects_by_state_and_light(flows_console: RunningConsole) -> None:
    page = signed_in(flows_console, "viewer").get("/ops/projects").text
    assert "模块化审批：一门受理、联审联批、限时办结" in page
    assert "WH-LATE-1" in page
    assert "WH-DONE-1" in page
    assert "审批中" in page
    assert "未通过" in page
    assert "各模块按时办结率" in page
    red_running = signed_in(flows_console, "viewer").get("/ops/projects?state=running&light=red")
    assert "WH-LATE-1" in red_running.text
    assert "WH-DONE-1" not in red_running.text


def test_project_page_draws_modules_and_departments_as_a_chart(
    flows_console: RunningConsole,
) -> None:
    page = signed_in(flows_console, "viewer").get("/ops/projects/WH-DONE-1").text
    assert "跨模块、跨部门的办理进度" in page
    chart = page[page.index("<svg") : page.index("</svg>")]
    # 项目立项 and its three departments, 用地审批 and its three: eight bars, two frames
    assert chart.count('class="g-bar') == 8
    assert chart.count('class="g-limit"') == 2
    assert "威海市生态环境局" in chart
    assert "规划条件不符" in page
    assert "不同意" in page
    assert not re.search(r">\s*(approve|reject|running|rejected)\s*<", page)


def test_an_unknown_project_is_404(flows_console: RunningConsole) -> None:
    response = signed_in(flows_console, "viewer").get("/ops/projects/WH-NOPE")
    assert response.status_code == 404
