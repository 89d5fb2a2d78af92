"""End to end: disclosures posted to a running hub reach the credit platform in batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.credit_platform.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, create_app
from faces.serving import RunningServer, serve_in_thread
from tests.support import RunningHub, example, hub_config, running_hub, wait_for

REJECTED_DECISION = "威市监许字〔2026〕第0002号"
REASON = "许可机关与数据来源单位不一致，请核实"


@pytest.fixture
def platform() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    yield server
    server.stop()


def credit_destination(platform: RunningServer, **extra: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": "credit",
        "adapter": "credit_platform",
        "url": platform.url,
        "app_key": DEFAULT_APP_KEY,
        "app_secret": DEFAULT_APP_SECRET,
        "batch_size": 50,
        "batch_linger_s": 0.5,
        "timeout_s": 5,
        "max_in_flight": 8,
        "retry": {"max_attempts": 50, "backoff_initial_s": 0.05, "backoff_max_s": 0.2},
        "circuit": {"failure_threshold": 3, "open_s": 0.5},
    }
    table.update(extra)
    return table


@pytest.fixture
def hub(tmp_path: Path, platform: RunningServer) -> Iterator[RunningHub]:
    config = hub_config(
        tmp_path,
        destinations=[credit_destination(platform)],
        routes=[{"name": "disclosures", "when": {"type": "credit.*_disclosed"}, "to": ["credit"]}],
    )
    with running_hub(config, dispatch=False) as running:
        yield running


def sandbox(platform: RunningServer, control: str, document: Any = None) -> Any:
    if document is None:
        response = requests.get(f"{platform.url}/_sandbox/{control}", timeout=5)
    else:
        response = requests.post(f"{platform.url}/_sandbox/{control}", json=document, timeout=5)
    response.raise_for_status()
    return response.json()


def post_disclosures(hub: RunningHub, key: str, count: int) -> list[str]:
    ids = []
    for n in range(1, count + 1):
        payload = example("credit.license_disclosed", decision_no=f"威市监许字〔2026〕第{n:04d}号")
        response = hub.post(key, {"type": "credit.license_disclosed", "payload": payload})
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def test_a_record_the_platform_rejects_is_the_only_dead_letter_and_shows_the_reason(
    hub: RunningHub, platform: RunningServer
) -> None:
    sandbox(platform, "rules", {"reject": {REJECTED_DECISION: REASON}})
    key = hub.client("market-supervision", allow=("credit.*",))
    operator = hub.client("ops", allow=(), role="operator")
    first, rejected, third = post_disclosures(hub, key, 3)
    hub.hub.start_dispatcher()  # all three are waiting: they meet in one batch

    for message_id in (first, rejected, third):
        hub.wait_delivered(message_id)
    shown = hub.get(key, f"/api/v1/messages/{rejected}").json()
    assert shown["status"] == "dead"
    [dead] = shown["deliveries"]
    assert dead["attempts"] == 1
    assert REASON in dead["last_error"]
    for message_id in (first, third):
        [delivered] = hub.get(key, f"/api/v1/messages/{message_id}").json()["deliveries"]
        assert delivered["status"] == "delivered"
        assert delivered["attempts"] == 1
    letters = hub.get(operator, "/api/v1/dead-letters").json()["items"]
    assert [(d["id"], REASON in d["last_error"]) for d in letters] == [(dead["id"], True)]

    records = sandbox(platform, "records")
    assert records["batches"] == 1
    assert sorted(r["fields"]["XK_WSH"] for r in records["records"]) == [
        "威市监许字〔2026〕第0001号",
        "威市监许字〔2026〕第0003号",
    ]

    # The department fixes it with the platform; replaying sends only that record.
    sandbox(platform, "rules", {"clear": True})
    replay = hub.session.post(
        f"{hub.url}/api/v1/dead-letters/{dead['id']}/replay",
        headers={"Authorization": f"Bearer {operator}"},
        json={"reason": "platform corrected the authority mapping"},
    )
    assert replay.status_code == 202
    wait_for(lambda: hub.message(rejected)["status"] == "delivered")
    records = sandbox(platform, "records")
    assert records["batches"] == 2
    assert len(records["records"]) == 3
    assert all(len(r["record_ids"]) == 1 for r in records["records"])  # nothing sent twice


def test_a_platform_that_is_down_gets_every_record_once_when_it_returns(
    tmp_path: Path, platform: RunningServer
) -> None:
    config = hub_config(
        tmp_path,
        destinations=[
            credit_destination(platform, circuit={"failure_threshold": 3, "open_s": 1.5})
        ],
        routes=[{"name": "disclosures", "when": {"type": "credit.*_disclosed"}, "to": ["credit"]}],
    )
    with running_hub(config, dispatch=False) as hub:
        _down_then_back(hub, platform)


def _down_then_back(hub: RunningHub, platform: RunningServer) -> None:
    sandbox(platform, "faults", {"down": True})
    key = hub.client("market-supervision", allow=("credit.*",))
    ids = post_disclosures(hub, key, 4)
    hub.hub.start_dispatcher()
    wait_for(
        lambda: hub.hub.dispatcher.circuits()["credit"]["state"] == "open",
        message="the circuit to the credit platform to open",
    )
    operator = hub.client("ops", allow=(), role="operator")
    [shown] = hub.get(operator, "/api/v1/adapters").json()["items"]
    assert (shown["name"], shown["circuit"]["state"]) == ("credit", "open")
    assert all(hub.message(m)["status"] == "pending" for m in ids)

    sandbox(platform, "faults", {})
    for message_id in ids:
        assert hub.wait_delivered(message_id, timeout=20)["status"] == "delivered"
    records = sandbox(platform, "records")["records"]
    assert len(records) == 4
    assert all(len(r["record_ids"]) == 1 for r in records)
    assert hub.hub.dispatcher.circuits()["credit"]["state"] == "closed"
