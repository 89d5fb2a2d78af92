"""``courier.track_shipments``: poll the courier for parcels its pushes did not close, every 10 min.

The courier pushes route events as they happen; a push can be lost. Every open shipment
(ordered or in transit, not yet delivered or returned) is polled here, oldest first, and
each event the hub has not seen is stored and published as ``shipment.status`` by the
courier adapter, deduplicated on waybill + code + time, so a pushed and a polled copy of
one event are one message. A waybill whose query fails is counted and tried next round.
"""

from __future__ import annotations

from adapters.sdk import RejectedError, RetriableError
from hub.scheduler import JobContext, job, minutes


@job(
    "courier.track_shipments",
    every=minutes(10),
    adapter="courier",
    publishes=("shipment.status",),
    settings={
        "limit": {
            "type": "integer",
            "minimum": 1,
            "maximum": 5000,
            "default": 200,
            "description": "Open shipments polled per run at most (oldest first).",
        },
    },
)
def track_shipments(ctx: JobContext) -> None:
    """Open shipments are polled for route events the pushes missed (→ shipment.status)."""
    courier = ctx.adapter
    waybills = courier.tracking.open_waybills(ctx.settings["limit"])
    ctx.log.info("%d open shipment(s) to poll", len(waybills))
    for waybill_no in waybills:
        ctx.check()
        try:
            events = courier.track(waybill_no)
        except (RetriableError, RejectedError) as error:
            ctx.count_failed(reason=f"tracking {waybill_no} failed: {error}; tried next round")
            continue
        ctx.count_read(len(events))
        new = sum(courier.record(event, channel="poll") for event in events)
        if new:
            ctx.count_published(new)
            ctx.log.info("%s: %d new event(s)", waybill_no, new)
