"""The courier adapter (EMS 政务专递): orders with waybills, route events in and polled.

``deliver`` sends a ``shipment.requested`` as a signed form POST and returns the waybill
in the receipt. The courier pushes route events to ``/inbound/<destination>/routes``
(:mod:`.inbound`); :meth:`CourierAdapter.track_shipments` polls the open waybills as a
fallback. Either way each event (waybill + code + time) becomes one ``shipment.status``.

The route transform ``<destination>.delivery_order`` turns a ``case.completed`` with
``deliver_by_courier`` into the ``shipment.requested`` that takes the result from the
centre to the applicant, at the address of the case's ``case.submitted``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from adapters.courier import ems
from adapters.courier.address import AddressError, split_address
from adapters.courier.tracking import RouteEvent, ShipmentConflict, Tracking
from adapters.sdk import (
    Adapter,
    AdapterContext,
    Attempt,
    ConfigurationError,
    Receipt,
    RejectedError,
    RetriableError,
    TransformSpec,
)
from adapters.sdk.http import TimeoutSession, raise_for_status, snippet
from hub import __version__
from hub.core.clock import utcnow
from hub.core.envelope import Envelope

if TYPE_CHECKING:
    from flask import Blueprint

__all__ = ["CourierAdapter", "TrackingRun"]

log = logging.getLogger("govhub.courier")

_PARTY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "mobile", "province", "city", "county", "address"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "mobile": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
        "province": {"type": "string", "minLength": 2},
        "city": {"type": "string", "minLength": 2},
        "county": {"type": "string", "minLength": 2},
        "address": {"type": "string", "minLength": 1},
    },
}


@dataclass(frozen=True, slots=True)
class TrackingRun:
    """What one polling round did.

    Attributes:
        polled: Waybills asked about.
        new_events: Events not seen before (each published as ``shipment.status``).
        failed: Waybills whose query failed (tried again next round).
    """

    polled: int
    new_events: int
    failed: int = 0


class CourierAdapter(Adapter):
    """EMS 政务专递: pickup and delivery orders, pushed and polled route events."""

    name = "courier"
    version = "1.0"
    accepts = ("shipment.requested",)
    produces = ("shipment.status",)
    transforms: ClassVar[dict[str, TransformSpec]] = {
        "delivery_order": TransformSpec(
            accepts=("case.completed",),
            produces="shipment.requested",
            description="a completed case with deliver_by_courier → the order that takes"
            " the result to the applicant",
        )
    }
    settings_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "partner_id", "secret", "centre"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "The courier's API base URL.",
            },
            "partner_id": {
                "type": "string",
                "pattern": "^[0-9A-Za-z_-]{1,32}$",
                "description": "The centre's partner (ecCompany) id at the courier.",
            },
            "secret": {
                "type": "string",
                "minLength": 8,
                "writeOnly": True,
                "description": "The partner secret that signs requests and pushes; use ${VAR}.",
            },
            "centre": {
                **_PARTY,
                "description": "The service centre: sender of deliveries, receiver of pickups.",
            },
            "default_province": {
                "type": "string",
                "description": "For applicants' addresses that start at the city or county.",
            },
            "default_city": {"type": "string"},
            "push_tolerance_s": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": 900,
                "description": "Pushes whose timestamp is further off are refused (replays).",
            },
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 10},
            "connect_timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 5},
        },
    }

    def __init__(self, destination: str, settings: dict[str, Any]) -> None:
        super().__init__(destination, settings)
        self.url = str(settings["url"]).rstrip("/")
        self.partner_id = str(settings["partner_id"])
        self.secret = str(settings["secret"])
        self.centre: dict[str, str] = dict(settings["centre"])
        self.push_tolerance_s = float(settings.get("push_tolerance_s", 900))
        self.http = TimeoutSession(
            timeout_s=float(settings.get("timeout_s", 10)),
            connect_timeout_s=float(settings.get("connect_timeout_s", 5)),
        )
        self.http.headers["User-Agent"] = f"GovHub/{__version__}"
        self._tracking: Tracking | None = None

    def bind(self, context: AdapterContext) -> None:
        """Keep the context; shipments and events live in the hub's store."""
        super().bind(context)
        self._tracking = Tracking(context.storage, self.destination)

    @property
    def tracking(self) -> Tracking:
        """The hub's record of this destination's shipments (needs :meth:`bind`)."""
        if self._tracking is None:
            raise RuntimeError("the courier adapter is not bound to a hub")
        return self._tracking

    # ------------------------------------------------------------------ orders

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """Order the pickup or delivery; the receipt carries the waybill.

        An order number already holding a waybill is not ordered again.

        Raises:
            RejectedError: The courier refused the order (bad address...), or the order
                number was used for another case.
            RetriableError: The courier is down or busy.
            ConfigurationError: Partner id or secret refused.
        """
        payload = message.payload
        try:
            shipment = self.tracking.order(
                order_no=payload["order_no"],
                case_no=payload["case_no"],
                direction=payload["direction"],
                message_id=message.id,
            )
        except ShipmentConflict as error:
            raise RejectedError(str(error)) from None
        if shipment.waybill_no:
            return Receipt(
                detail="ordered before",
                data={"order_no": shipment.order_no, "waybill_no": shipment.waybill_no},
            )
        fields: dict[str, str] = {
            "msg_type": "ORDER_CREATE",
            "logistics_order_no": payload["order_no"],
            "biz_type": payload["direction"],
            "case_no": payload["case_no"],
            "contents": payload["contents"],
        }
        for role in ("sender", "receiver"):
            party = payload[role]
            fields.update(
                {
                    f"{role}_name": party["name"],
                    f"{role}_mobile": party["mobile"],
                    f"{role}_prov": party["province"],
                    f"{role}_city": party["city"],
                    f"{role}_county": party["county"],
                    f"{role}_address": party["address"],
                }
            )
        answer = self._call("/api/orders", fields)
        waybill_no = str(answer.get("waybill_no", ""))
        if not waybill_no:
            raise RetriableError(f"{self.destination} answered without a waybill")
        self.tracking.waybill(shipment.order_no, waybill_no)
        return Receipt(
            status_code=200,
            detail=f"waybill {waybill_no}",
            data={"order_no": shipment.order_no, "waybill_no": waybill_no},
        )

    # ------------------------------------------------------------------ tracking

    def track(self, waybill_no: str) -> list[RouteEvent]:
        """Every route event the courier has for a waybill (polling).

        Raises:
            RetriableError, RejectedError, ConfigurationError: As for :meth:`deliver`.
        """
        answer = self._call("/api/traces", {"msg_type": "TRACE_QUERY", "waybill_no": waybill_no})
        return [self.parse_event(item) for item in answer.get("traces", [])]

    def track_shipments(self, limit: int = 100) -> TrackingRun:
        """Poll every open waybill and record what is new: the push fallback.

        The scheduler's ``courier.track_shipments`` job calls this every few minutes;
        events seen before (pushed or polled) change nothing.
        """
        waybills = self.tracking.open_waybills(limit)
        new = failed = 0
        for waybill_no in waybills:
            try:
                events = self.track(waybill_no)
            except RetriableError as error:
                log.warning("tracking %s failed: %s", waybill_no, error)
                failed += 1
                continue
            new += sum(self.record(event, channel="poll") for event in events)
        return TrackingRun(polled=len(waybills), new_events=new, failed=failed)

    def record(self, event: RouteEvent, *, channel: str) -> bool:
        """Store an event once and publish it as ``shipment.status``.

        Publishing uses ``client_ref = shipment.status:<waybill>:<code>:<time>``, so a
        repeat after a crash between the two publishes nothing new.

        Returns:
            True when the event was new.

        Raises:
            RejectedError: The waybill is not one of ours.
        """
        shipment = self.tracking.by_waybill(event.waybill_no)
        if shipment is None:
            raise RejectedError(f"waybill {event.waybill_no} was not ordered by this hub")
        new = self.tracking.record(event, channel=channel)
        payload: dict[str, Any] = {
            "order_no": shipment.order_no,
            "case_no": shipment.case_no,
            "waybill_no": event.waybill_no,
            "code": event.code,
            "description": event.description[:200],
            "occurred_at": event.occurred_at.isoformat(),
        }
        if event.place:
            payload["place"] = event.place[:200]
        acceptance = self.context.publish(
            "shipment.status",
            payload,
            correlation_id=shipment.case_no,
            client_ref=f"shipment.status:{event.waybill_no}:{event.code}:"
            f"{ems.courier_time(event.occurred_at)}",
            channel="notify" if channel == "push" else "poll",
        )
        if new:
            self.tracking.published(event, acceptance.message_id)
        return new

    def inbound(self) -> Blueprint:
        """``POST /inbound/<destination>/routes``: the courier's pushed route events."""
        from adapters.courier.inbound import blueprint

        return blueprint(self)

    # ------------------------------------------------------------------ the transform

    def inbound_paths(self) -> dict[str, dict[str, Any]]:
        """The OpenAPI description of :meth:`inbound`'s endpoints."""
        from adapters.courier.inbound import openapi_paths

        return openapi_paths(self.destination)

    def transform(self, name: str, message: Envelope) -> Envelope:
        """``delivery_order``: the ``shipment.requested`` for a completed case.

        The receiver is the applicant of the case's latest ``case.submitted`` (name,
        mobile, delivery address); the sender is the configured centre. The order number
        is derived from the ``case.completed`` message, so retries order once.

        Raises:
            RejectedError: Not to be delivered by courier, or the case has no stored
                application with a courier address and a mobile number.
        """
        if name != "delivery_order":
            raise NotImplementedError(f"{self.name} has no transform {name!r}")
        payload = message.payload
        if payload.get("deliver_by_courier") is not True:
            raise RejectedError("the case is not to be delivered by courier")
        case_no = str(payload["case_no"])
        application = self._application(message.correlation_id or case_no)
        applicant = application.get("applicant", {})
        delivery = application.get("delivery") or {}
        if delivery.get("method") != "courier" or not delivery.get("address"):
            raise RejectedError(
                f"case {case_no}: its case.submitted has no delivery.address for the courier"
            )
        if not applicant.get("mobile"):
            raise RejectedError(
                f"case {case_no}: its case.submitted has no applicant.mobile for the courier"
            )
        try:
            address = split_address(
                delivery["address"],
                default_province=self.settings.get("default_province") or self.centre["province"],
                default_city=self.settings.get("default_city") or self.centre["city"],
            )
        except AddressError as error:
            raise RejectedError(f"case {case_no}: delivery.address: {error}") from None
        licences = len(payload.get("license_ids", []))
        contents = f"办件结果：{application.get('item_name', case_no)}"[:180]
        if licences:
            contents += f"（证照{licences}份）"
        shipment = {
            "order_no": f"DLV-{message.id}",
            "case_no": case_no,
            "direction": "delivery",
            "sender": dict(self.centre),
            "receiver": {
                "name": applicant["name"],
                "mobile": applicant["mobile"],
                "province": address.province,
                "city": address.city,
                "county": address.county,
                "address": address.address,
            },
            "contents": contents,
        }
        return Envelope(
            id=message.id,
            type="shipment.requested",
            source=message.source,
            payload=shipment,
            created_at=message.created_at,
            client_ref=message.client_ref,
            correlation_id=message.correlation_id,
            headers={**message.headers, "derived_from": message.id},
        )

    def _application(self, case_no: str) -> dict[str, Any]:
        found = self.context.latest("case.submitted", case_no)
        if found is None:
            raise RejectedError(f"case {case_no}: no case.submitted is stored for it")
        return found.payload

    # ------------------------------------------------------------------ plumbing

    def check(self) -> None:
        """The courier answers a signed query (an unknown waybill is fine)."""
        try:
            self.track("0000000000000")
        except RejectedError:
            return

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()

    def signed(self, fields: dict[str, str]) -> dict[str, str]:
        """``fields`` with partner id, timestamp and ``sign``."""
        params = {
            "partner_id": self.partner_id,
            "timestamp": ems.courier_time(utcnow()),
            **fields,
        }
        params["sign"] = ems.sign(params, self.secret)
        return params

    def _call(self, path: str, fields: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.http.post(
                self.url + path, data=self.signed(fields), allow_redirects=False
            )
        except requests.Timeout:
            raise RetriableError(f"{self.destination}: no answer in time") from None
        except requests.ConnectionError as error:
            raise RetriableError(
                f"cannot connect to {self.destination}: {type(error).__name__}"
            ) from None
        raise_for_status(response, self.destination)
        try:
            answer = response.json()
        except ValueError:
            raise RetriableError(
                f"{self.destination} answered with no JSON: {snippet(response)}"
            ) from None
        if not isinstance(answer, dict):
            raise RetriableError(f"{self.destination} answered with no JSON object")
        if str(answer.get("success")).lower() == "true":
            return answer
        code = str(answer.get("error_code", ""))
        reason = f"{self.destination}: {code} {answer.get('error_msg', '')}".strip()
        if code.startswith("S"):
            raise RetriableError(reason)
        if code.startswith("A"):
            raise ConfigurationError(reason)
        raise RejectedError(reason)

    @staticmethod
    def parse_event(item: dict[str, Any]) -> RouteEvent:
        """A route event from the courier's JSON (``waybill_no, op_code, op_time``...)."""
        return RouteEvent(
            waybill_no=str(item["waybill_no"]),
            code=str(item["op_code"]),
            description=str(item.get("op_name") or item["op_code"]),
            occurred_at=ems.parse_courier_time(str(item["op_time"])),
            place=str(item["op_org"]) if item.get("op_org") else None,
        )
