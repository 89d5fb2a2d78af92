"""The scenarios of the benchmark suite (``bench/run.py`` runs them), and what they report.

Each scenario gets a :class:`Context` (the run's settings, a :class:`harness.Processes` that
stops everything it started, a folder of its own) and adds :class:`Figure` lines, each a
ratio against a baseline measured in the same run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fills
from harness import (
    BENCH,
    GOVHUB,
    WORKER_READY,
    Child,
    Processes,
    ReceiverClient,
    WrkResult,
    add_client,
    median,
    rest_body,
    run_wrk,
    soap_body,
    wait_for,
    write_hub_config,
)

__all__ = ["SCENARIOS", "Context", "Figure", "Settings", "format_figure"]

SOAP_ACTION = '"http://schemas.govhub.dev/v1/SubmitCase"'
CLIENT = "bench-dept"


@dataclass(frozen=True)
class Settings:
    """How long and how big each scenario is (``--quick`` or the full run)."""

    quick: bool
    web_rounds: int
    web_seconds: float
    load_seconds: float
    drain_small: int
    drain_big: int
    stored_small: int
    stored_big: int
    stored_seed: int
    stored_seconds: float
    pg_backlog: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(True, 1, 5, 8, 1_000, 20_000, 10_000, 100_000, 2_000, 5, 2_000)
        return cls(False, 3, 15, 20, 1_000, 100_000, 10_000, 1_000_000, 10_000, 15, 4_000)


@dataclass
class Figure:
    """One line of the table."""

    scenario: str
    name: str
    value: float
    unit: str
    goal: str
    met: bool | None
    detail: str = ""


@dataclass
class Context:
    """What every scenario gets."""

    settings: Settings
    processes: Processes
    workdir: Path
    log: Callable[[str], None]
    figures: list[Figure] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def figure(self, *args: Any, **kwargs: Any) -> None:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        verdict = {True: "met", False: "NOT met", None: ""}[figure.met]
        self.log(f"  => {figure.name}: {format_figure(figure)} (goal {figure.goal}) {verdict}")

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.log(f"  !! {text}")

    def check_errors(self, child: Child) -> None:
        """Note the error lines a hub process printed."""
        errors = child.errors()
        if errors:
            self.problem(f"{child.name} logged {len(errors)} error lines, e.g. {errors[0][:300]}")


def format_figure(figure: Figure) -> str:
    if figure.unit == "×":
        return f"{figure.value:.2f}×"
    return f"{figure.value:,.1f} {figure.unit}"


# ---------------------------------------------------------------- processes


def start_receiver(ctx: Context, delay_ms: float = 0.0) -> tuple[Child, ReceiverClient]:
    args = [sys.executable, str(BENCH / "receiver.py"), "--delay-ms", str(delay_ms)]
    child = ctx.processes.start("receiver", args)
    assert child.url is not None
    return child, ReceiverClient(child.url)


def start_echo(ctx: Context) -> str:
    args = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-w",
        "2",
        "-b",
        "127.0.0.1:0",
        "--chdir",
        str(BENCH),
        "echo_app:app",
    ]
    child = ctx.processes.start("echo", args)
    assert child.url is not None
    return child.url + "/api/v1/messages"


def start_hub(ctx: Context, config: Path, command: str, name: str | None = None) -> Child:
    """``govhub --config CONFIG run|serve|worker``, once it says it is ready."""
    ready = WORKER_READY if command == "worker" else None
    args = [GOVHUB, "--config", str(config), command]
    if ready is None:
        return ctx.processes.start(name or f"govhub {command}", args)
    return ctx.processes.start(name or f"govhub {command}", args, ready=ready)


def stop(ctx: Context, child: Child) -> None:
    ctx.check_errors(child)
    ctx.processes.stop(child)


def hub_dir(ctx: Context, name: str) -> Path:
    directory = ctx.workdir / name
    directory.mkdir()
    return directory


# ---------------------------------------------------------------- web


def scenario_web(ctx: Context) -> None:
    s = ctx.settings
    _, receiver = start_receiver(ctx)
    directory = hub_dir(ctx, "web")
    config = write_hub_config(directory, receiver.url)
    key = add_client(config, CLIENT)
    echo = start_echo(ctx)
    hub = start_hub(ctx, config, "run")
    assert hub.url is not None
    rest, soap = hub.url + "/api/v1/messages", hub.url + "/soap/GovHubService"
    body, envelope = rest_body(), soap_body(CLIENT, key)

    def load(url: str, connections: int, seconds: float, *, xml: bool = False) -> WrkResult:
        result = run_wrk(
            ctx.processes,
            url,
            envelope if xml else body,
            seconds=seconds,
            connections=connections,
            key="" if xml else key,
            content_type="text/xml; charset=utf-8" if xml else "application/json",
            soap_action=SOAP_ACTION if xml else "",
        )
        if result.non_2xx or result.socket_errors:
            ctx.problem(
                f"{url} at {connections} connections: {result.non_2xx} non-2xx,"
                f" {result.socket_errors} socket errors of {result.requests}"
            )
        return result

    ctx.log("  warming up (echo, REST, SOAP)")
    load(echo, 16, 2)
    load(rest, 16, 2)
    load(soap, 16, 2, xml=True)
    runs: dict[str, list[WrkResult]] = {
        k: [] for k in ("echo16", "rest16", "soap16", "echo64", "rest64")
    }
    for number in range(1, s.web_rounds + 1):
        for name, url, connections, xml in (
            ("echo16", echo, 16, False),
            ("rest16", rest, 16, False),
            ("soap16", soap, 16, True),
            ("echo64", echo, 64, False),
            ("rest64", rest, 64, False),
        ):
            result = load(url, connections, s.web_seconds, xml=xml)
            runs[name].append(result)
            ctx.log(
                f"  round {number} {name}: {result.rps:,.0f} req/s,"
                f" p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
            )
    ctx.raw["web"] = {name: [r.to_json() for r in results] for name, results in runs.items()}

    def ratio(of: str, to: str) -> tuple[float, list[float]]:
        pairs = [a.rps / b.rps for a, b in zip(runs[of], runs[to], strict=True) if b.rps]
        return median(pairs), pairs

    for of, to, label in (
        ("rest16", "echo16", "REST ingest / echo, 16 connections"),
        ("rest64", "echo64", "REST ingest / echo, 64 connections"),
    ):
        value, pairs = ratio(of, to)
        ctx.figure(
            "web",
            label,
            value,
            "×",
            "≥ 0.60",
            value >= 0.60,
            f"{median([r.rps for r in runs[of]]):,.0f} vs {median([r.rps for r in runs[to]]):,.0f}"
            f" req/s; pairs {', '.join(f'{p:.2f}' for p in pairs)};"
            f" p99 {median([r.p99_ms for r in runs[of]]):.0f} ms",
        )
    value, pairs = ratio("soap16", "echo16")
    ctx.figure(
        "web",
        "SOAP SubmitCase (PasswordText) / echo, 16 connections",
        value,
        "×",
        "—",
        None,
        f"{median([r.rps for r in runs['soap16']]):,.0f} req/s; pairs"
        f" {', '.join(f'{p:.2f}' for p in pairs)}; of REST {ratio('soap16', 'rest16')[0]:.2f}",
    )
    stop(ctx, hub)


# ---------------------------------------------------------------- accept and deliver


def scenario_accept_and_deliver(ctx: Context) -> None:
    s = ctx.settings
    _, receiver = start_receiver(ctx)
    directory = hub_dir(ctx, "accept")
    config = write_hub_config(directory, receiver.url)
    database = directory / "bench.db"
    key = add_client(config, CLIENT)
    echo = start_echo(ctx)
    body = rest_body()
    run_wrk(ctx.processes, echo, body, seconds=2, connections=16)  # warm-up
    baseline = run_wrk(ctx.processes, echo, body, seconds=s.load_seconds, connections=16)
    ctx.log(f"  echo: {baseline.rps:,.0f} req/s")

    hub = start_hub(ctx, config, "run")
    assert hub.url is not None
    rest = hub.url + "/api/v1/messages"
    run_wrk(ctx.processes, rest, body, seconds=2, connections=16, key=key)  # warm-up
    wait_for(
        lambda: fills.count(database, "deliveries", "status <> 'delivered'") == 0,
        120,
        "the warm-up's deliveries",
    )
    before = fills.count(database, "messages")
    receiver.reset()
    load = run_wrk(ctx.processes, rest, body, seconds=s.load_seconds, connections=16, key=key)
    accepted = fills.count(database, "messages") - before
    stats = receiver.wait_distinct(accepted, timeout_s=120 + accepted / 50)
    # the receiver answers before the worker commits the outcome: give the commits a moment
    with contextlib.suppress(TimeoutError):
        wait_for(
            lambda: fills.count(database, "deliveries", "status <> 'delivered'") == 0,
            30,
            "the outcomes",
        )
    open_deliveries = fills.count(database, "deliveries", "status <> 'delivered'")
    throughput = accepted / (stats["last_at"] - load.started_at) if stats["last_at"] else 0.0
    ctx.log(
        f"  hub: {load.ok:,} 202s counted by wrk ({load.non_2xx} non-2xx), {accepted:,} stored,"
        f" {stats['distinct']:,} delivered ({stats['duplicates']} duplicates),"
        f" last {stats['last_at'] - load.started_at:.1f} s after the load began"
    )
    undelivered = accepted - stats["distinct"]
    if undelivered or open_deliveries or load.non_2xx:
        ctx.problem(
            f"accept-and-deliver: {undelivered} accepted but not received,"
            f" {open_deliveries} deliveries not delivered, {load.non_2xx} non-2xx"
        )
    # wrk counts only answers it read before it stopped: at most one in flight per connection
    if not load.ok <= accepted <= load.ok + 16:
        ctx.problem(f"wrk counted {load.ok} 202s but the hub stored {accepted} messages")
    # the echo again after the hub, the baseline their mean: the machine's load moves
    after = run_wrk(ctx.processes, echo, body, seconds=s.load_seconds, connections=16)
    echo_rps = (baseline.rps + after.rps) / 2
    ctx.log(f"  echo again: {after.rps:,.0f} req/s")
    value = throughput / echo_rps if echo_rps else 0.0
    ctx.figure(
        "accept_and_deliver",
        "accepted and delivered / echo req/s, 16 connections",
        value,
        "×",
        "≥ 0.40, nothing undelivered",
        value >= 0.40 and undelivered == 0 and open_deliveries == 0,
        f"{throughput:,.0f} msg/s delivered vs echo {echo_rps:,.0f} req/s"
        f" ({baseline.rps:,.0f} before, {after.rps:,.0f} after);"
        f" undelivered {undelivered}; ingest p99 {load.p99_ms:.0f} ms",
    )

    rate = throughput / 2
    ctx.log(f"  at half that rate: {rate:,.0f} msg/s for {s.load_seconds:.0f} s")
    before = fills.count(database, "messages")
    receiver.reset()
    paced = run_wrk(
        ctx.processes, rest, body, seconds=s.load_seconds, connections=16, key=key, rate=rate
    )
    accepted_paced = fills.count(database, "messages") - before
    stats = receiver.wait_distinct(accepted_paced, timeout_s=120)
    latencies = sorted(receiver.stats(latency=True)["latencies"])
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0
    if stats["distinct"] != accepted_paced:
        ctx.problem(f"half rate: {accepted_paced} accepted, {stats['distinct']} received")
    ctx.figure(
        "accept_and_deliver",
        "POST-to-receipt p99 at half rate",
        p99,
        "ms",
        "< 250 ms",
        p99 < 250,
        f"p50 {p50:.0f} ms; {paced.rps:,.0f} req/s offered, {len(latencies):,} received",
    )
    ctx.raw["accept_and_deliver"] = {
        "echo": baseline.to_json(),
        "echo_after": after.to_json(),
        "load": load.to_json(),
        "accepted": accepted,
        "delivered": stats["distinct"],
        "throughput": throughput,
        "paced": paced.to_json(),
        "p50_ms": p50,
        "p99_ms": p99,
    }
    stop(ctx, hub)


# ---------------------------------------------------------------- drain


def seed_pending(ctx: Context, config: Path, database: Path, target: int, key: str) -> int:
    """Fill the outbox through ``govhub serve`` (web only) until ``target`` are pending."""
    serve = start_hub(ctx, config, "serve")
    assert serve.url is not None
    started = time.monotonic()
    run_wrk(
        ctx.processes,
        serve.url + "/api/v1/messages",
        rest_body(),
        seconds=600,
        connections=16,
        key=key,
        until=lambda: fills.count(database, "deliveries", "status = 'pending'") >= target,
    )
    stop(ctx, serve)
    pending = fills.count(database, "deliveries", "status = 'pending'")
    ctx.log(f"  {pending:,} pending after {time.monotonic() - started:.0f} s of ingest")
    return pending


def drain_rate(
    ctx: Context, configs: list[Path], receiver: ReceiverClient, pending: int, label: str
) -> float:
    """Start a worker per config; deliveries/s until the receiver has all ``pending``."""
    receiver.reset()
    workers = [
        start_hub(ctx, config, "worker", name=f"govhub worker {i + 1}")
        for i, config in enumerate(configs)
    ]
    began = min(w.ready_at for w in workers)
    stats = receiver.wait_distinct(pending, timeout_s=120 + pending / 100)
    for worker in workers:
        stop(ctx, worker)
    elapsed = (stats["last_at"] or began) - began
    rate = stats["distinct"] / elapsed if elapsed > 0 else 0.0
    ctx.log(
        f"  {label}: {stats['distinct']:,} of {pending:,} delivered in {elapsed:.1f} s:"
        f" {rate:,.0f}/s ({stats['duplicates']} duplicates)"
    )
    if stats["distinct"] < pending:
        ctx.problem(f"{label}: only {stats['distinct']} of {pending} pending were delivered")
    return rate


def scenario_drain(ctx: Context) -> None:
    s = ctx.settings
    _, receiver = start_receiver(ctx)
    small = hub_dir(ctx, "drain-small")
    config = write_hub_config(small, receiver.url)
    key = add_client(config, CLIENT)
    pending_small = seed_pending(ctx, config, small / "bench.db", s.drain_small, key)
    big = ctx.workdir / "drain-big"
    fills.checkpoint(small / "bench.db")
    fills.flush(small)
    shutil.copytree(small, big)
    big_config = write_hub_config(big, receiver.url)
    copies = max(1, round(s.drain_big / pending_small) - 1)
    ctx.log(f"  copying the backlog ×{copies + 1} for the big case")
    fills.duplicate(big / "bench.db", range(1, copies + 1))
    fills.flush(big)
    pending_big = fills.count(big / "bench.db", "deliveries", "status = 'pending'")
    rate_small = drain_rate(ctx, [config], receiver, pending_small, f"{pending_small:,} pending")
    rate_big = drain_rate(ctx, [big_config], receiver, pending_big, f"{pending_big:,} pending")
    value = rate_big / rate_small if rate_small else 0.0
    ctx.figure(
        "drain",
        f"drain rate, {pending_big // 1000:,}k pending / 1k pending",
        value,
        "×",
        "≥ 0.90",
        value >= 0.90,
        f"{rate_big:,.0f} vs {rate_small:,.0f} deliveries/s",
    )
    ctx.raw["drain"] = {
        "pending_small": pending_small,
        "pending_big": pending_big,
        "rate_small": rate_small,
        "rate_big": rate_big,
    }


# ---------------------------------------------------------------- stored


def scenario_stored(ctx: Context) -> None:
    s = ctx.settings
    _, receiver = start_receiver(ctx)
    seed = hub_dir(ctx, "stored-seed")
    config = write_hub_config(seed, receiver.url)
    key = add_client(config, CLIENT)
    database = seed / "bench.db"
    hub = start_hub(ctx, config, "run")
    assert hub.url is not None
    ctx.log(f"  ingesting and delivering {s.stored_seed:,} messages through the hub")
    run_wrk(
        ctx.processes,
        hub.url + "/api/v1/messages",
        rest_body(),
        seconds=600,
        connections=16,
        key=key,
        until=lambda: fills.count(database, "messages") >= s.stored_seed,
    )
    wait_for(
        lambda: fills.count(database, "deliveries", "status <> 'delivered'") == 0,
        300,
        "the seed's deliveries",
    )
    stop(ctx, hub)
    seeded = fills.count(database, "messages")
    fills.checkpoint(database)
    figures: dict[str, dict[str, float]] = {}
    for label, target in (("small", s.stored_small), ("big", s.stored_big)):
        directory = ctx.workdir / f"stored-{label}"
        shutil.copytree(seed, directory)
        case_config = write_hub_config(directory, receiver.url)
        copies = max(0, round(target / seeded) - 1)
        started = time.monotonic()
        fills.duplicate(directory / "bench.db", range(1, copies + 1))
        fills.flush(directory)
        stored = fills.count(directory / "bench.db", "messages")
        ctx.log(f"  {stored:,} delivered messages stored ({time.monotonic() - started:.0f} s)")
        serve = start_hub(ctx, case_config, "serve")
        assert serve.url is not None
        url = serve.url + "/api/v1/messages"
        run_wrk(ctx.processes, url, rest_body(), seconds=2, connections=16, key=key)
        ingest = run_wrk(
            ctx.processes, url, rest_body(), seconds=s.stored_seconds, connections=16, key=key
        )
        stop(ctx, serve)
        pending = fills.count(directory / "bench.db", "deliveries", "status = 'pending'")
        ctx.log(f"  ingest with {stored:,} stored: {ingest.rps:,.0f} req/s; draining {pending:,}")
        drained = drain_rate(ctx, [case_config], receiver, pending, f"{stored:,} stored")
        figures[label] = {"stored": stored, "ingest_rps": ingest.rps, "drain_rate": drained}
        shutil.rmtree(directory)  # a million rows is gigabytes
    small, big = figures["small"], figures["big"]
    for what, unit in (("ingest_rps", "ingest"), ("drain_rate", "drain")):
        value = big[what] / small[what] if small[what] else 0.0
        ctx.figure(
            "stored",
            f"{unit} rate, {big['stored']:,.0f} stored / {small['stored']:,.0f} stored",
            value,
            "×",
            "≥ 0.90 (within 10 %)",
            value >= 0.90,
            f"{big[what]:,.0f} vs {small[what]:,.0f} per s",
        )
    ctx.raw["stored"] = figures


# ---------------------------------------------------------------- postgres workers


def scenario_postgres_workers(ctx: Context) -> None:
    s = ctx.settings
    _, receiver = start_receiver(ctx, delay_ms=20)
    with fills.postgres_database(f"govhub_bench_{os.getpid()}") as url:
        directory = hub_dir(ctx, "postgres")
        config = write_hub_config(directory, receiver.url, database_url=url)
        key = add_client(config, CLIENT)
        # another node on the same database, with the same files (the server key)
        second = ctx.workdir / "postgres-2"
        shutil.copytree(directory, second)
        rates: dict[int, float] = {}
        for workers in (1, 2):
            serve = start_hub(ctx, config, "serve")
            assert serve.url is not None
            run_wrk(
                ctx.processes,
                serve.url + "/api/v1/messages",
                rest_body(),
                seconds=600,
                connections=16,
                key=key,
                until=lambda: fills.pg_count(url, "status = 'pending'") >= s.pg_backlog,
            )
            stop(ctx, serve)
            pending = fills.pg_count(url, "status = 'pending'")
            configs = [config] if workers == 1 else [config, second / "govhub.toml"]
            rates[workers] = drain_rate(
                ctx, configs, receiver, pending, f"{workers} worker(s), {pending:,} pending"
            )
    value = rates[2] / rates[1] if rates[1] else 0.0
    ctx.figure(
        "postgres_workers",
        "PostgreSQL drain, two workers / one (receiver 20 ms)",
        value,
        "×",
        "≥ 1.6",
        value >= 1.6,
        f"{rates[2]:,.0f} vs {rates[1]:,.0f} deliveries/s",
    )
    ctx.raw["postgres_workers"] = rates


SCENARIOS: dict[str, Callable[[Context], None]] = {
    "web": scenario_web,
    "accept_and_deliver": scenario_accept_and_deliver,
    "drain": scenario_drain,
    "stored": scenario_stored,
    "postgres_workers": scenario_postgres_workers,
}
