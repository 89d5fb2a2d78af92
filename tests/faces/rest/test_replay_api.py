"""``POST /api/v1/replays`` and ``GET /api/v1/replays/{id}`` against a running hub."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.core.clock import HUB_TZ, new_id
from hub.core.envelope import Envelope
from tests.support import (
    Receiver,
    RunningHub,
    hub_config,
    running_hub,
    start_receiver,
    wait_for,
    webhook_destination,
)

NOV = dt.datetime(2026, 11, 3, 10, tzinfo=HUB_TZ)


@pytest.fixture
def receivers(make_receiver: Any) -> tuple[Receiver, Receiver]:
    return make_receiver(), make_receiver()


def _config(folder: Path, civil: Receiver, archive: Receiver) -> Any:
    return hub_config(
        folder,
        destinations=[
            webhook_destination("civil_affairs", civil),
            webhook_destination("archive", archive),
        ],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    )


@pytest.fixture
def hub(tmp_path: Path, receivers: tuple[Receiver, Receiver]) -> Iterator[RunningHub]:
    with running_hub(_config(tmp_path, *receivers)) as running:
        yield running


@pytest.fixture(scope="module")
def unchanging() -> Iterator[tuple[RunningHub, str]]:
    """One hub for the requests that change nothing (refusals, dry runs), with two
    messages and an operator's key."""
    folder = Path(tempfile.mkdtemp(prefix="govhub-replay-"))
    civil, archive = start_receiver(), start_receiver()
    try:
        with running_hub(_config(folder, civil, archive)) as running:
            _seed(running, ["WH-1", "WH-2"])
            yield running, running.client("ops", allow=["*"], role="operator")
    finally:
        civil.server.stop()
        archive.server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _seed(hub: RunningHub, cases: list[str], at: dt.datetime = NOV) -> list[str]:
    ids = []
    for case in cases:
        envelope = Envelope(
            id=new_id(),
            type="case.submitted",
            source="dept",
            payload={"case_no": case},
            created_at=at,
            correlation_id=case,
        )
        hub.hub.store.messages.accept(envelope, channel="rest", targets=[("civil_affairs", "c")])
        ids.append(envelope.id)
    return ids


def _post(hub: RunningHub, key: str | None, body: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return hub.session.post(f"{hub.url}/api/v1/replays", json=body, headers=headers, timeout=10)


def test_an_operator_replays_by_filter_and_follows_the_replay_until_done(
    hub: RunningHub, receivers: tuple[Receiver, Receiver]
) -> None:
    _civil, archive = receivers
    wanted = _seed(hub, ["WH-1", "WH-2", "WH-1"])
    _seed(hub, ["WH-1"], at=NOV - dt.timedelta(days=10))  # October
    operator = hub.client("ops", allow=["*"], role="operator")

    response = _post(
        hub,
        operator,
        {
            "type": "case.submitted",
            "since": "2026-11-01",
            "until": "2026-11-30",
            "to": ["archive"],
            "reason": "the archive went live",
        },
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["total"], body["target"], body["actor"]) == (3, {"to": ["archive"]}, "ops")
    assert response.headers["Location"] == f"/api/v1/replays/{body['id']}"
    done = wait_for(
        lambda: (
            (r := hub.get(operator, response.headers["Location"]).json())["status"] == "done" and r
        ),
        message="the replay to finish",
    )
    assert (done["scanned"], done["created"]) == (3, 3)
    listed = hub.get(operator, "/api/v1/replays?limit=1").json()
    assert listed == {"items": [done], "next": None}
    wait_for(lambda: len(archive.accepted()) == 3, message="three deliveries to the archive")
    assert sorted(got.envelope["id"] for got in archive.accepted()) == sorted(wanted)
    [entry] = [e for e in hub.hub.store.audit.trail(limit=50) if e["action"] == "messages.replay"]
    assert (entry["actor"], entry["target"], entry["detail"]["count"]) == ("ops", body["id"], 3)


def test_a_dry_run_answers_what_would_go_where_and_changes_nothing(
    unchanging: tuple[RunningHub, str],
) -> None:
    hub, operator = unchanging
    response = _post(hub, operator, {"type": "case.*", "routes": True, "dry_run": True})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dry_run": True,
        "total": 2,
        "scanned": 2,
        "deliveries": 2,
        "by_destination": [{"destination": "civil_affairs", "deliveries": 2, "had_before": 2}],
        "unrouted": 0,
    }
    assert hub.hub.store.replays.recent() == []


