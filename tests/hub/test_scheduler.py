"""The scheduler's guarantees: one run per due time, no overlap, timeouts, misfires, pauses."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from hub.runtime import Hub
from hub.scheduler import JobCancelled, JobContext, Misfire, seconds
from hub.scheduler.scheduler import Scheduler
from hub.store import MessageFilter
from tests.scheduling import (
    T0,
    Probe,
    hub_with_jobs,
    make_runner,
    probe_job,
    runs_of,
    scheduler_config,
    services,
    wait_run,
)
from tests.support import wait_for


def _now_ish() -> dt.datetime:
    """A due time just passed (whole seconds), so it is neither early nor late."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_two_runners_on_one_database_run_each_due_time_once(tmp_path: Path) -> None:
    probe = Probe()
    spec = probe_job(probe)
    config = scheduler_config(tmp_path)
    with hub_with_jobs(config, [spec]) as first, hub_with_jobs(config, [spec]) as second:
        runners = [make_runner(first), make_runner(second)]
        try:
            due_times = [_now_ish() - dt.timedelta(seconds=n) for n in range(8, 0, -1)]
            claimed: list[str | None] = []
            for index, due in enumerate(due_times):
                barrier = threading.Barrier(2)

                def race(
                    runner_index: int,
                    due: dt.datetime = due,
                    barrier: threading.Barrier = barrier,
                ) -> None:
                    barrier.wait()
                    claimed.append(runners[runner_index].due("test.probe", due))

                threads = [threading.Thread(target=race, args=(i,)) for i in (0, 1)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                wait_for(lambda n=index + 1: _all_finished(first, n), 10, "the run to end")
            runs = runs_of(first, "test.probe")
        finally:
            for runner in runners:
                runner.stop()
    assert sum(1 for c in claimed if c is not None) == len(due_times)
    assert len(probe.calls) == len(due_times)
    assert sorted(ctx.due_at for ctx in probe.calls) == due_times
    assert [r.status for r in runs] == ["ok"] * len(due_times)
    assert probe.most_at_once == 1


def test_job_never_overlaps_itself_and_waiting_due_times_collapse_into_one(
    tmp_path: Path,
) -> None:
    probe = Probe()
    probe.gate.clear()
    with hub_with_jobs(scheduler_config(tmp_path), [probe_job(probe)]) as hub:
        runner = make_runner(hub)
        try:
            now = _now_ish()
            first = runner.due("test.probe", now - dt.timedelta(seconds=3))
            assert first is not None
            wait_for(probe.entered.is_set, 5, "the first run to start")
            second = runner.due("test.probe", now - dt.timedelta(seconds=2))
            third = runner.due("test.probe", now - dt.timedelta(seconds=1))
            runner.poll()
            assert len(probe.calls) == 1
            assert {r.status for r in runs_of(hub, "test.probe")[1:]} == {"queued"}

            probe.gate.set()
            wait_run(hub, first)
            assert third is not None
            assert second is not None
            assert wait_run(hub, third).status == "ok"
            collapsed = wait_run(hub, second)
        finally:
            runner.stop()
    assert collapsed.status == "skipped"
    assert f"collapsed into run {third}" in (collapsed.error or "")
    assert len(probe.calls) == 2
    assert probe.most_at_once == 1


def test_skip_policy_records_a_due_time_that_finds_the_job_running(tmp_path: Path) -> None:
    probe = Probe()
    probe.gate.clear()
    spec = probe_job(probe, misfire=Misfire.SKIP)
    with hub_with_jobs(scheduler_config(tmp_path), [spec]) as hub:
        runner = make_runner(hub)
        try:
            now = _now_ish()
            first = runner.due("test.probe", now - dt.timedelta(seconds=2))
            wait_for(probe.entered.is_set, 5, "the first run to start")
            second = runner.due("test.probe", now - dt.timedelta(seconds=1))
            assert second is not None
            skipped = wait_run(hub, second)
            probe.gate.set()
            assert first is not None
            assert wait_run(hub, first).status == "ok"
        finally:
            runner.stop()
    assert skipped.status == "skipped"
    assert f"the previous run {first} was still running" in (skipped.error or "")
    assert len(probe.calls) == 1


def test_a_job_running_on_another_node_is_not_started_here(tmp_path: Path) -> None:
    probe = Probe()
    probe.gate.clear()
    spec = probe_job(probe)
    config = scheduler_config(tmp_path)
    with hub_with_jobs(config, [spec]) as first, hub_with_jobs(config, [spec]) as second:
        here, there = make_runner(first), make_runner(second)
        try:
            now = _now_ish()
            running = here.due("test.probe", now - dt.timedelta(seconds=2))
            wait_for(probe.entered.is_set, 5, "the run on the first node to start")
            waiting = there.due("test.probe", now - dt.timedelta(seconds=1))
            assert waiting is not None
            for _ in range(3):
                there.poll()
                here.poll()
            assert len(probe.calls) == 1
            assert second.jobs.run(waiting).status == "queued"  # type: ignore[union-attr]

            probe.gate.set()
            assert running is not None
            wait_run(first, running)
            assert wait_run(second, waiting).status == "ok"
        finally:
            here.stop()
            there.stop()
    assert len(probe.calls) == 2
    assert probe.most_at_once == 1


def test_a_run_past_its_timeout_is_recorded_timed_out_and_the_next_due_time_runs(
    tmp_path: Path,
) -> None:
    probe = Probe()
    attempts: list[int] = []

    def slow_the_first_time(ctx: JobContext) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            while True:  # a long loop that checks for cancellation, as jobs should
                ctx.sleep(0.02)

    probe.body = slow_the_first_time
    spec = probe_job(probe, timeout=seconds(0.3))
    with hub_with_jobs(scheduler_config(tmp_path), [spec]) as hub:
        runner = make_runner(hub)
        try:
            now = _now_ish()
            slow = runner.due("test.probe", now - dt.timedelta(seconds=2))
            assert slow is not None
            timed_out = wait_run(hub, slow)
            wait_for(lambda: not runner.live_runs(), 5, "the cancelled thread to end")
            following = runner.due("test.probe", now - dt.timedelta(seconds=1))
            assert following is not None
            assert wait_run(hub, following).status == "ok"
        finally:
            runner.stop()
    assert timed_out.status == "timed_out"
    assert "timeout of 0.3 s" in (timed_out.error or "")
    assert (timed_out.duration_ms or 0) >= 300


def test_a_thread_that_ignores_cancellation_keeps_the_job_from_starting_again(
    tmp_path: Path,
) -> None:
    release = threading.Event()
    probe = Probe()
    probe.body = lambda ctx: release.wait(30) if len(probe.calls) == 1 else None
    spec = probe_job(probe, timeout=seconds(0.2))
    with hub_with_jobs(scheduler_config(tmp_path), [spec]) as hub:
        runner = make_runner(hub)
        try:
            now = _now_ish()
            stuck = runner.due("test.probe", now - dt.timedelta(seconds=2))
            assert stuck is not None
            assert wait_run(hub, stuck).status == "timed_out"
            waiting = runner.due("test.probe", now - dt.timedelta(seconds=1))
            assert waiting is not None
            for _ in range(3):
                runner.poll()
            assert hub.jobs.run(waiting).status == "queued"  # type: ignore[union-attr]
            assert len(probe.calls) == 1

            release.set()
            assert wait_run(hub, waiting).status == "ok"
            stuck_run = hub.jobs.run(stuck)
        finally:
            release.set()
            runner.stop()
    assert stuck_run is not None
    assert stuck_run.status == "timed_out"
    assert any("ended" in line["message"] for line in stuck_run.log or ())
    assert probe.most_at_once == 1


def test_run_once_policy_runs_a_late_due_time(tmp_path: Path) -> None:
    probe = Probe()
    with hub_with_jobs(scheduler_config(tmp_path), [probe_job(probe)]) as hub:
        runner = make_runner(hub)
        try:
            late = _now_ish() - dt.timedelta(hours=3)
            run = wait_run(hub, runner.due("test.probe", late) or "")
        finally:
            runner.stop()
    assert run.status == "ok"
    assert run.due_at == late
    assert any("after its due time" in line["message"] for line in run.log or ())


def test_skip_policy_records_a_late_due_time_without_running_it(tmp_path: Path) -> None:
    probe = Probe()
    spec = probe_job(probe, misfire=Misfire.SKIP)
    with hub_with_jobs(scheduler_config(tmp_path), [spec]) as hub:
        runner = make_runner(hub)
        try:
            run_id = runner.due("test.probe", _now_ish() - dt.timedelta(hours=3))
            run = hub.jobs.run(run_id or "")
        finally:
            runner.stop()
    assert run is not None
    assert run.status == "skipped"
    assert "misfire policy: skip" in (run.error or "")
    assert probe.calls == []


@pytest.mark.parametrize(
    ("misfire", "expected"), [(Misfire.RUN_ONCE, "ok"), (Misfire.SKIP, "skipped")]
)
def test_after_downtime_the_latest_missed_due_time_is_handled_once_by_its_policy(
    tmp_path: Path, misfire: Misfire, expected: str
) -> None:
    probe = Probe()
    spec = probe_job(probe, every=seconds(600), misfire=misfire)
    config = scheduler_config(tmp_path)
    with hub_with_jobs(config, [spec]) as hub:
        # The hub ran at T0 and then was down for 35 minutes.
        hub.jobs.store.claim("test.probe", T0, node="old", now=T0, status="skipped")
        scheduler = Scheduler(hub.jobs, services(hub), clock=lambda: T0 + dt.timedelta(minutes=35))
        runner = scheduler.runner
        runner.start()
        try:
            claimed = scheduler.catch_up()
            again = scheduler.catch_up()
            assert len(claimed) == 1
            assert again == []
            run = wait_run(hub, claimed[0])
        finally:
            runner.stop()
    assert run.due_at == T0 + dt.timedelta(minutes=30)
    assert run.status == expected
    assert len(probe.calls) == (1 if expected == "ok" else 0)


def test_pause_survives_a_restart_and_resume_runs_the_job_again(tmp_path: Path) -> None:
    probe = Probe()
    spec = probe_job(probe)
    config = scheduler_config(tmp_path)
    with hub_with_jobs(config, [spec]) as hub:
        view = hub.jobs.pause("test.probe", actor="ops", reason="counterpart maintenance")
        assert view["state"] == "paused"
        assert view["next_due"] is None
    with hub_with_jobs(config, [spec]) as restarted:
        runner = make_runner(restarted)
        try:
            assert restarted.jobs.describe()[0]["pause_reason"] == "counterpart maintenance"
            assert runner.due("test.probe", _now_ish() - dt.timedelta(seconds=2)) is None
            manual = restarted.jobs.request_run("test.probe", actor="ops")
            assert wait_run(restarted, manual.id).status == "ok"  # operators may still run it
            restarted.jobs.resume("test.probe", actor="ops")
            resumed = runner.due("test.probe", _now_ish() - dt.timedelta(seconds=1))
            assert resumed is not None
            assert wait_run(restarted, resumed).status == "ok"
            trail = [(a["action"], a["target"]) for a in restarted.store.audit.trail()]
        finally:
            runner.stop()
    assert [ctx.trigger for ctx in probe.calls] == ["manual", "schedule"]
    assert ("job.pause", "test.probe") in trail
    assert ("job.resume", "test.probe") in trail


def test_failed_run_records_the_error_and_keeps_the_cursor_where_it_was(
    tmp_path: Path,
) -> None:
    records = [f"WH-2026-{n:06d}" for n in range(1, 7)]
    fail_at = {"index": 3}

    def publish_cases(ctx: JobContext) -> None:
        position = ctx.cursor.get() or 0
        for index in range(position, len(records)):
            ctx.count_read()
            if index == fail_at["index"]:
                raise ConnectionError("the counterpart hung up on 11010519491231002X")
            ctx.publish(
                "case.submitted",
                {**_case(), "case_no": records[index]},
                key=records[index],
            )
            ctx.cursor.advance(index + 1)

    probe = Probe(body=publish_cases)
    with hub_with_jobs(scheduler_config(tmp_path), [probe_job(probe)]) as hub:
        runner = make_runner(hub)
        try:
            failed = wait_run(hub, runner.due("test.probe", _now_ish()) or "")
            fail_at["index"] = -1
            retried = wait_run(hub, hub.jobs.request_run("test.probe", actor="t").id)
            published = hub.store.messages.search(
                MessageFilter(source="test.probe"), limit=100
            ).items
        finally:
            runner.stop()
    assert failed.status == "failed"
    assert failed.error == "ConnectionError: the counterpart hung up on 110105********002X"
    assert (failed.read, failed.published, failed.cursor_after) == (4, 3, 3)
    assert any("Traceback" in line["message"] for line in failed.log or ())
    assert retried.status == "ok"
    assert (retried.cursor_before, retried.cursor_after, retried.published) == (3, 6, 3)
    assert sorted(m.envelope.client_ref or "" for m in published) == records
    assert {m.envelope.headers["job_run"] for m in published} == {failed.id, retried.id}


def test_publishing_the_same_key_twice_stores_one_message(tmp_path: Path) -> None:
    def twice(ctx: JobContext) -> None:
        first = ctx.publish("case.submitted", _case(), key="WH-2026-000123")
        second = ctx.publish("case.submitted", _case(), key="WH-2026-000123")
        assert first.message_id == second.message_id
        assert not second.created

    with hub_with_jobs(scheduler_config(tmp_path), [probe_job(Probe(body=twice))]) as hub:
        runner = make_runner(hub)
        try:
            run = wait_run(hub, runner.due("test.probe", _now_ish()) or "")
            stored = hub.store.messages.search(MessageFilter(source="test.probe")).items
        finally:
            runner.stop()
    assert run.status == "ok"
    assert run.published == 1
    assert len(stored) == 1
    assert stored[0].envelope.correlation_id == "WH-2026-000123"


def test_a_key_published_again_with_another_body_keeps_the_first_and_says_so(
    tmp_path: Path,
) -> None:
    seen: list[bool] = []

    def changed(ctx: JobContext) -> None:
        first = ctx.publish("case.submitted", _case(), key="WH-2026-000123")
        second = ctx.publish(
            "case.submitted", {**_case(), "item_name": "改过的事项"}, key="WH-2026-000123"
        )
        assert second.message_id == first.message_id
        seen.extend([first.differs, second.created, second.differs])

    with hub_with_jobs(scheduler_config(tmp_path), [probe_job(Probe(body=changed))]) as hub:
        runner = make_runner(hub)
        try:
            run = wait_run(hub, runner.due("test.probe", _now_ish()) or "")
            stored = hub.store.messages.search(MessageFilter(source="test.probe")).items
        finally:
            runner.stop()
    assert run.status == "ok"
    assert seen == [False, False, True]
    assert [m.envelope.payload["item_name"] for m in stored] == [_case()["item_name"]]
    warnings = [line for line in run.log or () if line["level"] == "WARNING"]
    assert [line["message"] for line in warnings] == [
        "test.probe published case.submitted again under the key WH-2026-000123 with another"
        f" body; the first message {stored[0].envelope.id} stands"
    ]


def test_run_log_is_bounded_masked_and_keeps_both_ends(tmp_path: Path) -> None:
    def chatty(ctx: JobContext) -> None:
        for line in range(500):
            ctx.log.info("line %d for 11010519491231002X", line)

    config = scheduler_config(tmp_path, scheduler={"max_log_lines": 20})
    with hub_with_jobs(config, [probe_job(Probe(body=chatty))]) as hub:
        runner = make_runner(hub)
        try:
            run = wait_run(hub, runner.due("test.probe", _now_ish()) or "")
        finally:
            runner.stop()
    messages = [line["message"] for line in run.log or ()]
    assert len(messages) == 21
    assert messages[0].startswith("started on ")
    assert messages[1] == "line 0 for 110105********002X"
    assert any("line(s) dropped" in m for m in messages)
    assert messages[-1] == "line 499 for 110105********002X"
    assert not any("19491231" in m for m in messages)


def test_a_dead_nodes_run_is_recorded_interrupted_and_its_lease_freed(tmp_path: Path) -> None:
    probe = Probe()
    with hub_with_jobs(scheduler_config(tmp_path), [probe_job(probe)]) as hub:
        store = hub.jobs.store
        now = dt.datetime.now(dt.UTC)
        store.ensure(["test.probe"], now)
        store.claim(
            "test.probe", now - dt.timedelta(seconds=5), node="other-host:4242:abcdef", now=now
        )
        started = store.start_next(
            "test.probe",
            node="other-host:4242:abcdef",
            now=now - dt.timedelta(seconds=10),  # its lease ran out 8.5 s ago
            lease_s=1.5,
            skip_when_busy=False,
            late_after_s=None,
        )
        assert started is not None
        runner = make_runner(hub)  # reaps at start
        try:
            interrupted = hub.jobs.run(started.run_id)
            state = store.state("test.probe")
            follow_up = runner.due("test.probe", _now_ish())
            assert wait_run(hub, follow_up or "").status == "ok"
        finally:
            runner.stop()
    assert interrupted is not None
    assert interrupted.status == "failed"
    assert "interrupted" in (interrupted.error or "")
    assert state.lease_owner is None


def test_a_run_that_lost_its_lease_cannot_move_the_cursor(tmp_path: Path) -> None:
    with hub_with_jobs(scheduler_config(tmp_path), [probe_job(Probe())]) as hub:
        store = hub.jobs.store
        now = dt.datetime.now(dt.UTC)
        store.claim("test.probe", now, node="a", now=now)
        started = store.start_next(
            "test.probe", node="a", now=now, lease_s=60, skip_when_busy=False, late_after_s=None
        )
        assert started is not None
        assert store.advance_cursor("test.probe", node="a", run_id=started.run_id, value=1, now=now)
        store.release("test.probe", "a", started.run_id)
        moved = store.advance_cursor(
            "test.probe", node="a", run_id=started.run_id, value=2, now=now
        )
        assert not moved
        assert store.state("test.probe").cursor == 1


def test_stopping_the_hub_cancels_a_running_job_and_records_it(tmp_path: Path) -> None:
    def forever(ctx: JobContext) -> None:
        while True:
            ctx.sleep(0.02)

    probe = Probe(body=forever)
    with hub_with_jobs(scheduler_config(tmp_path), [probe_job(probe)]) as hub:
        runner = make_runner(hub)
        run_id = runner.due("test.probe", _now_ish())
        wait_for(probe.entered.is_set, 5, "the run to start")
        runner.stop()
        run = hub.jobs.run(run_id or "")
        state = hub.jobs.store.state("test.probe")
    assert run is not None
    assert run.status == "failed"
    assert run.error == "cancelled: the hub is stopping"
    assert state.lease_owner is None


def test_apscheduler_fires_interval_due_times_aligned_to_whole_seconds(tmp_path: Path) -> None:
    probe = Probe()
    spec = probe_job(probe, every=seconds(1))
    with hub_with_jobs(scheduler_config(tmp_path), [spec]) as hub:
        hub.start_scheduler()
        assert hub.scheduler is not None
        wait_for(lambda: hub.scheduler is not None and hub.scheduler.alive, 5, "scheduler")
        wait_for(lambda: len(probe.calls) >= 2, 10, "two due times")
        health = hub.scheduler.health()
    due = sorted(ctx.due_at for ctx in probe.calls)[:2]
    assert due[1] - due[0] == dt.timedelta(seconds=1)
    assert all(d.microsecond == 0 for d in due)
    assert str(due[0].tzinfo) == "Asia/Shanghai"
    assert health["ok"] is True


def test_cancellation_is_not_swallowed_by_a_broad_except(tmp_path: Path) -> None:
    swallowed: list[str] = []

    def careless(ctx: JobContext) -> None:
        while True:
            try:
                ctx.sleep(0.02)
            except Exception:  # a job's "skip this record" handler
                swallowed.append("oops")

    spec = probe_job(Probe(body=careless), timeout=seconds(0.2))
    with hub_with_jobs(scheduler_config(tmp_path), [spec]) as hub:
        runner = make_runner(hub)
        try:
            run = wait_run(hub, runner.due("test.probe", _now_ish()) or "")
            wait_for(lambda: not runner.live_runs(), 5, "the thread to end")
        finally:
            runner.stop()
    assert run.status == "timed_out"
    assert swallowed == []
    assert issubclass(JobCancelled, BaseException)
    assert not issubclass(JobCancelled, Exception)


def _all_finished(hub: Hub, count: int) -> bool:
    """True once ``count`` runs of the probe job exist and every one has ended."""
    runs = hub.jobs.runs("test.probe").items
    return len(runs) == count and all(run.finished for run in runs)


def _case() -> dict[str, object]:
    from tests.support import example

    return example("case.submitted")
