"""The ops console's view of the jobs (``govhub_jobs``), run-ended events, and "late" jobs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from faces.app import create_app
from faces.console.jobs import JOBS_EXTENSION
from faces.console.scheduler import ConsoleJobs
from hub.events import RunEnded
from hub.scheduler import JobContext, seconds
from tests.scheduling import (
    T0,
    Probe,
    hub_with_jobs,
    make_runner,
    probe_job,
    scheduler_config,
    wait_run,
)


def test_console_view_shows_scheduled_jobs_runs_and_logs_and_acts_without_double_audit(
    tmp_path: Path,
) -> None:
    def logs(ctx: JobContext) -> None:
        ctx.count_read(3)
        ctx.log.warning("record 7 has no applicant")

    specs = [
        probe_job(Probe(body=logs), "test.probe"),
        probe_job(Probe(), "test.off"),
        probe_job(Probe(), "hall.pull_applications", adapter="provincial_hall"),
    ]
    config = scheduler_config(tmp_path, jobs={"test.off": {"enabled": False}})
    with hub_with_jobs(config, specs) as hub:
        view = create_app(hub).extensions[JOBS_EXTENSION]
        assert isinstance(view, ConsoleJobs)
        assert [job.id for job in view.jobs()] == ["test.probe"]
        assert view.job("test.off") is None
        assert view.heartbeat_age_s() is None  # no scheduler in this process

        runner = make_runner(hub)
        try:
            run_id = view.run_now("test.probe", actor="wang")
            assert run_id is not None
            wait_run(hub, run_id)
            run = view.run(run_id)
            view.pause("test.probe", actor="wang")
            paused = view.job("test.probe")
            view.resume("test.probe", actor="wang")
            listed = view.runs("test.probe")
        finally:
            runner.stop()
        audit = [a["action"] for a in hub.store.audit.trail()]
    assert run is not None
    assert run.outcome == "ok"
    assert not run.failed
    assert run.trigger == "manual"
    assert run.counts == {"read": 3, "published": 0, "failed": 0}
    assert run.log[-1].level == "WARNING"
    assert run.log[-1].message == "record 7 has no applicant"
    assert run.duration_s is not None
    assert paused is not None
    assert paused.paused
    assert paused.next_due is None
    assert paused.last_run is not None
    assert paused.last_run.id == run_id
    assert [r.id for r in listed] == [run_id]
    assert audit == []  # the console writes the audit trail itself


def test_a_job_is_late_when_a_due_time_passed_unclaimed(tmp_path: Path) -> None:
    spec = probe_job(Probe(), every=seconds(600))
    clock_now = {"at": T0}
    with hub_with_jobs(scheduler_config(tmp_path), [spec]) as hub:
        hub.jobs.clock = lambda: clock_now["at"]
        assert not hub.jobs.late("test.probe")  # never ran: nothing to be late against
        hub.jobs.store.claim("test.probe", T0, node="n", now=T0, status="skipped")
        clock_now["at"] = T0 + dt.timedelta(minutes=10, seconds=30)  # within the grace
        assert not hub.jobs.late("test.probe")
        clock_now["at"] = T0 + dt.timedelta(minutes=12)
        assert hub.jobs.late("test.probe")
        assert hub.jobs.describe()[0]["late"] is True
        hub.jobs.pause("test.probe", actor="ops")
        assert not hub.jobs.late("test.probe")


def test_every_run_that_ends_is_told_with_its_outcome(tmp_path: Path) -> None:
    attempts: list[int] = []

    def second_one_hangs(ctx: JobContext) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("bad record")
        if len(attempts) == 2:
            while True:
                ctx.sleep(0.02)

    spec = probe_job(Probe(body=second_one_hangs), timeout=seconds(0.2))
    heard: list[tuple[str, str, float]] = []
    with hub_with_jobs(scheduler_config(tmp_path), [spec]) as hub:
        runner = make_runner(hub)
        hub.events.subscribe(
            RunEnded, lambda ended: heard.append((ended.job_id, ended.outcome, ended.duration_s))
        )
        try:
            for _ in range(3):
                wait_run(hub, hub.jobs.request_run("test.probe", actor="t").id)
        finally:
            runner.stop()
    assert [(job, outcome) for job, outcome, _ in heard] == [
        ("test.probe", "failed"),
        ("test.probe", "timed_out"),
        ("test.probe", "ok"),
    ]
    assert heard[1][2] >= 0.2
