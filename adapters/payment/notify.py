"""The platform's asynchronous notification: verify, check, store once, publish, answer.

``POST /inbound/<destination>/notify`` (form-encoded, signed RSA2 by the platform). The
platform retries until it reads ``success``, so the same notification arriving again
is normal: it changes nothing and is answered ``success`` again. In order:

1. the signature verifies with the platform's public key (else: forged or tampered);
2. it is for our app id, and ``notify_time`` is recent (else: a replay);
3. the order is in the ledger, the amount is the order's, the state allows payment;
4. the ledger records it and marks the order paid, in one transaction (unique keys:
   one paying notification per order);
5. ``payment.confirmed`` is published with ``client_ref = payment.confirmed:<order_no>``
   (so a repeat after a crash publishes nothing new);
6. only then the answer is ``success``.

A refusal is logged (no personal data) and answered ``fail`` with 400; nothing is
stored. Our own trouble is answered ``fail`` with 500 so the platform tries again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from adapters.payment import rsa2
from adapters.payment.ledger import Notification, Order
from adapters.sdk import AdapterError
from adapters.sdk.inbound import failed_authentication, form_post
from hub.core.clock import HUB_TZ, format_time, utcnow
from hub.core.identifiers import mask_text

if TYPE_CHECKING:
    from adapters.payment.adapter import PaymentAdapter

__all__ = ["NotifyResult", "Refused", "blueprint", "openapi_paths", "process"]

log = logging.getLogger("govhub.payment")

REQUIRED = (
    "notify_id",
    "notify_time",
    "app_id",
    "out_trade_no",
    "trade_no",
    "trade_status",
    "total_amount",
    "sign_type",
    "sign",
)
PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
MAX_FIELDS = 64
MAX_VALUE = 4096
FUTURE_SKEW_S = 300


class Refused(Exception):
    """A notification that must not count; ``field`` names the parameter at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NotifyResult:
    """What a (verified) notification did.

    Attributes:
        outcome: ``paid`` (this one paid the order), ``duplicate`` (already paid by the
            same trade: nothing changed) or ``ignored`` (a status that pays nothing).
        order_no: The order.
        message_id: The ``payment.confirmed`` message, when there is one.
    """

    outcome: str
    order_no: str
    message_id: str | None = None


def _platform_time(text: str, field: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=HUB_TZ)
    except ValueError:
        raise Refused(field, "not yyyy-MM-dd HH:mm:ss") from None


def process(adapter: PaymentAdapter, params: Mapping[str, str]) -> NotifyResult:
    """Check one notification and apply it once.

    Raises:
        Refused: Forged, tampered, replayed, for an unknown order, for another amount,
            or in a state that cannot pay; nothing was stored.
        AdapterError: Our configuration is wrong (the platform key cannot be loaded).
    """
    for name in REQUIRED:
        if not params.get(name):
            raise Refused(name, "missing")
    if params["sign_type"] != "RSA2":
        raise Refused("sign_type", "only RSA2 is accepted")
    if not rsa2.verify(params, adapter.platform_key(), rsa2.NOTIFICATION_UNSIGNED):
        raise Refused("sign", "does not verify with the platform's key (forged or tampered)")
    if params["app_id"] != adapter.app_id:
        raise Refused("app_id", "not this hub's app id")
    notify_time = _platform_time(params["notify_time"], "notify_time")
    age = (utcnow() - notify_time).total_seconds()
    if age > adapter.notify_max_age_s or age < -FUTURE_SKEW_S:
        raise Refused("notify_time", "outside the accepted window (replayed?)")
    order_no = params["out_trade_no"]
    order = adapter.ledger.find(order_no)
    if order is None:
        raise Refused("out_trade_no", "no such order was sent by this hub")
    try:
        amount = rsa2.fen_from_yuan(params["total_amount"])
    except ValueError as error:
        raise Refused("total_amount", str(error)) from None
    if amount != order.amount_fen:
        raise Refused("total_amount", f"differs from the order's {order.amount_fen} fen")
    status = params["trade_status"]
    if status == "WAIT_BUYER_PAY":
        return NotifyResult("ignored", order_no)
    if status == "TRADE_CLOSED":
        if order.state == "paid":
            raise Refused("trade_status", "the order is paid; it cannot close")
        adapter.ledger.close(order_no)
        return NotifyResult("ignored", order_no)
    if status not in PAID:
        raise Refused("trade_status", "not a status the platform documents")
    trade_no = params["trade_no"]
    if order.trade_no and order.trade_no != trade_no:
        raise Refused("trade_no", "differs from the trade the platform opened for the order")
    if order.state == "closed":
        raise Refused("out_trade_no", "the order is closed")
    if order.state == "paid":
        return NotifyResult("duplicate", order_no, _confirm(adapter, order).message_id)
    paid_at = (
        _platform_time(params["gmt_payment"], "gmt_payment")
        if params.get("gmt_payment")
        else notify_time
    )
    notification = Notification(
        notify_id=params["notify_id"][:64],
        order_no=order_no,
        trade_no=trade_no,
        amount_fen=amount,
        trade_status=status,
        notify_time=notify_time,
        paid_at=paid_at,
        pay_channel=(params.get("pay_channel") or None),
        digest=hashlib.sha256(
            (rsa2.signing_string(params) + "&sign=" + params["sign"]).encode()
        ).hexdigest(),
    )
    made = adapter.ledger.pay(notification)
    current = adapter.ledger.find(order_no)
    assert current is not None
    if not made and (current.state != "paid" or current.trade_no != trade_no):
        raise Refused("out_trade_no", "the order cannot be paid by this trade")
    confirmed = _confirm(adapter, current)
    return NotifyResult("paid" if made else "duplicate", order_no, confirmed.message_id)


