"""The Jobs page, against the ``JobsView`` interface the scheduler provides."""

from __future__ import annotations

import requests

from faces.console.jobs import JOBS_EXTENSION
from tests.ops_support import RESIDENT_ID, FakeJobs, RunningConsole, signed_in


def test_the_hubs_own_scheduler_is_shown_by_default(console: RunningConsole) -> None:
    viewer = signed_in(console, "viewer")
    page = viewer.get("/ops/jobs").text
    assert "hub.retention" in page  # needs no counterpart, so it runs on every hub
    assert "未配置调度器" not in page
    # jobs whose counterpart is not configured are not shown
    assert viewer.get("/ops/jobs/hall.pull_applications").status_code == 404


def test_without_a_scheduler_the_page_says_so(console: RunningConsole) -> None:
    console.app.extensions.pop(JOBS_EXTENSION)
    viewer = signed_in(console, "viewer")
    assert "未配置调度器" in viewer.get("/ops/jobs").text
    assert "未配置调度器" in viewer.get("/ops/").text
    assert viewer.get("/ops/jobs/hall.pull_applications").status_code == 404
    operator = signed_in(console, "operator")
    assert operator.post("/ops/jobs/hall.pull_applications/run").status_code == 404


def test_jobs_show_schedule_next_due_last_run_and_trouble(console: RunningConsole) -> None:
    console.use_jobs(FakeJobs())
    viewer = signed_in(console, "viewer")
    page = viewer.get("/ops/jobs").text
    assert "hall.pull_applications" in page
    assert "every 1 min" in page  # a view without trigger data: its schedule as it is
    assert "读取 3, 发布 2" in page
    assert "失败" in page  # the failed last run
    assert "已暂停" in page  # credit.publish is paused
    overview = viewer.get("/ops/").text
    assert "hall.pull_applications" in overview  # failed last run
    assert "credit.publish" in overview  # late
    assert "延迟" in overview
    viewer.get("/ops/language/en")
    english = viewer.get("/ops/").text
    assert ">late<" in english
    assert "延迟" not in english
    assert "read 3, published 2" in viewer.get("/ops/jobs").text


def test_run_log_lines_are_shown_with_identifiers_masked(console: RunningConsole) -> None:
    console.use_jobs(FakeJobs())
    viewer = signed_in(console, "viewer")
    job = viewer.get("/ops/jobs/hall.pull_applications").text
    assert "/ops/jobs/hall.pull_applications/runs/run-2" in job
    run = viewer.get("/ops/jobs/hall.pull_applications/runs/run-2").text
    assert "reading since cursor 42" in run
    assert "refused by schema" in run
    assert RESIDENT_ID not in run
    assert "110105********002X" in run
    assert viewer.get("/ops/jobs/credit.publish/runs/run-2").status_code == 404


def test_operator_runs_pauses_and_resumes_with_an_audit_record(console: RunningConsole) -> None:
    jobs = FakeJobs()
    console.use_jobs(jobs)
    operator = signed_in(console, "operator")
    for action, job_id in (
        ("run", "hall.pull_applications"),
        ("pause", "hall.pull_applications"),
        ("resume", "credit.publish"),
    ):
        response = operator.post(f"/ops/jobs/{job_id}/{action}")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/ops/jobs/{job_id}"
    assert jobs.calls == [
        ("run", "hall.pull_applications", "operator"),
        ("pause", "hall.pull_applications", "operator"),
        ("resume", "credit.publish", "operator"),
    ]
    trail = [(r["actor"], r["action"], r["target"]) for r in console.hub.store.audit.trail()]
    assert ("operator", "job.run", "hall.pull_applications") in trail
    assert ("operator", "job.pause", "hall.pull_applications") in trail
    assert ("operator", "job.resume", "credit.publish") in trail
    assert operator.post("/ops/jobs/no.such.job/run").status_code == 404


def test_readyz_checks_the_scheduler_heartbeat(console: RunningConsole) -> None:
    jobs = FakeJobs(heartbeat=2.0, heartbeat_limit_s=30)
    console.use_jobs(jobs)
    ready = requests.get(console.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["checks"]["scheduler"]["ok"] is True

    jobs.heartbeat = 95.0
    stale = requests.get(console.url + "/readyz", timeout=10)
    assert stale.status_code == 503
    check = stale.json()["checks"]["scheduler"]
    assert check["ok"] is False
    assert check["error"] == "last heartbeat 95 s ago (limit 30 s)"

    jobs.heartbeat = None  # the scheduler runs on another node: not this node's concern
    assert "scheduler" not in requests.get(console.url + "/readyz", timeout=10).json()["checks"]


def test_the_real_jobs_are_described_and_scheduled_in_chinese(console: RunningConsole) -> None:
    viewer = signed_in(console, "viewer")
    page = viewer.get("/ops/jobs").text
    assert "删除超过保留期的已送达消息和任务运行记录。" in page
    assert "定时 30 3 * * *" in page
    assert "北京时间" in page
    assert "Delete delivered" not in page
    assert "Asia/Shanghai" not in page
    viewer.get("/ops/language/en")
    english = viewer.get("/ops/jobs").text
    assert "Delete delivered messages and job runs past their age." in english
    assert "cron 30 3 * * *" in english
