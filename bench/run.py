"""GovHub's benchmark suite (issue 11, "Delivery at the speed of ingest").

Every figure is a ratio against a baseline measured in the same run, on the same machine:

- ``web``: durable REST ingest (``govhub run``) at 16 and 64 connections, and SOAP
  ``SubmitCase`` (UsernameToken PasswordText) at 16, against a plain Flask JSON echo under
  gunicorn with 2 sync workers; alternating rounds, medians of the pairs;
- ``accept_and_deliver``: messages accepted ÷ the time until the receiver has the last one,
  against the echo's requests/s; nothing may be left undelivered; then POST-to-receipt
  latency at half that rate;
- ``drain``: a ``govhub worker``'s deliveries/s with 100,000 pending against 1,000;
- ``stored``: ingest and drain rates with 1,000,000 delivered messages stored against 10,000;
- ``postgres_workers``: on PostgreSQL, two workers' drain rate against one's (the receiver
  answers after 20 ms).

Run: ``.venv/bin/python bench/run.py [--quick] [--only web,drain] [--docs]``; it prints its
progress, a table at the end, and writes ``bench/results/<YYYY-MM-DD-HHMM>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BENCH, ROOT, Processes
from scenarios import SCENARIOS, Context, Figure, Settings, format_figure

RESULTS = BENCH / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- bench:start -->"
END_MARK = "<!-- bench:end -->"


def table(figures: list[Figure]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| scenario | figure | value | goal | met | detail |",
        "|---|---|---:|---|---|---|",
    ]
    for f in figures:
        met = {True: "yes", False: "**no**", None: "—"}[f.met]
        lines.append(
            f"| {f.scenario} | {f.name} | {format_figure(f)} | {f.goal} | {met} | {f.detail} |"
        )
    return "\n".join(lines)


def write_docs(text: str) -> None:
    document = DOCS.read_text(encoding="utf-8")
    start, end = document.index(START_MARK), document.index(END_MARK)
    DOCS.write_text(
        document[: start + len(START_MARK)] + "\n" + text + "\n" + document[end:],
        encoding="utf-8",
    )


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller and shorter (minutes)")
    parser.add_argument("--only", help=f"comma-separated scenarios of: {', '.join(SCENARIOS)}")
    parser.add_argument("--docs", action="store_true", help=f"write the table into {DOCS.name}")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; known: {', '.join(SCENARIOS)}")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    settings = Settings.make(args.quick)
    # Ctrl-C and SIGTERM stop the run: every child is stopped on the way out (SIGINT too,
    # for a shell that started this in the background with SIGINT ignored)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    began = time.monotonic()

    def log(text: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {text}", flush=True)

    stamp = dt.datetime.now(dt.UTC)
    figures: list[Figure] = []
    raw: dict[str, Any] = {}
    problems: list[str] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="govhub-bench-") as tmp:
        for name in names:
            log(f"{name}")
            with Processes(log) as processes:
                workdir = Path(tmp) / name
                workdir.mkdir()
                ctx = Context(settings, processes, workdir, log)
                try:
                    SCENARIOS[name](ctx)
                except KeyboardInterrupt:
                    log("interrupted: stopping every process")
                    return 130
                except Exception as error:
                    failed.append(name)
                    ctx.problem(f"{name} failed: {error}")
                    traceback.print_exc()
                finally:
                    figures += ctx.figures
                    raw.update(ctx.raw)
                    problems += ctx.problems
            shutil.rmtree(workdir, ignore_errors=True)
    text = table(figures)
    print()
    print(text)
    for problem in problems:
        print(f"- {problem}")
    RESULTS.mkdir(exist_ok=True)
    result_file = RESULTS / f"{stamp:%Y-%m-%d-%H%M}.json"
    result_file.write_text(
        json.dumps(
            {
                "at": stamp.isoformat(timespec="seconds"),
                "quick": settings.quick,
                "scenarios": names,
                "settings": asdict(settings),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "system": platform.platform(),
                },
                "figures": [asdict(f) for f in figures],
                "problems": problems,
                "failed": failed,
                "raw": raw,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {result_file.relative_to(ROOT)} ({time.monotonic() - began:.0f} s)")
    if args.docs:
        header = (
            f"Last run: {stamp:%Y-%m-%d %H:%M} UTC, {'quick' if settings.quick else 'full'},"
            f" {os.cpu_count()} cores, Python {platform.python_version()}"
            f" (`{result_file.relative_to(ROOT)}`).\n\n"
        )
        write_docs(header + text)
        print(f"wrote the table into {DOCS.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
