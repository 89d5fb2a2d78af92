"""Courier end to end: a completed case delivered by courier → order → waybill → status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from adapters.courier import ems
from adapters.courier.adapter import CourierAdapter
from adapters.courier.sandbox import DEFAULT_PARTNER_ID, create_app
from adapters.courier.tables import shipment_events, shipments
from hub.core.clock import utcnow
from hub.store import MessageFilter
from tests.fullonline import RunningSandbox, courier_destination, serving
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    wait_for,
    webhook_destination,
)

CASE = example("case.submitted")
COMPLETED = example("case.completed")


@pytest.fixture
def courier() -> Iterator[RunningSandbox]:
    with serving(create_app()) as sandbox:
        yield sandbox


@pytest.fixture
def hub(tmp_path: Path, courier: RunningSandbox, receiver: Receiver) -> Iterator[RunningHub]:
    config = hub_config(
        tmp_path,
        destinations=[
            courier_destination(courier.url),
            webhook_destination("civil_affairs", receiver),
        ],
        routes=[
            {
                "name": "results by courier",
                "when": {"type": "case.completed", "payload.deliver_by_courier": True},
                "transform": "courier.delivery_order",
                "to": ["courier"],
            },
            {"name": "orders", "when": {"type": "shipment.requested"}, "to": ["courier"]},
            {"name": "tracking", "when": {"type": "shipment.status"}, "to": ["civil_affairs"]},
        ],
    )
    with running_hub(config) as running:
        courier.post("/_sandbox/config", {"push_url": f"{running.url}/inbound/courier/routes"})
        yield running


def _complete_case(hub: RunningHub, **completed: Any) -> dict[str, Any]:
    """Submit the example case and complete it; the case.completed delivery."""
    key = hub.client("dept", allow=["case.*"])
    assert hub.post(key, {"type": "case.submitted", "payload": CASE}).status_code == 202
    response = hub.post(key, {"type": "case.completed", "payload": {**COMPLETED, **completed}})
    assert response.status_code == 202, response.text
    message = hub.wait_delivered(response.json()["id"])
    [delivery] = message["deliveries"]
    return dict(delivery)


def _statuses(receiver: Receiver) -> list[dict[str, Any]]:
    return [r.envelope for r in receiver.accepted() if r.envelope["type"] == "shipment.status"]


def _count(hub: RunningHub, table: Any) -> int:
    with hub.hub.store.db.read() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_completed_case_reaches_the_applicant_with_every_status_once(
    hub: RunningHub, courier: RunningSandbox, receiver: Receiver
) -> None:
    courier.post("/_sandbox/config", {"step_s": 0.05, "duplicate_pushes": True})

    delivery = _complete_case(hub)

    assert delivery["status"] == "delivered", delivery
    view = hub.hub.store.messages.get(delivery["message_id"])
    assert view is not None
    receipt = view.deliveries[0].receipt or {}
    waybill = receipt["data"]["waybill_no"]
    assert len(waybill) == 13
    [effect] = courier.get("/_sandbox/effects").json()["effects"]
    assert effect["waybill_no"] == waybill

    def answered_pushes() -> list[Any]:
        items: list[Any] = courier.get("/_sandbox/pushes").json()["items"]
        return items if len(items) == 10 else []

    pushes = wait_for(answered_pushes, message="every event pushed twice")
    assert all(push["ok"] for push in pushes)
    wait_for(lambda: len(_statuses(receiver)) == 5, message="five shipment.status messages")
    statuses = _statuses(receiver)
    assert [s["payload"]["code"] for s in statuses] == ["10", "20", "30", "40", "50"]
    first = statuses[0]
    assert first["correlation_id"] == CASE["case_no"]
    assert first["payload"]["waybill_no"] == waybill
    assert first["payload"]["order_no"] == f"DLV-{delivery['message_id']}"
    assert _count(hub, shipment_events) == 5
    with hub.hub.store.db.read() as connection:
        state = connection.execute(select(shipments.c.state)).scalar_one()
    assert state == "delivered"


def test_delivery_order_goes_to_the_applicants_address(
    hub: RunningHub, courier: RunningSandbox
) -> None:
    courier.post("/_sandbox/config", {"auto_advance": False})
    _complete_case(hub)
    service = courier.app.extensions["courier_sandbox"]
    [parcel] = service.parcels.values()
    assert parcel.fields["biz_type"] == "delivery"
    assert parcel.fields["receiver_name"] == CASE["applicant"]["name"]
    assert parcel.fields["receiver_mobile"] == CASE["applicant"]["mobile"]
    assert (parcel.fields["receiver_prov"], parcel.fields["receiver_city"]) == ("山东省", "威海市")
    assert parcel.fields["receiver_county"] == "环翠区"
    assert parcel.fields["receiver_address"] == "新威路1号"
    assert parcel.fields["sender_name"] == "威海市政务服务中心"


def test_case_without_a_courier_address_is_a_dead_letter_naming_the_field(
    hub: RunningHub,
) -> None:
    key = hub.client("dept", allow=["case.*"])
    no_address = {**CASE, "delivery": {"method": "pickup"}}
    hub.post(key, {"type": "case.submitted", "payload": no_address})
    response = hub.post(key, {"type": "case.completed", "payload": COMPLETED})
    message = hub.wait_delivered(response.json()["id"])
    [delivery] = message["deliveries"]
    assert delivery["status"] == "dead"
    assert "delivery.address" in delivery["last_error"]


def test_case_not_for_the_courier_makes_no_order(hub: RunningHub, courier: RunningSandbox) -> None:
    key = hub.client("dept", allow=["case.*"])
    hub.post(key, {"type": "case.submitted", "payload": CASE})
    response = hub.post(
        key, {"type": "case.completed", "payload": {**COMPLETED, "deliver_by_courier": False}}
    )
    assert response.json()["deliveries"] == []
    assert courier.get("/_sandbox/effects").json()["effects"] == []


def test_forged_push_is_refused_and_nothing_stored(
    hub: RunningHub, courier: RunningSandbox, receiver: Receiver
) -> None:
    courier.post("/_sandbox/config", {"auto_advance": False})
    _complete_case(hub)
    [waybill] = courier.app.extensions["courier_sandbox"].parcels
    params = {
        "partner_id": DEFAULT_PARTNER_ID,
        "msg_type": "TRACE_PUSH",
        "timestamp": ems.courier_time(utcnow()),
        "traces": json.dumps(
            [
                {
                    "waybill_no": waybill,
                    "op_code": "50",
                    "op_name": "已妥投",
                    "op_time": ems.courier_time(utcnow()),
                }
            ]
        ),
    }
    forged = {**params, "sign": ems.sign(params, "not-the-partner-secret")}

    response = requests.post(f"{hub.url}/inbound/courier/routes", data=forged, timeout=10)

    assert response.status_code == 401
    assert _count(hub, shipment_events) == 0
    assert hub.hub.store.messages.search(MessageFilter(type="shipment.status")).items == []


def test_polling_records_what_pushes_missed_and_nothing_twice(
    hub: RunningHub, courier: RunningSandbox, receiver: Receiver
) -> None:
    courier.post("/_sandbox/config", {"auto_advance": False, "push_url": "http://127.0.0.1:9/x"})
    _complete_case(hub)
    [waybill] = courier.app.extensions["courier_sandbox"].parcels
    courier.post(f"/_sandbox/parcels/{waybill}/advance")
    courier.post(f"/_sandbox/parcels/{waybill}/advance")
    adapter = hub.hub.adapters["courier"]
    assert isinstance(adapter, CourierAdapter)

    first = adapter.track_shipments()
    again = adapter.track_shipments()

    assert (first.polled, first.new_events) == (1, 2)
    assert (again.polled, again.new_events) == (1, 0)
    wait_for(lambda: len(_statuses(receiver)) == 2, message="two shipment.status messages")
    assert len(hub.hub.store.messages.search(MessageFilter(type="shipment.status")).items) == 2


def test_pickup_order_from_a_department_gets_a_waybill(
    hub: RunningHub, courier: RunningSandbox
) -> None:
    courier.post("/_sandbox/config", {"auto_advance": False})
    key = hub.client("hall", allow=["shipment.*"])
    pickup = {
        **example("shipment.requested"),
        "order_no": "PKP-WH-2026-000123",
        "direction": "pickup",
        "sender": example("shipment.requested")["receiver"],
        "receiver": example("shipment.requested")["sender"],
        "contents": "申请材料：身份证复印件1份",
    }
    response = hub.post(key, {"type": "shipment.requested", "payload": pickup})
    message = hub.wait_delivered(response.json()["id"])
    assert message["deliveries"][0]["status"] == "delivered"
    [parcel] = courier.app.extensions["courier_sandbox"].parcels.values()
    assert parcel.fields["biz_type"] == "pickup"
    assert parcel.order_no == "PKP-WH-2026-000123"


def test_an_address_sending_forged_pushes_is_throttled(
    tmp_path: Path, courier: RunningSandbox
) -> None:
    config = hub_config(
        tmp_path,
        destinations=[courier_destination(courier.url)],
        routes=[{"name": "orders", "when": {"type": "shipment.requested"}, "to": ["courier"]}],
        limits={"auth_max_failures": 2, "auth_window_s": 60},
    )
    params = {
        "partner_id": DEFAULT_PARTNER_ID,
        "msg_type": "TRACE_PUSH",
        "timestamp": ems.courier_time(utcnow()),
        "traces": "[]",
    }
    forged = {**params, "sign": ems.sign(params, "not-the-partner-secret")}
    with running_hub(config, dispatch=False) as hub:
        url = f"{hub.url}/inbound/courier/routes"
        first = [requests.post(url, data=forged, timeout=10).status_code for _ in range(2)]

        refused = requests.post(url, data=forged, timeout=10)

        assert first == [401, 401]
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
