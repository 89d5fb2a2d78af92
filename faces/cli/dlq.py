"""``govhub dlq``: dead letters: list them, send them again, discard them."""

from __future__ import annotations

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
from hub.store import DeadLetterFilter, Store


def _check_destination(store: Store, destination: str | None) -> None:
    """Refuse a destination that is neither configured nor has dead letters (a typo)."""
    if not destination:
        return
    configured = [d.name for d in load().destinations]
    if destination in configured:
        return
    if store.deliveries.count_dead(DeadLetterFilter(destination=destination)):
        return  # removed from the configuration, its dead letters still here
    fail(
        f"no destination called {destination!r}",
        f"configured: {', '.join(configured) or 'none'}",
    )


def _left_alone(store: Store, ids: list[str], done: list[str]) -> list[str]:
    """Why each id that was asked for was left alone: unknown, or in which state."""
    reasons = []
    for delivery_id in sorted(set(ids) - set(done)):
        found = store.deliveries.get(delivery_id)
        if found is None:
            reasons.append(f"{delivery_id}: no such delivery")
        else:
            reasons.append(f"{delivery_id}: not dead ({found[0].status})")
    return reasons


@click.group()
@config_option
def dlq() -> None:
    """Dead letters: look at them and send them again."""


@dlq.command("list")
@config_option
@click.option("--destination")
@click.option("--type", "message_type")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--after")
@json_option
def dlq_list(
    destination: str | None, message_type: str | None, limit: int, after: str | None, as_json: bool
) -> None:
    """Dead letters, newest first."""
    with open_store() as store:
        _check_destination(store, destination)
        page = store.deliveries.dead_letters(
            DeadLetterFilter(destination=destination or "", type=message_type or ""),
            after=after,
            limit=limit,
        )
    if as_json:
        echo_json({"items": [d.to_json(with_history=False) for d in page.items], "next": page.next})
        return
    print_table(
        [
            (
                d.id,
                d.destination,
                d.message_type,
                d.correlation_id,
                d.attempts,
                (d.last_error or "")[:60],
            )
            for d in page.items
        ],
        ("DELIVERY", "DESTINATION", "TYPE", "CASE", "ATTEMPTS", "LAST ERROR"),
    )


@dlq.command("replay")
@config_option
@click.argument("delivery_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Every dead letter matching the filters.")
@click.option("--destination")
@click.option("--type", "message_type")
@click.option("--reason", help="Why, for the audit trail.")
@json_option
def dlq_replay(
    delivery_ids: tuple[str, ...],
    replay_all: bool,
    destination: str | None,
    message_type: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Send dead letters again: by id, or --all matching --destination/--type."""
    if not delivery_ids and not replay_all:
        fail(
            "name the dead letters to replay",
            "give delivery ids, or --all (with --destination/--type)",
        )
    with open_store(writes=True) as store:
        _check_destination(store, destination)
        ids = list(delivery_ids) or store.deliveries.dead_letter_ids(
            DeadLetterFilter(destination=destination or "", type=message_type or "")
        )
        replayed = store.deliveries.replay(ids, actor="cli", reason=reason)
        left_alone = _left_alone(store, ids, replayed)
    if as_json:
        echo_json({"replayed": replayed, "count": len(replayed), "left_alone": left_alone})
    else:
        click.echo(f"replayed {len(replayed)} dead letter(s)")
    if left_alone:
        # Asked for by id and not replayed: the command did not do what it was told.
        fail(
            f"left alone: {'; '.join(left_alone)}",
            "see: govhub dlq list (only dead letters can be replayed)",
        )


@dlq.command("discard")
@config_option
@click.argument("delivery_ids", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why: kept in the audit trail.")
@json_option
def dlq_discard(delivery_ids: tuple[str, ...], reason: str, as_json: bool) -> None:
    """Give up on dead letters for good (they are never replayed), with a reason."""
    with open_store(writes=True) as store:
        try:
            discarded = store.deliveries.discard(list(delivery_ids), actor="cli", reason=reason)
        except ValueError as error:
            fail(str(error))
        left_alone = _left_alone(store, list(delivery_ids), discarded)
    if as_json:
        echo_json({"discarded": discarded, "count": len(discarded), "left_alone": left_alone})
    else:
        click.echo(f"discarded {len(discarded)} dead letter(s)")
    if left_alone:
        fail(f"left alone: {'; '.join(left_alone)}", "see: govhub dlq list")
