"""``courier.track_shipments`` against the courier sandbox: what pushes missed, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.courier.sandbox import create_app as courier_app
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.store import MessageFilter
from hub.store.job_records import RunView
from tests.fullonline import RunningSandbox, courier_destination, serving
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run
from tests.support import example, wait_for


@pytest.fixture
def courier() -> Iterator[RunningSandbox]:
    with serving(courier_app(push_url="http://127.0.0.1:9/nowhere")) as sandbox:
        sandbox.post("/_sandbox/config", {"auto_advance": False}).raise_for_status()
        yield sandbox


def _ship(hub: Hub) -> str:
    acceptance = hub.ingest.publish(
        "hall",
        Submission(type="shipment.requested", payload=example("shipment.requested")),
        channel="rest",
    )
    wait_for(
        lambda: (m := hub.store.messages.get(acceptance.message_id)) and m.status == "delivered",
        10,
        "the courier order to be placed",
    )
    view = hub.store.messages.get(acceptance.message_id)
    assert view is not None
    return str((view.deliveries[0].receipt or {})["data"]["waybill_no"])


def _track(hub: Hub) -> RunView:
    runner = make_runner(hub)
    try:
        run = wait_run(hub, hub.jobs.request_run("courier.track_shipments", actor="t").id)
    finally:
        runner.stop()
    assert run.status == "ok", (run.error, run.log)
    return run


def test_polling_publishes_each_missed_event_once_until_the_parcel_is_delivered(
    tmp_path: Path, courier: RunningSandbox
) -> None:
    config = scheduler_config(
        tmp_path,
        destinations=[courier_destination(courier.url)],
        routes=[{"name": "orders", "when": {"type": "shipment.requested"}, "to": ["courier"]}],
    )
    with hub_with_jobs(config, installed_jobs()) as hub:
        hub.start_dispatcher()
        waybill = _ship(hub)
        for _ in range(2):
            courier.post(f"/_sandbox/parcels/{waybill}/advance").raise_for_status()
        first = _track(hub)
        again = _track(hub)
        for _ in range(3):  # 30, 40, 50 妥投: the parcel is delivered, the shipment closed
            courier.post(f"/_sandbox/parcels/{waybill}/advance").raise_for_status()
        last = _track(hub)
        closed = _track(hub)
        statuses = hub.store.messages.search(MessageFilter(type="shipment.status"), limit=100).items

    assert (first.read, first.published) == (2, 2)
    assert (again.read, again.published) == (2, 0)
    assert (last.read, last.published) == (5, 3)
    assert (closed.read, closed.published) == (0, 0)
    assert any("0 open shipment(s)" in line["message"] for line in closed.log or ())
    codes = sorted(m.envelope.payload["code"] for m in statuses)
    assert codes == ["10", "20", "30", "40", "50"]
    assert {m.envelope.correlation_id for m in statuses} == {"WH-2026-000123"}


def test_a_waybill_the_courier_cannot_answer_for_is_counted_and_tried_next_round(
    tmp_path: Path, courier: RunningSandbox
) -> None:
    config = scheduler_config(
        tmp_path,
        destinations=[courier_destination(courier.url)],
        routes=[{"name": "orders", "when": {"type": "shipment.requested"}, "to": ["courier"]}],
    )
    with hub_with_jobs(config, installed_jobs()) as hub:
        hub.start_dispatcher()
        waybill = _ship(hub)
        courier.post("/_sandbox/faults", {"status": 503, "times": 1}).raise_for_status()
        failed = _track(hub)
        courier.post(f"/_sandbox/parcels/{waybill}/advance").raise_for_status()
        recovered = _track(hub)
    assert (failed.failed, failed.published) == (1, 0)
    assert any(waybill in line["message"] for line in failed.log or ())
    assert recovered.published == 1
