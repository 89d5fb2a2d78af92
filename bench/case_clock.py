"""What the case clocks cost: 100,000 open cases evaluated, beside 100,000 closed ones.

The store holds the sandbox hall's catalogue (355 items, limits 0..60 working days),
100,000 open cases accepted within about their limit before the evaluation (a few past
it), and 100,000 closed ones. The figures, each measured in the same run:

- **baseline**: reading the 100,000 open rows with a plain ``SELECT`` (SQLAlchemy Core,
  the same index), doing nothing with them: the floor of any evaluation;
- **steady evaluation**: ``CaseClocks.evaluate`` five minutes after the last one, when
  (almost) nothing changes: every open case's clock is read on the working-day calendar;
- **evaluation at a day's start**: the first evaluation of a new day, when the cases
  whose light changes are written back and their ``supervision.warning`` /
  ``supervision.overdue`` published through the hub's ingest (validated, routed to a
  webhook destination, stored with a delivery row, fsynced: SQLite WAL,
  ``synchronous=FULL``);
- **catch-up**: the 500,000 case events of those cases folded into their records (what
  the job does after a long outage).

The rows examined are counted: an evaluation reads the open cases only, never the closed
ones (they are walked in the ``open, case_no`` index); the query plan is printed.

Run: ``.venv/bin/python bench/case_clock.py [--open 100000] [--closed 100000] [--database URL]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from adapters.provincial_hall.adapter import to_item
from adapters.provincial_hall.catalogue import generate
from hub.cases import CaseClocks, SupervisionSettings
from hub.config import parse_config
from hub.core.clock import HUB_TZ, new_id, utcnow
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.store import ServiceItem
from hub.store.case_tables import case_events, cases

#: The first evaluation (a Monday morning), five minutes on, and the next day's first.
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=HUB_TZ)
STEADY = START + dt.timedelta(minutes=5)
NEXT_DAY = dt.datetime(2026, 11, 3, 0, 5, tzinfo=HUB_TZ)
CHUNK = 2000


def seed(hub: Hub, open_cases: int, closed_cases: int, rng: random.Random) -> list[ServiceItem]:
    """The catalogue, and the case events of every case, as accepted messages leave them."""
    items = [ServiceItem.from_document(to_item({**i, "GXSJ": "2026-01-05T08:00:00+08:00"}))
             for i in generate()]  # fmt: skip
    hub.store.items.store(items, source="provincial_hall", at=utcnow())
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        with hub.store.db.write() as connection:
            hub.store.db.dialect.insert_all(connection, case_events, rows)
        rows.clear()

    def add(case_no: str, kind: str, when: dt.datetime, **fields: Any) -> None:
        rows.append(
            {
                "message_id": new_id(),
                "case_no": case_no,
                "type": kind,
                "status": fields.get("status"),
                "result": fields.get("result"),
                "occurred_at": when,
                "received_at": when,
                "source": "bench",
                "item_code": fields.get("item_code"),
                "item_name": fields.get("item_name"),
                "department_code": None,
                "department_name": None,
                "applied": False,
            }
        )
        if len(rows) >= CHUNK:
            flush()

    for n in range(open_cases + closed_cases):
        chosen = rng.choice(items)
        is_open = n < open_cases
        # Open cases mostly within their limit (a working day is 1.4 calendar days or so),
        # a few past it; closed ones from earlier in the year.
        span = max(1.0, chosen.committed_limit_days * 1.4) * 1.1
        days_back = rng.uniform(0, span) if is_open else rng.uniform(60, 300)
        accepted = START - dt.timedelta(days=days_back)
        case_no = f"WH-{'O' if is_open else 'C'}-{n:07d}"
        add(case_no, "case.submitted", accepted, item_code=chosen.code, item_name=chosen.name)
        add(case_no, "case.status_changed", accepted + dt.timedelta(hours=1), status="3")
        if not is_open:
            done = accepted + dt.timedelta(days=rng.uniform(0, 2 * chosen.committed_limit_days + 1))
            add(case_no, "case.completed", done, result="0")
    if rows:
        flush()
    return items


def timed(label: str, function: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = function()
    took = time.perf_counter() - began
    print(f"{label}: {took:.2f} s")
    return took, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--closed", type=int, default=100_000)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="govhub-bench-"))
    url = options.database or f"sqlite:///{folder / 'govhub.db'}"
    config = parse_config(
        {
            "database": {"url": url},
            "sandbox": {"enabled": False},
            "destinations": [
                {"name": "supervision_office", "adapter": "webhook",
                 "url": "http://127.0.0.1:9/unused", "secret": "bench-secret-0123456789"}
            ],
            "routes": [{"name": "supervision", "when": {"type": "supervision.*"},
                        "to": ["supervision_office"]}],
        },
        folder / "govhub.toml",
    )  # fmt: skip
    hub = Hub(config, job_specs=[])
    try:
        rng = random.Random(20261102)
        print(f"seeding {options.open:,} open and {options.closed:,} closed cases into {url}")
        timed("seeding the events", lambda: seed(hub, options.open, options.closed, rng))
        clocks = CaseClocks(hub.store, hub.calendar, SupervisionSettings())
        events = options.open * 2 + options.closed * 3
        caught, taken = timed(f"catch-up of {events:,} events", lambda: clocks.catch_up(START))
        assert taken == events, taken

        def notify(message_type: str, payload: dict[str, Any], key: str) -> bool:
            acceptance = hub.ingest.publish(
                "supervision.evaluate",
                Submission(message_type, payload, client_ref=key),
                channel="job",
            )
            return acceptance.created

        first, result = timed(
            "first evaluation (with notices)", lambda: clocks.evaluate(START, notify)
        )
        print("  ", result.to_json())

        def read_open() -> int:
            count = 0
            with hub.store.db.read() as connection:
                for _row in connection.execute(
                    select(cases).where(cases.c.open.is_(True)).order_by(cases.c.case_no)
                ):
                    count += 1
            return count

        baseline, rows = timed("baseline: SELECT of the open rows", read_open)
        steady, quiet = timed(
            "steady evaluation (5 min later)", lambda: clocks.evaluate(STEADY, notify)
        )
        print("  ", quiet.to_json())
        day, busy = timed(
            "evaluation at the next day's start", lambda: clocks.evaluate(NEXT_DAY, notify)
        )
        print("  ", busy.to_json())
        if hub.store.db.dialect.name == "sqlite":
            with hub.store.db.read() as connection:
                plan = connection.execute(
                    text("EXPLAIN QUERY PLAN SELECT * FROM cases WHERE open = 1 AND case_no > ''"
                         " ORDER BY case_no LIMIT 2000")
                ).all()  # fmt: skip
            print("plan:", " / ".join(str(row[-1]) for row in plan))
    finally:
        hub.close()

    assert rows == quiet.examined == busy.examined == options.open, "closed cases were read"
    print()
    print("| measure | seconds | rows | per second | of baseline |")
    print("|---|---:|---:|---:|---:|")
    for label, seconds, count in (
        ("baseline: plain SELECT of the open rows", baseline, rows),
        ("steady evaluation (nothing changes)", steady, quiet.examined),
        (f"next day's first evaluation ({busy.changed:,} changed, {busy.warnings + busy.overdue:,}"
         " notices)", day, busy.examined),
        (f"first evaluation ({result.warnings + result.overdue:,} notices)", first,
         result.examined),
        ("catch-up: events folded into records", caught, events),
    ):  # fmt: skip
        print(
            f"| {label} | {seconds:.2f} | {count:,} | {count / seconds:,.0f} |"
            f" {seconds / baseline:.1f}× |"
        )


if __name__ == "__main__":
    main()
