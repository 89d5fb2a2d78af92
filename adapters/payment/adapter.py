"""The payment adapter: RSA2-signed orders out, verified notifications in.

``deliver`` turns a ``payment.requested`` into an order at the platform (the payer gets
a payment code) and records it in the hub's ledger. The platform later POSTs an
asynchronous notification to ``/inbound/<destination>/notify``; :mod:`.notify` checks
it against the ledger and publishes ``payment.confirmed`` once. ``reconcile(day)``
compares the platform's T+1 statement with the ledger.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.payment import rsa2
from adapters.payment.keys import load_private, load_public
from adapters.payment.ledger import Ledger, OrderConflict
from adapters.payment.reconcile import Reconciliation, StatementLine, parse_statement, reconcile
from adapters.sdk import (
    Adapter,
    AdapterContext,
    Attempt,
    ConfigurationError,
    Receipt,
    RejectedError,
    RetriableError,
)
from adapters.sdk.http import TimeoutSession, raise_for_status, snippet
from hub import __version__
from hub.core.clock import HUB_TZ, parse_time
from hub.core.envelope import Envelope

if TYPE_CHECKING:
    from flask import Blueprint

__all__ = ["PaymentAdapter", "platform_time"]

#: Answer codes of the platform gateway.
OK = "10000"
UNAVAILABLE = "20000"
AUTH_CODES = frozenset({"40006"})
SIGN_SUB_CODES = frozenset({"isv.invalid-signature", "isv.invalid-app-id"})


def platform_time(moment: dt.datetime) -> str:
    """The platform's time format: ``yyyy-MM-dd HH:mm:ss`` in Asia/Shanghai."""
    return moment.astimezone(HUB_TZ).strftime("%Y-%m-%d %H:%M:%S")


