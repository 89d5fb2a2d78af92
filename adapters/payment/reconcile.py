"""The platform's daily statement (T+1 CSV) and reconciliation against the ledger.

Statement format (UTF-8; lines starting with ``#`` are comments)::

    # 统一支付对账单 app_id=2026000000000001 bill_date=2026-11-27
    trade_no,out_trade_no,total_amount,trade_status,gmt_payment,pay_channel
    2026112722001400000001,PAY-WH-2026-000123-01,10.00,TRADE_SUCCESS,2026-11-27 10:05:12,ALIPAY
    # total count=1 amount=10.00
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.payment.ledger import Order
from adapters.payment.rsa2 import fen_from_yuan

__all__ = ["HEADER", "Reconciliation", "StatementLine", "parse_statement", "reconcile"]

HEADER = ("trade_no", "out_trade_no", "total_amount", "trade_status", "gmt_payment", "pay_channel")


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One paid trade as the platform booked it."""

    trade_no: str
    order_no: str
    amount_fen: int
    trade_status: str
    paid_at: str
    pay_channel: str


def parse_statement(text: str) -> list[StatementLine]:
    """The lines of a statement.

    Raises:
        ValueError: The header or a line is not as the platform documents it.
    """
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.reader(io.StringIO("\n".join(rows)))
    header = next(reader, None)
    if header is None or tuple(header) != HEADER:
        raise ValueError("the statement's header is not " + ",".join(HEADER))
    lines = []
    for number, row in enumerate(reader, start=2):
        if len(row) != len(HEADER):
            raise ValueError(f"statement line {number}: {len(row)} fields, expected {len(HEADER)}")
        lines.append(
            StatementLine(
                trade_no=row[0],
                order_no=row[1],
                amount_fen=fen_from_yuan(row[2]),
                trade_status=row[3],
                paid_at=row[4],
                pay_channel=row[5],
            )
        )
    return lines


@dataclass(frozen=True)
class Reconciliation:
    """What one day's statement says against what the hub recorded.

    Attributes:
        day: The statement's day.
        matched: Order numbers both sides have, for the same amount.
        missing_at_hub: On the statement, not paid in the hub's ledger that day.
        missing_at_platform: Paid in the hub's ledger that day, not on the statement.
        amount_differs: ``(order_no, hub fen, platform fen)``.
    """

    day: dt.date
    matched: list[str] = field(default_factory=list)
    missing_at_hub: list[str] = field(default_factory=list)
    missing_at_platform: list[str] = field(default_factory=list)
    amount_differs: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        """True when nothing is missing or different."""
        return not (self.missing_at_hub or self.missing_at_platform or self.amount_differs)

    def to_json(self) -> dict[str, Any]:
        """For job logs and ops."""
        return {
            "day": self.day.isoformat(),
            "balanced": self.balanced,
            "matched": self.matched,
            "missing_at_hub": self.missing_at_hub,
            "missing_at_platform": self.missing_at_platform,
            "amount_differs": [
                {"order_no": o, "hub_fen": h, "platform_fen": p} for o, h, p in self.amount_differs
            ],
        }


def reconcile(
    day: dt.date, statement: Sequence[StatementLine], paid: Sequence[Order]
) -> Reconciliation:
    """Match statement lines and paid orders by order number."""
    booked = {line.order_no: line for line in statement if line.trade_status.startswith("TRADE_")}
    ours = {order.order_no: order for order in paid}
    result = Reconciliation(day=day)
    for order_no in sorted(booked.keys() | ours.keys()):
        line, order = booked.get(order_no), ours.get(order_no)
        if line is None:
            result.missing_at_platform.append(order_no)
        elif order is None:
            result.missing_at_hub.append(order_no)
        elif line.amount_fen != order.amount_fen:
            result.amount_differs.append((order_no, order.amount_fen, line.amount_fen))
        else:
            result.matched.append(order_no)
    return result
