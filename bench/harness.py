"""Shared helpers of the benchmark suite (``bench/run.py``).

- :class:`Processes` starts children in their own process groups, waits for the line that
  says where they listen, and stops every one of them (the whole group) on the way out,
  also after an error or Ctrl-C;
- :func:`run_wrk` drives ``wrk`` with ``bench/post.lua`` and parses what it prints;
- :class:`ReceiverClient` reads and resets ``bench/receiver.py``'s counters;
- :func:`write_hub_config`, :func:`add_client` and :func:`delivery_counts` set up a hub
  through its real CLI and look into its database.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH",
    "GOVHUB",
    "LISTENING",
    "ROOT",
    "WORKER_READY",
    "Child",
    "Processes",
    "ReceiverClient",
    "WrkResult",
    "add_client",
    "delivery_counts",
    "median",
    "rest_body",
    "run_wrk",
    "soap_body",
    "wait_for",
    "write_hub_config",
]

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
GOVHUB = str(Path(sys.executable).parent / "govhub")
POST_LUA = BENCH / "post.lua"
EXAMPLE = ROOT / "schemas" / "examples" / "case.submitted.json"

#: "GovHub 0.1.0 listening on http://…", "receiver listening on http://…", gunicorn's
#: "Listening at: http://… (pid)".
LISTENING = re.compile(r"[Ll]istening (?:on|at):? (https?://[^\s()]+)")
WORKER_READY = re.compile(r"GovHub worker running")


def median(values: Sequence[float]) -> float:
    """The median, 0.0 of nothing (a scenario that failed half-way still reports)."""
    return statistics.median(values) if values else 0.0


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1
) -> None:
    """Poll ``condition`` until it holds; ``TimeoutError`` naming ``what`` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


@dataclass
class Child:
    """A started process: its group is killed when it stops."""

    name: str
    process: subprocess.Popen[str]
    url: str | None = None
    #: ``time.time()`` when its ready line came.
    ready_at: float = 0.0
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    def output(self) -> str:
        """Its last lines of output (stdout and stderr)."""
        return "".join(self.lines)

    def errors(self) -> list[str]:
        """Lines of its output that look like errors or tracebacks."""
        return [
            line.rstrip()
            for line in self.lines
            if re.search(r"Traceback|ERROR|CRITICAL|Exception|error:", line)
        ]


class Processes:
    """Every child process of a benchmark, stopped (group and all) when the block ends.

    Children start in a session of their own, so a terminal's Ctrl-C reaches only this
    process; it stops them in order: SIGTERM to the group, SIGKILL if it is still there
    after a grace period.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.children: list[Child] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_all()

    def start(
        self,
        name: str,
        args: Sequence[str],
        *,
        ready: re.Pattern[str] | None = LISTENING,
        timeout_s: float = 90.0,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        """Start ``args``; with ``ready``, wait for the line that matches it (its URL if any)."""
        process = subprocess.Popen(
            list(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd or ROOT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        child = Child(name, process)
        with self._lock:
            self.children.append(child)
        seen = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                child.lines.append(line)
                if ready is not None and not seen.is_set():
                    found = ready.search(line)
                    if found is not None:
                        child.url = found.group(1) if found.groups() else None
                        child.ready_at = time.time()
                        seen.set()

        threading.Thread(target=read, name=f"read-{name}", daemon=True).start()
        if ready is None:
            return child
        deadline = time.monotonic() + timeout_s
        while not seen.wait(0.1):
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop(child)
                raise RuntimeError(
                    f"{name} did not start (exit {process.returncode}):\n{child.output()}"
                )
        return child

    def stop(self, child: Child, grace_s: float = 20.0) -> None:
        """Stop ``child``'s whole process group: SIGTERM, then SIGKILL after ``grace_s``."""
        process = child.process
        with contextlib.suppress(ProcessLookupError, PermissionError):
            # the group's id is the child's pid (start_new_session); it may outlive the child
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.log(f"  {child.name} did not stop in {grace_s:.0f} s: killing it")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        with self._lock:
            if child in self.children:
                self.children.remove(child)

    def stop_all(self) -> None:
        """Stop every child still running, the last started first."""
        with self._lock:
            running = list(reversed(self.children))
        for child in running:
            self.stop(child)


