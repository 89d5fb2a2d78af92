"""The citizen card adapter against its sandbox: contract, holders, the change feed."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from adapters.citizen_card.adapter import CitizenCard
from adapters.citizen_card.sandbox import DEFAULT_APP_ID, DEFAULT_APP_SECRET, create_app
from adapters.citizen_card.signing import canonical_query, signature
from adapters.sdk import ConfigurationError
from adapters.sdk.testing import AdapterContract, SandboxClient
from faces.serving import RunningServer, serve_in_thread
from hub.core.identifiers import IdentifierError
from hub.schemas import SchemaRegistry

WANG = "371002199001012029"  # a seeded holder whose card was lost and found again
NOBODY = "11010519491231002X"  # valid, but holds no card here
WHOLE_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


class TestCitizenCardContract(AdapterContract):
    adapter = CitizenCard
    sandbox = create_app

    def settings(self, url: str) -> dict[str, Any]:
        return {"url": url, "app_id": DEFAULT_APP_ID, "app_secret": DEFAULT_APP_SECRET}


@pytest.fixture(scope="module")
def platform() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    yield server
    server.stop()


@pytest.fixture
def controls(platform: RunningServer) -> Iterator[SandboxClient]:
    client = SandboxClient(platform.url)
    client.reset()
    yield client
    client.reset()
    client.close()


@pytest.fixture
def card(platform: RunningServer, controls: SandboxClient) -> Iterator[CitizenCard]:
    adapter = CitizenCard(
        "citizen_card",
        {"url": platform.url, "app_id": DEFAULT_APP_ID, "app_secret": DEFAULT_APP_SECRET},
    )
    yield adapter
    adapter.close()


def set_status(controls: SandboxClient, card_no: str, status: str) -> dict[str, Any]:
    response = controls.session.post(
        f"{controls.url}/_sandbox/cards/{card_no}/status", json={"status": status}, timeout=5
    )
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def test_holder_is_found_by_resident_id(card: CitizenCard) -> None:
    holder = card.holder(WANG)
    assert holder is not None
    assert holder.name == "王秀英"
    assert holder.card_status == "active"
    assert holder.card_no.startswith("3710001")
    assert holder.mobile == "138****6789"


def test_unknown_holder_is_none(card: CitizenCard) -> None:
    assert card.holder(NOBODY) is None


def test_a_malformed_resident_id_is_refused_without_asking(
    card: CitizenCard, controls: SandboxClient
) -> None:
    controls.faults(down=True)
    with pytest.raises(IdentifierError, match="check digit"):
        card.holder(WANG[:-1] + "0")


def test_card_status_follows_changes_made_at_the_platform(
    card: CitizenCard, controls: SandboxClient
) -> None:
    holder = card.holder(WANG)
    assert holder is not None
    set_status(controls, holder.card_no, "frozen")
    status = card.card_status(holder.card_no)
    assert status is not None
    assert status.status == "frozen"
    assert status.holder_name == "王秀英"
    assert status.updated_at is not None
    assert status.updated_at.endswith("+08:00")
    assert card.card_status("999999999999") is None


def test_feed_turns_platform_codes_and_local_times_into_canonical_records(
    card: CitizenCard,
) -> None:
    batch = card.read("status_changes", None, 100)
    assert not batch.more
    assert batch.cursor == str(len(batch.records))
    lost = next(r for r in batch.records if r.payload["status"] == "lost")
    assert lost.type == "citizen_card.status_changed"
    assert lost.payload == {
        "card_no": lost.correlation_id,
        "holder_id_no": WANG,
        "status": "lost",
        "previous_status": "active",
        "changed_at": "2026-03-18T14:20:31+08:00",
    }
    first = batch.records[0]
    assert "previous_status" not in first.payload  # a card's issue has no previous state
    registry = SchemaRegistry()
    assert all(registry.validate(r.type, r.payload).ok for r in batch.records)


def test_a_change_made_after_a_read_is_the_only_record_of_the_next_read(
    card: CitizenCard, controls: SandboxClient
) -> None:
    cursor = card.read("status_changes", None, 100).cursor
    holder = card.holder(WANG)
    assert holder is not None
    made = set_status(controls, holder.card_no, "cancelled")
    batch = card.read("status_changes", cursor, 100)
    assert [r.key for r in batch.records] == [made["change_id"]]
    assert batch.records[0].payload["status"] == "cancelled"
    assert batch.records[0].payload["previous_status"] == "active"
    assert card.read("status_changes", batch.cursor, 100).records == []


def test_an_unmapped_status_code_is_a_configuration_error(
    platform: RunningServer, controls: SandboxClient
) -> None:
    adapter = CitizenCard(
        "citizen_card",
        {
            "url": platform.url,
            "app_id": DEFAULT_APP_ID,
            "app_secret": DEFAULT_APP_SECRET,
            "status_codes": {"1": "active", "2": "lost"},
        },
    )
    holder = adapter.holder(WANG)
    assert holder is not None
    set_status(controls, holder.card_no, "3")
    with pytest.raises(ConfigurationError, match="status code '3'"):
        adapter.read("status_changes", None, 100)
    adapter.close()


def test_a_wrong_secret_is_refused_as_configuration(platform: RunningServer) -> None:
    adapter = CitizenCard(
        "citizen_card",
        {"url": platform.url, "app_id": DEFAULT_APP_ID, "app_secret": "not-the-secret"},
    )
    with pytest.raises(ConfigurationError, match="SIGNATURE_INVALID"):
        adapter.check()
    adapter.close()


def signed_get(platform: RunningServer, path: str, nonce: str, timestamp: int) -> requests.Response:
    query = {"limit": "1"}
    headers = {
        "X-App-Id": DEFAULT_APP_ID,
        "X-Timestamp": str(timestamp),
        "X-Nonce": nonce,
        "X-Signature": signature(
            DEFAULT_APP_SECRET,
            "GET",
            path,
            canonical_query(query.items()),
            str(timestamp),
            nonce,
            b"",
        ),
    }
    return requests.get(f"{platform.url}{path}", params=query, headers=headers, timeout=5)


def test_sandbox_refuses_a_replayed_request_and_a_stale_timestamp(
    platform: RunningServer, controls: SandboxClient
) -> None:
    path = "/api/v1/card-status-changes"
    now = int(time.time())
    assert signed_get(platform, path, "nonce-1", now).status_code == 200
    replayed = signed_get(platform, path, "nonce-1", now)
    assert (replayed.status_code, replayed.json()["code"]) == (401, "NONCE_REUSED")
    stale = signed_get(platform, path, "nonce-2", now - 3600)
    assert (stale.status_code, stale.json()["code"]) == (401, "TIMESTAMP_EXPIRED")


def test_resident_ids_never_reach_the_logs_nor_a_url(
    card: CitizenCard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    card.holder(WANG)
    card.holder(NOBODY)
    card.read("status_changes", None, 100)
    assert WHOLE_RESIDENT_ID.search(caplog.text) is None
    assert "371002********2029" in caplog.text  # it was logged, masked
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert urllib3_lines, "urllib3 logs request lines at DEBUG"
    assert not any(WANG in line or NOBODY in line for line in urllib3_lines)
