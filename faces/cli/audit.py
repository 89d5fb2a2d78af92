"""``govhub audit``: read the audit trail and check that nobody changed it."""

from __future__ import annotations

import sys

import click

from faces.cli.common import config_option, echo_json, json_option, open_store, print_table
from hub.core.clock import format_time

__all__ = ["audit"]


@click.group()
@config_option
def audit() -> None:
    """The audit trail: every change a person or a client made (a hash chain)."""


@audit.command("list")
@config_option
@click.option("--actor", default="", help="Only this actor's records.")
@click.option("--action", default="", help="Only actions starting with this (e.g. dlq.).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
def audit_list(actor: str, action: str, limit: int, as_json: bool) -> None:
    """The newest records, newest first."""
    with open_store() as store:
        records, _more = store.audit.recent(actor=actor, action=action, limit=limit)
    if as_json:
        echo_json(
            [
                {
                    "id": r.id,
                    "at": format_time(r.at),
                    "actor": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "detail": r.detail,
                }
                for r in records
            ]
        )
        return
    print_table(
        [(format_time(r.at), r.actor, r.action, r.target or "") for r in records],
        ("at", "actor", "action", "target"),
    )


@audit.command("verify")
@config_option
@json_option
def audit_verify(as_json: bool) -> None:
    """Recompute the hash chain; exit 1 when a record was changed or deleted."""
    with open_store() as store:
        check = store.audit.verify()
    if as_json:
        echo_json(check.to_json())
    elif check.ok:
        click.echo(
            f"the audit trail holds: {check.records} records, head seq {check.head_seq}"
            f" sm3 {check.head_hash}"
        )
    else:
        for problem in check.problems:
            click.secho(f"broken: {problem}", fg="red", err=True)
        click.echo(
            f"the audit trail was tampered with: {len(check.problems)} break(s) in"
            f" {check.records} records",
            err=True,
        )
    if not check.ok:
        sys.exit(1)
