"""A payment platform (统一支付平台) as the hub's tests and demo use it.

It behaves like the real gateway: every request is form-encoded and signed RSA2 with
the merchant's key; every answer is signed with the platform's key. Keys come from
``certs.devca`` (generated at start-up into ``certs/dev/payment/``, never committed).

Gateway (``POST /gateway``, parameter ``method``)::

    govpay.trade.create   create an order: a trade number and a payment code (idempotent
                          per out_trade_no and amount)
    govpay.trade.query    an order's state
    govpay.bill.query     the statement (CSV) of a day that has ended (T+1)

When an order is paid, a background thread POSTs the signed notification to the
order's ``notify_url`` and retries with backoff until the answer is ``success``.

Control (for tests and the demo)::

    POST /_sandbox/orders/<out_trade_no>/pay   {"pay_channel"?}   the payer pays
    POST /_sandbox/config   {"repeat_notifications": 3, "retry_schedule_s": [1, 2, 4]}
    POST /_sandbox/clock    {"advance_s": 86400}                  move the platform's day on
    GET  /_sandbox/notifications                                  every send and its answer
    GET  /keys/platform.pem                                       the platform's public key
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, request

from adapters.payment import rsa2
from adapters.payment.reconcile import HEADER
from adapters.sdk.sandbox import SandboxInfo, install_faults
from certs.devca import ensure_payment_keys, load_private_key, load_public_key
from hub.core.clock import HUB_TZ

__all__ = ["DEFAULT_APP_ID", "SANDBOX", "PaymentPlatform", "create_app"]

log = logging.getLogger("govhub.sandbox.payment")

#: The merchant app id the default configuration uses.
DEFAULT_APP_ID = "2026000000000001"
DEFAULT_SCHEDULE = (2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 120.0, 300.0, 600.0)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class _Order:
    app_id: str
    out_trade_no: str
    trade_no: str
    amount_fen: int
    subject: str
    notify_url: str
    pay_code: str
    status: str = "WAIT_BUYER_PAY"
    paid_at: dt.datetime | None = None
    pay_channel: str = ""


@dataclass
class _Notification:
    notify_id: str
    url: str
    params: dict[str, str]
    sends: list[dict[str, Any]] = field(default_factory=list)
    acked: bool = False
    failures: int = 0
    gave_up: bool = False


class PaymentPlatform:
    """The platform's state and its notification sender (one background thread).

    Args:
        platform_key: Signs answers and notifications.
        merchants: Merchant app ids and their public keys.
    """

    def __init__(
        self, platform_key: rsa.RSAPrivateKey, merchants: dict[str, rsa.RSAPublicKey]
    ) -> None:
        self.platform_key = platform_key
        self.merchants = merchants
        self.lock = threading.Condition()
        self.orders: dict[tuple[str, str], _Order] = {}
        self.notifications: list[_Notification] = []
        self.repeat = 1
        self.schedule: tuple[float, ...] = DEFAULT_SCHEDULE
        self.offset = dt.timedelta()
        self._queue: list[tuple[float, int, _Notification]] = []
        self._sequence = itertools.count()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.http = requests.Session()
        self.http.trust_env = False

    # ------------------------------------------------------------------ clock and state

    def now(self) -> dt.datetime:
        """The platform's clock (real time, moved on by ``/_sandbox/clock``)."""
        return dt.datetime.now(HUB_TZ) + self.offset

    def reset(self) -> None:
        """Forget orders and notifications; default settings."""
        with self.lock:
            self.orders.clear()
            self.notifications.clear()
            self._queue.clear()
            self.repeat = 1
            self.schedule = DEFAULT_SCHEDULE
            self.offset = dt.timedelta()

    def sign(
        self, params: dict[str, str], unsigned: tuple[str, ...] = rsa2.REQUEST_UNSIGNED
    ) -> dict[str, str]:
        """``params`` with the platform's ``sign`` (over all but ``unsigned``)."""
        return {**params, "sign": rsa2.sign(params, self.platform_key, unsigned)}

    # ------------------------------------------------------------------ paying

    def pay(self, app_id: str, out_trade_no: str, pay_channel: str = "ALIPAY") -> _Notification:
        """The payer pays: the order is paid and its notification queued.

        Raises:
            KeyError: No such order.
            ValueError: It is not waiting for payment.
        """
        with self.lock:
            order = self.orders[(app_id, out_trade_no)]
            if order.status != "WAIT_BUYER_PAY":
                raise ValueError(f"the order is {order.status}")
            order.status = "TRADE_SUCCESS"
            order.paid_at = self.now()
            order.pay_channel = pay_channel
            params = self.sign(
                {
                    "notify_id": secrets.token_hex(16),
                    "notify_time": self.now().strftime(TIME_FORMAT),
                    "notify_type": "trade_status_sync",
                    "app_id": app_id,
                    "charset": "utf-8",
                    "version": "1.0",
                    "sign_type": "RSA2",
                    "out_trade_no": order.out_trade_no,
                    "trade_no": order.trade_no,
                    "trade_status": order.status,
                    "total_amount": rsa2.yuan_from_fen(order.amount_fen),
                    "gmt_payment": order.paid_at.strftime(TIME_FORMAT),
                    "pay_channel": pay_channel,
                },
                rsa2.NOTIFICATION_UNSIGNED,
            )
            notification = _Notification(params["notify_id"], order.notify_url, params)
            self.notifications.append(notification)
            self._schedule(notification, 0.0)
        return notification

    # ------------------------------------------------------------------ the sender

    def _schedule(self, notification: _Notification, delay: float) -> None:
        heapq.heappush(self._queue, (time.monotonic() + delay, next(self._sequence), notification))
        self.lock.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="sandbox-payment-notifier", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop sending notifications."""
        self._stopping.set()
        with self.lock:
            self.lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.http.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self.lock:
                while not self._stopping.is_set():
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        _due, _seq, notification = heapq.heappop(self._queue)
                        break
                    wait = self._queue[0][0] - time.monotonic() if self._queue else 1.0
                    self.lock.wait(timeout=max(0.005, min(wait, 1.0)))
                else:
                    return
            self._send(notification)

    def _send(self, notification: _Notification) -> None:
        started = time.monotonic()
        try:
            response = self.http.post(notification.url, data=notification.params, timeout=5)
            status, body = response.status_code, response.text.strip()[:100]
        except requests.RequestException as error:
            status, body = 0, type(error).__name__
        acked = status == 200 and body == "success"
        with self.lock:
            notification.sends.append(
                {"status": status, "body": body, "ms": int((time.monotonic() - started) * 1000)}
            )
            if acked:
                notification.acked = True
            else:
                notification.failures += 1
            if acked and len(notification.sends) < self.repeat:
                # as if our ack was lost on the way: the platform sends it again
                self._schedule(notification, 0.0)
            elif not notification.acked:
                if notification.failures > len(self.schedule):
                    notification.gave_up = True
                else:
                    self._schedule(notification, self.schedule[notification.failures - 1])


def create_app(directory: Path | None = None, app_id: str = DEFAULT_APP_ID) -> Flask:
    """The payment platform app.

    Args:
        directory: Where the dev keys live (``certs.devca.default_dir()`` by default).
        app_id: The merchant app id the hub uses.
    """
    keys = ensure_payment_keys(directory)
    platform_key = load_private_key(keys.platform.private_path)
    merchant_key = load_public_key(keys.merchant.public_path)
    if not isinstance(platform_key, rsa.RSAPrivateKey) or not isinstance(
        merchant_key, rsa.RSAPublicKey
    ):
        raise ValueError("the payment sandbox needs RSA keys")
    platform = PaymentPlatform(platform_key, {app_id: merchant_key})
    app = Flask("govhub.sandbox.payment")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["payment_sandbox"] = platform

    def render_fault(kind: str) -> Response:
        method = request.form.get("method", "govpay.unknown")
        if kind == "client":
            return failure(method, "40004", "ACQ.INVALID_PARAMETER", "sandbox: client fault")
        return answer(method, {"code": "20000", "msg": "Service Currently Unavailable"})

    def effects() -> list[dict[str, Any]]:
        with platform.lock:
            return [
                {"kind": "order", "key": order.out_trade_no, "trade_no": order.trade_no}
                for order in platform.orders.values()
            ]

    install_faults(app, platform.reset, render_fault=render_fault, effects=effects)

    def answer(method: str, fields: dict[str, Any]) -> Response:
        flat = {k: str(v) for k, v in fields.items() if v is not None}
        signed = platform.sign(flat)
        key = method.replace(".", "_") + "_response"
        return jsonify({key: flat, "sign": signed["sign"]})

    def failure(method: str, code: str, sub_code: str, message: str) -> Response:
        return answer(
            method,
            {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": message},
        )

    @app.get("/gateway")
    def gateway_alive() -> Response:
        return jsonify({"gateway": "ok"})

    @app.post("/gateway")
    def gateway() -> Response:
        params = {key: request.form[key] for key in request.form}
        method = params.get("method", "")
        merchant = platform.merchants.get(params.get("app_id", ""))
        if merchant is None:
            return failure(method, "40002", "isv.invalid-app-id", "unknown app_id")
        if params.get("sign_type") != "RSA2" or not rsa2.verify(params, merchant):
            return failure(method, "40002", "isv.invalid-signature", "signature does not verify")
        try:
            biz = json.loads(params.get("biz_content", "{}"))
        except ValueError:
            return failure(method, "40002", "isv.invalid-biz-content", "biz_content is not JSON")
        if method == "govpay.trade.create":
            return create(params, biz)
        if method == "govpay.trade.query":
            return query(params, biz)
        if method == "govpay.bill.query":
            return bill(params, biz)
        return failure(method, "40002", "isv.invalid-method", "unknown method")

    def create(params: dict[str, str], biz: dict[str, Any]) -> Response:
        method = "govpay.trade.create"
        out_trade_no = str(biz.get("out_trade_no", ""))
        try:
            amount = rsa2.fen_from_yuan(str(biz.get("total_amount", "")))
        except ValueError:
            return failure(method, "40004", "ACQ.INVALID_PARAMETER", "total_amount")
        if not out_trade_no or not biz.get("subject") or not params.get("notify_url"):
            return failure(
                method, "40004", "ACQ.INVALID_PARAMETER", "out_trade_no/subject/notify_url"
            )
        key = (params["app_id"], out_trade_no)
        with platform.lock:
            order = platform.orders.get(key)
            if order is not None and order.amount_fen != amount:
                return failure(method, "40004", "ACQ.TRADE_NO_DUPLICATE", "another amount")
            if order is not None and order.status == "TRADE_SUCCESS":
                return failure(method, "40004", "ACQ.TRADE_HAS_SUCCESS", "already paid")
            if order is None:
                stamp = platform.now().strftime("%Y%m%d")
                order = _Order(
                    app_id=params["app_id"],
                    out_trade_no=out_trade_no,
                    trade_no=f"{stamp}2200{secrets.randbelow(10**14):014d}",
                    amount_fen=amount,
                    subject=str(biz["subject"])[:128],
                    notify_url=params["notify_url"],
                    pay_code=f"{secrets.randbelow(10**20):020d}",
                )
                platform.orders[key] = order
        return answer(
            method,
            {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": order.out_trade_no,
                "trade_no": order.trade_no,
                "total_amount": rsa2.yuan_from_fen(order.amount_fen),
                "pay_code": order.pay_code,
                "pay_url": f"{request.host_url}pay/{order.pay_code}",
            },
        )

    def query(params: dict[str, str], biz: dict[str, Any]) -> Response:
        method = "govpay.trade.query"
        with platform.lock:
            order = platform.orders.get((params["app_id"], str(biz.get("out_trade_no", ""))))
        if order is None:
            return failure(method, "40004", "ACQ.TRADE_NOT_EXIST", "no such order")
        return answer(
            method,
            {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": order.out_trade_no,
                "trade_no": order.trade_no,
                "trade_status": order.status,
                "total_amount": rsa2.yuan_from_fen(order.amount_fen),
            },
        )

    def bill(params: dict[str, str], biz: dict[str, Any]) -> Response:
        method = "govpay.bill.query"
        try:
            day = dt.date.fromisoformat(str(biz.get("bill_date", "")))
        except ValueError:
            return failure(method, "40004", "ACQ.INVALID_PARAMETER", "bill_date")
        if day >= platform.now().date():
            return failure(
                method, "40004", "BILL_NOT_READY", "a day's statement is ready the next day"
            )
        with platform.lock:
            paid = sorted(
                (
                    o
                    for o in platform.orders.values()
                    if o.app_id == params["app_id"] and o.paid_at and o.paid_at.date() == day
                ),
                key=lambda o: o.paid_at or platform.now(),
            )
        lines = [
            f"# 统一支付对账单 app_id={params['app_id']} bill_date={day.isoformat()}",
            ",".join(HEADER),
        ]
        for order in paid:
            assert order.paid_at is not None
            lines.append(
                ",".join(
                    [
                        order.trade_no,
                        order.out_trade_no,
                        rsa2.yuan_from_fen(order.amount_fen),
                        order.status,
                        order.paid_at.strftime(TIME_FORMAT),
                        order.pay_channel,
                    ]
                )
            )
        total = sum(o.amount_fen for o in paid)
        lines.append(f"# total count={len(paid)} amount={rsa2.yuan_from_fen(total)}")
        return Response("\n".join(lines) + "\n", mimetype="text/csv")

    @app.post("/_sandbox/orders/<out_trade_no>/pay")
    def pay(out_trade_no: str) -> tuple[Response, int]:
        document = request.get_json(silent=True) or {}
        try:
            notification = platform.pay(
                str(document.get("app_id", app_id)),
                out_trade_no,
                str(document.get("pay_channel", "ALIPAY")),
            )
        except KeyError:
            return jsonify({"error": "no such order"}), 404
        except ValueError as error:
            return jsonify({"error": str(error)}), 409
        return jsonify(
            {"notify_id": notification.notify_id, "trade_no": notification.params["trade_no"]}
        ), 200

    @app.post("/_sandbox/config")
    def configure() -> Response:
        document = request.get_json(silent=True) or {}
        with platform.lock:
            if "repeat_notifications" in document:
                platform.repeat = max(1, int(document["repeat_notifications"]))
            if "retry_schedule_s" in document:
                platform.schedule = tuple(float(s) for s in document["retry_schedule_s"])
            return jsonify(
                {
                    "repeat_notifications": platform.repeat,
                    "retry_schedule_s": list(platform.schedule),
                }
            )

    @app.post("/_sandbox/clock")
    def clock() -> Response:
        document = request.get_json(silent=True) or {}
        with platform.lock:
            platform.offset += dt.timedelta(seconds=float(document.get("advance_s", 0)))
            return jsonify({"now": platform.now().isoformat(timespec="seconds")})

    @app.get("/_sandbox/notifications")
    def notifications() -> Response:
        with platform.lock:
            return jsonify(
                {
                    "items": [
                        {
                            "notify_id": n.notify_id,
                            "out_trade_no": n.params["out_trade_no"],
                            "acked": n.acked,
                            "gave_up": n.gave_up,
                            "sends": list(n.sends),
                        }
                        for n in platform.notifications
                    ]
                }
            )

    @app.get("/keys/platform.pem")
    def platform_public_key() -> Response:
        pem = platform_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return Response(pem, mimetype="application/x-pem-file")

    return app


SANDBOX = SandboxInfo(
    name="payment",
    default_port=9961,
    create_app=create_app,
    description="a payment platform: RSA2 orders, notifications with retries, T+1 statements",
)
