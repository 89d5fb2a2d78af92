"""``govhub messages``: stored messages, their deliveries and attempts (replays: ``replays.py``)."""

from __future__ import annotations

import click

from faces.cli.common import config_option, echo_json, fail, json_option, open_store, print_table
from hub.core.clock import format_time
from hub.store import MESSAGE_STATUSES, MessageFilter


@click.group()
@config_option
def messages() -> None:
    """Look at stored messages, and send them again (replay)."""


@messages.command("show")
@config_option
@click.argument("message_id")
@json_option
def messages_show(message_id: str, as_json: bool) -> None:
    """A message, its deliveries and every attempt."""
    with open_store() as store:
        view = store.messages.get(message_id)
    if view is None:
        fail(f"no message {message_id}")
    document = view.to_json()
    if as_json:
        echo_json(document)
        return
    click.echo(
        f"{document['id']}  {document['type']}  from {document['source']}  [{document['status']}]"
    )
    click.echo(
        f"  case {document['correlation_id'] or '-'}  ref {document['client_ref'] or '-'}"
        f"  via {document['channel']}  at {document['created_at']}"
    )
    for delivery in document["deliveries"]:
        replayed = ""
        if delivery.get("replay_id"):
            replayed = f" (replay {delivery['replay_id']}"
            replayed += f" of {delivery['replay_of']})" if delivery["replay_of"] else ")"
        click.echo(
            f"  → {delivery['destination']}: {delivery['status']}"
            f" after {delivery['attempts']} attempt(s){replayed}"
        )
        for attempt in delivery["history"]:
            click.echo(
                f"      #{attempt['number']} {attempt['started_at']} {attempt['outcome']}"
                f" {attempt['duration_ms']} ms {attempt['error'] or ''}".rstrip()
            )


@messages.command("list")
@config_option
@click.option("--type", "message_type", help="Exact type or prefix glob (case.*).")
@click.option("--correlation-id", help="The case number (the correlation id of a case).")
@click.option("--key", help="Another business key: a licence id, an order or waybill number.")
@click.option("--status", type=click.Choice(MESSAGE_STATUSES))
@click.option("--source", help="The client that sent them.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--after", help="Continue after this id (the 'next' of the previous page).")
@json_option
def messages_list(
    message_type: str | None,
    correlation_id: str | None,
    key: str | None,
    status: str | None,
    source: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """Messages, newest first."""
    with open_store() as store:
        page = store.messages.search(
            MessageFilter(
                type=message_type or "",
                correlation_id=correlation_id or "",
                key=key or "",
                status=status or "",
                source=source or "",
            ),
            after=after,
            limit=limit,
        )
    if as_json:
        echo_json({"items": [m.to_json(with_payload=False) for m in page.items], "next": page.next})
        return
    print_table(
        [
            (
                m.envelope.id,
                m.envelope.type,
                m.envelope.source,
                m.envelope.correlation_id,
                m.status,
                format_time(m.envelope.created_at),
            )
            for m in page.items
        ],
        ("ID", "TYPE", "SOURCE", "CASE", "STATUS", "CREATED"),
    )
    if page.next:
        click.echo(f"more: --after {page.next}")
