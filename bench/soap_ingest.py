"""SOAP ingest against REST ingest of the same message, in the same run.

Starts a hub as ``govhub serve`` does (waitress, the configured threads) on a temporary
SQLite database, in its own process; registers a client; then loads it with concurrent
keep-alive clients (one process each), alternating rounds of:

- ``rest``: ``POST /api/v1/messages`` with a Bearer API key;
- ``soap-text``: ``SubmitCase`` (SOAP 1.1) with a UsernameToken PasswordText;
- ``soap-digest``: ``SubmitCase`` with a UsernameToken PasswordDigest (a fresh nonce and
  time per request, so each request also records its nonce).

Every request carries a fresh client reference (REST ``id``, SOAP ``client_ref``), so each
is looked up for idempotency and stores one new message with one delivery (the destination is never
dispatched to: this measures ingest). Prints requests/s, p50 and p99 per kind, and SOAP
as a share of REST (goal: at least 60%).

    python bench/soap_ingest.py [--clients 8] [--seconds 5] [--rounds 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faces.soap.envelope import SOAP11_NS  # noqa: E402
from faces.soap.wsse import PASSWORD_DIGEST, WSSE_NS, WSU_NS  # noqa: E402
from faces.soap.xsdgen import NS  # noqa: E402
from hub.config import load_config  # noqa: E402
from hub.keyring import vault_for  # noqa: E402
from hub.store import Store  # noqa: E402

CLIENT = "bench-dept"
PAYLOAD: dict[str, Any] = json.loads(
    (ROOT / "schemas" / "examples" / "case.submitted.json").read_text(encoding="utf-8")
)
CONFIG = """
[server]
host = "127.0.0.1"
port = 0
threads = 16

[database]
url = "sqlite:///var/bench.db"

[sandbox]
enabled = false

[[destinations]]
name = "civil_affairs"
adapter = "webhook"
url = "http://127.0.0.1:9/never-called"
secret = "bench-secret-0123456789"

