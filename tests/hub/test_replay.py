"""Replaying delivered messages through a running hub to real webhook receivers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.courier.adapter import CourierAdapter
from adapters.webhook.adapter import WebhookAdapter
from hub.core.clock import HUB_TZ, new_id
from hub.core.envelope import Envelope
from hub.pipeline.replay import MessageReplays, ReplayRefused, ReplayRequest, period_bound
from hub.pipeline.routing import Router
from hub.store import MessageFilter, Store
from tests.support import (
    Receiver,
    RunningHub,
    hub_config,
    running_hub,
    wait_for,
    webhook_destination,
)

NOV = dt.datetime(2026, 11, 1, tzinfo=HUB_TZ)
CASES_TO_CIVIL = {"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}


def _config(tmp_path: Path, civil: Receiver, archive: Receiver, *routes: dict[str, Any]) -> Any:
    return hub_config(
        tmp_path,
        destinations=[
            webhook_destination("civil_affairs", civil),
            webhook_destination("archive", archive),
        ],
        routes=list(routes) or [CASES_TO_CIVIL],
    )


@pytest.fixture
def receivers(make_receiver: Any) -> tuple[Receiver, Receiver]:
    return make_receiver(), make_receiver()


@pytest.fixture
def hub(tmp_path: Path, receivers: tuple[Receiver, Receiver]) -> Iterator[RunningHub]:
    with running_hub(_config(tmp_path, *receivers)) as running:
        yield running


def _publish(
    hub: RunningHub, case: str, at: dt.datetime, kind: str = "case.submitted"
) -> tuple[str, str]:
    """A message accepted at ``at`` (as if last month), routed as ingest routes it."""
    envelope = Envelope(
        id=new_id(),
        type=kind,
        source="dept",
        payload={"case_no": case},
        created_at=at,
        correlation_id=case,
    )
    acceptance = hub.hub.store.messages.accept(
        envelope, channel="rest", targets=hub.hub.router.targets(envelope)
    )
    hub.hub.dispatcher.wake()
    return envelope.id, acceptance.deliveries[0][0]


def _replay(hub: RunningHub, request: ReplayRequest) -> Any:
    record = hub.hub.replays.begin(request, actor="ops")
    *_, final = hub.hub.replays.run(record.id, batch=2)
    return final


def _got(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    wait_for(lambda: len(receiver.accepted()) >= count, message=f"{count} deliveries")
    return [got.envelope | {"key": got.headers["Idempotency-Key"]} for got in receiver.accepted()]


def test_replay_by_type_and_period_reaches_a_new_destination_once_each_in_case_order(
    hub: RunningHub, receivers: tuple[Receiver, Receiver]
) -> None:
    civil, archive = receivers
    november = [
        _publish(hub, case, NOV + dt.timedelta(days=day, hours=3))
        for day in range(3)
        for case in ("WH-1", "WH-2", "WH-3")
    ]
    _publish(hub, "WH-1", NOV - dt.timedelta(hours=1))  # 31 October, Beijing time
    _publish(hub, "WH-1", dt.datetime(2026, 12, 1, tzinfo=HUB_TZ))  # 1 December
    _publish(hub, "WH-2", NOV, kind="case.completed")
    originals = {key for _message, key in november}
    _got(civil, 12)

    final = _replay(
        hub,
        ReplayRequest(
            where=MessageFilter(
                type="case.submitted",
                since=period_bound("2026-11-01"),
                until=period_bound("2026-11-30", end=True),
            ),
            to=("archive",),
            reason="the archive went live",
        ),
    )

    assert (final.status, final.total, final.created) == ("done", 9, 9)
    got = _got(archive, 9)
    assert sorted(g["id"] for g in got) == sorted(m for m, _key in november)
    for case in ("WH-1", "WH-2", "WH-3"):
        arrived = [g["id"] for g in got if g["correlation_id"] == case]
        assert arrived == sorted(arrived)  # in acceptance order, case by case
    assert not originals & {g["key"] for g in got}  # new deliveries, new Idempotency-Keys
    wait_for(lambda: hub.message(november[0][0])["status"] == "delivered")
    assert len(civil.accepted()) == 12  # the first destination got nothing again


def test_replay_to_the_current_routes_follows_a_route_added_after_the_fact(
    tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    civil, archive = receivers
    with running_hub(_config(tmp_path, civil, archive)) as before:
        ids = [_publish(before, f"WH-{n}", NOV)[0] for n in range(4)]
        _got(civil, 4)
    archive_route = {"name": "archive", "when": {"type": "case.submitted"}, "to": ["archive"]}
    with running_hub(_config(tmp_path, civil, archive, CASES_TO_CIVIL, archive_route)) as after:
        preview = list(
            after.hub.replays.preview(
                ReplayRequest(
                    where=MessageFilter(type="case.submitted"),
                    to=None,
                    reason="",
                    missing_only=True,
                )
            )
        )[-1]
        assert preview.by_destination == {"archive": 4}

        final = _replay(
            after,
            ReplayRequest(
                where=MessageFilter(type="case.submitted"),
                to=None,
                reason="archive route added",
                missing_only=True,
            ),
        )
        assert final.created == 4
        got = _got(archive, 4)
        view = after.message(ids[0])
    assert sorted(g["id"] for g in got) == ids
    assert len(civil.accepted()) == 4  # it had them: --missing-only left it alone
    [_first, replayed] = view["deliveries"]
    assert replayed["destination"] == "archive"
    assert replayed["route"] == "archive"
    assert replayed["replay_id"] == final.id


def test_replay_of_one_case_sends_only_that_case(
    hub: RunningHub, receivers: tuple[Receiver, Receiver]
) -> None:
    civil, archive = receivers
    wanted = [_publish(hub, "WH-7", NOV + dt.timedelta(minutes=n))[0] for n in range(3)]
    _publish(hub, "WH-8", NOV)
    _got(civil, 4)
    final = _replay(
        hub,
        ReplayRequest(
            where=MessageFilter(correlation_id="WH-7"), to=("civil_affairs",), reason="lost"
        ),
    )
    assert final.created == 3
    got = _got(civil, 7)[4:]
    assert [g["id"] for g in got] == wanted
    assert archive.accepted() == []


# --------------------------------------------------------------------------- refusals


@pytest.fixture
def replays(tmp_path: Path) -> Iterator[MessageReplays]:
    store = Store(f"sqlite:///{tmp_path / 'govhub.db'}")
    store.messages.accept(
        Envelope(
            id=new_id(),
            type="case.submitted",
            source="dept",
            payload={"case_no": "WH-1"},
            created_at=NOV,
            correlation_id="WH-1",
        ),
        channel="rest",
        targets=[("civil_affairs", "cases")],
    )
    yield MessageReplays(
        store,
        lambda: Router([]),
        lambda: {"civil_affairs": WebhookAdapter, "courier": CourierAdapter},
    )
    store.close()


@pytest.mark.parametrize(
    ("request_", "path", "words"),
    [
        (
            ReplayRequest(MessageFilter(type="case.*"), ("archiv",), "r"),
            "to[0]",
            "no destination 'archiv' (configured: civil_affairs, courier)",
        ),
        (
            ReplayRequest(MessageFilter(type="case.*"), ("courier",), "r"),
            "to[0]",
            "destination 'courier' (courier) does not accept case.submitted",
        ),
        (ReplayRequest(MessageFilter(), ("civil_affairs",), "r"), "filter", "name the messages"),
        (
            ReplayRequest(MessageFilter(since=NOV, until=NOV), None, "r"),
            "until",
            "must be after since",
        ),
        (ReplayRequest(MessageFilter(type="case.*"), None, "  "), "reason", "say why"),
    ],
    ids=["unknown destination", "type not accepted", "no filter", "empty period", "no reason"],
)
def test_a_request_that_cannot_be_carried_out_is_refused_whole_and_stores_nothing(
    replays: MessageReplays, request_: ReplayRequest, path: str, words: str
) -> None:
    before = replays.store.audit.trail(limit=100)
    with pytest.raises(ReplayRefused) as refused:
        replays.begin(request_, actor="ops")
    [error] = refused.value.errors
    assert error.path == path
    assert words in error.message
    assert replays.store.replays.recent() == []
    assert replays.store.audit.trail(limit=100) == before


def test_an_empty_filter_is_taken_when_asked_for_on_purpose(replays: MessageReplays) -> None:
    record = replays.begin(
        ReplayRequest(MessageFilter(), ("civil_affairs",), "all of it", everything=True),
        actor="ops",
    )
    assert record.total == 1


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2026-11-01", False, dt.datetime(2026, 11, 1, tzinfo=HUB_TZ)),
        ("2026-11-30", True, dt.datetime(2026, 12, 1, tzinfo=HUB_TZ)),
        ("2026-11-01T08:30:00+08:00", True, dt.datetime(2026, 11, 1, 8, 30, tzinfo=HUB_TZ)),
        ("2026-11-01T00:30:00Z", False, dt.datetime(2026, 11, 1, 8, 30, tzinfo=HUB_TZ)),
    ],
)
def test_period_bounds_are_days_in_beijing_time_or_rfc3339(
    text: str, end: bool, expected: dt.datetime
) -> None:
    assert period_bound(text, end=end) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2026-02-30", "no day of the calendar"),
        ("2026-11-01T08:00:00", "a time with an offset"),
        ("last month", "must be a day"),
        ("20261101", "must be a day"),
    ],
)
def test_a_bad_period_bound_says_what_is_expected(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        period_bound(text)
