"""Ops console and ``/metrics`` response times on a store with a day of traffic.

A store is filled with N messages spread over the last day, each with one delivery and one
attempt (5 % dead letters), written in bulk. Then, in one process, each page is requested
through Flask's test client (no network) ROUNDS times by a signed-in admin, and ``/healthz``
is timed the same way as the baseline: results are medians and ratios to it.

Run: ``.venv/bin/python bench/ops_console.py [--messages 100000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from faces.app import create_app
from faces.console.accounts import UserStore
from hub.config import parse_config
from hub.core.clock import new_id, utcnow
from hub.runtime import Hub
from hub.store.tables import attempts, deliveries, messages

PASSWORD = "benchmark passphrase"  # noqa: S105 - a throwaway account in a temp database
PAGES = (
    "/healthz",
    "/metrics",
    "/ops/",
    "/ops/messages",
    "/ops/messages?case_no=WH-BENCH-000042",
    "/ops/dead-letters",
    "/ops/dead-letters?error=HTTP+400",
    "/ops/counterparts",
)


def fill(hub: Hub, count: int) -> None:
    now = utcnow()
    batch = 5000
    for start in range(0, count, batch):
        rows_m, rows_d, rows_a = [], [], []
        for n in range(start, min(start + batch, count)):
            at = now - dt.timedelta(seconds=86_000 * n / count)
            message_id, delivery_id = new_id(), new_id()
            dead = n % 20 == 0
            case_no = f"WH-BENCH-{n:06d}"
            rows_m.append(
                {
                    "id": message_id,
                    "type": "case.submitted",
                    "source": "dept",
                    "client_ref": None,
                    "correlation_id": case_no,
                    "channel": "rest",
                    "status": "dead" if dead else "delivered",
                    "created_at": at,
                    "updated_at": at,
                    "payload": {"case_no": case_no},
                    "headers": {},
                }
            )
            rows_d.append(
                {
                    "id": delivery_id,
                    "message_id": message_id,
                    "destination": "civil_affairs",
                    "route": "cases",
                    "correlation_id": case_no,
                    "status": "dead" if dead else "delivered",
                    "attempts": 1,
                    "last_error": "civil_affairs answered HTTP 400: no" if dead else None,
                    "created_at": at,
                    "updated_at": at,
                    "delivered_at": None if dead else at,
                }
            )
            rows_a.append(
                {
                    "delivery_id": delivery_id,
                    "number": 1,
                    "worker": "bench",
                    "started_at": at,
                    "finished_at": at,
                    "duration_ms": 12,
                    "outcome": "dead" if dead else "delivered",
                }
            )
        with hub.store.db.write() as connection:
            connection.execute(insert(messages), rows_m)
            connection.execute(insert(deliveries), rows_d)
            connection.execute(insert(attempts), rows_a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        config = parse_config(
            {
                "database": {"url": f"sqlite:///{directory}/bench.db"},
                "sandbox": {"enabled": False},
                "destinations": [
                    {
                        "name": "civil_affairs",
                        "adapter": "webhook",
                        "url": "http://127.0.0.1:9/hook",
                        "secret": "bench-secret-0123456789",
                    }
                ],
                "routes": [{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
            },
            Path(directory) / "govhub.toml",
        )
        hub = Hub(config)
        started = time.perf_counter()
        fill(hub, args.messages)
        print(f"filled {args.messages} messages in {time.perf_counter() - started:.1f} s")
        UserStore(hub.store).add("bench", role="admin", password=PASSWORD, actor="bench")
        app = create_app(hub)
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ops/login").text)
        assert token is not None
        client.post(
            "/ops/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token[1]}
        )
        results: dict[str, Any] = {}
        for path in PAGES:
            client.get(path)  # warm: templates compiled, caches filled
            timings = []
            for _ in range(args.rounds):
                begin = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - begin) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            results[path] = statistics.median(timings)
        hub.close()
    baseline = results["/healthz"]
    print(f"{'page':45} {'median ms':>10} {'× /healthz':>11}")
    for path, median in results.items():
        print(f"{path:45} {median:10.1f} {median / baseline:11.1f}")
    if args.json:
        args.json.write_text(
            json.dumps({"messages": args.messages, "median_ms": results}, indent=2),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