# ---------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    """What one wrk run printed."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    started_at: float

    @property
    def ok(self) -> int:
        """Requests answered with a 2xx (or 3xx)."""
        return self.requests - self.non_2xx

    def to_json(self) -> dict[str, Any]:
        """Its figures, for the results file."""
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"not a wrk latency: {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str, started_at: float) -> WrkResult:
    """Parse ``wrk --latency``'s report."""
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if total is None or "Latency Distribution" not in output:
        raise RuntimeError(f"wrk printed no report:\n{output}")
    requests = int(total.group(1))
    seconds = _ms(total.group(2) + total.group(3)) / 1000
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=requests,
        seconds=seconds,
        rps=requests / seconds if seconds else 0.0,
        p50_ms=_ms(p50.group(1)) if p50 else 0.0,
        p99_ms=_ms(p99.group(1)) if p99 else 0.0,
        non_2xx=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
        started_at=started_at,
    )


def run_wrk(
    processes: Processes,
    url: str,
    body: str,
    *,
    seconds: float,
    connections: int,
    key: str = "",
    rate: float = 0.0,
    content_type: str = "application/json",
    soap_action: str = "",
    until: Callable[[], bool] | None = None,
) -> WrkResult:
    """POST ``body`` (``__ID__`` fresh per request) to ``url`` for ``seconds``.

    ``until``: stop wrk early (SIGINT: it still prints its report) once this holds.
    """
    env = {
        "GOVHUB_BENCH_BODY": body,
        "GOVHUB_BENCH_KEY": key,
        "GOVHUB_BENCH_RUN": uuid.uuid4().hex[:12],
        "GOVHUB_BENCH_CONTENT_TYPE": content_type,
        "GOVHUB_BENCH_SOAP_ACTION": soap_action,
        "GOVHUB_BENCH_RATE": str(rate) if rate else "0",
        "GOVHUB_BENCH_CONNECTIONS": str(connections),
    }
    threads = min(2, connections)
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(POST_LUA),
        url,
    ]
    started_at = time.time()
    child = processes.start("wrk", args, ready=None, env=env)
    try:
        limit = time.monotonic() + seconds + 60
        while child.process.poll() is None:
            if until is not None and until():
                child.process.send_signal(signal.SIGINT)
                until = None
            if time.monotonic() > limit:
                raise RuntimeError(f"wrk did not end:\n{child.output()}")
            time.sleep(0.2)
        # the reader thread may still hold the last lines
        wait_for(lambda: "Requests/sec" in child.output(), 5, "wrk's report")
    finally:
        processes.stop(child, grace_s=5)
    return parse_wrk(child.output(), started_at)


# ---------------------------------------------------------------- the receiver


