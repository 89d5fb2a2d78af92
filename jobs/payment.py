"""``payment.reconcile``: yesterday's payment statement against the hub's records, daily at 10:30.

The platform's statement of a day is ready the next day (T+1). Each day is reconciled by
the payment adapter (matched, missing on our side, missing on theirs, amount differs); the
job stores the day's report (``payment_reconciliations``, one row per destination and day,
replaced when the day is reconciled again) and publishes one ``payment.discrepancy`` per
difference, keyed by day, order and kind, so reconciling a day twice publishes nothing twice.

The cursor is the last day reconciled. A run reconciles every day after it up to yesterday
(at most ``catch_up_days``), so days missed while the hub or the platform was down are done
later; a day whose statement cannot be had stops the run there (failed), and the next run
starts from that day again. A manual run also redoes yesterday.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select, update

from hub.core.clock import new_id
from hub.scheduler import JobContext, job, minutes
from hub.store import Store
from jobs.tables import payment_reconciliations

__all__ = ["reconcile", "reconciliation_report"]


@job(
    "payment.reconcile",
    cron="30 10 * * *",
    adapter="payment",
    publishes=("payment.discrepancy",),
    timeout=minutes(30),
    settings={
        "catch_up_days": {
            "type": "integer",
            "minimum": 1,
            "maximum": 62,
            "default": 7,
            "description": "How many days back a run reconciles days it missed.",
        },
    },
)
def reconcile(ctx: JobContext) -> None:
    """Yesterday's payment statement against the hub's records: a report, and a message per gap."""
    payment = ctx.adapter
    yesterday = ctx.due_at.date() - dt.timedelta(days=1)
    earliest = yesterday - dt.timedelta(days=ctx.settings["catch_up_days"] - 1)
    last = ctx.cursor.get()
    if last is None:
        # The first run starts with yesterday; should it fail, the next starts there.
        last = (yesterday - dt.timedelta(days=1)).isoformat()
        ctx.cursor.advance(last)
    start = max(dt.date.fromisoformat(last) + dt.timedelta(days=1), earliest)
    if ctx.trigger == "manual":
        start = min(start, yesterday)
    day = start
    while day <= yesterday:
        ctx.check()
        result = payment.reconcile(day)  # RetriableError (not ready, platform down): run fails
        report = result.to_json()
        ctx.count_read(
            len(result.matched)
            + len(result.missing_at_hub)
            + len(result.missing_at_platform)
            + len(result.amount_differs)
        )
        _store_report(ctx.store, payment.destination, day, report, ctx.run_id, ctx.now())
        for discrepancy in _discrepancies(report, payment.destination):
            order = payment.ledger.find(discrepancy["order_no"])
            if order is not None:
                discrepancy["case_no"] = order.case_no
            ctx.publish(
                "payment.discrepancy",
                discrepancy,
                key=f"payment.discrepancy:{payment.destination}:{day}"
                f":{discrepancy['order_no']}:{discrepancy['kind']}",
                correlation_id=discrepancy.get("case_no") or discrepancy["order_no"],
            )
        if report["balanced"]:
            ctx.log.info("%s: balanced, %d order(s) matched", day, len(result.matched))
        else:
            ctx.log.warning(
                "%s: %d matched, %d missing at the hub, %d missing at the platform,"
                " %d with another amount",
                day,
                len(result.matched),
                len(result.missing_at_hub),
                len(result.missing_at_platform),
                len(result.amount_differs),
            )
        if day.isoformat() > last:  # a manual redo never moves it back
            ctx.cursor.advance(day.isoformat())
        day += dt.timedelta(days=1)


def _discrepancies(report: dict[str, Any], destination: str) -> list[dict[str, Any]]:
    day = report["day"]
    found: list[dict[str, Any]] = [
        {"day": day, "order_no": o, "kind": "missing_at_hub", "destination": destination}
        for o in report["missing_at_hub"]
    ]
    found += [
        {"day": day, "order_no": o, "kind": "missing_at_platform", "destination": destination}
        for o in report["missing_at_platform"]
    ]
    found += [
        {
            "day": day,
            "order_no": d["order_no"],
            "kind": "amount_differs",
            "destination": destination,
            "hub_amount_fen": d["hub_fen"],
            "platform_amount_fen": d["platform_fen"],
        }
        for d in report["amount_differs"]
    ]
    return found


def _store_report(
    store: Store,
    destination: str,
    day: dt.date,
    report: dict[str, Any],
    run_id: str,
    now: dt.datetime,
) -> None:
    values = {
        "balanced": report["balanced"],
        "matched": len(report["matched"]),
        "missing_at_hub": len(report["missing_at_hub"]),
        "missing_at_platform": len(report["missing_at_platform"]),
        "amount_differs": len(report["amount_differs"]),
        "report": report,
        "run_id": run_id,
        "reconciled_at": now,
    }
    table = payment_reconciliations
    with store.db.write() as connection:
        changed = connection.execute(
            update(table)
            .where(table.c.destination == destination, table.c.day == day.isoformat())
            .values(values)
        ).rowcount
        if not changed:  # the job never overlaps itself: no other writer of this row
            connection.execute(
                insert(table),
                {"id": new_id(), "destination": destination, "day": day.isoformat(), **values},
            )


def reconciliation_report(store: Store, destination: str, day: dt.date) -> dict[str, Any] | None:
    """The stored report of a day, or ``None`` if the day was not reconciled."""
    table = payment_reconciliations
    with store.db.read() as connection:
        row = connection.execute(
            select(table.c.report).where(
                table.c.destination == destination, table.c.day == day.isoformat()
            )
        ).first()
    return dict(row.report) if row is not None else None