def _confirm(adapter: PaymentAdapter, order: Order) -> NotifyResult:
    assert order.paid_at is not None
    assert order.trade_no is not None
    acceptance = adapter.context.publish(
        "payment.confirmed",
        {
            "order_no": order.order_no,
            "case_no": order.case_no,
            "amount_fen": order.amount_fen,
            "channel_trade_no": order.trade_no,
            "paid_at": format_time(order.paid_at),
        },
        correlation_id=order.case_no,
        client_ref=f"payment.confirmed:{order.order_no}",
        channel="notify",
    )
    return NotifyResult("paid", order.order_no, acceptance.message_id)


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def blueprint(adapter: PaymentAdapter) -> Blueprint:
    """The notification endpoint of one payment destination."""
    endpoints = Blueprint(f"payment_{adapter.destination}", __name__)

    @endpoints.post("/notify")
    def notify() -> Response:
        form = request.form
        if len(form) > MAX_FIELDS or any(len(v) > MAX_VALUE for v in form.values()):
            return _text("fail", 413)
        params = {key: form[key] for key in form}
        remote = request.remote_addr or "?"
        try:
            result = process(adapter, params)
        except Refused as refusal:
            if refusal.field == "sign":
                failed_authentication()
            log.warning(
                "payment notification refused on %s from %s: %s (order %s); nothing stored",
                adapter.destination,
                remote,
                mask_text(str(refusal)),
                mask_text(params.get("out_trade_no", "-")[:64]),
            )
            return _text("fail", 400)
        except AdapterError as error:
            log.error(
                "payment notification on %s cannot be checked: %s", adapter.destination, error
            )
            return _text("fail", 500)
        log.info(
            "payment notification on %s: %s (order %s)",
            adapter.destination,
            result.outcome,
            result.order_no,
        )
        return _text("success", 200)

    return endpoints


def openapi_paths(destination: str) -> dict[str, dict[str, Any]]:
    """The OpenAPI description of the endpoints :func:`blueprint` serves for ``destination``."""
    return form_post(
        f"/inbound/{destination}/notify",
        summary=f"Payment notification from the platform ({destination})",
        description="Form-encoded, signed RSA2 by the platform; answered `success` once"
        " verified and recorded (duplicates too), `fail` otherwise.",
        operation_id=f"paymentNotify_{destination}",
        responses={
            "200": "success",
            "400": "fail: refused",
            "413": "fail: too large",
            "500": "fail: try again",
        },
    )
