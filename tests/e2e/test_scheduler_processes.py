"""Real ``govhub worker`` processes on one database: one run per due time; kill -9 and resume.

The test jobs are a third-party plug-in: a module and a ``.dist-info`` with a
``govhub.jobs`` entry point on ``PYTHONPATH``, found the way any installed job is.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.store import MessageFilter, Store
from hub.store.job_tables import job_runs
from tests.support import example, wait_for

pytestmark = pytest.mark.slow

GOVHUB = str(Path(sys.executable).with_name("govhub"))

PLUGIN = '''
from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from hub.scheduler import JobContext, job, seconds


@job("test.tick", every=seconds(1), timeout=seconds(5),
     settings={"out": {"type": "string"}})
def tick(ctx: JobContext) -> None:
    """Writes which process ran which due time."""
    with open(ctx.settings["out"], "a", encoding="utf-8") as out:
        out.write(f"{ctx.due_at.isoformat()} {os.getpid()}\\n")


@job("test.pull", every=seconds(1), timeout=seconds(60),
     settings={"source": {"type": "string"}, "marker": {"type": "string"},
               "hang_after": {"type": "integer"}})
def pull(ctx: JobContext) -> None:
    """Publishes records from a file, moving the cursor after each; hangs once."""
    records = json.loads(Path(ctx.settings["source"]).read_text(encoding="utf-8"))
    marker = Path(ctx.settings["marker"])
    position = ctx.cursor.get() or 0
    for index in range(position, len(records)):
        ctx.count_read()
        ctx.publish("case.submitted", records[index], key=f"record-{index}")
        if index == ctx.settings["hang_after"] and not marker.exists():
            # Published, cursor not moved yet: the worst moment to be killed.
            marker.write_text(str(os.getpid()), encoding="utf-8")
            ctx.sleep(3600)
        ctx.cursor.advance(index + 1)
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A directory holding the test jobs as an installed distribution."""
    site = tmp_path / "plugins"
    info = site / "govhub_testjobs-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "govhub_testjobs.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: govhub-testjobs\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[govhub.jobs]\ntest.tick = govhub_testjobs:tick\ntest.pull = govhub_testjobs:pull\n",
        encoding="utf-8",
    )
    return site


def _config(tmp_path: Path, jobs: str) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "govhub.db"}"

[sandbox]
enabled = false

[dispatcher]
poll_interval_s = 0.2

[scheduler]
poll_interval_s = 0.1
lease_s = 3
{jobs}
""",
        encoding="utf-8",
    )
    return path


class Workers:
    """``govhub worker`` processes started by a test, all stopped at the end."""

    def __init__(self, config: Path, plugin_path: Path, logs: Path) -> None:
        self.config = config
        self.env = {**os.environ, "PYTHONPATH": str(plugin_path)}
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        with (self.logs / f"worker-{len(self.started)}.log").open("wb") as log:
            process = subprocess.Popen(
                [GOVHUB, "--config", str(self.config), "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung worker
                process.kill()
                process.wait()


MakeWorkers = Callable[[str], Workers]


@pytest.fixture
def workers(tmp_path: Path, plugin_path: Path) -> Iterator[MakeWorkers]:
    """Makes a group of workers with the given ``[jobs]`` tables; stops them at the end."""
    made: list[Workers] = []

    def make(jobs: str) -> Workers:
        made.append(Workers(_config(tmp_path, jobs), plugin_path, tmp_path))
        return made[-1]

    yield make
    for group in made:
        group.stop_all()


def _live_nodes(store: Store) -> int:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    return len(store.nodes.nodes(since=since))


def test_two_worker_processes_on_one_database_run_each_due_time_once(
    tmp_path: Path, workers: MakeWorkers
) -> None:
    out = tmp_path / "ticks.txt"
    group = workers(f'[jobs."test.tick"]\nout = "{out}"\n[jobs."test.pull"]\nenabled = false\n')
    first, second = group.start(), group.start()
    store = Store(f"sqlite:///{tmp_path / 'govhub.db'}")
    try:
        wait_for(lambda: _live_nodes(store) == 2, 30, "both schedulers to start")
        out.write_text("", encoding="utf-8")  # count only due times with both running
        wait_for(
            lambda: len(out.read_text(encoding="utf-8").splitlines()) >= 5, 20, "five due times"
        )
        assert first.poll() is None
        assert second.poll() is None
        group.stop_all()
        with store.db.read() as connection:
            runs = connection.execute(
                select(job_runs.c.due_at, job_runs.c.status, job_runs.c.node).where(
                    job_runs.c.job_id == "test.tick"
                )
            ).all()
    finally:
        store.close()
    lines = out.read_text(encoding="utf-8").splitlines()
    due_times = [line.split()[0] for line in lines]
    assert len(due_times) == len(set(due_times)), f"a due time ran twice: {lines}"
    assert {line.split()[1] for line in lines} <= {str(first.pid), str(second.pid)}
    claimed = [r.due_at for r in runs]
    assert len(claimed) == len(set(claimed))
    assert {r.status for r in runs} <= {"ok", "failed"}  # failed: cancelled by the SIGTERM
    seconds_apart = {int((b - a).total_seconds()) for a, b in itertools.pairwise(sorted(claimed))}
    assert seconds_apart == {1}, "no due time was lost between the two processes"


def test_kill_9_during_a_run_then_restart_resumes_without_gaps_or_duplicates(
    tmp_path: Path, workers: MakeWorkers
) -> None:
    records = [example("case.submitted", case_no=f"WH-2026-{n:06d}") for n in range(10)]
    source = tmp_path / "records.json"
    source.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    marker = tmp_path / "hanging"
    group = workers(
        f'[jobs."test.pull"]\nsource = "{source}"\nmarker = "{marker}"\nhang_after = 4\n'
        '[jobs."test.tick"]\nenabled = false\n'
    )
    victim = group.start()
    wait_for(marker.exists, 30, "the job to publish record 4 and hang")
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    store = Store(f"sqlite:///{tmp_path / 'govhub.db'}")
    jobs = store.jobs
    try:
        assert jobs.state("test.pull").cursor == 4  # records 0..4 published, 0..3 counted
        published_before = {m.envelope.client_ref for m in store.messages.search(limit=100).items}
        assert published_before == {f"record-{n}" for n in range(5)}

        group.start()  # the restart
        wait_for(lambda: jobs.state("test.pull").cursor == 10, 30, "the job to catch up")
        group.stop_all()
        messages = store.messages.search(MessageFilter(source="test.pull"), limit=100).items
        runs = store.runs.list_runs("test.pull", limit=1000).items
    finally:
        store.close()

    refs = sorted(m.envelope.client_ref or "" for m in messages)
    assert refs == sorted(f"record-{n}" for n in range(10)), "a record is missing or doubled"
    assert len(messages) == 10
    killed = [r for r in runs if r.node and str(victim.pid) in r.node and r.status == "failed"]
    assert len(killed) == 1
    assert "interrupted" in (killed[0].error or "")
    resumed = next(r for r in runs if r.status == "ok" and r.published)
    assert (resumed.cursor_before, resumed.cursor_after) == (4, 10)
    assert resumed.published == 5  # record-4 was published before the kill: not again
    assert any("record-4 was published before" in line["message"] for line in resumed.log or ())
