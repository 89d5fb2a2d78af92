"""The console's reads and the discard state, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from faces.console.accounts import UserStore
from faces.console.sessions import LoginThrottle, SessionStore, secret_key
from faces.http.settings import OpsSettings
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.store import DeadLetterFilter, MessageFilter, Outcome, Store

PASSWORD = "correct horse battery staple"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store(db_url)
    yield opened
    opened.close()


def _accept(store: Store, case_no: str, destinations: tuple[str, ...] = ("civil",)) -> str:
    envelope = Envelope(
        id=new_id(),
        type="case.submitted",
        source="dept",
        payload={"case_no": case_no},
        created_at=utcnow(),
        correlation_id=case_no,
    )
    store.messages.accept(envelope, channel="rest", targets=[(d, "r") for d in destinations])
    return envelope.id


def _finish(store: Store, status: str, error: str | None = None) -> None:
    [claim] = store.deliveries.claim("w", capacity={"civil": 1, "credit": 1}, lease_s=30, limit=1)
    now = utcnow()
    outcome = Outcome(
        status,
        now - dt.timedelta(milliseconds=40),
        now,
        error=error,
        next_attempt_at=now - dt.timedelta(seconds=1) if status == "retry" else None,
    )
    assert store.deliveries.finish(claim, "w", "worker-1", outcome)


def test_discard_is_terminal_and_sets_the_message_status(store: Store) -> None:
    first = _accept(store, "C-1")
    _finish(store, "dead", "civil answered HTTP 400: no")
    [delivery] = store.messages.get(first).deliveries  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="reason"):
        store.deliveries.discard([delivery.id], actor="op", reason=" ")
    assert store.deliveries.discard([delivery.id], actor="op", reason="duplicate") == [delivery.id]
    assert store.messages.get(first).status == "discarded"  # type: ignore[union-attr]
    assert store.deliveries.discard([delivery.id], actor="op", reason="again") == []
    assert store.deliveries.replay([delivery.id], actor="op") == []
    [record] = store.audit.about([delivery.id])
    assert (record.actor, record.action, record.detail) == (
        "op",
        "dlq.discard",
        {"reason": "duplicate"},
    )


def test_dead_letters_filter_by_error_text_and_case(store: Store) -> None:
    _accept(store, "C-1")
    _finish(store, "dead", "civil answered HTTP 400: 100%_sure")
    _accept(store, "C-2")
    _finish(store, "dead", "civil answered HTTP 503: down")
    everything = DeadLetterFilter()
    assert everything.empty
    assert store.deliveries.count_dead(everything) == 2
    by_error = DeadLetterFilter(error="100%_")  # LIKE wildcards are taken literally
    assert store.deliveries.count_dead(by_error) == 1
    assert store.deliveries.count_dead(DeadLetterFilter(error="10%")) == 0
    [only] = store.deliveries.dead_letters(DeadLetterFilter(correlation_id="C-2")).items
    assert only.correlation_id == "C-2"
    assert only.message_type == "case.submitted"
    assert len(store.deliveries.dead_letter_ids(DeadLetterFilter(destination="civil"))) == 2
    assert store.stats.dead_letters_by_destination() == {"civil": 2}


def test_message_search_by_any_id_case_status_destination_and_time(store: Store) -> None:
    first = _accept(store, "C-1", ("civil", "credit"))
    second = _accept(store, "C-2")
    delivery_id = store.messages.get(second).deliveries[0].id  # type: ignore[union-attr]
    found = store.messages.search(MessageFilter(any_id=delivery_id)).items
    assert [m.envelope.id for m in found] == [second]
    assert [
        m.envelope.id for m in store.messages.search(MessageFilter(correlation_id="C-1")).items
    ] == [first]
    assert [
        m.envelope.id for m in store.messages.search(MessageFilter(destination="credit")).items
    ] == [first]
    assert len(store.messages.search(MessageFilter(status="pending")).items) == 2
    later = utcnow() + dt.timedelta(minutes=1)
    assert store.messages.search(MessageFilter(since=later)).items == []
    assert len(store.messages.search(MessageFilter(until=later)).items) == 2
    page = store.messages.search(MessageFilter(), limit=1)
    assert page.next == second
    assert [
        m.envelope.id for m in store.messages.search(MessageFilter(), after=page.next).items
    ] == [first]


def test_traffic_series_and_throughput(store: Store) -> None:
    for n in range(3):
        _accept(store, f"C-{n}")
    _finish(store, "delivered")
    _finish(store, "retry", "civil answered HTTP 503")
    _finish(store, "dead", "civil answered HTTP 400")
    hour = store.stats.message_series(dt.timedelta(hours=1), 12)
    assert len(hour.buckets) == 12
    assert hour.total == 3
    assert hour.buckets[-1].counts == {"rest": 3}
    out = store.stats.attempt_series(dt.timedelta(days=1), 24)
    assert out.category_total("delivered") == 1
    assert out.category_total("retry") == 1
    assert out.category_total("dead") == 1
    traffic = store.stats.destination_traffic(dt.timedelta(hours=1))["civil"]
    assert traffic.total == 3
    assert traffic.error_rate == pytest.approx(2 / 3)
    assert traffic.mean_ms == pytest.approx(40, abs=1)
    assert set(store.stats.oldest_pending()) == {"civil"}
    old = store.stats.message_series(
        dt.timedelta(hours=1), 12, now=utcnow() - dt.timedelta(hours=2)
    )
    assert old.total == 0


def test_destination_series_has_throughput_errors_and_latency_per_bucket(store: Store) -> None:
    for n in range(3):
        _accept(store, f"C-{n}")
    _finish(store, "delivered")
    _finish(store, "retry", "civil answered HTTP 503")
    _finish(store, "dead", "civil answered HTTP 400")
    series = store.stats.destination_series(
        dt.timedelta(hours=24), 24, destinations=["civil", "quiet"]
    )
    civil = series["civil"]
    assert len(civil.attempts.buckets) == len(civil.mean_ms) == 24
    assert civil.attempts.buckets[-1].counts == {"delivered": 1, "retry": 1, "dead": 1}
    assert civil.mean_ms[-1] == pytest.approx(40, abs=1)
    assert civil.mean_ms[:-1] == (None,) * 23
    quiet = series["quiet"]
    assert quiet.attempts.total == 0
    assert len(quiet.attempts.buckets) == 24
    assert set(quiet.mean_ms) == {None}


def test_users_sessions_throttle_and_secret_key(store: Store) -> None:
    users = UserStore(store)
    user = users.add("alice", role="operator", password=PASSWORD, actor="t")
    settings = OpsSettings(login_max_failures=2)
    sessions = SessionStore(store, users, settings)
    token = sessions.open(user, "127.0.0.1")
    assert sessions.resolve(token) == user
    sessions.close(token)
    assert sessions.resolve(token) is None
    throttle = LoginThrottle(store, settings)
    throttle.failed("alice", "10.0.0.1")
    assert not throttle.blocked("alice", "10.0.0.2")
    throttle.failed("alice", "10.0.0.2")
    assert throttle.blocked("alice", "10.0.0.3")
    throttle.succeeded("alice")
    assert not throttle.blocked("alice", "10.0.0.3")
    key = secret_key(store, None)
    assert len(key) >= 48
    assert secret_key(store, None) == key
    assert secret_key(store, "configured-key-0123456789") == "configured-key-0123456789"
    records, more = store.audit.recent(action="user.", limit=10)
    assert [r.action for r in records] == ["user.add"]
    assert more is None
