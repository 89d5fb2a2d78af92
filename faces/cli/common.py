"""What every ``govhub`` command shares: ``--config``, ``--json``, errors, tables, the store."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from hub.config import CONFIG_ENV, Config, ConfigError, load_config
from hub.store import Store

__all__ = [
    "config_option",
    "database_of",
    "echo_json",
    "fail",
    "json_option",
    "load",
    "open_store",
    "print_table",
    "setup_logging",
    "setup_tracing",
]

F = TypeVar("F", bound=Callable[..., Any])


def _remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta["govhub.config"] = value


def config_option(function: F) -> F:
    """``--config PATH`` on the group and on every command, so it may come either side."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar=CONFIG_ENV,
        expose_value=False,
        is_eager=True,
        callback=_remember_config,
        help=f"Configuration file (default: ${CONFIG_ENV} or ./govhub.toml).",
    )(function)


def json_option(function: F) -> F:
    """``--json`` for machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        function
    )


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Print an error (and what to do) to stderr and exit 1."""
    click.secho(f"error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"  {hint}", err=True)
    sys.exit(1)


NO_CONFIG_HINT = (
    "run it in the folder of the hub's govhub.toml, or pass --config PATH"
    f" (or set ${CONFIG_ENV}); `govhub init` writes a starter file"
)


def load() -> Config:
    """The configuration named by ``--config`` / ``$GOVHUB_CONFIG`` / ``./govhub.toml``.

    With none of them, the built-in defaults, and a note on stderr saying so and naming
    the database they point at (a hub started elsewhere does not use it).
    """
    context = click.get_current_context()
    path = context.meta.get("govhub.config")
    try:
        config = load_config(path)
    except ConfigError as error:
        fail(str(error))
    if config.path is None and not context.meta.get("govhub.defaults_noted"):
        context.meta["govhub.defaults_noted"] = True
        click.secho(
            f"note: no configuration found (no --config, ${CONFIG_ENV} or ./govhub.toml);"
            f" using the built-in defaults, database {config.database.url}",
            fg="yellow",
            err=True,
        )
    return config


def database_of(config: Config, *, writes: bool) -> str:
    """The database URL a command may use, refusing where the hub would never see it.

    Without a configuration file the built-in default database lies under the working
    directory: a command that writes (a client, a user, a replay) would put it where no
    running hub looks, and a command that reads would create an empty database and show
    nothing. Both stop with the reason instead.
    """
    url = config.database.url
    if config.path is not None:
        return url
    if writes:
        fail(
            f"no configuration found: this would write to {url}, which the running hub"
            " may never see",
            NO_CONFIG_HINT,
        )
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        fail(f"no configuration found, and no database at {url}", NO_CONFIG_HINT)
    return url


@contextmanager
def open_store(*, writes: bool = False) -> Iterator[Store]:
    """The store of the configured database, migrated.

    Args:
        writes: The command changes something (see :func:`database_of`).
    """
    from hub.keyring import protector_for, vault_for

    config = load()
    url = database_of(config, writes=writes)
    try:
        store = Store(url, vault=vault_for(config), protector=protector_for(config))
    except Exception as error:  # a CLI user wants the reason, not a traceback
        fail(f"cannot open the database {url}: {error}")
    try:
        yield store
    finally:
        store.close()


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain aligned table; wide characters count double, as terminals draw them."""
    from wcwidth import wcswidth

    def width(text: str) -> int:
        columns = wcswidth(text)
        return columns if columns >= 0 else len(text)  # -1: a control character

    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo(
            "  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        )


def echo_json(document: Any) -> None:
    """Pretty JSON, Chinese kept readable."""
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


def setup_tracing(config: Config) -> None:
    """Tracing as ``[tracing]`` says; the tracer itself is made in each process on first use
    (after gunicorn forks its workers)."""
    from hub.observability.tracing import configure_tracing, tracing_settings

    try:
        configure_tracing(tracing_settings(config))
    except ConfigError as error:
        fail(str(error))


def setup_logging(config: Config) -> None:
    """Logs as ``[logging]`` says: JSON lines, or readable text on a terminal."""
    from hub.observability.logs import configure_logging, logging_settings

    try:
        configure_logging(logging_settings(config))
    except ConfigError as error:
        fail(str(error))
