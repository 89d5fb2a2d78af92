"""``govhub run|serve|worker|sandbox|init``: start the hub (or a part of it), write a config."""

from __future__ import annotations

import gc
import os
import signal
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click

from faces.cli.common import config_option, fail, load, setup_logging, setup_tracing
from faces.cli.permissions import warn_if_readable_by_others
from hub import __version__
from hub.config import Config, ConfigError


def _serve(
    *, web: bool, dispatch: bool, host: str | None, port: int | None, parent_pid: int | None = None
) -> None:
    """One process: the web server (waitress), the dispatcher and scheduler, or both."""
    from faces.serving import start_server
    from hub.runtime import Hub

    config = load()
    setup_logging(config)
    setup_tracing(config)
    stop_signal = signal.SIGTERM
    if parent_pid is not None:
        # A child of govhub run answers to its master only: Ctrl-C and a SIGTERM to the
        # whole group are the master's to handle (it stops us with STOP_SIGNAL once its
        # web workers have stopped); if the master is killed outright, stop on our own.
        from faces.processes import STOP_SIGNAL, watch_parent

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the master reloads; we follow
        stop_signal = STOP_SIGNAL
        watch_parent(parent_pid, lambda: os.kill(os.getpid(), STOP_SIGNAL))
    started = []
    try:
        if config.sandbox.enabled and dispatch:
            started = start_sandboxes(config)
        # govhub run's delivery process runs what its master's processes run (the
        # newest generation); a process started on its own runs its file
        hub = Hub(config, adopt_routing=parent_pid is not None)
    except ConfigError as error:
        fail(str(error))
    hub.follow_reloads("all" if web and dispatch else "web" if web else "delivery")
    server = None
    if web:
        from faces.app import create_app

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
    warn_if_readable_by_others(config)
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

    signal.signal(stop_signal, _terminate)
    if parent_pid is None:
        from faces.processes import reload_on_hangup

        signal.signal(
            signal.SIGHUP, lambda _signum, _frame: reload_on_hangup(config.path, echo=click.echo)
        )
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


def _web_processes(
    *,
    host: str | None,
    port: int | None,
    workers: int | None,
    deliver: bool,
    tls: Path | None = None,
) -> None:
    """gunicorn's web workers, and (``deliver``) the delivery process beside them."""
    from faces.app import create_app
    from faces.processes import DeliveryProcess, WebServer, multiprocess_metrics
    from hub.runtime import Hub

    config = load()
    setup_logging(config)
    setup_tracing(config)
    files = None
    if tls is not None:
        from certs.tls import TlsFiles
        from faces.http.tls import gunicorn_options

        files = TlsFiles(tls)
        try:
            gunicorn_options(files)
        except FileNotFoundError as error:
            fail(str(error), "`govhub certs init` makes the CA and the server certificate")
    remove_metrics = multiprocess_metrics()
    try:
        # Check everything once here (migrations, adapters, jobs, the app), so a mistake
        # is told once, before any process starts.
        hub = Hub(config)
        create_app(hub)
        hub.close()
    except ConfigError as error:
        remove_metrics()
        fail(str(error))
    delivery = None
    if deliver:
        delivery = DeliveryProcess(config.path, echo=click.echo)
        if not delivery.start():
            delivery.stop()
            remove_metrics()
            fail("the delivery process did not start", "see its errors above")
    bind_host = host or config.server.host
    bind_port = config.server.port if port is None else port
    count = workers or config.server.workers or os.cpu_count() or 2

    def ready(url: str) -> None:
        if not deliver:
            click.echo(f"database {config.database.url}")
        click.echo(f"GovHub {__version__} listening on {url} ({count} web workers)")
        sys.stdout.flush()

    def stopped() -> None:
        click.echo("stopping…", err=True)
        if delivery is not None:
            delivery.stop()

    try:
        WebServer(
            config,
            f"{bind_host}:{bind_port}",
            count,
            on_ready=ready,
            on_exit=stopped,
            delivery_beside=deliver,
            tls=files,
        ).run()
    except SystemExit as exit_:
        if exit_.code:
            fail(
                f"cannot listen on {bind_host}:{bind_port} (see above)",
                "choose another port with --port or [server] port",
            )
    finally:
        if delivery is not None:
            delivery.stop()
        remove_metrics()


