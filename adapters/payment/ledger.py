"""The hub's side of the payment books: orders it sent, and the notification that paid each.

Every write is one transaction and every "only once" is a unique key: an order number
is recorded once per destination, and an order is paid by one notification, so two
notifications racing for the same order leave exactly one paying row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapters.payment.tables import payment_notifications, payment_orders
from adapters.sdk import Storage
from hub.core.clock import HUB_TZ, utcnow

__all__ = ["Ledger", "Notification", "Order", "OrderConflict"]


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the hub recorded it."""

    order_no: str
    case_no: str
    amount_fen: int
    item: str
    state: str
    trade_no: str | None = None
    pay_code: str | None = None
    pay_channel: str | None = None
    message_id: str | None = None
    paid_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified notification that pays an order."""

    notify_id: str
    order_no: str
    trade_no: str
    amount_fen: int
    trade_status: str
    notify_time: dt.datetime
    paid_at: dt.datetime
    pay_channel: str | None
    digest: str


class OrderConflict(ValueError):
    """An order number already recorded with other terms (amount, case)."""


def _order(row: Row[Any]) -> Order:
    return Order(
        order_no=row.order_no,
        case_no=row.case_no,
        amount_fen=row.amount_fen,
        item=row.item,
        state=row.state,
        trade_no=row.trade_no,
        pay_code=row.pay_code,
        pay_channel=row.pay_channel,
        message_id=row.message_id,
        paid_at=row.paid_at,
    )


class Ledger:
    """Payment orders and their paying notifications of one destination.

    Args:
        storage: The hub's database, where the adapter keeps its own tables.
        destination: The payment destination's name (several platforms may be configured).
    """

    def __init__(self, storage: Storage, destination: str) -> None:
        self.storage = storage
        self.destination = destination

    def find(self, order_no: str) -> Order | None:
        """The order, if the hub sent it."""
        with self.storage.read() as connection:
            row = connection.execute(
                select(payment_orders).where(
                    payment_orders.c.destination == self.destination,
                    payment_orders.c.order_no == order_no,
                )
            ).first()
        return None if row is None else _order(row)

    def record(
        self,
        *,
        order_no: str,
        case_no: str,
        amount_fen: int,
        item: str,
        expires_at: dt.datetime,
        message_id: str,
    ) -> Order:
        """Record an order before it is sent (again: returns the first record).

        Raises:
            OrderConflict: The order number is recorded with another amount or case.
        """
        now = utcnow()
        try:
            with self.storage.write() as connection:
                connection.execute(
                    insert(payment_orders),
                    {
                        "destination": self.destination,
                        "order_no": order_no,
                        "case_no": case_no,
                        "amount_fen": amount_fen,
                        "item": item,
                        "state": "created",
                        "message_id": message_id,
                        "expires_at": expires_at,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        except IntegrityError as error:
            if not self.storage.is_unique_violation(error):
                raise
        order = self.find(order_no)
        assert order is not None
        if order.amount_fen != amount_fen or order.case_no != case_no:
            raise OrderConflict(
                f"order {order_no} was sent before for another amount or case; use a new order_no"
            )
        return order

    def created(self, order_no: str, *, trade_no: str, pay_code: str | None) -> None:
        """Keep what the platform answered to the order."""
        with self.storage.write() as connection:
            connection.execute(
                update(payment_orders)
                .where(
                    payment_orders.c.destination == self.destination,
                    payment_orders.c.order_no == order_no,
                )
                .values(trade_no=trade_no, pay_code=pay_code, updated_at=utcnow())
            )

    def pay(self, notification: Notification) -> bool:
        """Record the notification and mark its order paid, in one transaction.

        Returns:
            True when this call paid the order; False when it was paid already (by this
            or another notification: nothing is changed).
        """
        now = utcnow()
        try:
            with self.storage.write() as connection:
                changed = connection.execute(
                    update(payment_orders)
                    .where(
                        payment_orders.c.destination == self.destination,
                        payment_orders.c.order_no == notification.order_no,
                        payment_orders.c.state == "created",
                    )
                    .values(
                        state="paid",
                        trade_no=notification.trade_no,
                        pay_channel=notification.pay_channel,
                        paid_at=notification.paid_at,
                        updated_at=now,
                    )
                ).rowcount
                if not changed:
                    return False
                connection.execute(
                    insert(payment_notifications),
                    {
                        "destination": self.destination,
                        "notify_id": notification.notify_id,
                        "order_no": notification.order_no,
                        "trade_no": notification.trade_no,
                        "amount_fen": notification.amount_fen,
                        "trade_status": notification.trade_status,
                        "notify_time": notification.notify_time,
                        "received_at": now,
                        "digest": notification.digest,
                        "attempts": 1,
                    },
                )
        except IntegrityError as error:
            if self.storage.is_unique_violation(error):
                return False
            raise
        return True

    def close(self, order_no: str) -> None:
        """The platform closed an unpaid order (expired or cancelled)."""
        with self.storage.write() as connection:
            connection.execute(
                update(payment_orders)
                .where(
                    payment_orders.c.destination == self.destination,
                    payment_orders.c.order_no == order_no,
                    payment_orders.c.state == "created",
                )
                .values(state="closed", updated_at=utcnow())
            )

    def count_notifications(self) -> int:
        """How many paying notifications are stored (for ops and tests)."""
        with self.storage.read() as connection:
            return len(
                connection.execute(
                    select(payment_notifications.c.id).where(
                        payment_notifications.c.destination == self.destination
                    )
                ).all()
            )

    def paid_on(self, day: dt.date) -> list[Order]:
        """Orders paid on ``day`` (Asia/Shanghai), for reconciliation."""
        start = dt.datetime.combine(day, dt.time(), HUB_TZ)
        end = start + dt.timedelta(days=1)
        with self.storage.read() as connection:
            rows = connection.execute(
                select(payment_orders)
                .where(
                    payment_orders.c.destination == self.destination,
                    payment_orders.c.state == "paid",
                    payment_orders.c.paid_at >= start,
                    payment_orders.c.paid_at < end,
                )
                .order_by(payment_orders.c.paid_at)
            ).all()
        return [_order(row) for row in rows]
