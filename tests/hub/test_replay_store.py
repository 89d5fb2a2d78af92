"""Replays in the store, on SQLite and PostgreSQL: keyset batches, case queues, resuming."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import select

from hub.core.clock import HUB_TZ, new_id, utcnow
from hub.core.envelope import Envelope
from hub.store import MessageFilter, Outcome, Store
from hub.store.replays import Targets
from hub.store.tables import deliveries, messages

NOV = dt.datetime(2026, 11, 1, tzinfo=HUB_TZ)
DEC = dt.datetime(2026, 12, 1, tzinfo=HUB_TZ)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store(db_url)
    yield opened
    opened.close()


def _accept(
    store: Store, case: str, at: dt.datetime, kind: str = "case.submitted", to: str = "civil"
) -> str:
    envelope = Envelope(
        id=new_id(),
        type=kind,
        source="dept",
        payload={"case_no": case},
        created_at=at,
        correlation_id=case,
    )
    store.messages.accept(envelope, channel="rest", targets=[(to, "cases")])
    return envelope.id


def _to(*names: str) -> Targets:
    return lambda _envelope: [(name, None) for name in names]


def _rows(store: Store, destination: str) -> list[tuple[str, str, str, str | None, str | None]]:
    with store.db.read() as connection:
        return [
            (row.message_id, row.correlation_id, row.status, row.replay_id, row.replay_of)
            for row in connection.execute(
                select(deliveries)
                .where(deliveries.c.destination == destination)
                .order_by(deliveries.c.seq)
            )
        ]


def _deliver_all(store: Store, destination: str) -> None:
    while claims := store.deliveries.claim("w", capacity={destination: 100}, lease_s=30, limit=100):
        for claim in claims:
            now = utcnow()
            store.deliveries.finish(claim, "w", "t", Outcome("delivered", now, now, 200))


def test_replay_to_a_new_destination_queues_the_matching_messages_per_case_in_order(
    store: Store,
) -> None:
    in_period = [
        _accept(store, case, NOV + dt.timedelta(days=day))
        for day in range(3)
        for case in ("WH-1", "WH-2")
    ]
    _accept(store, "WH-1", NOV - dt.timedelta(seconds=1))  # October: left out
    _accept(store, "WH-1", DEC)  # December: left out
    _accept(store, "WH-2", NOV, kind="case.completed")  # another type: left out
    _deliver_all(store, "civil")
    where = MessageFilter(type="case.submitted", since=NOV, until=DEC)

    record = store.replays.begin(
        where, to=["archive"], missing_only=False, actor="ops", reason="new archive"
    )
    assert record.total == 6
    [final] = list(store.replays.run(record.id, _to("archive")))

    assert (final.status, final.scanned, final.created) == ("done", 6, 6)
    rows = _rows(store, "archive")
    assert [r[0] for r in rows] == in_period  # acceptance order
    # one head per case, the rest waiting behind it
    assert [(r[1], r[2]) for r in rows] == [
        ("WH-1", "pending"),
        ("WH-2", "pending"),
        ("WH-1", "waiting"),
        ("WH-2", "waiting"),
        ("WH-1", "waiting"),
        ("WH-2", "waiting"),
    ]
    assert {r[3] for r in rows} == {record.id}
    assert {r[4] for r in rows} == {None}  # the archive never had them
    view = store.messages.get(in_period[0])
    assert view is not None
    assert view.status == "pending"


def test_a_replay_to_a_destination_that_had_the_message_names_the_delivery_it_repeats(
    store: Store,
) -> None:
    message_id = _accept(store, "WH-1", NOV)
    [(_, _, _, _, _)] = _rows(store, "civil")
    with store.db.read() as connection:
        original = connection.execute(
            select(deliveries.c.id).where(deliveries.c.message_id == message_id)
        ).scalar_one()
    record = store.replays.begin(
        MessageFilter(correlation_id="WH-1"),
        to=["civil"],
        missing_only=False,
        actor="ops",
        reason="lost their copy",
    )
    list(store.replays.run(record.id, _to("civil")))
    view = store.messages.get(message_id)
    assert view is not None
    first, again = view.deliveries
    assert first.id == original
    assert first.replay_id is None
    assert again.id != original  # a new delivery: a new Idempotency-Key
    assert (again.replay_id, again.replay_of, again.status) == (record.id, original, "waiting")
    assert again.to_json()["replay_of"] == original


def test_missing_only_skips_destinations_that_had_the_message(store: Store) -> None:
    _accept(store, "WH-1", NOV)
    _accept(store, "WH-2", NOV, to="archive")
    record = store.replays.begin(
        MessageFilter(type="case.*"), to=None, missing_only=True, actor="ops", reason="fill gaps"
    )
    list(store.replays.run(record.id, _to("civil", "archive")))
    assert [r[1] for r in _rows(store, "civil") if r[3]] == ["WH-2"]
    assert [r[1] for r in _rows(store, "archive") if r[3]] == ["WH-1"]


def test_an_interrupted_replay_goes_on_from_its_cursor_and_sends_nothing_twice(
    store: Store,
) -> None:
    ids = [_accept(store, f"WH-{n % 3}", NOV) for n in range(7)]
    record = store.replays.begin(
        MessageFilter(type="case.submitted"),
        to=["archive"],
        missing_only=False,
        actor="ops",
        reason="r",
    )
    running = store.replays.run(record.id, _to("archive"), batch=3)
    first = next(running)
    running.close()  # Ctrl-C after the first batch
    assert (first.status, first.scanned, first.created) == ("running", 3, 3)

    progress = list(store.replays.run(record.id, _to("archive"), batch=3))
    assert [(p.scanned, p.status) for p in progress] == [(6, "running"), (7, "done")]
    assert [r[0] for r in _rows(store, "archive")] == ids
    # a finished replay run again does nothing
    assert list(store.replays.run(record.id, _to("archive"))) == []
    assert len(_rows(store, "archive")) == 7


def test_messages_accepted_after_the_replay_began_are_not_part_of_it(store: Store) -> None:
    _accept(store, "WH-1", NOV)
    record = store.replays.begin(
        MessageFilter(type="case.submitted"),
        to=["archive"],
        missing_only=False,
        actor="ops",
        reason="r",
    )
    _accept(store, "WH-1", NOV)
    [final] = list(store.replays.run(record.id, _to("archive")))
    assert (final.total, final.scanned, final.created) == (1, 1, 1)


def test_a_preview_counts_what_would_go_where_and_writes_nothing(store: Store) -> None:
    _accept(store, "WH-1", NOV)
    _accept(store, "WH-2", NOV)
    before = (_rows(store, "civil"), store.audit.trail(limit=100))
    counted = list(
        store.replays.preview(
            MessageFilter(type="case.submitted"),
            lambda e: [("civil", None)] if e.correlation_id == "WH-1" else [],
            missing_only=False,
        )
    )
    final = counted[-1].to_json()
    assert final == {
        "total": 2,
        "scanned": 2,
        "deliveries": 1,
        "by_destination": [{"destination": "civil", "deliveries": 1, "had_before": 1}],
        "unrouted": 1,
    }
    assert (_rows(store, "civil"), store.audit.trail(limit=100)) == before
    assert store.replays.recent() == []


def test_a_replay_is_audited_once_with_its_filter_target_count_and_reason(store: Store) -> None:
    for _ in range(4):
        _accept(store, "WH-1", NOV)
    record = store.replays.begin(
        MessageFilter(type="case.submitted", since=NOV, until=DEC),
        to=["archive"],
        missing_only=False,
        actor="ops-wang",
        reason="archive went live",
    )
    list(store.replays.run(record.id, _to("archive"), batch=1))
    [entry] = [e for e in store.audit.trail(limit=100) if e["action"].startswith("messages.")]
    assert entry["action"] == "messages.replay"
    assert entry["actor"] == "ops-wang"
    assert entry["target"] == record.id
    assert entry["detail"] == {
        "filter": {
            "type": "case.submitted",
            "since": "2026-11-01T00:00:00.000+08:00",
            "until": "2026-12-01T00:00:00.000+08:00",
        },
        "target": {"to": ["archive"]},
        "missing_only": False,
        "count": 4,
        "reason": "archive went live",
    }
    assert store.audit.verify().ok


def _bulk_messages(store: Store, count: int, cases: Sequence[str]) -> list[str]:
    """Many stored messages at once (accepting one by one would fsync each)."""
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "type": "case.submitted",
            "source": "dept",
            "client_ref": None,
            "correlation_id": cases[n % len(cases)],
            "channel": "rest",
            "status": "delivered",
            "created_at": now,
            "updated_at": now,
            "payload": {"case_no": cases[n % len(cases)]},
            "headers": {},
        }
        for n in range(count)
    ]
    with store.db.write() as connection:
        for start in range(0, count, 1000):  # within SQLite's limit of bound values
            store.db.dialect.insert_all(connection, messages, rows[start : start + 1000])
    return [row["id"] for row in rows]


def test_five_thousand_messages_are_replayed_in_keyset_batches(store: Store) -> None:
    ids = _bulk_messages(store, 5000, [f"WH-{n}" for n in range(50)])
    record = store.replays.begin(
        MessageFilter(type="case.submitted"),
        to=["archive"],
        missing_only=False,
        actor="ops",
        reason="r",
    )
    started = time.perf_counter()
    progress = list(store.replays.run(record.id, _to("archive"), batch=500))
    took = time.perf_counter() - started

    assert [p.scanned for p in progress] == [500 * n for n in range(1, 11)] + [5000]
    assert progress[-1].status == "done"
    assert progress[-1].created == 5000
    rows = _rows(store, "archive")
    assert [r[0] for r in rows] == ids
    assert sum(r[2] == "pending" for r in rows) == 50  # one head per case
    assert took < 30, f"{took:.1f} s"
