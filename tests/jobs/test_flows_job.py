"""``flows.advance``: a run takes opinions in, asks the next module, reads the clocks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.scheduler.runner import JobRunner
from hub.store import MessageFilter
from tests.flows_support import Departments, at, flow_config
from tests.scheduling import FAST, hub_with_jobs, make_runner, wait_run

JOB = "flows.advance"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    config = flow_config(tmp_path)
    config = replace(config, sections={**config.sections, "scheduler": FAST, "jobs": {}})
    with hub_with_jobs(config, installed_jobs()) as running:
        yield running


@pytest.fixture
def runner(hub: Hub) -> Iterator[JobRunner]:
    started = make_runner(hub)
    yield started
    started.stop()


def test_a_run_advances_projects_and_logs_what_it_did(hub: Hub, runner: JobRunner) -> None:
    project = Departments(hub, "WH-JOB-1")
    project.accept("project_approval", at("2026-11-02", 9), [])
    project.approve_all("project_approval", at("2026-11-06"))
    run_id = runner.due(JOB, at("2026-11-06", 12))
    assert run_id is not None
    run = wait_run(hub, run_id, timeout=20)
    assert run.status == "ok", (run.error, run.log)
    assert (run.read, run.published) == (4, 5)  # 用地审批's 3 requests, a result, a licence
    assert any("running project(s) evaluated" in line["message"] for line in run.log or ())
    asked = hub.store.messages.search(
        MessageFilter(type="flow.review_requested", correlation_id="WH-JOB-1"), limit=10
    )
    assert len(asked.items) == 3
