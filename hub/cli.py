"""The ``govhub`` command line."""

from __future__ import annotations

import gc
import json
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from hub import __version__
from hub.config import CONFIG_ENV, Config, ConfigError, load_config
from hub.envelope import format_time
from hub.store import ROLES, DuplicateClientError, Store

__all__ = ["main"]

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


def load() -> Config:
    """The configuration named by ``--config`` / ``$GOVHUB_CONFIG`` / ``./govhub.toml``."""
    path = click.get_current_context().meta.get("govhub.config")
    try:
        return load_config(path)
    except ConfigError as error:
        fail(str(error))


@contextmanager
def open_store() -> Iterator[Store]:
    """The store of the configured database, migrated."""
    from hub.keyring import vault_for

    config = load()
    try:
        store = Store(config.database.url, vault=vault_for(config))
    except Exception as error:  # a CLI user wants the reason, not a traceback
        fail(f"cannot open the database {config.database.url}: {error}")
    try:
        yield store
    finally:
        store.close()


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain aligned table; wide characters count double, as terminals draw them."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo(
            "  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        )


def echo_json(document: Any) -> None:
    """Pretty JSON, Chinese kept readable."""
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


# --------------------------------------------------------------------------- the group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="govhub")
@config_option
def main() -> None:
    """GovHub: the integration hub of the city's Internet + government services platform."""


def _setup_logging(config: Config) -> None:
    """Logs as ``[logging]`` says: JSON lines, or readable text on a terminal."""
    from hub.observability.logs import configure_logging, logging_settings

    try:
        configure_logging(logging_settings(config))
    except ConfigError as error:
        fail(str(error))


# --------------------------------------------------------------------------- run / serve / worker


