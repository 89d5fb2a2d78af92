"""``hub.retention``: old delivered messages and run logs go; undelivered and dead ones stay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select, update

from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.store import Outcome
from hub.store.job_tables import job_runs
from hub.store.tables import attempts, deliveries, messages
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run
from tests.support import example

OLD = dt.timedelta(days=100)


def _message(hub: Hub, case_no: str, *, outcome: str | None, routed: bool = True) -> str:
    """Store a message and take its delivery to ``outcome`` (None: leave it pending)."""
    envelope = Envelope(
        id=new_id(),
        type="case.submitted",
        source="dept",
        payload=example("case.submitted", case_no=case_no),
        created_at=utcnow(),
        correlation_id=case_no,
    )
    targets = [("civil_affairs", "cases")] if routed else []
    hub.store.messages.accept(envelope, channel="rest", targets=targets)
    if outcome is not None:
        [claim] = hub.store.deliveries.claim(
            "w", capacity={"civil_affairs": 1}, lease_s=30, limit=1
        )
        now = utcnow()
        hub.store.deliveries.finish(claim, "w", "worker-1", Outcome(outcome, now, now, error="x"))
    return envelope.id


def _age(hub: Hub, message_ids: list[str], by: dt.timedelta) -> None:
    with hub.store.db.write() as connection:
        connection.execute(
            update(messages).where(messages.c.id.in_(message_ids)).values(updated_at=utcnow() - by)
        )


def _count(hub: Hub, table: object) -> int:
    with hub.store.db.read() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_retention_removes_old_delivered_and_unrouted_messages_only(tmp_path: Path) -> None:
    config = scheduler_config(
        tmp_path,
        destinations=[
            {
                "name": "civil_affairs",
                "adapter": "webhook",
                "url": "http://127.0.0.1:9/h",
                "secret": "s" * 16,
            }
        ],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
        jobs={"hub.retention": {"keep_messages_days": 30, "keep_runs_days": 30}},
    )
    with hub_with_jobs(config, installed_jobs()) as hub:
        old_delivered = _message(hub, "WH-1", outcome="delivered")
        old_dead = _message(hub, "WH-2", outcome="dead")
        new_delivered = _message(hub, "WH-5", outcome="delivered")
        old_pending = _message(hub, "WH-3", outcome=None)  # last: nothing claims it
        old_unrouted = _message(hub, "WH-4", outcome=None, routed=False)
        _age(hub, [old_delivered, old_dead, old_pending, old_unrouted], OLD)
        assert _count(hub, attempts) == 3

        runner = make_runner(hub)
        try:
            run = wait_run(hub, runner.due("hub.retention", utcnow().replace(microsecond=0)) or "")
        finally:
            runner.stop()
        kept = {m.envelope.id for m in hub.store.messages.search(limit=100).items}
        attempts_left = _count(hub, attempts)
        deliveries_left = _count(hub, deliveries)
    assert run.status == "ok", run.error
    assert kept == {old_dead, old_pending, new_delivered}
    assert attempts_left == 2  # the dead one's and the new delivered one's
    assert deliveries_left == 3
    assert any("deleted 2 finished message(s)" in line["message"] for line in run.log or ())


def test_retention_removes_old_runs_but_keeps_each_jobs_last_outcome(tmp_path: Path) -> None:
    config = scheduler_config(tmp_path, jobs={"hub.retention": {"keep_runs_days": 7}})
    with hub_with_jobs(config, installed_jobs()) as hub:
        store = hub.jobs.store
        now = utcnow().replace(microsecond=0)
        store.ensure(["hub.retention"], now)
        old_ids = [
            store.claim(
                "hub.retention", now - dt.timedelta(days=d), node="n", now=now, status="skipped"
            )
            for d in (30, 20, 10)
        ]
        with hub.store.db.write() as connection:
            connection.execute(
                update(job_runs)
                .where(job_runs.c.id.in_(old_ids))
                .values(finished_at=now - dt.timedelta(days=10))
            )
        runner = make_runner(hub)
        try:
            run = wait_run(hub, runner.due("hub.retention", now) or "")
        finally:
            runner.stop()
        left = {r.id for r in hub.jobs.runs("hub.retention", limit=100).items}
    assert run.status == "ok", run.error
    # While it ran, the newest finished run was the 10-day-old one: it stays, as the
    # last outcome of the job must never go blank.
    assert left == {run.id, old_ids[-1]}
    assert any("deleted 2 job run(s)" in line["message"] for line in run.log or ())


def test_the_newest_run_of_a_job_is_kept_however_old(tmp_path: Path) -> None:
    with hub_with_jobs(scheduler_config(tmp_path), installed_jobs()) as hub:
        store = hub.jobs.store
        now = utcnow().replace(microsecond=0)
        first = store.claim("hub.retention", now - OLD, node="n", now=now - OLD, status="skipped")
        last = store.claim(
            "hub.retention", now - OLD / 2, node="n", now=now - OLD / 2, status="skipped"
        )
        deleted = hub.store.runs.purge_runs(now)
        left = {r.id for r in hub.jobs.runs("hub.retention").items}
    assert deleted == 1
    assert first not in left
    assert left == {last}
