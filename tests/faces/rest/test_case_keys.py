"""Every message of a case carries its case number; other business keys are searched apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import RunningHub, example, hub_config, running_hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        yield running


def _types(hub: RunningHub, api_key: str, **query: str) -> list[str]:
    answer = hub.get(api_key, "/api/v1/messages", params=query)
    assert answer.status_code == 200, answer.text
    return [item["type"] for item in answer.json()["items"]]


def test_a_case_message_is_correlated_by_its_case_number_and_found_by_its_other_keys(
    hub: RunningHub,
) -> None:
    key = hub.client("civil-affairs", allow=["case.*", "license.*"], role="operator")
    issued = example("license.issued")
    completed = example(
        "case.completed", case_no=issued["case_no"], license_ids=[issued["license_id"]]
    )
    for message_type, payload in (("license.issued", issued), ("case.completed", completed)):
        answer = hub.post(key, {"type": message_type, "payload": payload})
        assert answer.status_code == 202, answer.text
        assert answer.json()["correlation_id"] == payload["case_no"]

    assert sorted(_types(hub, key, correlation_id=issued["case_no"])) == [
        "case.completed",
        "license.issued",
    ]
    assert sorted(_types(hub, key, key=issued["license_id"])) == [
        "case.completed",
        "license.issued",
    ]
    assert _types(hub, key, key=issued["number"]) == []  # not a key: no match, not everything


def test_another_correlation_id_for_a_case_message_is_kept_as_a_key_with_a_warning(
    hub: RunningHub,
) -> None:
    key = hub.client("civil-affairs", allow=["license.*"])
    issued = example("license.issued")
    answer = hub.post(
        key, {"type": "license.issued", "payload": issued, "correlation_id": "LIC-REF-9"}
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["correlation_id"] == issued["case_no"]
    [warning] = [w for w in body["warnings"] if w["path"] == "correlation_id"]
    assert "payload.case_no" in warning["message"]
    assert _types(hub, key, key="LIC-REF-9") == ["license.issued"]

    same = hub.post(
        key, {"type": "license.issued", "payload": issued, "correlation_id": issued["case_no"]}
    )
    assert same.status_code == 202, same.text


def test_a_message_without_a_case_number_keeps_the_senders_correlation_id(
    hub: RunningHub,
) -> None:
    key = hub.client("card", allow=["citizen_card.*"])
    payload = example("citizen_card.status_changed")
    answer = hub.post(
        key,
        {
            "type": "citizen_card.status_changed",
            "payload": payload,
            "correlation_id": payload["card_no"],
        },
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["correlation_id"] == payload["card_no"]
    assert _types(hub, key, key=payload["card_no"]) == ["citizen_card.status_changed"]
