"""What the SOAP adapter stack costs: provincial_hall deliveries and reads against its sandbox.

Baseline, measured in the same run against the same sandbox: posting a ready-made
``PushResult`` envelope (PasswordText, new event number each time) with a plain
``requests`` session. The adapter run goes through everything a real delivery does:
zeep serialisation from the WSDL, a fresh WS-Security PasswordDigest (nonce, SHA-1), the
call budget, masked traffic logging (logger at INFO, so only the level check), zeep's
answer parsing and the result-code check. Reads page 2,000 applications at 100 a page,
mapped to ``case.submitted`` records.

The sandbox runs in this process (waitress, 8 threads), so client and server share one
interpreter: compare the ratios, not the absolute numbers, across machines.

Run: ``.venv/bin/python bench/hall_adapter.py [--deliveries 400]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from adapters.provincial_hall.adapter import ProvincialHallAdapter
from adapters.provincial_hall.sandbox import DEFAULT_PASSWORD, ENDPOINT, NS, create_app
from adapters.sdk import Attempt
from faces.serving import serve_in_thread
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.registry import with_defaults

ENVELOPE = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:h="{ns}"
 xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
<soap:Header><wsse:Security><wsse:UsernameToken><wsse:Username>govhub</wsse:Username>
<wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>
<soap:Body><h:PushResult><h:SBLSH>{case}</h:SBLSH><h:SJBH>{event}</h:SJBH><h:BJJG>0</h:BJJG>
<h:BJSJ>2026-11-28T15:00:00+08:00</h:BJSJ><h:SFKD>true</h:SFKD></h:PushResult></soap:Body>
</soap:Envelope>"""


def completed(case_no: str) -> Envelope:
    payload = {
        "case_no": case_no,
        "result": "0",
        "completed_at": "2026-11-28T15:00:00+08:00",
        "license_ids": [],
        "deliver_by_courier": True,
    }
    return Envelope(new_id(), "case.completed", "bench", payload, utcnow(), correlation_id=case_no)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    n = options.deliveries

    server = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    url = f"{server.url}{ENDPOINT}"
    control = requests.Session()
    settings: dict[str, Any] = with_defaults(
        {"url": url, "username": "govhub", "password": DEFAULT_PASSWORD},
        ProvincialHallAdapter.settings_schema,
    )
    settings["max_calls_per_s"] = 1_000_000  # measure the stack, not the quota
    digest = ProvincialHallAdapter("bench", settings)
    text = ProvincialHallAdapter("bench", {**settings, "password_digest": False})
    digest.check()
    text.check()
    session = requests.Session()
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}/PushResult"'}

    def seed_cases() -> list[str]:
        answer = control.post(f"{server.url}/_sandbox/applications", json={"count": n})
        answer.raise_for_status()
        return [item["SBLSH"] for item in answer.json()["applications"]]

    def baseline_once(case: str) -> None:
        body = ENVELOPE.format(ns=NS, password=DEFAULT_PASSWORD, case=case, event=new_id())
        answer = session.post(url, data=body.encode(), headers=headers, timeout=10)
        if answer.status_code != 200 or b"<h:CODE>0</h:CODE>" not in answer.content:
            raise SystemExit(f"baseline push failed: HTTP {answer.status_code}")

    def adapter_once(adapter: ProvincialHallAdapter, case: str) -> None:
        adapter.deliver(completed(case), Attempt(new_id(), "bench"))

    results: dict[str, list[float]] = {"baseline": [], "text": [], "digest": [], "digest x8": []}
    for _ in range(options.rounds):
        control.post(f"{server.url}/_sandbox/reset").raise_for_status()
        for name, once in (
            ("baseline", baseline_once),
            ("text", lambda case: adapter_once(text, case)),
            ("digest", lambda case: adapter_once(digest, case)),
        ):
            cases = seed_cases()
            started = time.perf_counter()
            for case in cases:
                once(case)
            results[name].append(rate(n, time.perf_counter() - started))
        cases = seed_cases()
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda case: adapter_once(digest, case), cases))
        results["digest x8"].append(rate(n, time.perf_counter() - started))

    control.post(f"{server.url}/_sandbox/reset").raise_for_status()
    control.post(f"{server.url}/_sandbox/applications", json={"count": 1000}).raise_for_status()
    control.post(f"{server.url}/_sandbox/applications", json={"count": 1000}).raise_for_status()
    read_rates = []
    for _ in range(options.rounds):
        started = time.perf_counter()
        cursor, total = None, 0
        while True:
            batch = digest.read("applications", cursor, 100)
            total += len(batch.records)
            cursor = batch.cursor or cursor
            if not batch.more:
                break
        assert total == 2000, total
        read_rates.append(rate(total, time.perf_counter() - started))

    base = statistics.median(results["baseline"])
    print(f"provincial_hall, {n} PushResult deliveries per run, median of {options.rounds} runs")
    print(f"  baseline raw envelope (requests)  {base:8.0f} /s   1.00")
    for name, label in (
        ("text", "adapter, PasswordText"),
        ("digest", "adapter, PasswordDigest"),
        ("digest x8", "adapter, PasswordDigest, 8 threads"),
    ):
        median = statistics.median(results[name])
        print(f"  {label:<33} {median:8.0f} /s   {median / base:.2f}")
    print(f"  read 2,000 applications (100/page) {statistics.median(read_rates):7.0f} records/s")
    print(f"  (at {dt.datetime.now():%Y-%m-%d %H:%M})")
    for adapter in (digest, text):
        adapter.close()
    server.stop()


if __name__ == "__main__":
    main()
