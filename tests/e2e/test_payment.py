"""Payment end to end: requested → order at the platform → paid → notified → confirmed once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, request
from sqlalchemy import func, select

from adapters.payment import rsa2
from adapters.payment.adapter import PaymentAdapter
from adapters.payment.sandbox import DEFAULT_APP_ID, create_app
from adapters.payment.tables import payment_notifications, payment_orders
from adapters.sdk import RetriableError
from certs.devca import load_private_key
from hub.core.clock import HUB_TZ
from hub.store import MessageFilter
from tests.fullonline import RunningSandbox, payment_destination, serving
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    wait_for,
    webhook_destination,
)

ORDER = example("payment.requested")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Key pairs made once for the module (RSA generation is the slow part)."""
    return tmp_path_factory.mktemp("certs")


@pytest.fixture
def platform(certs: Path) -> Iterator[RunningSandbox]:
    with serving(create_app(certs)) as sandbox:
        sandbox.post("/_sandbox/config", {"retry_schedule_s": [0.05, 0.1, 0.2, 0.4]})
        yield sandbox


@pytest.fixture
def hub(
    tmp_path: Path, certs: Path, platform: RunningSandbox, receiver: Receiver
) -> Iterator[RunningHub]:
    config = hub_config(
        tmp_path,
        destinations=[
            payment_destination(platform.url, certs),
            webhook_destination("finance_bureau", receiver),
        ],
        routes=[
            {"name": "fees", "when": {"type": "payment.requested"}, "to": ["payment"]},
            {"name": "paid", "when": {"type": "payment.confirmed"}, "to": ["finance_bureau"]},
        ],
    )
    with running_hub(config) as running:
        adapter = running.hub.adapters["payment"]
        assert isinstance(adapter, PaymentAdapter)
        adapter.notify_url = f"{running.url}/inbound/payment/notify"
        yield running


def _ordered(hub: RunningHub) -> dict[str, Any]:
    """Post the example payment.requested; its delivery's receipt once delivered."""
    key = hub.client(f"hall-{len(hub.hub.store.clients.all())}", allow=["payment.*"])
    response = hub.post(key, {"type": "payment.requested", "payload": ORDER})
    assert response.status_code == 202, response.text
    message = hub.wait_delivered(response.json()["id"])
    [delivery] = message["deliveries"]
    assert delivery["status"] == "delivered", delivery
    view = hub.hub.store.messages.get(message["id"])
    assert view is not None
    receipt: dict[str, Any] = view.deliveries[0].receipt or {}
    return receipt


def _count(hub: RunningHub, table: Any) -> int:
    with hub.hub.store.db.read() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _confirmed(hub: RunningHub) -> list[Any]:
    return hub.hub.store.messages.search(MessageFilter(type="payment.confirmed")).items


def _order_state(hub: RunningHub) -> str:
    with hub.hub.store.db.read() as connection:
        return str(
            connection.execute(
                select(payment_orders.c.state).where(payment_orders.c.order_no == ORDER["order_no"])
            ).scalar_one()
        )


def _notification(certs: Path, **changes: str) -> dict[str, str]:
    """A notification for the example order as the platform would sign it."""
    now = dt.datetime.now(HUB_TZ).strftime("%Y-%m-%d %H:%M:%S")
    params = {
        "notify_id": "n-test-0001",
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "app_id": DEFAULT_APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "out_trade_no": ORDER["order_no"],
        "trade_no": "20261127220000000000000001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": rsa2.yuan_from_fen(ORDER["amount_fen"]),
        "gmt_payment": now,
        "pay_channel": "ALIPAY",
    }
    params.update(changes)
    key = load_private_key(certs / "payment" / "platform-key.pem")
    assert isinstance(key, rsa.RSAPrivateKey)
    return {**params, "sign": rsa2.sign(params, key, rsa2.NOTIFICATION_UNSIGNED)}


def _notify(hub: RunningHub, params: dict[str, str]) -> requests.Response:
    return requests.post(f"{hub.url}/inbound/payment/notify", data=params, timeout=10)