def _serve(*, web: bool, dispatch: bool, host: str | None, port: int | None) -> None:
    from hub.runtime import Hub
    from hub.serving import start_server

    config = load()
    _setup_logging(config)
    started = []
    try:
        if config.sandbox.enabled and dispatch:
            started = start_sandboxes(config)
        hub = Hub(config)
    except ConfigError as error:
        fail(str(error))
    server = None
    if web:
        from hub.web import create_app

        try:
            app = create_app(hub)
        except ConfigError as error:
            hub.close()
            fail(str(error))
        try:
            server = start_server(
                app,
                host or config.server.host,
                config.server.port if port is None else port,
                threads=config.server.threads,
                max_body_bytes=max(config.server.max_body_bytes * 4, 16 * 1024 * 1024),
            )
        except OSError as error:
            fail(
                f"cannot listen on {host or config.server.host}:"
                f"{config.server.port if port is None else port}: {error}",
                "choose another port with --port or [server] port",
            )
    if dispatch:
        hub.start_dispatcher()
        if hub.jobs.settings.enabled:
            hub.start_scheduler()
    for running in started:
        click.echo(f"sandbox {running[0]} on {running[1].url}")
    click.echo(f"database {config.database.url}")
    if server is not None:
        click.echo(f"GovHub {__version__} listening on {server.url}", nl=True)
    else:
        click.echo("GovHub worker running (no web server)")
    if hub.scheduler is not None:
        names = ", ".join(job.id for job in hub.jobs.active()) or "none"
        click.echo(f"scheduler {hub.scheduler.node} running jobs: {names}")
    sys.stdout.flush()

    def _terminate(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    # Everything built so far (modules, schemas, the app) lives as long as the process:
    # moving it out of the collector's sight spares every later collection a full walk
    # over it (measured: about 10 % more durable ingest throughput).
    gc.collect()
    gc.freeze()
    try:
        if server is not None:
            server.server.run()
        else:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping…", err=True)
        if server is not None:
            server.stop()
        hub.close()
        for _name, running_sandbox in started:
            running_sandbox.stop()


def start_sandboxes(config: Config) -> list[tuple[str, Any]]:
    """Start every installed sandbox on its configured (or default) port."""
    from hub.registry import sandboxes
    from hub.serving import serve_in_thread

    running = []
    for name, info in sorted(sandboxes().items()):
        port = config.sandbox.ports.get(name, info.default_port)
        try:
            running.append(
                (
                    name,
                    serve_in_thread(
                        info.create_app(), config.sandbox.host, port, ident=f"sandbox-{name}"
                    ),
                )
            )
        except OSError as error:
            fail(
                f"sandbox {name} cannot listen on {config.sandbox.host}:{port}: {error}",
                f"set [sandbox] ports = {{ {name} = <port> }} or disable sandboxes",
            )
    return running


@main.command()
@config_option
@click.option("--host", help="Listen on this address instead of [server] host.")
@click.option(
    "--port", type=int, help="Listen on this port instead of [server] port (0: any free port)."
)
def run(host: str | None, port: int | None) -> None:
    """Run everything in one process: web, dispatcher, scheduler and (if enabled) sandboxes."""
    _serve(web=True, dispatch=True, host=host, port=port)


@main.command()
@config_option
@click.option("--host")
@click.option("--port", type=int)
def serve(host: str | None, port: int | None) -> None:
    """Run the web server only (several nodes behind a load balancer)."""
    _serve(web=True, dispatch=False, host=host, port=port)


@main.command()
@config_option
def worker() -> None:
    """Run the dispatcher and the scheduler only (several nodes on one PostgreSQL)."""
    _serve(web=False, dispatch=True, host=None, port=None)


# --------------------------------------------------------------------------- init


@main.command()
@config_option
@click.argument(
    "path", type=click.Path(dir_okay=False, path_type=Path), default=Path("govhub.toml")
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a starter configuration to PATH (default ./govhub.toml)."""
    if path.exists() and not force:
        fail(f"{path} exists already", "use --force to overwrite it")
    text = resources.files("hub").joinpath("starter.toml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")
    click.echo(f"next: govhub --config {path} clients add my-department --allow 'case.*'")


# --------------------------------------------------------------------------- clients


@main.group()
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
@json_option
def clients_add(name: str, allow: str, role: str, as_json: bool) -> None:
    """Register a client and print its API key (shown once, stored hashed)."""
    types = [t.strip() for t in allow.split(",") if t.strip()]
    if not types and role != "operator":
        fail("a client needs --allow with the message types it may send", "e.g. --allow 'case.*'")
    with open_store() as store:
        try:
            client, key = store.add_client(name, allow=types, role=role)
        except DuplicateClientError as error:
            fail(str(error), f"revoke it first: govhub clients revoke {name}")
        except ValueError as error:
            fail(str(error))
    if as_json:
        echo_json({"name": client.name, "api_key": key})
    else:
        click.echo(
            f"client {client.name} ({client.role}) may send: {', '.join(types) or 'nothing'}"
        )
        click.echo(f"API key (shown once, keep it safe): {key}")


@clients.command("list")
@config_option
@json_option
def clients_list(as_json: bool) -> None:
    """List clients (never their keys)."""
    with open_store() as store:
        found = store.list_clients()
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
    with open_store() as store:
        if not store.revoke_client(name):
            fail(f"no active client called {name!r}", "see: govhub clients list")
    click.echo(f"revoked {name}")


# --------------------------------------------------------------------------- messages


@main.group()
@config_option
def messages() -> None:
    """Look at stored messages."""


@messages.command("show")
@config_option
@click.argument("message_id")
@json_option
def messages_show(message_id: str, as_json: bool) -> None:
    """A message, its deliveries and every attempt."""
    with open_store() as store:
        view = store.get_message(message_id)
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
        click.echo(
            f"  → {delivery['destination']}: {delivery['status']}"
            f" after {delivery['attempts']} attempt(s)"
        )
        for attempt in delivery["history"]:
            click.echo(
                f"      #{attempt['number']} {attempt['started_at']} {attempt['outcome']}"
                f" {attempt['duration_ms']} ms {attempt['error'] or ''}".rstrip()
            )


@messages.command("list")
@config_option
@click.option("--type", "message_type", help="Exact type or prefix glob (case.*).")
@click.option("--correlation-id", help="Business key, usually the case number.")
@click.option(
    "--status", type=click.Choice(["pending", "delivered", "dead", "discarded", "unrouted"])
)
@click.option("--source", help="The client that sent them.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--after", help="Continue after this id (the 'next' of the previous page).")
@json_option
def messages_list(
    message_type: str | None,
    correlation_id: str | None,
    status: str | None,
    source: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """Messages, newest first."""
    with open_store() as store:
        page = store.list_messages(
            type=message_type,
            correlation_id=correlation_id,
            status=status,
            source=source,
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


# --------------------------------------------------------------------------- dead letters


@main.group()
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
        page = store.list_deliveries(
            status="dead",
            destination=destination,
            message_type=message_type,
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
    with open_store() as store:
        ids = list(delivery_ids) or store.dead_letter_ids(
            destination=destination, message_type=message_type
        )
        replayed = store.replay(ids, actor="cli", reason=reason)
    if as_json:
        echo_json({"replayed": replayed, "count": len(replayed)})
        return
    click.echo(f"replayed {len(replayed)} dead letter(s)")
    skipped = set(ids) - set(replayed)
    if skipped:
        click.echo(f"not dead (left alone): {', '.join(sorted(skipped))}", err=True)


# --------------------------------------------------------------------------- sandboxes


@main.command()
@config_option
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, help="Default: the sandbox's own default port.")
def sandbox(name: str, host: str, port: int | None) -> None:
    """Run one sandbox (a simulated counterpart) on its own."""
    from hub.registry import sandboxes
    from hub.serving import start_server

    found = sandboxes()
    if name not in found:
        fail(f"no sandbox called {name!r}", f"known: {', '.join(sorted(found))}")
    info = found[name]
    server = start_server(
        info.create_app(),
        host,
        info.default_port if port is None else port,
        ident=f"sandbox-{name}",
    )
    click.echo(f"sandbox {name} ({info.description}) listening on {server.url}")
    sys.stdout.flush()
    try:
        server.server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


# --------------------------------------------------------------------------- other groups

# Commands that live beside what they manage register themselves on ``main``.
from certs import cli as _certs_cli  # noqa: E402, F401 - registers `govhub certs`
from hub import cli_adapters as _cli_adapters  # noqa: E402,F401 - registers `govhub adapters`
from hub import cli_demo as _cli_demo  # noqa: E402,F401 - registers `govhub demo`
from hub import cli_jobs as _cli_jobs  # noqa: E402,F401 - registers `govhub jobs`
from hub.ops import cli as _ops_cli  # noqa: E402, F401 - registers `govhub users`, `dlq discard`

if __name__ == "__main__":  # pragma: no cover
    main()
