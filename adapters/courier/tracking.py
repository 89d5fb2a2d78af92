"""The hub's record of courier orders and route events, deduplicated by unique keys.

A shipment row is written before the order goes out (so a retry finds it and does not
order twice) and gets its waybill when the courier answers. A route event is stored
once per waybill + code + time: the key the courier's pushes repeat on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapters.courier.tables import shipment_events, shipments
from adapters.sdk import Storage
from hub.core.clock import utcnow

__all__ = ["FINAL_CODES", "RouteEvent", "Shipment", "ShipmentConflict", "Tracking"]

#: Event codes after which a parcel moves no more: 50 delivered (妥投), 70 returned.
FINAL_CODES = {"50": "delivered", "70": "returned"}


@dataclass(frozen=True, slots=True)
class RouteEvent:
    """One event of a parcel's route, as the courier reports it."""

    waybill_no: str
    code: str
    description: str
    occurred_at: dt.datetime
    place: str | None = None


@dataclass(frozen=True, slots=True)
class Shipment:
    """A courier order as the hub recorded it."""

    order_no: str
    case_no: str
    direction: str
    state: str
    waybill_no: str | None = None
    last_code: str | None = None


class ShipmentConflict(ValueError):
    """An order number already recorded for another case or direction."""


def _shipment(row: Row[Any]) -> Shipment:
    return Shipment(
        order_no=row.order_no,
        case_no=row.case_no,
        direction=row.direction,
        state=row.state,
        waybill_no=row.waybill_no,
        last_code=row.last_code,
    )


class Tracking:
    """Shipments and route events of one courier destination.

    Args:
        storage: The hub's database, where the adapter keeps its own tables.
        destination: The courier destination's name.
    """

    def __init__(self, storage: Storage, destination: str) -> None:
        self.storage = storage
        self.destination = destination

    def order(self, *, order_no: str, case_no: str, direction: str, message_id: str) -> Shipment:
        """Record an order before it is sent; again: the first record.

        Raises:
            ShipmentConflict: The order number is recorded for another case or direction.
        """
        now = utcnow()
        try:
            with self.storage.write() as connection:
                connection.execute(
                    insert(shipments),
                    {
                        "destination": self.destination,
                        "order_no": order_no,
                        "case_no": case_no,
                        "direction": direction,
                        "state": "ordered",
                        "message_id": message_id,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        except IntegrityError as error:
            if not self.storage.is_unique_violation(error):
                raise
        shipment = self.by_order(order_no)
        assert shipment is not None
        if shipment.case_no != case_no or shipment.direction != direction:
            raise ShipmentConflict(
                f"order {order_no} was sent before for another case or direction"
            )
        return shipment

    def by_order(self, order_no: str) -> Shipment | None:
        """The shipment of an order number."""
        return self._one(shipments.c.order_no == order_no)

    def by_waybill(self, waybill_no: str) -> Shipment | None:
        """The shipment of a waybill."""
        return self._one(shipments.c.waybill_no == waybill_no)

    def waybill(self, order_no: str, waybill_no: str) -> None:
        """Keep the waybill the courier gave the order."""
        with self.storage.write() as connection:
            connection.execute(
                update(shipments)
                .where(
                    shipments.c.destination == self.destination, shipments.c.order_no == order_no
                )
                .values(waybill_no=waybill_no, updated_at=utcnow())
            )

    def open_waybills(self, limit: int = 100) -> list[str]:
        """Waybills still moving (not delivered or returned), oldest first."""
        with self.storage.read() as connection:
            rows = connection.execute(
                select(shipments.c.waybill_no)
                .where(
                    shipments.c.destination == self.destination,
                    shipments.c.waybill_no.is_not(None),
                    shipments.c.state.in_(("ordered", "in_transit")),
                )
                .order_by(shipments.c.id)
                .limit(limit)
            ).all()
        return [row.waybill_no for row in rows]

    def record(self, event: RouteEvent, *, channel: str) -> bool:
        """Store an event once; advance the shipment's state.

        Returns:
            True when the event is new; False for one stored before (nothing changed).
        """
        now = utcnow()
        try:
            with self.storage.write() as connection:
                connection.execute(
                    insert(shipment_events),
                    {
                        "destination": self.destination,
                        "waybill_no": event.waybill_no,
                        "code": event.code,
                        "occurred_at": event.occurred_at,
                        "description": event.description[:200],
                        "place": (event.place or None) and event.place[:200],
                        "channel": channel,
                        "received_at": now,
                    },
                )
                state = FINAL_CODES.get(event.code, "in_transit")
                connection.execute(
                    update(shipments)
                    .where(
                        shipments.c.destination == self.destination,
                        shipments.c.waybill_no == event.waybill_no,
                        (shipments.c.last_event_at.is_(None))
                        | (shipments.c.last_event_at <= event.occurred_at),
                    )
                    .values(
                        state=state,
                        last_code=event.code,
                        last_event_at=event.occurred_at,
                        updated_at=now,
                    )
                )
        except IntegrityError as error:
            if self.storage.is_unique_violation(error):
                return False
            raise
        return True

    def published(self, event: RouteEvent, message_id: str) -> None:
        """Note which ``shipment.status`` message an event became."""
        with self.storage.write() as connection:
            connection.execute(
                update(shipment_events)
                .where(
                    shipment_events.c.destination == self.destination,
                    shipment_events.c.waybill_no == event.waybill_no,
                    shipment_events.c.code == event.code,
                    shipment_events.c.occurred_at == event.occurred_at,
                )
                .values(message_id=message_id)
            )

    def events(self, waybill_no: str) -> list[RouteEvent]:
        """The stored events of a waybill, in time order."""
        with self.storage.read() as connection:
            rows = connection.execute(
                select(shipment_events)
                .where(
                    shipment_events.c.destination == self.destination,
                    shipment_events.c.waybill_no == waybill_no,
                )
                .order_by(shipment_events.c.occurred_at, shipment_events.c.id)
            ).all()
        return [
            RouteEvent(row.waybill_no, row.code, row.description, row.occurred_at, row.place)
            for row in rows
        ]

    def _one(self, condition: Any) -> Shipment | None:
        with self.storage.read() as connection:
            row = connection.execute(
                select(shipments).where(shipments.c.destination == self.destination, condition)
            ).first()
        return None if row is None else _shipment(row)
