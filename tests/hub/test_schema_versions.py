"""Senders pick a schema version, destinations take theirs: v1 senders keep working.

One hub, three real webhook receivers: ``civil_affairs`` names no version, so it takes
``case.submitted`` version 1 (what it was written against); ``housing_fund`` takes version 2,
and ``archive`` (``"as_sent"``) takes it as it was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.config import ConfigError
from hub.runtime import Hub
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    wait_for,
    webhook_destination,
)


@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[Receiver, Receiver, Receiver]]:
    from tests.support import start_receiver

    made = (start_receiver(), start_receiver(), start_receiver())
    yield made
    for running in made:
        running.gate.set()
        running.server.stop()


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, receivers: tuple[Receiver, Receiver, Receiver]
) -> Iterator[RunningHub]:
    v1, v2, as_sent = receivers
    config = hub_config(
        tmp_path_factory.mktemp("versions"),
        destinations=[
            webhook_destination("civil_affairs", v1, retry={"max_attempts": 1}),
            webhook_destination(
                "housing_fund",
                v2,
                retry={"max_attempts": 1},
                schema_versions={"case.submitted": 2},
            ),
            webhook_destination(
                "archive",
                as_sent,
                retry={"max_attempts": 1},
                schema_versions={"case.submitted": "as_sent"},
            ),
        ],
        routes=[
            {
                "name": "cases",
                "when": {"type": "case.*"},
                "to": ["civil_affairs", "housing_fund", "archive"],
            }
        ],
    )
    with running_hub(config) as running:
        yield running


def _post(hub: RunningHub, case_no: str, **fields: Any) -> dict[str, Any]:
    key = hub.client(f"dept-{case_no}")
    version = fields.pop("schema_version", None)
    payload = example("case.submitted", case_no=case_no, **fields)
    if version == 2:
        payload = {**example_v2(case_no), **fields}
    document: dict[str, Any] = {"type": "case.submitted", "payload": payload}
    if version is not None:
        document["schema_version"] = version
    response = hub.post(key, document)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def example_v2(case_no: str) -> dict[str, Any]:
    from hub.schemas import SchemaRegistry

    payload = SchemaRegistry().example("case.submitted", 2)
    payload["case_no"] = case_no
    return payload


def _received(receiver: Receiver, message_id: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next(
            (r.envelope for r in receiver.accepted() if r.envelope["id"] == message_id), None
        )

    envelope: dict[str, Any] = wait_for(found, message=f"{message_id} at the receiver")
    return envelope


def test_v1_sender_naming_no_version_reaches_v1_and_v2_destinations(
    hub: RunningHub, receivers: tuple[Receiver, Receiver, Receiver]
) -> None:
    accepted = _post(hub, "WH-2026-100001")
    stored = hub.message(accepted["id"])
    assert stored["headers"]["schema_version"] == 1

    for receiver in (receivers[0], receivers[2]):  # version 1, and as sent
        as_sent = _received(receiver, accepted["id"])
        assert as_sent["payload"] == example("case.submitted", case_no="WH-2026-100001")
        assert as_sent["headers"]["schema_version"] == 1

    upgraded = _received(receivers[1], accepted["id"])
    assert upgraded["payload"]["intake"] == {"channel": "online"}
    assert "channel" not in upgraded["payload"]
    assert upgraded["headers"]["schema_version"] == 2
    assert upgraded["headers"]["schema_version_sent"] == 1
    assert hub.hub.schemas.validate("case.submitted", upgraded["payload"], version=2).ok
    # what is stored is what was sent
    assert hub.message(accepted["id"])["payload"]["channel"] == "online"


def test_v2_sender_is_delivered_down_to_v1_where_nothing_is_lost(
    hub: RunningHub, receivers: tuple[Receiver, Receiver, Receiver]
) -> None:
    accepted = _post(hub, "WH-2026-100002", schema_version=2)
    assert hub.message(accepted["id"])["headers"]["schema_version"] == 2

    down = _received(receivers[0], accepted["id"])
    assert down["payload"]["channel"] == "window"
    assert "intake" not in down["payload"]  # intake.place is dropped, as transforms.json says
    assert down["headers"]["schema_version"] == 1
    assert hub.hub.schemas.validate("case.submitted", down["payload"]).ok

    for receiver in (receivers[1], receivers[2]):  # version 2, and as sent
        as_sent = _received(receiver, accepted["id"])
        assert as_sent["payload"] == example_v2("WH-2026-100002")
        assert "schema_version_sent" not in as_sent["headers"]


def test_v2_message_v1_cannot_carry_is_dead_for_v1_only_with_the_field(
    hub: RunningHub, receivers: tuple[Receiver, Receiver, Receiver]
) -> None:
    intake = {"channel": "self_service", "place": "市民中心自助终端07"}
    accepted = _post(hub, "WH-2026-100003", schema_version=2, intake=intake)

    assert _received(receivers[1], accepted["id"])["payload"]["intake"] == intake
    message = hub.wait_delivered(accepted["id"])
    by_destination = {d["destination"]: d for d in message["deliveries"]}
    assert by_destination["housing_fund"]["status"] == "delivered"
    assert by_destination["archive"]["status"] == "delivered"
    dead = by_destination["civil_affairs"]
    assert dead["status"] == "dead"
    assert dead["last_error"] == (
        "civil_affairs takes case.submitted version 1: case.submitted v2→v1:"
        ' payload.intake.channel: the value "self_service" is new in version 2;'
        " version 1 cannot carry it"
    )
    assert accepted["id"] not in {r.envelope["id"] for r in receivers[0].accepted()}


def test_v2_payload_sent_as_v1_is_refused_naming_its_fields(hub: RunningHub) -> None:
    key = hub.client("dept-v2-as-v1")
    response = hub.post(key, {"type": "case.submitted", "payload": example_v2("WH-2026-100004")})
    assert response.status_code == 422
    paths = {e["path"] for e in response.json()["errors"]}
    assert paths == {"payload.intake", "payload.channel"}


def test_unknown_schema_version_is_refused_naming_the_versions(hub: RunningHub) -> None:
    key = hub.client("dept-v9")
    document = {
        "type": "case.submitted",
        "schema_version": 9,
        "payload": example("case.submitted"),
    }
    response = hub.post(key, document)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"path": "schema_version", "message": "case.submitted has no version 9; its versions: 1, 2"}
    ]


def test_a_sender_header_cannot_claim_a_schema_version(hub: RunningHub) -> None:
    key = hub.client("dept-header")
    document = {
        "type": "case.submitted",
        "headers": {"schema_version": 2},
        "payload": example("case.submitted", case_no="WH-2026-100005"),
    }
    response = hub.post(key, document)
    assert response.status_code == 202
    assert hub.message(response.json()["id"])["headers"]["schema_version"] == 1


def test_a_single_version_type_records_no_version(hub: RunningHub) -> None:
    key = hub.client("dept-completed")
    response = hub.post(key, {"type": "case.completed", "payload": example("case.completed")})
    assert response.status_code == 202
    assert "schema_version" not in hub.message(response.json()["id"])["headers"]


@pytest.mark.parametrize(
    ("versions", "reason"),
    [
        ({"case.submitted": 3}, "case.submitted has no version 3 (it has 1, 2)"),
        ({"case.sent": 1}, "case.sent is not a known message type"),
    ],
)
def test_destination_naming_a_version_that_does_not_exist_stops_start_up(
    tmp_path: Path, receiver: Receiver, versions: dict[str, int], reason: str
) -> None:
    config = hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver, schema_versions=versions)],
    )
    with pytest.raises(ConfigError) as refused:
        Hub(config)
    key = next(iter(versions))
    assert refused.value.key == f"destinations[0].schema_versions.{key}"
    assert refused.value.reason == reason
