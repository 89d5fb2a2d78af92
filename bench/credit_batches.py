"""What batching buys the credit platform: disclosures through a running hub, to its sandbox.

Baseline, measured in the same run against the same sandbox: the same hub and dispatcher
with ``batch_size = 1`` (one upload per record, no waiting). The batched run uses
``batch_size = 50`` and ``batch_linger_s = 0.2``. Each pair runs without a call quota
and with ``max_calls_per_s = 5`` (the kind of quota government platforms publish, where
batching matters most). All runs: 16 dispatcher workers,
``max_in_flight = 16`` for the destination, SQLite under a temporary directory, every
message accepted before the dispatcher starts, timed until the last one is delivered.

The sandbox runs in this process (waitress, 8 threads), so client and server share one
interpreter: compare the ratios, not the absolute numbers, across machines.

Run: ``.venv/bin/python bench/credit_batches.py [--messages 400]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from adapters.credit_platform.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, create_app
from faces.serving import serve_in_thread
from hub.config import parse_config
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.schemas import DEFAULT_SCHEMA_DIR

EXAMPLE = json.loads(
    (DEFAULT_SCHEMA_DIR / "examples" / "credit.license_disclosed.json").read_text("utf-8")
)


def run(
    messages: int, batch_size: int, linger_s: float, calls_per_s: float | None
) -> dict[str, Any]:
    platform = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    with tempfile.TemporaryDirectory() as folder:
        config = parse_config(
            {
                "database": {"url": f"sqlite:///{Path(folder) / 'govhub.db'}"},
                "sandbox": {"enabled": False},
                "dispatcher": {"workers": 16, "poll_interval_s": 0.05, "batch": 64},
                "destinations": [
                    {
                        "name": "credit",
                        "adapter": "credit_platform",
                        "url": platform.url,
                        "app_key": DEFAULT_APP_KEY,
                        "app_secret": DEFAULT_APP_SECRET,
                        "batch_size": batch_size,
                        "batch_linger_s": linger_s,
                        "max_in_flight": 16,
                        **({"max_calls_per_s": calls_per_s} if calls_per_s else {}),
                    }
                ],
                "routes": [{"name": "all", "when": {"type": "credit.*"}, "to": ["credit"]}],
            },
            Path(folder) / "govhub.toml",
        )
        hub = Hub(config)
        for n in range(messages):
            payload = {**EXAMPLE, "decision_no": f"威市监许字〔2026〕第{n:06d}号"}
            hub.ingest.publish(
                "bench",
                Submission(type="credit.license_disclosed", payload=payload),
                channel="bench",
            )
        started = time.perf_counter()
        hub.start_dispatcher()
        while hub.store.deliveries.backlog().get("credit", 0) > 0:
            time.sleep(0.05)  # polling the store for the end of the run, not synchronising
        elapsed = time.perf_counter() - started
        hub.close()
    records = requests.get(f"{platform.url}/_sandbox/records", timeout=10).json()
    platform.stop()
    return {
        "batch_size": batch_size,
        "max_calls_per_s": calls_per_s,
        "seconds": round(elapsed, 2),
        "records_per_s": round(messages / elapsed, 1),
        "uploads": records["batches"],
        "published": len(records["records"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    # Without a quota, and with the kind of call quota government platforms publish.
    for calls_per_s in (None, 5.0):
        baseline = run(args.messages, 1, 0, calls_per_s)
        batched = run(args.messages, 50, 0.2, calls_per_s)
        print(json.dumps({"baseline": baseline, "batched": batched}, ensure_ascii=False))
        print(
            f"quota {calls_per_s or 'none'}: uploads {batched['uploads'] / baseline['uploads']:.3f}"
            f" of the baseline; throughput"
            f" {batched['records_per_s'] / baseline['records_per_s']:.2f}x the baseline"
        )


if __name__ == "__main__":
    main()