def start_sandboxes(config: Config) -> list[tuple[str, Any]]:
    """Start every installed sandbox on its configured (or default) port."""
    from adapters.sdk.sandbox import installed_sandboxes
    from faces.serving import serve_in_thread

    running = []
    for name, info in sorted(installed_sandboxes().items()):
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


_HOST = click.option("--host", help="Listen on this address instead of [server] host.")
_PORT = click.option(
    "--port", type=int, help="Listen on this port instead of [server] port (0: any free port)."
)
_TLS = click.option(
    "--tls",
    "tls",
    is_flag=True,
    help="Serve HTTPS and require client certificates of the hub's client CA (mutual TLS).",
)
_TLS_DIR = click.option(
    "--tls-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The TLS directory of `govhub certs init` (default: <certs dir>/tls).",
)


def _tls_directory(tls: bool, tls_dir: Path | None) -> Path | None:
    if not tls:
        return None
    from certs.tls import tls_dir as default_tls_dir

    return tls_dir or default_tls_dir()


_WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Web worker processes (default: [server] workers, or one per core).",
)


@click.command()
@config_option
@_HOST
@_PORT
@_WORKERS
@_TLS
@_TLS_DIR
@click.option(
    "--single-process",
    is_flag=True,
    help="Everything in this one process (web, dispatcher, scheduler, sandboxes).",
)
def run(
    host: str | None,
    port: int | None,
    workers: int | None,
    tls: bool,
    tls_dir: Path | None,
    single_process: bool,
) -> None:
    """Run the hub on this machine: web workers, the delivery process (dispatcher,
    scheduler) and, if enabled, the sandboxes; Ctrl-C stops them all."""
    if single_process:
        if tls:
            fail("--tls needs the web workers", "leave out --single-process")
        _serve(web=True, dispatch=True, host=host, port=port)
    else:
        _web_processes(
            host=host,
            port=port,
            workers=workers,
            deliver=True,
            tls=_tls_directory(tls, tls_dir),
        )


@click.command()
@config_option
@_HOST
@_PORT
@_WORKERS
@_TLS
@_TLS_DIR
def serve(
    host: str | None, port: int | None, workers: int | None, tls: bool, tls_dir: Path | None
) -> None:
    """Run the web server only (several nodes behind a load balancer); with --tls, mutual
    TLS: only callers with a client certificate of the hub's CA get through."""
    _web_processes(
        host=host, port=port, workers=workers, deliver=False, tls=_tls_directory(tls, tls_dir)
    )


@click.command()
@config_option
@click.option("--parent-pid", type=int, hidden=True, help="Stop when this process is gone.")
def worker(parent_pid: int | None) -> None:
    """Run the dispatcher and the scheduler only (several nodes on one PostgreSQL)."""
    _serve(web=False, dispatch=True, host=None, port=None, parent_pid=parent_pid)


@click.command()
@config_option
@click.argument(
    "path", type=click.Path(dir_okay=False, path_type=Path), default=Path("govhub.toml")
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a starter configuration to PATH (default ./govhub.toml)."""
    if path.exists() and not force:
        fail(f"{path} exists already", "use --force to overwrite it")
    text = resources.files("faces.cli").joinpath("starter.toml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")
    click.echo(f"next: govhub --config {path} clients add my-department --allow 'case.*'")


@click.command()
@config_option
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, help="Default: the sandbox's own default port.")
def sandbox(name: str, host: str, port: int | None) -> None:
    """Run one sandbox (a simulated counterpart) on its own."""
    from adapters.sdk.sandbox import installed_sandboxes
    from faces.serving import start_server

    found = installed_sandboxes()
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
