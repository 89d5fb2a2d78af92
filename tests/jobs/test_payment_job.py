"""``payment.reconcile`` against the payment sandbox: the report, a message per difference."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from adapters.payment.adapter import PaymentAdapter
from adapters.payment.sandbox import create_app as payment_platform
from adapters.payment.tables import payment_orders
from hub.core.clock import HUB_TZ
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.scheduler.runner import JobRunner
from hub.store import MessageFilter
from hub.store.job_records import RunView
from jobs.payment import reconciliation_report
from tests.fullonline import RunningSandbox, payment_destination, serving
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run
from tests.support import example, wait_for

TODAY = dt.datetime.now(HUB_TZ).date()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("certs")


@pytest.fixture
def platform(certs: Path) -> Iterator[RunningSandbox]:
    with serving(payment_platform(certs)) as sandbox:
        sandbox.post("/_sandbox/config", {"retry_schedule_s": [0.05, 0.1]}).raise_for_status()
        yield sandbox


@pytest.fixture
def hub(tmp_path: Path, certs: Path, platform: RunningSandbox) -> Iterator[Hub]:
    config = scheduler_config(
        tmp_path,
        destinations=[payment_destination(platform.url, certs)],
        routes=[{"name": "fees", "when": {"type": "payment.requested"}, "to": ["payment"]}],
    )
    with hub_with_jobs(config, installed_jobs()) as running:
        running.start_dispatcher()
        yield running


def _order(hub: Hub, order_no: str, case_no: str) -> None:
    payload = {**example("payment.requested"), "order_no": order_no, "case_no": case_no}
    acceptance = hub.ingest.publish(
        "hall", Submission(type="payment.requested", payload=payload), channel="rest"
    )
    wait_for(
        lambda: (m := hub.store.messages.get(acceptance.message_id)) and m.status == "delivered",
        10,
        f"order {order_no} at the platform",
    )


def _ledger(hub: Hub, order_no: str, **values: Any) -> None:
    with hub.store.db.write() as connection:
        connection.execute(
            update(payment_orders).where(payment_orders.c.order_no == order_no).values(values)
        )


@pytest.fixture
def runner(hub: Hub) -> Iterator[JobRunner]:
    started = make_runner(hub)
    yield started
    started.stop()


def _reconcile(hub: Hub, runner: JobRunner, due: dt.datetime) -> RunView:
    return wait_run(hub, runner.due("payment.reconcile", due) or "", timeout=20)


def _manual_run_as_of(hub: Hub, moment: dt.datetime) -> RunView:
    hub.jobs.clock = lambda: moment.astimezone(dt.UTC)  # "run now", as if it were then
    return wait_run(hub, hub.jobs.request_run("payment.reconcile", actor="ops").id, timeout=20)


def test_reconciliation_stores_the_report_and_publishes_each_difference_once(
    hub: Hub, platform: RunningSandbox, runner: JobRunner
) -> None:
    adapter = hub.adapters["payment"]
    assert isinstance(adapter, PaymentAdapter)
    for n in range(1, 5):
        _order(hub, f"PAY-WH-{n}", f"WH-2026-00000{n}")
    # 1: paid and notified (matched); 2: paid at the platform, the hub never heard
    # (missing at the hub); 3: the hub thinks it paid, the platform has no payment
    # (missing at the platform); 4: paid, but the hub recorded another amount.
    adapter.notify_url = "http://127.0.0.1:9/nowhere"
    for order_no in ("PAY-WH-1", "PAY-WH-2", "PAY-WH-4"):
        platform.post(f"/_sandbox/orders/{order_no}/pay").raise_for_status()
    now = dt.datetime.now(dt.UTC)
    _ledger(hub, "PAY-WH-1", state="paid", paid_at=now)
    _ledger(hub, "PAY-WH-3", state="paid", paid_at=now)
    _ledger(hub, "PAY-WH-4", state="paid", paid_at=now, amount_fen=1)
    platform.post("/_sandbox/clock", {"advance_s": 86400}).raise_for_status()  # T+1

    tomorrow = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(10, 30), HUB_TZ)
    run = _reconcile(hub, runner, tomorrow)
    again = _manual_run_as_of(hub, tomorrow + dt.timedelta(hours=1))  # redoes the day
    report = reconciliation_report(hub.store, "payment", TODAY)
    discrepancies = hub.store.messages.search(MessageFilter(type="payment.discrepancy")).items

    assert run.status == "ok", (run.error, run.log)
    assert run.cursor_after == TODAY.isoformat()
    assert run.published == 3
    assert report is not None
    assert report["matched"] == ["PAY-WH-1"]
    assert report["missing_at_hub"] == ["PAY-WH-2"]
    assert report["missing_at_platform"] == ["PAY-WH-3"]
    assert report["amount_differs"] == [
        {
            "order_no": "PAY-WH-4",
            "hub_fen": 1,
            "platform_fen": example("payment.requested")["amount_fen"],
        }
    ]
    found = {m.envelope.payload["order_no"]: m.envelope for m in discrepancies}
    assert {o: e.payload["kind"] for o, e in found.items()} == {
        "PAY-WH-2": "missing_at_hub",
        "PAY-WH-3": "missing_at_platform",
        "PAY-WH-4": "amount_differs",
    }
    assert found["PAY-WH-2"].payload["case_no"] == "WH-2026-000002"
    assert found["PAY-WH-2"].correlation_id == "WH-2026-000002"
    assert found["PAY-WH-4"].payload["hub_amount_fen"] == 1
    assert any("missing at the hub" in line["message"] for line in run.log or ())
    assert again.status == "ok", again.error
    assert again.read == run.read
    assert again.published == 0  # reconciling the day again publishes nothing twice
    assert again.cursor_after == TODAY.isoformat()
    assert len(discrepancies) == 3


def test_a_day_whose_statement_is_not_ready_fails_the_run_and_is_done_next_time(
    hub: Hub, platform: RunningSandbox, runner: JobRunner
) -> None:
    tomorrow = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(10, 30), HUB_TZ)
    not_ready = _reconcile(hub, runner, tomorrow)  # the platform's clock is still today
    platform.post("/_sandbox/clock", {"advance_s": 2 * 86400}).raise_for_status()
    next_time = _reconcile(hub, runner, tomorrow + dt.timedelta(days=1))
    assert not_ready.status == "failed"
    assert "BILL_NOT_READY" in (not_ready.error or "")
    assert not_ready.cursor_after == (TODAY - dt.timedelta(days=1)).isoformat()
    assert next_time.status == "ok", next_time.error
    assert next_time.cursor_after == (TODAY + dt.timedelta(days=1)).isoformat()
    report = reconciliation_report(hub.store, "payment", TODAY)  # the missed day, caught up
    assert report is not None
    assert report["balanced"]
