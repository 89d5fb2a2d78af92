"""The scheduler's store on SQLite and PostgreSQL: claims, leases and cursors under races.

The same tests run on both backends (PostgreSQL at ``$GOVHUB_TEST_POSTGRES``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``, each test in a database of its
own; skipped when no server answers).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hub.runtime import Hub
from hub.store import Store
from hub.store.job_records import Started
from hub.store.job_runs import Runs
from hub.store.jobs import JobStore
from tests.scheduling import Probe, hub_with_jobs, make_runner, probe_job, scheduler_config
from tests.support import wait_for

POSTGRES = os.environ.get(
    "GOVHUB_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)


def _postgres_database(name: str) -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    url = make_url(POSTGRES)
    dsn = (
        f"host={url.host or '127.0.0.1'} port={url.port or 5432} user={url.username or 'postgres'}"
        f" dbname={url.database or 'postgres'} connect_timeout=3"
    )
    try:
        admin = psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {url.host}:{url.port}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'govhub.db'}"
        return
    yield from _postgres_database(f"govhub_jobs_{os.getpid()}_{threading.get_ident() % 10**6}")


@pytest.fixture
def stores(database_url: str) -> Iterator[Callable[[], JobStore]]:
    """Makes job stores on one database, each with its own engine (like separate nodes)."""
    made: list[Store] = []

    def make() -> JobStore:
        made.append(Store(database_url))
        return made[-1].jobs

    yield make
    for store in made:
        store.close()


def _race(count: int, action: Callable[[int], object]) -> list[object]:
    """Run ``action(i)`` in ``count`` threads released at once; their results."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = action(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_each_due_time_is_claimed_by_exactly_one_of_several_nodes(
    stores: Callable[[], JobStore],
) -> None:
    nodes = [stores() for _ in range(3)]
    nodes[0].ensure(["hall.pull"], NOW)
    for minute in range(5):
        due = NOW + dt.timedelta(minutes=minute)
        claims = _race(
            3, lambda i, due=due: nodes[i].claim("hall.pull", due, node=f"node-{i}", now=NOW)
        )
        assert sum(claim is not None for claim in claims) == 1
    assert len(Runs(nodes[0].db).list_runs("hall.pull").items) == 5


def test_only_one_node_takes_the_lease_and_starts_the_run(stores: Callable[[], JobStore]) -> None:
    nodes = [stores() for _ in range(3)]
    nodes[0].ensure(["hall.pull"], NOW)
    run_id = nodes[0].claim("hall.pull", NOW, node="node-0", now=NOW)
    started = _race(
        3,
        lambda i: nodes[i].start_next(
            "hall.pull",
            node=f"node-{i}",
            now=NOW,
            lease_s=30,
            skip_when_busy=False,
            late_after_s=None,
        ),
    )
    winners = [s for s in started if isinstance(s, Started)]
    assert len(winners) == 1
    assert winners[0].run_id == run_id
    state = nodes[1].state("hall.pull")
    run = Runs(nodes[2].db).get_run(run_id or "")
    assert run is not None
    assert run.status == "running"
    assert state.lease_run_id == run_id
    assert state.lease_owner == run.node


def test_a_busy_job_keeps_its_due_times_queued_or_skips_them(
    stores: Callable[[], JobStore],
) -> None:
    store = stores()
    runs = Runs(store.db)
    store.ensure(["hall.pull"], NOW)
    store.claim("hall.pull", NOW, node="a", now=NOW)
    first = store.start_next(
        "hall.pull", node="a", now=NOW, lease_s=30, skip_when_busy=False, late_after_s=None
    )
    assert first is not None
    later = NOW + dt.timedelta(seconds=10)  # within the 30 s lease
    waiting = store.claim("hall.pull", later, node="b", now=later)
    assert (
        store.start_next(
            "hall.pull", node="b", now=later, lease_s=30, skip_when_busy=False, late_after_s=None
        )
        is None
    )
    assert runs.get_run(waiting or "").status == "queued"  # type: ignore[union-attr]
    assert (
        store.start_next(
            "hall.pull", node="b", now=later, lease_s=30, skip_when_busy=True, late_after_s=60
        )
        is None
    )
    skipped = runs.get_run(waiting or "")
    assert skipped is not None
    assert skipped.status == "skipped"
    assert first.run_id in (skipped.error or "")


def test_an_expired_lease_is_taken_over_and_its_run_recorded_interrupted(
    stores: Callable[[], JobStore],
) -> None:
    dead, alive = stores(), stores()
    dead.ensure(["hall.pull"], NOW)
    dead.claim("hall.pull", NOW, node="far-away:1:aaaaaa", now=NOW)
    crashed = dead.start_next(
        "hall.pull",
        node="far-away:1:aaaaaa",
        now=NOW,
        lease_s=30,
        skip_when_busy=False,
        late_after_s=None,
    )
    assert crashed is not None
    later = NOW + dt.timedelta(minutes=1)
    next_run = alive.claim("hall.pull", later, node="here:2:bbbbbb", now=later)
    took_over = alive.start_next(
        "hall.pull",
        node="here:2:bbbbbb",
        now=later,
        lease_s=30,
        skip_when_busy=False,
        late_after_s=None,
    )
    assert took_over is not None
    assert took_over.run_id == next_run
    interrupted = Runs(alive.db).get_run(crashed.run_id)
    assert interrupted is not None
    assert interrupted.status == "failed"
    assert "far-away:1:aaaaaa" in (interrupted.error or "")


def test_a_lease_renewed_meanwhile_is_not_taken_over(stores: Callable[[], JobStore]) -> None:
    owner, other = stores(), stores()
    owner.ensure(["hall.pull"], NOW)
    owner.claim("hall.pull", NOW, node="far-away:1:aaaaaa", now=NOW)
    owner.start_next(
        "hall.pull",
        node="far-away:1:aaaaaa",
        now=NOW,
        lease_s=30,
        skip_when_busy=False,
        late_after_s=None,
    )
    later = NOW + dt.timedelta(minutes=1)
    assert owner.renew("far-away:1:aaaaaa", ["hall.pull"], now=later, lease_s=30) == {"hall.pull"}
    other.claim("hall.pull", later, node="here:2:bbbbbb", now=later)
    assert (
        other.start_next(
            "hall.pull",
            node="here:2:bbbbbb",
            now=later,
            lease_s=30,
            skip_when_busy=False,
            late_after_s=None,
        )
        is None
    )
    assert other.reap(later) == []


def test_two_runners_share_one_database_and_run_each_due_time_once(
    tmp_path: Path, database_url: str
) -> None:
    probe = Probe()
    spec = probe_job(probe)
    config = scheduler_config(tmp_path, database={"url": database_url})
    with hub_with_jobs(config, [spec]) as first, hub_with_jobs(config, [spec]) as second:
        runners = [make_runner(first), make_runner(second)]
        try:
            base = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=10)
            for offset in range(5):
                due = base + dt.timedelta(seconds=offset)
                _race(2, lambda i, due=due: runners[i].due("test.probe", due))
                wait_for(lambda n=offset + 1: _finished(first, n), 10, "the run to end")
            statuses = [r.status for r in first.jobs.runs("test.probe").items]
        finally:
            for runner in runners:
                runner.stop()
    assert len(probe.calls) == 5
    assert statuses == ["ok"] * 5
    assert probe.most_at_once == 1


def _finished(hub: Hub, count: int) -> bool:
    """True once ``count`` runs of the probe job exist and every one has ended."""
    runs = hub.jobs.runs("test.probe").items
    return len(runs) == count and all(run.finished for run in runs)
