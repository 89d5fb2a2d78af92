"""The courier's pushed route events: ``POST /inbound/<destination>/routes``.

Form-encoded: ``partner_id``, ``msg_type=TRACE_PUSH``, ``timestamp``, ``traces`` (a JSON
array of ``{waybill_no, op_code, op_name, op_time, op_org}``) and ``sign``. The push is
verified (sign, partner id, timestamp within ``push_tolerance_s``), each trace is
stored once (waybill + code + time) and published as ``shipment.status``, and only then
the answer is ``{"success": "true"}``. A push that does not verify is refused (401,
logged, nothing stored); an event for a waybill that is not ours is skipped and logged
(the courier would otherwise retry it for ever).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from adapters.courier import ems
from adapters.sdk import AdapterError, RejectedError
from adapters.sdk.inbound import failed_authentication, form_post
from hub.core.clock import utcnow
from hub.core.identifiers import mask_text

if TYPE_CHECKING:
    from adapters.courier.adapter import CourierAdapter

__all__ = ["blueprint", "openapi_paths"]

log = logging.getLogger("govhub.courier")

MAX_TRACES = 200


def _answer(status: int, **fields: Any) -> tuple[Response, int]:
    return jsonify({"success": "true" if status == 200 else "false", **fields}), status


def blueprint(adapter: CourierAdapter) -> Blueprint:
    """The push endpoint of one courier destination."""
    endpoints = Blueprint(f"courier_{adapter.destination}", __name__)

    @endpoints.post("/routes")
    def routes() -> tuple[Response, int]:
        params = {key: request.form[key] for key in request.form}
        refusal = _refusal(adapter, params)
        if refusal is not None:
            if refusal.startswith("sign"):
                failed_authentication()
            log.warning(
                "courier push refused on %s from %s: %s; nothing stored",
                adapter.destination,
                request.remote_addr or "?",
                refusal,
            )
            return _answer(401 if "sign" in refusal else 400, error_msg=refusal)
        try:
            traces = json.loads(params["traces"])
            if not isinstance(traces, list) or len(traces) > MAX_TRACES:
                raise ValueError("traces must be a JSON array of at most 200 events")
            events = [adapter.parse_event(item) for item in traces]
        except (ValueError, KeyError, TypeError) as error:
            return _answer(400, error_msg=f"traces: {type(error).__name__}")
        new = skipped = 0
        for event in events:
            try:
                new += adapter.record(event, channel="push")
            except RejectedError as error:
                skipped += 1
                log.warning("courier push on %s: %s", adapter.destination, mask_text(str(error)))
            except AdapterError as error:
                log.error("courier push on %s failed: %s", adapter.destination, error)
                return _answer(500, error_msg="try again")
        return _answer(200, received=len(events), new=new, skipped=skipped)

    return endpoints


def _refusal(adapter: CourierAdapter, params: dict[str, str]) -> str | None:
    if not ems.verify(params, adapter.secret):
        return "sign: does not verify (forged or tampered)"
    if params.get("partner_id") != adapter.partner_id:
        return "partner_id: not this centre's"
    if params.get("msg_type") != "TRACE_PUSH" or "traces" not in params:
        return "msg_type: expected TRACE_PUSH with traces"
    try:
        sent = ems.parse_courier_time(params.get("timestamp", ""))
    except ValueError:
        return "timestamp: not yyyy-MM-dd HH:mm:ss"
    if abs((utcnow() - sent).total_seconds()) > adapter.push_tolerance_s:
        return "timestamp: outside the accepted window (replayed?)"
    return None


def openapi_paths(destination: str) -> dict[str, dict[str, Any]]:
    """The OpenAPI description of the endpoints :func:`blueprint` serves for ``destination``."""
    return form_post(
        f"/inbound/{destination}/routes",
        summary=f"Route events pushed by the courier ({destination})",
        description="Form-encoded, signed Base64(MD5(sorted k+v + secret)); each event is"
        " stored once (waybill + code + time) and published as shipment.status.",
        operation_id=f"courierRoutes_{destination}",
        responses={
            "200": "Recorded",
            "400": "Malformed",
            "401": "Signature does not verify",
            "500": "Try again",
        },
        media_type="application/json",
    )