class PaymentAdapter(Adapter):
    """统一支付平台: creates payment orders, takes the platform's notifications."""

    name = "payment"
    version = "1.0"
    accepts = ("payment.requested",)
    produces = ("payment.confirmed",)
    settings_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "app_id", "merchant_private_key", "platform_public_key", "notify_url"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "The platform's gateway base URL.",
            },
            "app_id": {
                "type": "string",
                "pattern": "^[0-9A-Za-z]{1,32}$",
                "description": "The hub's merchant application id at the platform.",
            },
            "merchant_private_key": {
                "type": "string",
                "minLength": 1,
                "writeOnly": True,
                "description": "The hub's RSA private key (PEM inline, or a file path"
                " relative to the working directory); signs orders.",
            },
            "platform_public_key": {
                "type": "string",
                "minLength": 1,
                "description": "The platform's RSA public key (PEM inline or a file path);"
                " verifies answers and notifications.",
            },
            "notify_url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "Where the platform posts notifications: the hub's public"
                " URL + /inbound/<destination>/notify.",
            },
            "notify_max_age_s": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": 90000,
                "description": "Older notifications are refused as replays (the platform"
                " retries for about 25 hours).",
            },
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 10},
            "connect_timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 5},
        },
    }

    def __init__(self, destination: str, settings: dict[str, Any]) -> None:
        super().__init__(destination, settings)
        self.url = str(settings["url"]).rstrip("/")
        self.app_id = str(settings["app_id"])
        self.notify_url = str(settings["notify_url"])
        self.notify_max_age_s = float(settings.get("notify_max_age_s", 90000))
        self.http = TimeoutSession(
            timeout_s=float(settings.get("timeout_s", 10)),
            connect_timeout_s=float(settings.get("connect_timeout_s", 5)),
        )
        self.http.headers["User-Agent"] = f"GovHub/{__version__}"
        self._keys_lock = threading.Lock()
        self._merchant_key: rsa.RSAPrivateKey | None = None
        self._platform_key: rsa.RSAPublicKey | None = None
        self._ledger: Ledger | None = None

    def bind(self, context: AdapterContext) -> None:
        """Keep the context; the ledger lives in the hub's store."""
        super().bind(context)
        self._ledger = Ledger(context.storage, self.destination)

    @property
    def ledger(self) -> Ledger:
        """The hub's record of this destination's orders (needs :meth:`bind`)."""
        if self._ledger is None:
            raise RuntimeError("the payment adapter is not bound to a hub")
        return self._ledger

    # ------------------------------------------------------------------ keys

    def merchant_key(self) -> rsa.RSAPrivateKey:
        """The hub's signing key (loaded once)."""
        with self._keys_lock:
            if self._merchant_key is None:
                self._merchant_key = load_private(
                    str(self.settings["merchant_private_key"]), "merchant_private_key"
                )
            return self._merchant_key

    def platform_key(self) -> rsa.RSAPublicKey:
        """The platform's verifying key (loaded once)."""
        with self._keys_lock:
            if self._platform_key is None:
                self._platform_key = load_public(
                    str(self.settings["platform_public_key"]), "platform_public_key"
                )
            return self._platform_key

    # ------------------------------------------------------------------ verbs

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """Create the payment order; the receipt carries the platform's trade number and code.

        Raises:
            RejectedError: The order number was used for another amount, or the platform
                refused the order for good.
            RetriableError: The platform is down or busy.
            ConfigurationError: Our keys or app id are wrong.
        """
        payload = message.payload
        try:
            order = self.ledger.record(
                order_no=payload["order_no"],
                case_no=payload["case_no"],
                amount_fen=int(payload["amount_fen"]),
                item=payload["item"],
                expires_at=parse_time(payload["expires_at"]),
                message_id=message.id,
            )
        except OrderConflict as error:
            raise RejectedError(str(error)) from None
        if order.state == "paid":
            return Receipt(
                detail="already paid",
                data={"order_no": order.order_no, "trade_no": order.trade_no},
            )
        payer = payload["payer"]
        answer = self.gateway(
            "govpay.trade.create",
            {
                "out_trade_no": order.order_no,
                "total_amount": rsa2.yuan_from_fen(order.amount_fen),
                "subject": order.item,
                "case_no": order.case_no,
                "payer_name": payer["name"],
                "payer_id_type": payer.get("id_type", "111"),
                "payer_id_no": payer["id_no"],
                "time_expire": platform_time(parse_time(payload["expires_at"])),
            },
            notify_url=self.notify_url,
        )
        trade_no = str(answer.get("trade_no", ""))
        if not trade_no:
            raise RetriableError(f"{self.destination} answered without a trade_no")
        pay_code = answer.get("pay_code")
        self.ledger.created(order.order_no, trade_no=trade_no, pay_code=pay_code)
        return Receipt(
            status_code=200,
            detail="order created",
            data={
                "order_no": order.order_no,
                "trade_no": trade_no,
                "pay_code": pay_code,
                "pay_url": answer.get("pay_url"),
            },
        )

    def inbound(self) -> Blueprint:
        """``POST /inbound/<destination>/notify``: the platform's notifications."""
        from adapters.payment.notify import blueprint

        return blueprint(self)

    def inbound_paths(self) -> dict[str, dict[str, Any]]:
        """The OpenAPI description of :meth:`inbound`'s endpoints."""
        from adapters.payment.notify import openapi_paths

        return openapi_paths(self.destination)

    def statement(self, day: dt.date) -> list[StatementLine]:
        """The platform's statement of ``day`` (available from the next day on, T+1).

        Raises:
            RetriableError: Not ready yet (``BILL_NOT_READY``), or the platform is down.
            RejectedError: The platform refused the query.
        """
        response = self._post(self._signed("govpay.bill.query", {"bill_date": day.isoformat()}))
        if response.headers.get("Content-Type", "").startswith("text/csv"):
            return parse_statement(response.content.decode("utf-8"))
        try:
            answer = self._answer("govpay.bill.query", response)
        except RejectedError as error:
            if "BILL_NOT_READY" in str(error):
                raise RetriableError(str(error)) from None
            raise
        raise RetriableError(f"{self.destination} sent no statement: {answer.get('msg', '')}")

    def reconcile(self, day: dt.date) -> Reconciliation:
        """Compare the platform's statement of ``day`` with the orders the hub saw paid.

        A scheduled job (``payment.reconcile``) calls this for yesterday.
        """
        return reconcile(day, self.statement(day), self.ledger.paid_on(day))

    def check(self) -> None:
        """The keys load, and the gateway accepts our signature and answers with its own.

        A query for an order that does not exist is enough: ``ACQ.TRADE_NOT_EXIST`` is a
        verified, signed answer.
        """
        self.merchant_key()
        self.platform_key()
        try:
            self.gateway("govpay.trade.query", {"out_trade_no": "GOVHUB-CHECK"})
        except RejectedError:
            return

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()

    # ------------------------------------------------------------------ the gateway

    def gateway(self, method: str, biz: dict[str, Any], **extra: str) -> dict[str, Any]:
        """Call a gateway method; the verified answer object.

        Raises:
            RejectedError: A business error (``40004``) or bad parameters.
            RetriableError: The platform is down (``20000``, 5xx, no answer).
            ConfigurationError: Signature or app id refused, or the answer's signature
                does not verify with the configured platform key.
        """
        response = self._post(self._signed(method, biz, **extra))
        return self._answer(method, response)

    def _signed(self, method: str, biz: dict[str, Any], **extra: str) -> dict[str, str]:
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": platform_time(dt.datetime.now(dt.UTC)),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **extra,
        }
        params["sign"] = rsa2.sign(params, self.merchant_key())
        return params

    def _post(self, params: dict[str, str]) -> requests.Response:
        try:
            response = self.http.post(self.url + "/gateway", data=params, allow_redirects=False)
        except requests.Timeout:
            raise RetriableError(f"{self.destination}: no answer in time") from None
        except requests.ConnectionError as error:
            raise RetriableError(
                f"cannot connect to {self.destination}: {type(error).__name__}"
            ) from None
        raise_for_status(response, self.destination)
        return response

    def _answer(self, method: str, response: requests.Response) -> dict[str, Any]:
        try:
            document = response.json()
        except ValueError:
            raise RetriableError(
                f"{self.destination} answered with no JSON: {snippet(response)}"
            ) from None
        key = method.replace(".", "_") + "_response"
        answer = document.get(key) if isinstance(document, dict) else None
        if not isinstance(answer, dict):
            raise RetriableError(f"{self.destination} answered without {key}")
        signed = {**{k: v for k, v in answer.items() if not isinstance(v, dict | list)}}
        signed["sign"] = document.get("sign", "")
        if not rsa2.verify(signed, self.platform_key()):
            raise ConfigurationError(
                f"{self.destination}'s answer does not verify with platform_public_key"
            )
        code = str(answer.get("code", ""))
        if code == OK:
            return answer
        detail = answer.get("sub_msg") or answer.get("msg", "")
        reason = f"{self.destination}: {code} {answer.get('sub_code', '')} {detail}".strip()
        if code == UNAVAILABLE:
            raise RetriableError(reason)
        if code in AUTH_CODES or answer.get("sub_code") in SIGN_SUB_CODES:
            raise ConfigurationError(reason)
        raise RejectedError(reason)