class ReceiverClient:
    """``bench/receiver.py``'s counters."""

    def __init__(self, url: str) -> None:
        if not url.startswith("http://"):
            raise ValueError(f"not the receiver's http:// URL: {url!r}")
        self.url = url.rstrip("/")

    def stats(self, latency: bool = False) -> dict[str, Any]:
        """``GET /_stats``: received, distinct, duplicates, last_at (and latencies)."""
        target = self.url + "/_stats" + ("?latency=1" if latency else "")
        with urllib.request.urlopen(target, timeout=30) as answer:  # noqa: S310 - http only
            result: dict[str, Any] = json.load(answer)
        return result

    def reset(self) -> None:
        """``POST /_reset``."""
        request = urllib.request.Request(self.url + "/_reset", data=b"{}", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass

    def wait_distinct(self, count: int, timeout_s: float, quiet_s: float = 3.0) -> dict[str, Any]:
        """Wait until ``count`` distinct deliveries came, or none came for ``quiet_s``
        (something is stuck: the caller compares), or the deadline; the last stats."""
        deadline = time.monotonic() + timeout_s
        last = -1
        last_change = time.monotonic()
        while True:
            stats = self.stats()
            if stats["distinct"] >= count:
                return stats
            if stats["distinct"] != last:
                last, last_change = stats["distinct"], time.monotonic()
            elif time.monotonic() - last_change > quiet_s and time.monotonic() > deadline:
                return stats
            if time.monotonic() > deadline + 30:
                return stats
            time.sleep(0.1)


# ---------------------------------------------------------------- the hub


def write_hub_config(
    directory: Path,
    receiver_url: str,
    *,
    database_url: str | None = None,
    web_workers: int = 2,
    max_in_flight: int = 16,
    dispatcher: dict[str, int | float] | None = None,
) -> Path:
    """A hub config: SQLite in ``directory`` (or ``database_url``), no sandboxes, one
    webhook destination at the receiver, ``case.*`` routed to it."""
    url = database_url or f"sqlite:///{directory / 'bench.db'}"
    dispatcher_lines = "".join(f"{k} = {v}\n" for k, v in (dispatcher or {}).items())
    path = directory / "govhub.toml"
    path.write_text(
        f"""[server]
host = "127.0.0.1"
port = 0
workers = {web_workers}

[database]
url = "{url}"

[sandbox]
enabled = false

[dispatcher]
{dispatcher_lines}
[[destinations]]
name = "civil_affairs"
adapter = "webhook"
url = "{receiver_url}/hook"
secret = "bench-secret-0123456789"
max_in_flight = {max_in_flight}

[[routes]]
name = "cases"
when = {{ type = "case.*" }}
to = ["civil_affairs"]
""",
        encoding="utf-8",
    )
    return path


def add_client(config: Path, name: str = "bench-dept") -> str:
    """``govhub clients add NAME --allow 'case.*' --json``: its API key."""
    created = subprocess.run(
        [GOVHUB, "--config", str(config), "clients", "add", name, "--allow", "case.*", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if created.returncode != 0:
        raise RuntimeError(f"clients add failed:\n{created.stdout}{created.stderr}")
    key: str = json.loads(created.stdout)["api_key"]
    return key


def delivery_counts(database: Path) -> dict[str, int]:
    """Deliveries by status, read straight from the hub's SQLite file."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        rows = connection.execute("SELECT status, count(*) FROM deliveries GROUP BY status")
        return {str(status): int(count) for status, count in rows}
    finally:
        connection.close()


@contextlib.contextmanager
def sqlite_connection(database: Path) -> Iterator[sqlite3.Connection]:
    """A read-write connection to the hub's SQLite file, closed after the block."""
    connection = sqlite3.connect(database, timeout=60)
    try:
        yield connection
    finally:
        connection.close()


# ---------------------------------------------------------------- bodies


def _payload() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    # one case per message: a fixed case number would queue every delivery behind the
    # last one of that case (deliveries of a case go out in order)
    payload["case_no"] = "WH-__ID__"
    return payload


def rest_body() -> str:
    """A ``case.submitted`` for ``POST /api/v1/messages``; ``__ID__`` becomes its ids."""
    document = {"type": "case.submitted", "id": "__ID__", "payload": _payload()}
    return json.dumps(document, ensure_ascii=False)


def soap_body(username: str, key: str) -> str:
    """A SOAP 1.1 ``SubmitCase`` with a UsernameToken PasswordText."""
    from xml.sax.saxutils import escape

    payload = _payload()
    applicant = payload["applicant"]
    materials = "".join(
        f"<materials><name>{escape(m['name'])}</name></materials>" for m in payload["materials"]
    )
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Header><wsse:Security xmlns:wsse="{wsse}"><wsse:UsernameToken>'
        f"<wsse:Username>{escape(username)}</wsse:Username>"
        f"<wsse:Password>{escape(key)}</wsse:Password>"
        "</wsse:UsernameToken></wsse:Security></soap:Header>"
        '<soap:Body><SubmitCase xmlns="http://schemas.govhub.dev/v1">'
        "<client_ref>__ID__</client_ref><CaseSubmitted>"
        f"<case_no>{payload['case_no']}</case_no><item_code>{payload['item_code']}</item_code>"
        f"<item_name>{escape(payload['item_name'])}</item_name>"
        f"<applicant><type>{applicant['type']}</type><name>{escape(applicant['name'])}</name>"
        f"<id_type>{applicant['id_type']}</id_type><id_no>{applicant['id_no']}</id_no>"
        f"<mobile>{applicant['mobile']}</mobile></applicant>"
        f"<submitted_at>{payload['submitted_at']}</submitted_at>"
        f"<channel>{payload['channel']}</channel>{materials}"
        f"<delivery><method>{payload['delivery']['method']}</method>"
        f"<address>{escape(payload['delivery']['address'])}</address></delivery>"
        "</CaseSubmitted></SubmitCase></soap:Body></soap:Envelope>"
    )
