"""Durable REST ingest against a plain Flask echo app, same server setup, same client, same run.

Both apps run under waitress with the same thread count, as separate processes; wrk drives
each with 16 keep-alive connections, posting a valid ``case.submitted`` with a fresh client
id on every request. The hub runs as ``govhub serve`` (web only, so the dispatcher does not
compete for the CPU), on SQLite with WAL and ``synchronous=FULL``: a 202 means the message
and its delivery row are committed and fsynced.

Run: ``.venv/bin/python bench/rest_ingest.py`` (needs ``wrk``: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "schemas" / "examples" / "case.submitted.json"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int

    def to_json(self) -> dict[str, object]:
        return self.__dict__


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(\w+)", text)
    if match is None:
        raise ValueError(f"not a wrk latency: {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, body: str, key: str, seconds: int, connections: int, name: str) -> Result:
    env = {
        **os.environ,
        "GOVHUB_BENCH_BODY": body,
        "GOVHUB_BENCH_KEY": key,
        "GOVHUB_BENCH_RUN": uuid.uuid4().hex,
    }
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "post.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    if "Latency Distribution" not in output:
        raise RuntimeError(f"wrk against {name} printed:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(name, rps, p50, p99, int(bad.group(1)) if bad else 0)


@contextmanager
def process(args: list[str], marker: str, cwd: Path | None = None) -> Iterator[str]:
    child = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd
    )
    url: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if marker in line and not url:
                url.append(line.rsplit(" ", 1)[1].strip())
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60):
        child.kill()
        raise RuntimeError(f"{args} did not start")
    try:
        yield url[0]
    finally:
        child.terminate()
        child.wait(30)


def hub_config(directory: Path, threads: int) -> Path:
    path = directory / "govhub.toml"
    path.write_text(
        f"""
[server]
port = 0
threads = {threads}

[database]
url = "sqlite:///{directory / "bench.db"}"

[sandbox]
enabled = false

[[destinations]]
name = "civil_affairs"
adapter = "webhook"
url = "http://127.0.0.1:9/never-called"
secret = "bench-secret-0123456789"

[[routes]]
name = "cases"
when = {{ type = "case.*" }}
to = ["civil_affairs"]
""",
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=16, help="waitress threads for both apps")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    payload = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    # %s is replaced by a fresh client id per request in post.lua
    body = json.dumps(
        {"type": "case.submitted", "id": "__ID__", "payload": payload}, ensure_ascii=False
    )
    body = body.replace("%", "%%").replace("__ID__", "%s")

    govhub = str(Path(sys.executable).parent / "govhub")
    results: dict[str, list[Result]] = {"echo": [], "ingest": []}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config = hub_config(directory, args.threads)
        created = subprocess.run(
            [
                govhub,
                "--config",
                str(config),
                "clients",
                "add",
                "bench",
                "--allow",
                "case.*",
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        key = json.loads(created.stdout)["api_key"]
        with (
            process(
                [sys.executable, str(ROOT / "bench" / "echo_app.py"), str(args.threads)],
                "listening on",
            ) as echo,
            process([govhub, "--config", str(config), "serve"], "listening on") as hub,
        ):
            # warm up both (imports, connection pools, SQLite page cache)
            run_wrk(echo + "/api/v1/messages", body, key, 2, args.connections, "echo")
            run_wrk(hub + "/api/v1/messages", body, key, 2, args.connections, "ingest")
            for _ in range(args.rounds):
                results["echo"].append(
                    run_wrk(
                        echo + "/api/v1/messages", body, key, args.seconds, args.connections, "echo"
                    )
                )
                results["ingest"].append(
                    run_wrk(
                        hub + "/api/v1/messages",
                        body,
                        key,
                        args.seconds,
                        args.connections,
                        "ingest",
                    )
                )

    echo_rps = statistics.median(r.rps for r in results["echo"])
    ingest_rps = statistics.median(r.rps for r in results["ingest"])
    # rounds alternate echo and ingest; a pair shares the machine's conditions
    pair_ratios = [i.rps / e.rps for e, i in zip(results["echo"], results["ingest"], strict=True)]
    summary = {
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "echo": [r.to_json() for r in results["echo"]],
        "ingest": [r.to_json() for r in results["ingest"]],
        "echo_rps_median": round(echo_rps, 1),
        "ingest_rps_median": round(ingest_rps, 1),
        "ratio": round(statistics.median(pair_ratios), 3),
        "pair_ratios": [round(r, 3) for r in pair_ratios],
        "ingest_p99_ms_median": statistics.median(r.p99_ms for r in results["ingest"]),
        "echo_p99_ms_median": statistics.median(r.p99_ms for r in results["echo"]),
        "goal": 0.5,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    for name in ("echo", "ingest"):
        for r in results[name]:
            if r.non_2xx:
                print(f"warning: {name} had {r.non_2xx} non-2xx responses", file=sys.stderr)


if __name__ == "__main__":
    main()
