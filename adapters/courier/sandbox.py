"""A courier (EMS 政务专递) as the hub's tests and demo use it.

Orders come as signed form POSTs (``sign = Base64(MD5(sorted k+v + secret))``) and get a
13-digit waybill (the same one again for the same ``logistics_order_no``). A background
thread moves every parcel through its route, one event every ``step_s`` seconds,

    10 已收寄 → 20 运输中 → 30 到达投递局 → 40 派送中 → 50 已妥投

and pushes each event, signed, to the hub's push URL, retrying with backoff until the
hub answers ``success``; with ``duplicate_pushes`` it pushes every event twice, as
couriers do.

API::

    POST /api/orders   msg_type=ORDER_CREATE, logistics_order_no, biz_type, sender_*, receiver_*
    POST /api/traces   msg_type=TRACE_QUERY, waybill_no        → {"traces": [...]}

Control (for tests and the demo)::

    POST /_sandbox/config {"step_s": 0.05, "push_url": "...", "duplicate_pushes": true,
                           "auto_advance": false}
    POST /_sandbox/parcels/<waybill>/advance      the next event now
    GET  /_sandbox/pushes                         every push and its answer
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Flask, Response, jsonify, request

from adapters.courier import ems
from adapters.sdk.sandbox import SandboxInfo, install_faults
from hub.core.clock import HUB_TZ

__all__ = [
    "DEFAULT_PARTNER_ID",
    "DEFAULT_SECRET",
    "ROUTE",
    "SANDBOX",
    "CourierService",
    "create_app",
]

DEFAULT_PARTNER_ID = "GOVHUB-WH"
#: The sandbox's partner secret when none is set; the default configuration uses it too.
DEFAULT_SECRET = "sandbox-courier-secret-0001"  # noqa: S105 - a sandbox's public test value
DEFAULT_PUSH_URL = "http://127.0.0.1:8700/inbound/courier/routes"
#: The route every parcel takes: (code, description, where).
ROUTE = (
    ("10", "已收寄", "{origin}揽投部"),
    ("20", "离开处理中心，发往{county}", "{origin_city}邮区中心局"),
    ("30", "到达投递局", "{county}投递部"),
    ("40", "正在投递", "{county}投递部"),
    ("50", "已妥投，本人签收", "{county}投递部"),
)
REQUIRED = (
    "logistics_order_no",
    "biz_type",
    "receiver_name",
    "receiver_mobile",
    "receiver_prov",
    "receiver_city",
    "receiver_county",
    "receiver_address",
    "sender_name",
    "sender_mobile",
    "sender_city",
    "sender_county",
)


@dataclass
class _Parcel:
    waybill_no: str
    order_no: str
    fields: dict[str, str]
    events: list[dict[str, str]] = field(default_factory=list)
    next_at: float = 0.0


@dataclass
class _Push:
    traces: list[dict[str, str]]
    attempts: int = 0
    next_at: float = 0.0


class CourierService:
    """The courier's parcels, its clock of route events and its pusher (one thread)."""

    def __init__(self, partner_id: str, secret: str, push_url: str) -> None:
        self.partner_id = partner_id
        self.secret = secret
        self.lock = threading.Condition()
        self.parcels: dict[str, _Parcel] = {}
        self.orders: dict[str, str] = {}
        self.pushes: list[dict[str, Any]] = []
        self._pending: list[_Push] = []
        self.default_push_url = push_url
        self.http = requests.Session()
        self.http.trust_env = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._numbers = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Forget parcels and pushes; default settings."""
        with self.lock:
            self.parcels.clear()
            self.orders.clear()
            self.pushes.clear()
            self._pending.clear()
            self.step_s = 10.0
            self.push_url = self.default_push_url
            self.duplicate_pushes = False
            self.auto_advance = True

    def order(self, fields: dict[str, str]) -> _Parcel:
        """The parcel of an order: a new waybill, or the one given before."""
        with self.lock:
            known = self.orders.get(fields["logistics_order_no"])
            if known is not None:
                return self.parcels[known]
            waybill_no = f"11{next(self._numbers):03d}{secrets.randbelow(10**8):08d}"
            parcel = _Parcel(
                waybill_no=waybill_no,
                order_no=fields["logistics_order_no"],
                fields=dict(fields),
                next_at=time.monotonic() + self.step_s,
            )
            self.parcels[waybill_no] = parcel
            self.orders[parcel.order_no] = waybill_no
            self._ensure_thread()
            self.lock.notify_all()
            return parcel

    def advance(self, waybill_no: str) -> dict[str, str] | None:
        """The parcel's next event happens now (and is queued for pushing)."""
        with self.lock:
            parcel = self.parcels[waybill_no]
            if len(parcel.events) >= len(ROUTE):
                return None
            code, description, place = ROUTE[len(parcel.events)]
            names = {
                "origin": parcel.fields.get("sender_county", ""),
                "origin_city": parcel.fields.get("sender_city", ""),
                "county": parcel.fields.get("receiver_county", ""),
            }
            event = {
                "waybill_no": waybill_no,
                "op_code": code,
                "op_name": description.format(**names),
                "op_time": dt.datetime.now(HUB_TZ).strftime(ems.TIME_FORMAT),
                "op_org": place.format(**names),
            }
            parcel.events.append(event)
            parcel.next_at = time.monotonic() + self.step_s
            copies = 2 if self.duplicate_pushes else 1
            for _ in range(copies):
                self._pending.append(_Push([event]))
            self._ensure_thread()
            self.lock.notify_all()
            return event

    def stop(self) -> None:
        """Stop moving parcels and pushing."""
        self._stopping.set()
        with self.lock:
            self.lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.http.close()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sandbox-courier", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            with self.lock:
                if self.auto_advance:
                    due = [
                        p.waybill_no
                        for p in self.parcels.values()
                        if p.next_at <= now and len(p.events) < len(ROUTE)
                    ]
                else:
                    due = []
            for waybill_no in due:
                self.advance(waybill_no)
            with self.lock:
                ready = [p for p in self._pending if p.next_at <= now]
            for push in ready:
                self._push(push)
            with self.lock:
                self.lock.wait(timeout=min(0.05, max(0.01, self.step_s / 4)))

    def _push(self, push: _Push) -> None:
        params = {
            "partner_id": self.partner_id,
            "msg_type": "TRACE_PUSH",
            "timestamp": dt.datetime.now(HUB_TZ).strftime(ems.TIME_FORMAT),
            "traces": json.dumps(push.traces, ensure_ascii=False),
        }
        params["sign"] = ems.sign(params, self.secret)
        try:
            response = self.http.post(self.push_url, data=params, timeout=5)
            status = response.status_code
            ok = status == 200 and str(response.json().get("success")) == "true"
        except (requests.RequestException, ValueError):
            status, ok = 0, False
        with self.lock:
            push.attempts += 1
            self.pushes.append(
                {
                    "waybill_no": push.traces[0]["waybill_no"],
                    "op_code": push.traces[0]["op_code"],
                    "status": status,
                    "ok": ok,
                }
            )
            if ok or push.attempts >= 12:
                if push in self._pending:
                    self._pending.remove(push)
            else:
                push.next_at = time.monotonic() + min(60.0, 0.05 * 2**push.attempts)