def test_paid_order_notified_three_times_confirms_exactly_once(
    hub: RunningHub, platform: RunningSandbox, receiver: Receiver
) -> None:
    platform.post("/_sandbox/config", {"repeat_notifications": 3})
    data = _ordered(hub)
    assert data["data"]["pay_code"]
    assert data["data"]["trade_no"]

    assert platform.post(f"/_sandbox/orders/{ORDER['order_no']}/pay").status_code == 200

    def three_sends_acknowledged() -> bool:
        [item] = platform.get("/_sandbox/notifications").json()["items"]
        return len(item["sends"]) == 3 and all(s["body"] == "success" for s in item["sends"])

    wait_for(three_sends_acknowledged, message="three acknowledged notifications")
    wait_for(lambda: receiver.accepted(), message="payment.confirmed at the department")
    [confirmed] = _confirmed(hub)
    hub.wait_delivered(confirmed.envelope.id)
    [got] = receiver.accepted()
    assert got.envelope["type"] == "payment.confirmed"
    assert got.envelope["payload"] == {
        "order_no": ORDER["order_no"],
        "case_no": ORDER["case_no"],
        "amount_fen": ORDER["amount_fen"],
        "channel_trade_no": data["data"]["trade_no"],
        "paid_at": got.envelope["payload"]["paid_at"],
    }
    assert got.envelope["correlation_id"] == ORDER["case_no"]
    assert _count(hub, payment_notifications) == 1
    assert _order_state(hub) == "paid"


def test_notification_retried_until_the_hub_answers_success(
    hub: RunningHub, platform: RunningSandbox
) -> None:
    # A gate in front of the hub fails twice, as a hub behind a restarting proxy would.
    gate = Flask("gate")
    answers = [503, 503]

    @gate.post("/notify")
    def forward() -> Response:
        if answers:
            return Response("busy", status=answers.pop(0))
        relayed = requests.post(
            f"{hub.url}/inbound/payment/notify", data=request.form.to_dict(), timeout=10
        )
        return Response(relayed.text, status=relayed.status_code)

    with serving(gate) as front:
        adapter = hub.hub.adapters["payment"]
        assert isinstance(adapter, PaymentAdapter)
        adapter.notify_url = f"{front.url}/notify"
        _ordered(hub)
        platform.post(f"/_sandbox/orders/{ORDER['order_no']}/pay")

        def acknowledged() -> list[Any]:
            [item] = platform.get("/_sandbox/notifications").json()["items"]
            return item["sends"] if item["acked"] else []

        sends = wait_for(acknowledged, message="the notification to be acknowledged")
    assert [s["status"] for s in sends] == [503, 503, 200]
    assert len(_confirmed(hub)) == 1


