"""A case event accepted just before a kill -9 still reaches its case's clock.

A child process accepts case events (as a web worker does) and is killed with -9 the
moment the last acceptance returns, before anything could react to it. The supervision
job, run afterwards by another process, finds every event and builds the records.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hub.scheduler.catalog import installed_jobs
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run

pytestmark = pytest.mark.slow

CHILD = """
import json, os, signal, sys
from pathlib import Path

from hub.config import parse_config
from hub.pipeline.ingest import Submission
from hub.runtime import Hub

database, events = sys.argv[1], json.loads(sys.argv[2])
config = parse_config(
    {"database": {"url": database}, "sandbox": {"enabled": False}},
    Path(database.removeprefix("sqlite:///")).with_name("child.toml"),
)
hub = Hub(config, job_specs=[])
for message_type, payload in events:
    hub.ingest.publish("department", Submission(message_type, payload), channel="rest")
print("accepted", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _events() -> list[tuple[str, dict[str, object]]]:
    from tests.support import example

    return [
        (
            "case.submitted",
            example(
                "case.submitted",
                case_no="WH-CRASH-1",
                item_code="NOT-SYNCED",
                submitted_at="2026-11-02T09:00:00+08:00",
            ),
        ),
        (
            "case.status_changed",
            example(
                "case.status_changed",
                case_no="WH-CRASH-1",
                status="6",
                occurred_at="2026-11-03T09:00:00+08:00",
            ),
        ),
        (
            "case.completed",
            example(
                "case.completed", case_no="WH-CRASH-2", completed_at="2026-11-04T09:00:00+08:00"
            ),
        ),
    ]


def test_events_accepted_before_a_kill_9_are_taken_into_the_clocks(tmp_path: Path) -> None:
    config = scheduler_config(tmp_path)
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(CHILD),
            config.database.url,
            json.dumps(_events(), ensure_ascii=False),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, child.stderr
    assert child.stdout.strip() == "accepted"

    with hub_with_jobs(config, installed_jobs()) as hub:
        assert sorted(hub.store.cases.pending()) == ["WH-CRASH-1", "WH-CRASH-2"]
        runner = make_runner(hub)
        try:
            run = wait_run(hub, hub.jobs.request_run("supervision.evaluate", actor="t").id, 20)
        finally:
            runner.stop()
        first, second = hub.store.cases.get("WH-CRASH-1"), hub.store.cases.get("WH-CRASH-2")
        pending = hub.store.cases.pending()
    assert run.status == "ok", (run.error, run.log)
    assert run.read == 3
    assert first is not None
    assert second is not None
    assert (first.event_count, first.stopped, first.open) == (2, True, True)
    assert (second.open, second.finished_at is not None) == (False, True)
    assert pending == []
