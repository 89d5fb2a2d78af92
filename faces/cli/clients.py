"""``govhub clients``: API clients (departmental systems, operators)."""

from __future__ import annotations

import fnmatch

import click

from faces.cli.common import config_option, echo_json, fail, json_option, open_store, print_table
from hub.core.clock import format_time
from hub.store import ROLES, DuplicateClientError


@click.group()
@config_option
def clients() -> None:
    """Manage API clients (departmental systems, operators)."""


@clients.command("add")
@config_option
@click.argument("name")
@click.option(
    "--allow",
    "allow",
    default="",
    help="Message types it may send, comma-separated; globs allowed.",
)
@click.option("--role", type=click.Choice(ROLES), default="client", show_default=True)
@click.option(
    "--replace",
    is_flag=True,
    help="If NAME exists (active or revoked), give it a new key and these settings instead"
    " of failing; its old key stops working.",
)
@json_option
def clients_add(name: str, allow: str, role: str, replace: bool, as_json: bool) -> None:
    """Register a client and print its API key (shown once, stored hashed)."""
    types = [t.strip() for t in allow.split(",") if t.strip()]
    if not types and role != "operator":
        fail("a client needs --allow with the message types it may send", "e.g. --allow 'case.*'")
    _warn_about_unknown_types(types)
    with open_store(writes=True) as store:
        try:
            if replace:
                client, key = store.clients.replace(name, allow=types, role=role)
            else:
                client, key = store.clients.add(name, allow=types, role=role)
        except DuplicateClientError as error:
            fail(str(error), f"give it a new key: govhub clients add {name} --replace ...")
        except ValueError as error:
            fail(str(error))
    if as_json:
        echo_json({"name": client.name, "api_key": key})
    else:
        click.echo(
            f"client {client.name} ({client.role}) may send: {', '.join(types) or 'nothing'}"
        )
        click.echo(f"API key (shown once, keep it safe): {key}")


def _warn_about_unknown_types(patterns: list[str]) -> None:
    """A pattern that matches no canonical type is most likely a typo (``cse.*``)."""
    from hub.schemas import SchemaRegistry

    known = SchemaRegistry().types
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(message_type, pattern) for message_type in known):
            families = sorted({message_type.split(".", 1)[0] + ".*" for message_type in known})
            click.secho(
                f"warning: --allow {pattern!r} matches no known message type"
                f" (known: {', '.join(families)}; see schemas/messages/)",
                fg="yellow",
                err=True,
            )


@clients.command("list")
@config_option
@json_option
def clients_list(as_json: bool) -> None:
    """List clients (never their keys)."""
    with open_store() as store:
        found = store.clients.all()
    if as_json:
        echo_json([c.to_json() for c in found])
        return
    print_table(
        [
            (
                c.name,
                c.role,
                ",".join(c.allow),
                format_time(c.created_at),
                "revoked" if c.revoked_at else "active",
            )
            for c in found
        ],
        ("NAME", "ROLE", "ALLOW", "CREATED", "STATE"),
    )


@clients.command("revoke")
@config_option
@click.argument("name")
def clients_revoke(name: str) -> None:
    """Revoke a client's key at once."""
    with open_store(writes=True) as store:
        if not store.clients.revoke(name):
            fail(f"no active client called {name!r}", "see: govhub clients list")
    click.echo(f"revoked {name}")