def create_app(
    partner_id: str = DEFAULT_PARTNER_ID,
    secret: str | None = None,
    push_url: str | None = None,
) -> Flask:
    """The courier app.

    Args:
        partner_id: The centre's partner id.
        secret: The partner secret; ``$GOVHUB_COURIER_SECRET`` or :data:`DEFAULT_SECRET`.
        push_url: Where route events are pushed; ``$GOVHUB_COURIER_PUSH_URL`` or the
            default hub's ``/inbound/courier/routes``.
    """
    service = CourierService(
        partner_id,
        secret or os.environ.get("GOVHUB_COURIER_SECRET", DEFAULT_SECRET),
        push_url or os.environ.get("GOVHUB_COURIER_PUSH_URL", DEFAULT_PUSH_URL),
    )
    app = Flask("govhub.sandbox.courier")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["courier_sandbox"] = service

    def fail(code: str, message: str, status: int = 200) -> tuple[Response, int]:
        return jsonify({"success": "false", "error_code": code, "error_msg": message}), status

    def render_fault(kind: str) -> Response | None:
        code, message = ("B01", "业务校验失败") if kind == "client" else ("S01", "系统繁忙")
        return jsonify({"success": "false", "error_code": code, "error_msg": message})

    def effects() -> list[dict[str, Any]]:
        with service.lock:
            return [
                {"kind": "order", "key": p.order_no, "waybill_no": p.waybill_no}
                for p in service.parcels.values()
            ]

    install_faults(app, service.reset, render_fault=render_fault, effects=effects)

    def signed_params() -> tuple[dict[str, str] | None, tuple[Response, int] | None]:
        params = {key: request.form[key] for key in request.form}
        if params.get("partner_id") != service.partner_id:
            return None, fail("A01", "unknown partner_id")
        if not ems.verify(params, service.secret):
            return None, fail("A02", "sign does not verify")
        return params, None

    @app.post("/api/orders")
    def create_order() -> tuple[Response, int]:
        params, refusal = signed_params()
        if refusal is not None:
            return refusal
        assert params is not None
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            return fail("B02", f"missing {', '.join(missing)}")
        if params["biz_type"] not in ("pickup", "delivery"):
            return fail("B03", "biz_type is pickup or delivery")
        parcel = service.order(params)
        return jsonify(
            {
                "success": "true",
                "logistics_order_no": parcel.order_no,
                "waybill_no": parcel.waybill_no,
            }
        ), 200

    @app.post("/api/traces")
    def traces() -> tuple[Response, int]:
        params, refusal = signed_params()
        if refusal is not None:
            return refusal
        assert params is not None
        with service.lock:
            parcel = service.parcels.get(params.get("waybill_no", ""))
            if parcel is None:
                return fail("B04", "no such waybill")
            return jsonify({"success": "true", "traces": list(parcel.events)}), 200

    @app.post("/_sandbox/config")
    def configure() -> Response:
        document = request.get_json(silent=True) or {}
        with service.lock:
            if "step_s" in document:
                service.step_s = max(0.01, float(document["step_s"]))
            if "push_url" in document:
                service.push_url = str(document["push_url"])
            if "duplicate_pushes" in document:
                service.duplicate_pushes = bool(document["duplicate_pushes"])
            if "auto_advance" in document:
                service.auto_advance = bool(document["auto_advance"])
            return jsonify(
                {
                    "step_s": service.step_s,
                    "push_url": service.push_url,
                    "duplicate_pushes": service.duplicate_pushes,
                    "auto_advance": service.auto_advance,
                }
            )

    @app.post("/_sandbox/parcels/<waybill_no>/advance")
    def advance(waybill_no: str) -> tuple[Response, int]:
        try:
            event = service.advance(waybill_no)
        except KeyError:
            return jsonify({"error": "no such waybill"}), 404
        return jsonify({"event": event}), 200

    @app.get("/_sandbox/pushes")
    def pushes() -> Response:
        with service.lock:
            return jsonify({"items": list(service.pushes)})

    return app


SANDBOX = SandboxInfo(
    name="courier",
    default_port=9971,
    create_app=create_app,
    description="EMS 政务专递: signed orders, waybills, parcels moving and pushing route events",
)