[[routes]]
name = "cases"
when = { type = "case.*" }
to = ["civil_affairs"]
"""


def soap_body(password_header: str, ref: str) -> bytes:
    applicant = PAYLOAD["applicant"]
    materials = "".join(
        f"<materials><name>{m['name']}</name></materials>" for m in PAYLOAD["materials"]
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Header>{password_header}</soap:Header>'
        f'<soap:Body><SubmitCase xmlns="{NS}"><client_ref>{ref}</client_ref><CaseSubmitted>'
        f"<case_no>{PAYLOAD['case_no']}</case_no><item_code>{PAYLOAD['item_code']}</item_code>"
        f"<item_name>{PAYLOAD['item_name']}</item_name><applicant><type>{applicant['type']}</type>"
        f"<name>{applicant['name']}</name><id_type>{applicant['id_type']}</id_type>"
        f"<id_no>{applicant['id_no']}</id_no><mobile>{applicant['mobile']}</mobile></applicant>"
        f"<submitted_at>{PAYLOAD['submitted_at']}</submitted_at><channel>{PAYLOAD['channel']}</channel>"
        f"{materials}<delivery><method>{PAYLOAD['delivery']['method']}</method>"
        f"<address>{PAYLOAD['delivery']['address']}</address></delivery>"
        "</CaseSubmitted></SubmitCase></soap:Body></soap:Envelope>"
    ).encode()


def text_token(key: str) -> str:
    return (
        f'<wsse:Security xmlns:wsse="{WSSE_NS}"><wsse:UsernameToken>'
        f"<wsse:Username>{CLIENT}</wsse:Username><wsse:Password>{key}</wsse:Password>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def digest_token(key: str) -> str:
    nonce = os.urandom(16)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    hashed = hashlib.sha1(nonce + created.encode() + key.encode())  # noqa: S324 - the WSS profile's
    digest = base64.b64encode(hashed.digest()).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"><wsse:UsernameToken>'
        f"<wsse:Username>{CLIENT}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def request_for(kind: str, key: str, ref: str) -> tuple[str, bytes, dict[str, str]]:
    """One request of ``kind``, with a fresh client reference (idempotency key)."""
    if kind == "rest":
        document = {"type": "case.submitted", "id": ref, "payload": PAYLOAD}
        body = json.dumps(document, ensure_ascii=False).encode()
        return (
            "/api/v1/messages",
            body,
            {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {key}",
            },
        )
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}/SubmitCase"'}
    token = text_token(key) if kind == "soap-text" else digest_token(key)
    return "/soap/GovHubService", soap_body(token, ref), headers


def load(args: tuple[str, int, str, str, float]) -> list[float]:
    """One keep-alive client: send requests for ``seconds``; the latency of each."""
    host, port, kind, key, seconds = args
    connection = http.client.HTTPConnection(host, port, timeout=30)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    prefix = f"{kind}-{os.getpid()}-{time.monotonic_ns()}"
    while time.perf_counter() < deadline:
        path, body, headers = request_for(kind, key, f"{prefix}-{len(latencies)}")
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status not in (200, 202):
            raise RuntimeError(f"{kind}: HTTP {response.status}: {answer[:300]!r}")
        latencies.append(time.perf_counter() - started)
    connection.close()
    return latencies


def start_hub(workdir: Path) -> tuple[subprocess.Popen[str], str, int]:
    config_file = workdir / "govhub.toml"
    config_file.write_text(CONFIG, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "faces.cli", "--config", str(config_file), "serve", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "listening on http://" in line:
            url = line.rsplit(" ", 1)[-1].strip()
            host, port = url.removeprefix("http://").split(":")
            return process, host, int(port)
    raise RuntimeError("the hub did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="govhub-bench-") as directory:
        workdir = Path(directory)
        process, host, port = start_hub(workdir)
        try:
            config = load_config(workdir / "govhub.toml")
            store = Store(config.database.url, vault=vault_for(config))
            _client, key = store.clients.add(CLIENT, allow=["case.*"])
            store.close()
            kinds = ("rest", "soap-text", "soap-digest")
            results: dict[str, list[float]] = {k: [] for k in kinds}
            elapsed: dict[str, float] = dict.fromkeys(kinds, 0.0)
            with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
                for kind in kinds:  # warm up every path (schemas, validators, pools)
                    pool.map(load, [(host, port, kind, key, 0.5)] * args.clients)
                for _round in range(args.rounds):
                    for kind in kinds:
                        started = time.perf_counter()
                        per_client = pool.map(
                            load, [(host, port, kind, key, args.seconds)] * args.clients
                        )
                        elapsed[kind] += time.perf_counter() - started
                        for latencies in per_client:
                            results[kind].extend(latencies)
        finally:
            process.terminate()
            process.wait(timeout=30)

    figures: dict[str, Any] = {
        "clients": args.clients,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "kinds": {},
    }
    print(f"{'kind':<12} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'of REST':>8}")
    rest_rate = len(results["rest"]) / elapsed["rest"]
    for kind in kinds:
        latencies = sorted(results[kind])
        rate = len(latencies) / elapsed[kind]
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        share = rate / rest_rate
        figures["kinds"][kind] = {
            "requests": len(latencies),
            "requests_per_s": round(rate, 1),
            "p50_ms": round(p50, 2),
            "p99_ms": round(p99, 2),
            "share_of_rest": round(share, 3),
        }
        print(f"{kind:<12} {len(latencies):>9} {rate:>8.1f} {p50:>8.2f} {p99:>8.2f} {share:>7.0%}")
    share = figures["kinds"]["soap-text"]["share_of_rest"]
    verdict = "met" if share >= 0.6 else "NOT met"
    print(f"SubmitCase (PasswordText) at {share:.0%} of REST: goal ≥ 60% {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
