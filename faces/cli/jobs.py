"""``govhub jobs``: scheduled jobs from the command line (list, runs, run, pause, resume)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from faces.cli.common import (
    config_option,
    database_of,
    echo_json,
    fail,
    json_option,
    load,
    print_table,
)
from hub.config import ConfigError
from hub.scheduler.catalog import JobCatalog, JobUnavailable
from hub.store import Store
from hub.store.job_records import RUN_STATUSES, RunView

__all__ = ["jobs"]

ACTOR = "cli"


@contextmanager
def open_catalog(*, writes: bool = False) -> Iterator[JobCatalog]:
    """The configured jobs on the configured database (``writes``: see ``database_of``)."""
    config = load()
    url = database_of(config, writes=writes)
    try:
        store = Store(url)
    except Exception as error:  # a CLI user wants the reason, not a traceback
        fail(f"cannot open the database {url}: {error}")
    try:
        try:
            catalog = JobCatalog(config, store)
        except ConfigError as error:
            fail(str(error))
        yield catalog
    finally:
        store.close()


def _job_or_fail(catalog: JobCatalog, job_id: str) -> None:
    if job_id not in catalog.jobs:
        known = ", ".join(sorted(catalog.jobs)) or "none installed"
        fail(f"no job is called {job_id!r}", f"known jobs: {known}")


@click.group()
@config_option
def jobs() -> None:
    """Scheduled sync jobs: schedules, runs, run now, pause, resume."""


@jobs.command("list")
@config_option
@json_option
def jobs_list(as_json: bool) -> None:
    """Every job: schedule, state, next due time, last outcome."""
    with open_catalog() as catalog:
        views = catalog.describe()
        nodes = catalog.nodes()
    if as_json:
        echo_json({"items": views, "schedulers": [n.to_json() for n in nodes]})
        return
    print_table(
        [
            (
                v["id"],
                v["schedule"]["text"],
                v["timezone"],
                v["state"],
                v["next_due"] or "-",
                (v["last_run"] or {}).get("status", "-"),
                (v["last_run"] or {}).get("finished_at") or "-",
            )
            for v in views
        ],
        ("JOB", "SCHEDULE", "TIMEZONE", "STATE", "NEXT DUE", "LAST", "LAST ENDED"),
    )
    for view in views:
        if view["unavailable_reason"]:
            click.echo(f"{view['id']}: {view['unavailable_reason']}", err=True)
    if not nodes:
        click.echo("no scheduler is running (start `govhub run` or `govhub worker`)", err=True)


@jobs.command("runs")
@config_option
@click.argument("job_id")
@click.option("--status", type=click.Choice(RUN_STATUSES))
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--after", help="Continue after this run id (the 'next' of the previous page).")
@json_option
def jobs_runs(
    job_id: str, status: str | None, limit: int, after: str | None, as_json: bool
) -> None:
    """A job's runs, newest first."""
    with open_catalog() as catalog:
        _job_or_fail(catalog, job_id)
        page = catalog.runs(job_id, status=status, after=after, limit=limit)
    if as_json:
        echo_json({"items": [r.to_json(with_log=False) for r in page.items], "next": page.next})
        return
    print_table(
        [
            (
                r.id,
                _time(r.due_at),
                r.trigger,
                r.status,
                f"{r.duration_ms} ms" if r.duration_ms is not None else "-",
                f"{r.read}/{r.published}/{r.failed}",
                (r.error or "")[:60],
            )
            for r in page.items
        ],
        ("RUN", "DUE", "TRIGGER", "STATUS", "TOOK", "READ/PUB/FAIL", "ERROR"),
    )
    if page.next:
        click.echo(f"more: --after {page.next}")


@jobs.command("log")
@config_option
@click.argument("run_id")
@json_option
def jobs_log(run_id: str, as_json: bool) -> None:
    """One run with its log lines."""
    with open_catalog() as catalog:
        run = catalog.run(run_id)
    if run is None:
        fail(f"no run {run_id}", "see: govhub jobs runs <job>")
    if as_json:
        echo_json(run.to_json())
        return
    _print_run(run)
    for line in run.log or ():
        click.echo(f"  {line['at'] or '':29}  {line['level']:7}  {line['message']}")


@jobs.command("run")
@config_option
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Wait for the run to end; exit 1 unless it is ok.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=600.0,
    show_default=True,
    help="How long --wait waits.",
)
@json_option
def jobs_run(job_id: str, wait: bool, timeout: float, as_json: bool) -> None:
    """Queue a run now; a running scheduler (govhub run / worker) starts it."""
    with open_catalog(writes=True) as catalog:
        _job_or_fail(catalog, job_id)
        try:
            run = catalog.request_run(job_id, actor=ACTOR)
        except JobUnavailable as error:
            fail(str(error), f'see: govhub jobs list (and [jobs."{job_id}"] in the config)')
        idle = not catalog.nodes()
        if idle:
            click.echo(
                "warning: no scheduler is running; the run starts when one does"
                " (govhub run / govhub worker)",
                err=True,
            )
        if wait:
            run = _wait(catalog, run, timeout)
    if as_json:
        echo_json(run.to_json(with_log=wait))
    elif wait:
        _print_run(run)
    else:
        click.echo(f"queued run {run.id} of {job_id}")
        click.echo(f"follow it: govhub jobs log {run.id}")
    if wait and run.status != "ok":
        raise SystemExit(1)


def _wait(catalog: JobCatalog, run: RunView, timeout: float) -> RunView:
    deadline = time.monotonic() + timeout
    while not run.finished:
        if time.monotonic() > deadline:
            fail(
                f"run {run.id} is still {run.status} after {timeout:g} s",
                f"follow it: govhub jobs log {run.id}",
            )
        time.sleep(0.2)
        current = catalog.run(run.id)
        if current is None:  # pragma: no cover - deleted under our feet
            fail(f"run {run.id} disappeared")
        run = current
    return run


@jobs.command("pause")
@config_option
@click.argument("job_id")
@click.option("--reason", help="Why, for the audit trail and the console.")
@json_option
def jobs_pause(job_id: str, reason: str | None, as_json: bool) -> None:
    """Pause a job's schedule (survives restarts; a run in progress finishes)."""
    with open_catalog(writes=True) as catalog:
        _job_or_fail(catalog, job_id)
        view = catalog.pause(job_id, actor=ACTOR, reason=reason)
    _print_state(view, as_json)


@jobs.command("resume")
@config_option
@click.argument("job_id")
@json_option
def jobs_resume(job_id: str, as_json: bool) -> None:
    """Resume a paused job from its next due time."""
    with open_catalog(writes=True) as catalog:
        _job_or_fail(catalog, job_id)
        view = catalog.resume(job_id, actor=ACTOR)
    _print_state(view, as_json)


def _print_state(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(view)
        return
    click.echo(
        f"{view['id']}: {view['state']}"
        + (f", next due {view['next_due']}" if view["next_due"] else "")
    )


def _print_run(run: RunView) -> None:
    click.echo(f"{run.id}  {run.job_id}  [{run.status}]  {run.trigger}, due {_time(run.due_at)}")
    took = f"{run.duration_ms} ms" if run.duration_ms is not None else "-"
    click.echo(
        f"  on {run.node or '-'}, took {took};"
        f" read {run.read}, published {run.published}, failed {run.failed}"
    )
    if run.error:
        click.echo(f"  error: {run.error}")


def _time(moment: Any) -> str:
    from hub.core.clock import format_time

    return format_time(moment) or "-"
