"""The processes of a hub on one machine: web workers under gunicorn, and a delivery process.

``govhub run`` uses every core: gunicorn (a pre-fork server: one master, ``workers``
worker processes of ``threads`` threads each) serves the web faces, and one delivery
process (``govhub worker``: dispatcher, scheduler and, when enabled, the sandboxes) works
the outbox beside it. The master supervises both: a web worker that dies is replaced by
gunicorn, the delivery process by :class:`DeliveryProcess`; Ctrl-C or SIGTERM stops all;
a child whose master vanished (``kill -9``) stops by itself.

Several processes share one SQLite file safely: writers queue on a file lock, and the
delivery process is woken by the web workers' commits (see :mod:`hub.store.dialects`).
Counters of every process add up at ``/metrics`` through one multi-process folder.

gunicorn was chosen by measurement (docs/benchmarks.md): its threaded workers let each
process group-commit its concurrent requests.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from prometheus_client import values

from certs.tls import TlsFiles
from faces.http.tls import ClientCertificates, gunicorn_options
from hub.config import Config
from hub.observability.metrics import MULTIPROC_ENV

__all__ = [
    "STOP_SIGNAL",
    "DeliveryProcess",
    "WebServer",
    "multiprocess_metrics",
    "reload_on_hangup",
    "watch_parent",
]

#: What the master sends its delivery process to stop it (it ignores SIGINT and SIGTERM,
#: which a terminal or a supervisor sends to the whole group: the master stops it in order).
STOP_SIGNAL = signal.SIGUSR2

log = logging.getLogger("govhub.processes")


class WebServer(BaseApplication):  # type: ignore[misc]
    """gunicorn serving the hub's web app, built in each worker after it forks.

    Args:
        config: The checked configuration (each worker runs the newest generation of its
            routes and destinations, see :mod:`hub.following`).
        bind: ``host:port`` (port 0: any free port).
        workers: Worker processes.
        on_ready: Called in the master with the URL once it listens.
        on_exit: Called in the master as it stops.
        delivery_beside: A delivery process of this machine works the outbox (readiness
            checks that it beats).
        tls: Serve HTTPS and require client certificates of this TLS directory's CA
            (``faces.http.tls``).
    """

    def __init__(
        self,
        config: Config,
        bind: str,
        workers: int,
        *,
        on_ready: Callable[[str], None] = lambda _url: None,
        on_exit: Callable[[], None] = lambda: None,
        delivery_beside: bool = False,
        tls: TlsFiles | None = None,
    ) -> None:
        self.hub_config = config
        self.delivery_beside = delivery_beside
        self.tls = tls
        self.options: dict[str, Any] = {
            "bind": bind,
            "workers": workers,
            "worker_class": "gthread",
            "threads": config.server.threads,
            "keepalive": 5,
            "timeout": 120,
            "graceful_timeout": 20,
            "loglevel": "warning",
            "accesslog": None,
            "preload_app": False,
            "when_ready": lambda server: on_ready(_listening_url(server, tls is not None)),
            "on_exit": lambda _server: on_exit(),
            "worker_exit": _close_worker_hub,
        }
        if tls is not None:
            self.options.update(gunicorn_options(tls))
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def run(self) -> None:
        """Serve until stopped; SIGHUP to the master reloads routes and destinations
        (:func:`reload_on_hangup`) instead of gunicorn's restart of every worker."""
        from gunicorn.arbiter import Arbiter

        config_path = self.hub_config.path

        class _Arbiter(Arbiter):  # type: ignore[misc]
            def handle_hup(self) -> None:
                reload_on_hangup(config_path, echo=lambda line: print(line, flush=True))

        try:
            _Arbiter(self).run()
        except RuntimeError as error:
            print(f"\nError: {error}\n", file=sys.stderr, flush=True)
            sys.exit(1)

    def load(self) -> Any:
        """The WSGI app of this worker: a hub of its own (web only, no dispatcher)."""
        from faces.app import create_app
        from hub.runtime import Hub

        # the master's configuration may predate a reload: run the newest generation
        hub = Hub(self.hub_config, adopt_routing=True)
        hub.follow_reloads("web")
        hub.expects_delivery = self.delivery_beside
        app = create_app(hub)
        if self.tls is not None:
            app.wsgi_app = ClientCertificates(app.wsgi_app, self.tls)  # type: ignore[method-assign]
        _WORKER_HUBS.append(hub)
        # What is built now lives as long as the worker: out of the collector's sight it
        # spares every collection a walk over it (about 10 % more durable ingest).
        gc.collect()
        gc.freeze()
        return app


_WORKER_HUBS: list[Any] = []


def _close_worker_hub(_server: Any, _worker: Any) -> None:
    from hub.observability.tracing import shutdown_tracing

    # Writes under way (group commits) finish before the worker exits, then its spans.
    for hub in _WORKER_HUBS:
        hub.close()
    _WORKER_HUBS.clear()
    shutdown_tracing()


