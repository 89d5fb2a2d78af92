"""Which server carries the hub's web side: gunicorn, granian or waitress, by measurement.

The same hub app (``faces.app.create_app`` on one SQLite file, web only) under each server,
2 worker processes where the server forks, 16 threads each; wrk posts a fresh
``case.submitted`` per request (durable REST ingest: a 202 means fsynced), 16 keep-alive
connections, rounds alternating between the servers so each pair shares the machine's
conditions. ``govhub run`` uses the winner (see ``faces/processes.py``).

Run: ``.venv/bin/pip install granian && .venv/bin/python bench/servers.py --seconds 10 --rounds 3``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "schemas" / "examples" / "case.submitted.json"
BIN = Path(sys.executable).parent

# The app each server imports: one hub per worker process, as faces.processes builds it.
APP_MODULE = """
import gc, os
from faces.app import create_app
from hub.config import load_config
from hub.runtime import Hub
hub = Hub(load_config(os.environ["GOVHUB_CONFIG"]))
app = create_app(hub)
gc.collect(); gc.freeze()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, child: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"server exited with {child.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on {port} within {timeout} s")


def commands(port: int, workers: int, threads: int) -> dict[str, list[str]]:
    bind = f"127.0.0.1:{port}"
    return {
        "gunicorn gthread": [
            str(BIN / "gunicorn"),
            "-w", str(workers), "-k", "gthread", "--threads", str(threads),
            "-b", bind, "--chdir", "{dir}", "--log-level", "warning", "hubapp:app",
        ],
        "granian wsgi": [
            str(BIN / "granian"),
            "--interface", "wsgi", "--workers", str(workers),
            "--blocking-threads", str(threads), "--host", "127.0.0.1", "--port", str(port),
            "--working-dir", "{dir}", "--log-level", "warning", "hubapp:app",
        ],
        "waitress (1 process)": [
            str(BIN / "waitress-serve"),
            f"--listen={bind}", f"--threads={threads}", "--call", "hubapp:make",
        ],
    }  # fmt: skip


def wrk(url: str, body: str, key: str, seconds: int, connections: int) -> dict[str, float]:
    env = {
        **os.environ,
        "GOVHUB_BENCH_BODY": body,
        "GOVHUB_BENCH_KEY": key,
        "GOVHUB_BENCH_RUN": uuid.uuid4().hex[:12],
        "GOVHUB_BENCH_CONNECTIONS": str(connections),
    }
    script = str(ROOT / "bench" / "post.lua")
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
        capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", output, re.MULTILINE)
    assert p99 is not None, output
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale,
        "non_2xx": int(bad.group(1)) if bad else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    payload = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    body = json.dumps({"type": "case.submitted", "id": "__ID__", "payload": payload})
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "hubapp.py").write_text(
            APP_MODULE + "\ndef make():\n    return app\n", encoding="utf-8"
        )
        config = directory / "govhub.toml"
        config.write_text(
            f'[database]\nurl = "sqlite:///{directory / "bench.db"}"\n[sandbox]\nenabled = false\n'
            '[[destinations]]\nname = "civil_affairs"\nadapter = "webhook"\n'
            'url = "http://127.0.0.1:9/never"\nsecret = "bench-secret-0123456789"\n'
            '[[routes]]\nname = "cases"\nwhen = { type = "case.*" }\nto = ["civil_affairs"]\n',
            encoding="utf-8",
        )
        env = {**os.environ, "GOVHUB_CONFIG": str(config), "PYTHONPATH": f"{directory}:{ROOT}"}
        created = subprocess.run(
            [str(BIN / "govhub"), "--config", str(config), "clients", "add", "bench",
             "--allow", "case.*", "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        key = json.loads(created.stdout)["api_key"]
        for round_number in range(args.rounds):
            for name in commands(0, args.workers, args.threads):
                port = free_port()
                command = commands(port, args.workers, args.threads)[name]
                argv = [a.replace("{dir}", str(directory)) for a in command]
                child = subprocess.Popen(
                    argv, env=env, cwd=directory, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
                try:
                    wait_listening(port, child)
                    url = f"http://127.0.0.1:{port}/api/v1/messages"
                    wrk(url, body, key, 2, args.connections)  # warm up
                    result = wrk(url, body, key, args.seconds, args.connections)
                finally:
                    os.killpg(child.pid, signal.SIGTERM)
                    try:
                        child.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(child.pid, signal.SIGKILL)
                        child.wait(10)
                results.setdefault(name, []).append(result)
                print(
                    f"round {round_number + 1} {name:22} {result['rps']:8.0f} req/s"
                    f" p99 {result['p99_ms']:6.1f} ms non-2xx {result['non_2xx']:.0f}",
                    flush=True,
                )
    base = results["gunicorn gthread"]
    print("\n| server | req/s (median) | p99 ms (median) | of gunicorn (median of pairs) |")
    print("|---|---:|---:|---:|")
    for name, rows in results.items():
        ratios = [r["rps"] / b["rps"] for r, b in zip(rows, base, strict=True)]
        print(
            f"| {name} | {statistics.median(r['rps'] for r in rows):,.0f} | "
            f"{statistics.median(r['p99_ms'] for r in rows):.1f} |"
            f" {statistics.median(ratios):.2f} |"
        )


if __name__ == "__main__":
    main()
