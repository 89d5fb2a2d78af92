"""``govhub messages replay`` and ``govhub messages replays``: send stored messages again.

A replay chooses messages by a filter and sends each again as a new delivery, to named
destinations (``--to``) or to where the current routes say (``--routes``); see
docs/operations.md, "Replaying delivered messages".
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator

import click

from faces.cli.common import (
    config_option,
    echo_json,
    fail,
    json_option,
    load,
    open_store,
    print_table,
)
from hub.core.clock import format_time
from hub.pipeline.replay import MessageReplays, ReplayRefused, ReplayRequest, period_bound
from hub.pipeline.routing import Router
from hub.store import MESSAGE_STATUSES, MessageFilter, ReplayRecord, Store

__all__ = ["replay", "replays"]


def _bound(option: str, text: str | None, *, end: bool) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return period_bound(text, end=end)
    except ValueError as error:
        fail(f"{option} {text!r} {error}", "e.g. --since 2026-11-01 --until 2026-11-30")


def _replays(store: Store) -> MessageReplays:
    from hub.config import ConfigError
    from hub.registry import destination_classes

    config = load()
    try:
        classes = destination_classes(config)
    except ConfigError as error:
        fail(str(error))
    router = Router(config.routes)
    return MessageReplays(store, lambda: router, lambda: classes)


def _refused(error: ReplayRefused) -> None:
    options = {"to": "--to", "until": "--until", "reason": "--reason"}
    lines = []
    for problem in error.errors:
        name = problem.path.split("[")[0]
        if name == "filter":  # in the words of this command
            lines.append(
                "the filter: name the messages with --type, --since/--until, --correlation-id,"
                " --source, --status or --from-destination, or say --all for every stored one"
            )
        else:
            lines.append(f"{options.get(name, problem.path)}: {problem.message}")
    fail("; ".join(lines), "nothing was replayed; see: govhub messages replay --help")


@click.command("replay")
@config_option
@click.option("--type", "message_type", help="Exact type or prefix glob (case.*).")
@click.option("--since", help="Accepted from: a day (Beijing time) or RFC 3339 with offset.")
@click.option(
    "--until", help="Accepted before: a time, or a day, which counts whole (2026-11-30 with it)."
)
@click.option("--correlation-id", help="One case (its case number).")
@click.option("--source", help="The client that sent them.")
@click.option("--status", type=click.Choice(MESSAGE_STATUSES), help="Message status now.")
@click.option("--from-destination", help="Only messages that had a delivery to this destination.")
@click.option("--all", "everything", is_flag=True, help="No filter: every stored message.")
@click.option("--to", "to", multiple=True, help="Send to this destination (repeatable).")
@click.option("--routes", is_flag=True, help="Send where the current routes say.")
@click.option("--missing-only", is_flag=True, help="Skip destinations that had the message.")
@click.option("--reason", help="Why: kept in the audit trail (needed unless --dry-run).")
@click.option("--dry-run", is_flag=True, help="Count what would go where; change nothing.")
@click.option("--resume", "resume_id", help="Go on with a replay that stopped (its id).")
@click.option("--batch", type=click.IntRange(1, 5000), default=500, show_default=True)
@json_option
def replay(
    message_type: str | None,
    since: str | None,
    until: str | None,
    correlation_id: str | None,
    source: str | None,
    status: str | None,
    from_destination: str | None,
    everything: bool,
    to: tuple[str, ...],
    routes: bool,
    missing_only: bool,
    reason: str | None,
    dry_run: bool,
    resume_id: str | None,
    batch: int,
    as_json: bool,
) -> None:
    """Send stored messages again, chosen by a filter, as new deliveries.

    \b
    e.g. govhub messages replay --type case.submitted --since 2026-11-01 \\
           --until 2026-11-30 --to archive --reason "new archive system" --dry-run
    """
    if resume_id is not None:
        _resume(resume_id, reason, batch, as_json)
        return
    if bool(to) == routes:
        fail("say where to", "give --to DESTINATION (repeatable) or --routes, not both")
    where = MessageFilter(
        type=message_type or "",
        correlation_id=correlation_id or "",
        source=source or "",
        status=status or "",
        destination=from_destination or "",
        since=_bound("--since", since, end=False),
        until=_bound("--until", until, end=True),
    )
    request = ReplayRequest(
        where=where,
        to=to or None,
        reason=reason or "",
        missing_only=missing_only,
        everything=everything,
    )
    with open_store(writes=not dry_run) as store:
        service = _replays(store)
        try:
            if dry_run:
                _dry_run(service, request, batch, as_json)
                return
            record = service.begin(request, actor="cli")
        except ReplayRefused as error:
            _refused(error)
        if not as_json:
            click.echo(f"replay {record.id}: {record.total} message(s) match")
        final = _follow(service.run(record.id, batch=batch), record, as_json)
    _report(final, as_json)


def _resume(replay_id: str, reason: str | None, batch: int, as_json: bool) -> None:
    with open_store(writes=True) as store:
        service = _replays(store)
        try:
            record = service.resume(replay_id, actor="cli", reason=reason or "")
        except KeyError:
            fail(f"no replay {replay_id}", "see: govhub messages replays")
        if record.status == "done":
            _report(record, as_json)
            return
        if not as_json:
            click.echo(f"replay {record.id}: going on from {record.scanned}/{record.total}")
        final = _follow(service.run(record.id, batch=batch), record, as_json)
    _report(final, as_json)


def _follow(progress: Iterator[ReplayRecord], first: ReplayRecord, as_json: bool) -> ReplayRecord:
    """Run the replay, showing n/total: a bar on a terminal, a line per batch otherwise."""
    last = first
    stderr = sys.stderr
    try:
        if stderr.isatty() and not as_json:
            with click.progressbar(
                length=max(first.total, 1), label="replaying", show_pos=True, file=stderr
            ) as bar:
                bar.update(first.scanned)
                for last in progress:
                    bar.update(last.scanned - bar.pos)
            return last
        for last in progress:
            if not as_json:
                click.echo(
                    f"  {last.scanned}/{last.total} message(s), {last.created} delivery(ies)",
                    err=True,
                )
    except KeyboardInterrupt:  # what was committed stays; say how to go on
        fail(
            f"interrupted at {last.scanned}/{last.total}",
            f"go on with: govhub messages replay --resume {last.id}",
        )
    return last


def _report(record: ReplayRecord, as_json: bool) -> None:
    if as_json:
        echo_json(record.to_json())
        return
    where = "the current routes" if record.to is None else ", ".join(record.to)
    click.echo(
        f"replay {record.id} {record.status}: {record.scanned}/{record.total} message(s),"
        f" {record.created} new delivery(ies) to {where}"
    )


def _dry_run(service: MessageReplays, request: ReplayRequest, batch: int, as_json: bool) -> None:
    preview = None
    for preview in service.preview(request, batch=batch):
        if not as_json:
            click.echo(f"  {preview.scanned}/{preview.total} message(s) looked at", err=True)
    assert preview is not None
    document = preview.to_json()
    if as_json:
        echo_json(document | {"dry_run": True})
        return
    click.echo(f"dry run: {preview.total} message(s) match; nothing was changed")
    if document["by_destination"]:
        print_table(
            [
                (line["destination"], line["deliveries"], line["had_before"])
                for line in document["by_destination"]
            ],
            ("DESTINATION", "NEW DELIVERIES", "OF WHICH IT HAD BEFORE"),
        )
    else:
        click.echo("no delivery would be made")
    if preview.unrouted:
        click.echo(f"{preview.unrouted} message(s) go nowhere (no current route takes them)")


@click.command("replays")
@config_option
@click.argument("replay_id", required=False)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@json_option
def replays(replay_id: str | None, limit: int, as_json: bool) -> None:
    """Replays, newest first, or one replay's progress."""
    with open_store() as store:
        if replay_id is not None:
            record = store.replays.get(replay_id)
            if record is None:
                fail(f"no replay {replay_id}", "see: govhub messages replays")
            found = [record]
        else:
            found = store.replays.recent(limit=limit)
    if as_json:
        echo_json(found[0].to_json() if replay_id else [r.to_json() for r in found])
        return
    print_table(
        [
            (
                r.id,
                r.status,
                f"{r.scanned}/{r.total}",
                r.created,
                "routes" if r.to is None else ",".join(r.to),
                r.actor,
                format_time(r.created_at),
                r.reason[:40],
            )
            for r in found
        ],
        ("REPLAY", "STATUS", "MESSAGES", "DELIVERIES", "TO", "BY", "AT", "REASON"),
    )
