"""``govhub jobs``: list, runs, log, run, pause, resume, for people and with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from faces.cli import main
from hub.config import load_config
from hub.scheduler.catalog import installed_jobs
from tests.scheduling import hub_with_jobs, make_runner, wait_run


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "govhub.db"}"

[sandbox]
enabled = false

[scheduler]
poll_interval_s = 0.05
lease_s = 1.5

[jobs."hub.retention"]
keep_runs_days = 7
""",
        encoding="utf-8",
    )
    return path


def _cli(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config_file), *args], catch_exceptions=False)


def test_jobs_list_shows_the_builtin_retention_job(config_file: Path) -> None:
    result = _cli(config_file, "jobs", "list")
    assert result.exit_code == 0, result.output
    assert "hub.retention" in result.output
    assert "cron 30 3 * * *" in result.output
    assert "no scheduler is running" in result.output
    listed = json.loads(_cli(config_file, "jobs", "list", "--json").output)
    [retention] = [j for j in listed["items"] if j["id"] == "hub.retention"]
    assert retention["state"] == "scheduled"
    assert retention["next_due"].endswith("03:30:00.000+08:00")


def test_pause_and_resume_from_the_cli_are_stored(config_file: Path) -> None:
    paused = _cli(config_file, "jobs", "pause", "hub.retention", "--reason", "migration")
    assert paused.exit_code == 0, paused.output
    assert "hub.retention: paused" in paused.output
    listed = json.loads(_cli(config_file, "jobs", "list", "--json").output)
    [retention] = [j for j in listed["items"] if j["id"] == "hub.retention"]
    assert retention["pause_reason"] == "migration"
    resumed = json.loads(_cli(config_file, "jobs", "resume", "hub.retention", "--json").output)
    assert resumed["state"] == "scheduled"


def test_run_queues_a_run_that_a_scheduler_runs_and_runs_and_log_show_it(
    config_file: Path,
) -> None:
    queued = _cli(config_file, "jobs", "run", "hub.retention")
    assert queued.exit_code == 0, queued.output
    assert "no scheduler is running" in queued.output
    run_id = queued.output.split("queued run ")[1].split()[0]

    with hub_with_jobs(load_config(config_file), installed_jobs()) as hub:
        runner = make_runner(hub)
        try:
            assert wait_run(hub, run_id).status == "ok"
        finally:
            runner.stop()

    runs = _cli(config_file, "jobs", "runs", "hub.retention")
    assert run_id in runs.output
    assert "manual" in runs.output
    as_json = json.loads(_cli(config_file, "jobs", "runs", "hub.retention", "--json").output)
    assert as_json["items"][0]["status"] == "ok"
    log = _cli(config_file, "jobs", "log", run_id)
    assert "deleted 0 job run(s)" in log.output


def test_run_wait_reports_the_outcome_and_fails_without_a_scheduler(config_file: Path) -> None:
    result = _cli(config_file, "jobs", "run", "hub.retention", "--wait", "--timeout", "0.3")
    assert result.exit_code == 1
    assert "still queued after 0.3 s" in result.output


def test_an_unknown_job_is_an_error_that_lists_the_known_ones(config_file: Path) -> None:
    result = _cli(config_file, "jobs", "run", "hall.pull")
    assert result.exit_code == 1
    assert "no job is called 'hall.pull'" in result.output
    assert "known jobs: " in result.output
    assert "hub.retention" in result.output.split("known jobs: ")[1]
    assert _cli(config_file, "jobs", "log", "nope").exit_code == 1
