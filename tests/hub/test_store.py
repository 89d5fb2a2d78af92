"""The store: one transaction per message, leases, ordering, migrations."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, text

from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.store import Outcome, Store
from hub.store.clients import AUTH_CACHE_S
from hub.store.database import MIGRATION_GROUP, migration_folders
from hub.store.tables import metadata


def _envelope(case: str | None = "C-1", ref: str | None = None) -> Envelope:
    return Envelope(
        id=new_id(),
        type="case.submitted",
        source="dept",
        payload={"case_no": case},
        created_at=utcnow(),
        client_ref=ref,
        correlation_id=case,
    )


@pytest.fixture
def stores(db_url: str) -> Iterator[Callable[[], Store]]:
    """Open the test database as often as a test needs (each one a "process"); all closed after."""
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(Store(db_url))
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(stores: Callable[[], Store]) -> Store:
    return stores()


def _every_metadata() -> list[MetaData]:
    """The engine's tables and every plugin's (the module each migration entry point names)."""
    found = [metadata]
    for entry in entry_points(group=MIGRATION_GROUP):
        found.append(importlib.import_module(entry.module).metadata)
    return found


def test_migrations_match_the_tables_the_code_uses(store: Store) -> None:
    with store.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), _every_metadata())
    assert differences == []


def test_every_plugin_brings_its_own_branch() -> None:
    names = {entry.name for entry in entry_points(group=MIGRATION_GROUP)}
    assert {"payment", "courier", "console", "jobs"} <= names
    assert all(folder.is_dir() for folder in migration_folders())


def test_a_database_of_the_single_chain_layout_upgrades(db_url: str) -> None:
    # Before plugins had branches, one chain held every table: such a database records a
    # single head ("jobs_0002" was the last) and must keep working without re-creating.
    first = Store(db_url)
    with first.db.write() as connection:  # back to what the single chain had
        config = first.db.alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "hub@jobs_0001")
    first.close()
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('jobs_0002')"))
    engine.dispose()
    again = Store(db_url)
    try:
        with again.db.read() as connection:
            heads = set(
                connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
        assert {"payment_0001", "courier_0001", "console_0001", "payment_reconcile_0001"} <= heads
        assert "jobs_0002" not in heads
        with again.db.engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection), _every_metadata()
            )
        assert differences == []
    finally:
        again.close()


def test_sqlite_runs_in_wal_with_full_sync(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with store.db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        store.close()


def test_migrating_twice_is_harmless(stores: Callable[[], Store]) -> None:
    stores()
    stores()


def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    envelope = _envelope()
    with pytest.raises(Exception, match=r"(?i)not.null"):
        # a delivery without a destination violates the schema after the message row went in
        store.messages.accept(envelope, channel="rest", targets=[(None, "r")])  # type: ignore[list-item]
    assert store.messages.get(envelope.id) is None


def test_claims_follow_acceptance_order_and_hold_back_a_case_in_flight(store: Store) -> None:
    first, second, other = _envelope("A"), _envelope("A"), _envelope("B")
    for envelope in (first, second, other):
        store.messages.accept(envelope, channel="rest", targets=[("dest", "r")])
    claims = store.deliveries.claim("w1", capacity={"dest": 10}, lease_s=30, limit=10)
    assert [c.envelope.id for c in claims] == [first.id, other.id]
    assert store.deliveries.claim("w2", capacity={"dest": 10}, lease_s=30, limit=10) == []
    now = utcnow()
    assert store.deliveries.finish(claims[0], "w1", "t", Outcome("delivered", now, now))
    [next_claim] = store.deliveries.claim("w2", capacity={"dest": 10}, lease_s=30, limit=10)
    assert next_claim.envelope.id == second.id


def test_capacity_limits_claims_per_destination(store: Store) -> None:
    for n in range(5):
        store.messages.accept(
            _envelope(f"case-{n}"), channel="rest", targets=[("a", "r"), ("b", "r")]
        )
    claims = store.deliveries.claim("w", capacity={"a": 2, "b": 0}, lease_s=30, limit=10)
    assert [c.destination for c in claims] == ["a", "a"]


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_finish(store: Store) -> None:
    store.messages.accept(_envelope(), channel="rest", targets=[("dest", "r")])
    [claim] = store.deliveries.claim("dead-worker", capacity={"dest": 1}, lease_s=30, limit=1)
    assert store.deliveries.claim("w2", capacity={"dest": 1}, lease_s=30, limit=1) == []
    with store.db.write() as connection:  # let the lease run out without waiting for it
        connection.execute(text("UPDATE deliveries SET lease_expires_at = '2000-01-01 00:00:00'"))
    [taken] = store.deliveries.claim("w2", capacity={"dest": 1}, lease_s=30, limit=1)
    assert taken.delivery_id == claim.delivery_id
    now = utcnow()
    assert not store.deliveries.finish(claim, "dead-worker", "t", Outcome("delivered", now, now))
    assert store.deliveries.finish(taken, "w2", "t", Outcome("delivered", now, now))


def test_retry_is_persisted_as_next_attempt_at(store: Store, stores: Callable[[], Store]) -> None:
    store.messages.accept(_envelope(), channel="rest", targets=[("dest", "r")])
    [claim] = store.deliveries.claim("w", capacity={"dest": 1}, lease_s=30, limit=1)
    now = utcnow()
    later = now + dt.timedelta(hours=1)
    store.deliveries.finish(
        claim, "w", "t", Outcome("retry", now, now, next_attempt_at=later, error="HTTP 503")
    )
    assert store.deliveries.claim("w", capacity={"dest": 1}, lease_s=30, limit=1) == []
    reopened = stores()  # a restart reads the same schedule
    assert reopened.deliveries.next_due() == later.replace(microsecond=later.microsecond)
    view = reopened.messages.get(claim.envelope.id)
    assert view is not None
    assert view.deliveries[0].status == "pending"
    assert view.deliveries[0].last_error == "HTTP 503"


def test_release_gives_leases_back_without_an_attempt(store: Store) -> None:
    store.messages.accept(_envelope(), channel="rest", targets=[("dest", "r")])
    store.deliveries.claim("w", capacity={"dest": 1}, lease_s=30, limit=1)
    assert store.deliveries.release("w") == 1
    [claim] = store.deliveries.claim("w", capacity={"dest": 1}, lease_s=30, limit=1)
    assert claim.attempts == 0


def test_api_keys_are_stored_hashed(store: Store) -> None:
    _client, key = store.clients.add("dept", allow=["case.*"])
    with store.db.read() as connection:
        stored = connection.execute(text("SELECT key_id, key_hash FROM clients")).one()
    assert key.split("_", 2)[2] not in stored.key_hash
    assert store.clients.authenticate(key) is not None
    assert store.clients.authenticate(key + "x") is None
    assert store.clients.authenticate("ghk_" + stored.key_id + "_guess") is None


def test_database_survives_reopening(stores: Callable[[], Store]) -> None:
    envelope = _envelope()
    first = stores()
    first.messages.accept(envelope, channel="rest", targets=[])
    first.close()
    assert stores().messages.get(envelope.id) is not None


def test_a_revocation_by_another_process_takes_effect_within_the_cache_time(
    store: Store, stores: Callable[[], Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    _client, key = store.clients.add("dept", allow=["case.*"])
    assert store.clients.authenticate(key) is not None
    assert stores().clients.revoke("dept")  # the CLI, in its own process
    clock = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: clock + AUTH_CACHE_S + 0.1)
    assert store.clients.authenticate(key) is None


def test_two_workers_claiming_at_once_never_take_the_same_delivery(
    store: Store, stores: Callable[[], Store]
) -> None:
    for n in range(60):
        store.messages.accept(_envelope(f"case-{n}"), channel="rest", targets=[("dest", "r")])
    other = stores()
    taken: dict[str, list[str]] = {"a": [], "b": []}

    def work(name: str, worker_store: Store) -> None:
        while True:
            claims = worker_store.deliveries.claim(name, capacity={"dest": 5}, lease_s=30, limit=5)
            if not claims:
                return
            taken[name] += [c.delivery_id for c in claims]

    threads = [
        threading.Thread(target=work, args=("a", store)),
        threading.Thread(target=work, args=("b", other)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = taken["a"] + taken["b"]
    assert len(everything) == 60
    assert len(set(everything)) == 60


def test_the_same_nonce_sent_at_once_by_many_threads_is_fresh_once(store: Store) -> None:
    expires = utcnow() + dt.timedelta(minutes=5)
    answers: list[bool] = []
    lock = threading.Lock()

    def remember() -> None:
        fresh = store.nonces.remember("nonce-digest", "dept", expires)
        with lock:
            answers.append(fresh)

    threads = [threading.Thread(target=remember) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] * 11 + [True]
