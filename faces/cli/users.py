"""``govhub users`` (console accounts) and ``govhub dlq discard``."""

from __future__ import annotations

import sys

import click

from faces.cli.common import config_option, echo_json, fail, json_option, open_store, print_table
from faces.console.accounts import ROLES, AccountError, UserStore
from hub.core.clock import format_time

__all__ = ["users"]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # The first line only, so `echo secret | govhub users add ...` works.
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@click.group()
@config_option
def users() -> None:
    """Manage who may sign in to the ops console (/ops/)."""


@users.command("add")
@config_option
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
def users_add(name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Create a console user; the password is prompted for (or read with --password-stdin)."""
    password = _read_password(password_stdin)
    with open_store(writes=True) as store:
        try:
            user = UserStore(store).add(name, role=role, password=password, actor="cli")
        except AccountError as error:
            fail(str(error), "see: govhub users list" if "exists" in str(error) else None)
    if as_json:
        echo_json(user.to_json())
    else:
        click.echo(f"user {user.name} ({user.role}) added; sign in at /ops/")


@users.command("list")
@config_option
@json_option
def users_list(as_json: bool) -> None:
    """List console users (never their passwords)."""
    with open_store() as store:
        found = UserStore(store).list()
    if as_json:
        echo_json([u.to_json() for u in found])
        return
    print_table(
        [
            (
                u.name,
                u.role,
                format_time(u.created_at),
                format_time(u.last_login_at) or "-",
                "disabled" if u.disabled_at else "enabled",
            )
            for u in found
        ],
        ("NAME", "ROLE", "CREATED", "LAST SIGN-IN", "STATE"),
    )


@users.command("role")
@config_option
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def users_role(name: str, role: str) -> None:
    """Give a user another role."""
    with open_store(writes=True) as store:
        try:
            UserStore(store).set_role(name, role, actor="cli")
        except AccountError as error:
            fail(str(error), "see: govhub users list")
    click.echo(f"{name} is now {role}")


@users.command("password")
@config_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_password(name: str, password_stdin: bool) -> None:
    """Set a user's password (their sessions end)."""
    password = _read_password(password_stdin)
    with open_store(writes=True) as store:
        try:
            UserStore(store).set_password(name, password, actor="cli")
        except AccountError as error:
            fail(str(error))
    click.echo(f"password of {name} changed")


@users.command("disable")
@config_option
@click.argument("name")
def users_disable(name: str) -> None:
    """Stop a user from signing in; their sessions end at once."""
    with open_store(writes=True) as store:
        try:
            UserStore(store).disable(name, actor="cli")
        except AccountError as error:
            fail(str(error), "see: govhub users list")
    click.echo(f"disabled {name}")


@users.command("enable")
@config_option
@click.argument("name")
def users_enable(name: str) -> None:
    """Let a disabled user sign in again."""
    with open_store(writes=True) as store:
        try:
            UserStore(store).enable(name, actor="cli")
        except AccountError as error:
            fail(str(error), "see: govhub users list")
    click.echo(f"enabled {name}")