def _listening_url(server: Any, tls: bool = False) -> str:
    host, port = server.LISTENERS[0].sock.getsockname()[:2]
    return f"{'https' if tls else 'http'}://{host}:{port}"


class DeliveryProcess:
    """``govhub worker`` as a supervised child: restarted (with backoff) if it dies.

    Its output goes to this process's output; :meth:`start` returns once it says it runs.

    Args:
        config_path: The configuration file (the sandboxes run there when it enables them).
        echo: Where its output lines go.
    """

    def __init__(self, config_path: Path | None, *, echo: Callable[[str], None]) -> None:
        self.config_path = config_path
        self.echo = echo
        self._process: subprocess.Popen[str] | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self, timeout_s: float = 60.0) -> bool:
        """Start it and wait until it runs; False if it did not come up in time."""
        self._watcher = threading.Thread(target=self._supervise, name="govhub-supervise")
        self._watcher.daemon = True
        self._watcher.start()
        return self._ready.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop it (:data:`STOP_SIGNAL`, then SIGKILL after ``timeout_s``), for good."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(STOP_SIGNAL)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._watcher is not None:
            self._watcher.join(timeout_s)

    def _command(self) -> list[str]:
        command = [sys.executable, "-m", "faces.cli"]
        if self.config_path is not None:
            command += ["--config", str(self.config_path)]
        command += ["worker", "--parent-pid", str(os.getpid())]
        return command

    def _supervise(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            began = time.monotonic()
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
                self._command(),
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert self._process.stdout is not None
            for line in self._process.stdout:
                self.echo(line.rstrip("\n"))
                if line.startswith("GovHub worker running"):
                    self._ready.set()
            code = self._process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - began > 60:
                backoff = 1.0
            log.error("the delivery process ended (exit %s); restarting in %.0f s", code, backoff)
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, 30.0)


def reload_on_hangup(config_path: Path | None, *, echo: Callable[[str], None]) -> None:
    """Reload the file's routes and destinations in a thread (SIGHUP), and say how it went.

    The signal comes from someone at this machine: the audit names this process's OS
    account, ``via`` SIGHUP.
    """

    def reload() -> None:
        from hub.config import ConfigError, load_config
        from hub.following import os_actor
        from hub.reloads import reload_configuration
        from hub.schemas import SchemaRegistry
        from hub.store import GenerationConflict, Store

        try:
            config = load_config(config_path)
            store = Store(config.database.url, migrate=False)
        except ConfigError as error:
            echo(f"reload (SIGHUP) refused: {error}; nothing was changed")
            return
        try:
            result = reload_configuration(
                config_path,
                store,
                SchemaRegistry(uscc_check=config.validation.uscc_check),
                actor=os_actor(),
                via="SIGHUP",
                wait_s=30,
            )
        except (ConfigError, GenerationConflict) as error:
            echo(f"reload (SIGHUP) refused: {error}; nothing was changed")
            return
        except Exception:
            log.exception("reload (SIGHUP) failed; nothing was changed")
            return
        finally:
            store.close()
        summary = result.plan.changes.summary()
        if result.generation is None:
            echo(f"reload (SIGHUP): nothing to reload, generation {result.plan.previous} runs")
        elif result.rollout is not None:
            state = result.rollout
            total = len(state.applied) + len(state.waiting) + len(state.failed)
            echo(
                f"reload (SIGHUP): generation {result.generation.number} ({summary}) applied"
                f" by {len(state.applied)} of {total} processes"
            )
        for warning in result.plan.warnings:
            echo(f"reload (SIGHUP) warning: {warning}")

    threading.Thread(target=reload, name="govhub-reload-signal", daemon=True).start()


def watch_parent(parent_pid: int, stop: Callable[[], None], every_s: float = 1.0) -> None:
    """Call ``stop`` once the process ``parent_pid`` is gone (its master was killed)."""

    def watch() -> None:
        while True:
            time.sleep(every_s)
            if os.getppid() != parent_pid:
                log.error("the master process %s is gone; stopping", parent_pid)
                stop()
                return

    threading.Thread(target=watch, name="govhub-parent", daemon=True).start()


def multiprocess_metrics() -> Callable[[], None]:
    """Give every process of this hub one fresh Prometheus multi-process folder (unless the
    environment names one); returns what removes it at the end."""
    if os.environ.get(MULTIPROC_ENV):
        return lambda: None
    folder = tempfile.mkdtemp(prefix="govhub-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    # prometheus_client picks its value store when imported (already, in this process):
    # pick again, so metrics made from now on (here and in forked workers) share files.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return lambda: shutil.rmtree(folder, ignore_errors=True)