@pytest.mark.parametrize(
    ("case", "params"),
    [
        ("forged", "forged"),
        ("tampered amount", "tampered"),
        ("wrong amount, validly signed", "wrong_amount"),
        ("replayed (stale)", "stale"),
        ("unknown order", "unknown_order"),
        ("another app", "other_app"),
    ],
)
def test_bad_notification_is_refused_and_nothing_is_stored(
    hub: RunningHub, certs: Path, tmp_path: Path, case: str, params: str
) -> None:
    _ordered(hub)
    if params == "forged":
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        good = _notification(certs)
        document = {**good, "sign": rsa2.sign(good, stranger, rsa2.NOTIFICATION_UNSIGNED)}
    elif params == "tampered":
        document = {**_notification(certs), "total_amount": "0.01"}
    elif params == "wrong_amount":
        document = _notification(certs, total_amount="0.01")
    elif params == "stale":
        old = (dt.datetime.now(HUB_TZ) - dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
        document = _notification(certs, notify_time=old, gmt_payment=old)
    elif params == "unknown_order":
        document = _notification(certs, out_trade_no="PAY-NOT-OURS-1")
    else:
        document = _notification(certs, app_id="2099000000000009")

    response = _notify(hub, document)

    assert response.status_code == 400, case
    assert response.text == "fail"
    assert _count(hub, payment_notifications) == 0
    assert _confirmed(hub) == []
    assert _order_state(hub) == "created"


def test_refused_notification_is_logged_without_personal_data(
    hub: RunningHub, certs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _ordered(hub)
    with caplog.at_level("WARNING", logger="govhub.payment"):
        _notify(hub, {**_notification(certs), "total_amount": "0.01"})
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert "sign" in record.getMessage()
    assert ORDER["payer"]["id_no"] not in record.getMessage()


def test_duplicate_notification_answers_success_and_changes_nothing(
    hub: RunningHub, certs: Path
) -> None:
    _ordered(hub)
    # the trade number the platform opened for the order is what a real notice carries
    with hub.hub.store.db.read() as connection:
        trade_no = connection.execute(select(payment_orders.c.trade_no)).scalar_one()
    document = _notification(certs, trade_no=trade_no)

    first, second = _notify(hub, document), _notify(hub, document)

    assert (first.status_code, first.text) == (200, "success")
    assert (second.status_code, second.text) == (200, "success")
    assert _count(hub, payment_notifications) == 1
    assert len(_confirmed(hub)) == 1


def test_notification_for_another_trade_of_a_paid_order_is_refused(
    hub: RunningHub, certs: Path
) -> None:
    _ordered(hub)
    with hub.hub.store.db.read() as connection:
        trade_no = connection.execute(select(payment_orders.c.trade_no)).scalar_one()
    assert _notify(hub, _notification(certs, trade_no=trade_no)).text == "success"

    replay = _notification(certs, trade_no="20261127220099999999999999", notify_id="n-2")

    assert _notify(hub, replay).status_code == 400
    assert _count(hub, payment_notifications) == 1
    assert len(_confirmed(hub)) == 1


def test_reconciliation_matches_the_next_day_statement(
    hub: RunningHub, platform: RunningSandbox
) -> None:
    _ordered(hub)
    platform.post(f"/_sandbox/orders/{ORDER['order_no']}/pay")
    wait_for(lambda: _confirmed(hub), message="payment.confirmed")
    adapter = hub.hub.adapters["payment"]
    assert isinstance(adapter, PaymentAdapter)
    today = dt.datetime.now(HUB_TZ).date()
    with pytest.raises(RetriableError):  # T+1: today's statement is not ready today
        adapter.statement(today)

    platform.post("/_sandbox/clock", {"advance_s": 86400})
    result = adapter.reconcile(today)

    assert result.balanced
    assert result.matched == [ORDER["order_no"]]


def test_order_number_reused_for_another_amount_is_a_dead_letter(hub: RunningHub) -> None:
    _ordered(hub)
    key = hub.client("hall2", allow=["payment.*"])
    response = hub.post(key, {"type": "payment.requested", "payload": {**ORDER, "amount_fen": 999}})
    message = hub.wait_delivered(response.json()["id"])
    [delivery] = message["deliveries"]
    assert delivery["status"] == "dead"
    assert "another amount" in delivery["last_error"]


def test_an_address_sending_forged_notifications_is_throttled(
    tmp_path: Path, certs: Path, platform: RunningSandbox, receiver: Receiver
) -> None:
    config = hub_config(
        tmp_path,
        destinations=[payment_destination(platform.url, certs)],
        routes=[{"name": "fees", "when": {"type": "payment.requested"}, "to": ["payment"]}],
        limits={"auth_max_failures": 2, "auth_window_s": 60},
    )
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with running_hub(config, dispatch=False) as hub:
        good = _notification(certs)
        forged = {**good, "sign": rsa2.sign(good, stranger, rsa2.NOTIFICATION_UNSIGNED)}
        assert [_notify(hub, forged).status_code for _ in range(2)] == [400, 400]

        refused = _notify(hub, forged)
        genuine = _notify(hub, good)

        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.text.startswith("fail")
        assert genuine.status_code == 429  # the view never ran: nothing looked up or stored
        assert _count(hub, payment_notifications) == 0


def test_refusals_that_are_not_signatures_are_not_counted(
    tmp_path: Path, certs: Path, platform: RunningSandbox, receiver: Receiver
) -> None:
    config = hub_config(
        tmp_path,
        destinations=[payment_destination(platform.url, certs)],
        routes=[{"name": "fees", "when": {"type": "payment.requested"}, "to": ["payment"]}],
        limits={"auth_max_failures": 2, "auth_window_s": 60},
    )
    with running_hub(config, dispatch=False) as hub:
        unknown = _notification(certs, out_trade_no="PAY-NOT-OURS-1")
        assert [_notify(hub, unknown).status_code for _ in range(4)] == [400] * 4