def test_only_operators_may_replay_or_look_at_replays(
    unchanging: tuple[RunningHub, str],
) -> None:
    hub, operator = unchanging
    department = hub.client("dept")
    body = {"type": "case.*", "to": ["archive"], "reason": "r"}
    assert _post(hub, department, body).status_code == 403
    assert _post(hub, None, body).status_code == 401
    assert hub.get(department, "/api/v1/replays/01NOPE").status_code == 403
    assert hub.get(department, "/api/v1/replays").status_code == 403
    missing = hub.get(operator, "/api/v1/replays/01NOPE")
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ({"type": "case.*", "reason": "r"}, "to", "say where to"),
        ({"type": "case.*", "to": ["archive"], "routes": True, "reason": "r"}, "to", "one of"),
        ({"to": ["archive"], "reason": "r"}, "filter", "name the messages"),
        ({"to": ["archive"], "all": False, "reason": "r"}, "filter", "all: true"),
        ({"type": "case.*", "to": ["archive"]}, "reason", "say why"),
        ({"type": "case.*", "to": ["archive"], "reason": "   "}, "reason", "say why"),
        ({"since": "2026-11-31", "to": ["archive"], "reason": "r"}, "since", "no day"),
        ({"since": "01/11/2026", "to": ["archive"], "reason": "r"}, "since", "must be a day"),
        (
            {"since": "2026-11-30", "until": "2026-11-01", "to": ["archive"], "reason": "r"},
            "until",
            "must be after since",
        ),
        ({"type": "case.*", "to": ["archive"], "reason": "r", "when": "now"}, "when", "known"),
    ],
    ids=[
        "nowhere",
        "two targets",
        "no filter",
        "all false",
        "no reason",
        "blank reason",
        "no such day",
        "not a date",
        "empty period",
        "unknown field",
    ],
)
def test_a_replay_that_cannot_be_done_is_refused_naming_the_field(
    unchanging: tuple[RunningHub, str], body: dict[str, Any], path: str, words: str
) -> None:
    hub, operator = unchanging
    response = _post(hub, operator, body)
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert words in errors[path], errors
    assert hub.hub.store.replays.recent() == []


def test_a_replay_to_a_destination_the_hub_does_not_have_conflicts_with_its_configuration(
    unchanging: tuple[RunningHub, str],
) -> None:
    hub, operator = unchanging
    response = _post(hub, operator, {"type": "case.*", "to": ["archiv"], "reason": "r"})
    assert response.status_code == 409, response.text
    [error] = response.json()["errors"]
    assert error == {
        "path": "to[0]",
        "message": "no destination 'archiv' (configured: archive, civil_affairs)",
    }
    assert hub.hub.store.replays.recent() == []


def test_the_replay_endpoints_are_in_the_openapi_document(
    unchanging: tuple[RunningHub, str],
) -> None:
    hub, _operator = unchanging
    document = hub.get(None, "/api/v1/openapi.json").json()
    assert {"get", "post"} <= set(document["paths"]["/api/v1/replays"])
    assert "get" in document["paths"]["/api/v1/replays/{replay_id}"]
    request = document["components"]["schemas"]["ReplayMessagesRequest"]
    assert request["properties"]["type"]["pattern"] == "^[^\\u0000]*$"
