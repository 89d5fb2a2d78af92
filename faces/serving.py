"""Serving WSGI apps with waitress: the hub itself, and the sandboxes beside it."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import RequestEntityTooLarge

__all__ = ["RunningServer", "serve_in_thread", "start_server"]

WSGIApp = Callable[..., Any]


@dataclass
class RunningServer:
    """A waitress server on a port; ``url`` is where it listens."""

    server: Any
    thread: threading.Thread | None
    host: str
    port: int
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def stop(self, *, wait: bool = False) -> None:
        """Stop accepting, close every connection, and end the serving loop.

        waitress has no public shutdown: its loop runs while any channel (the listening
        socket, keep-alive connections, its trigger) is open, so close them all, as
        WebTest's ``StopableWSGIServer`` does.
        """
        server = self.server
        self.stopping.set()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        for _ in range(100):
            channels = list(server._map.values())
            if not channels:
                break
            for channel in channels:
                with contextlib.suppress(Exception):
                    channel.close()
        # The loop notices within its 1 s poll timeout; the port is free already.
        if wait and self.thread is not None:
            self.thread.join(timeout=10)


class _OversizeTask(WSGITask):  # type: ignore[misc]
    """A body over waitress's limit, answered by the app in its channel's own format.

    waitress refuses such a body with a plain-text 413 of its own, which no client of a
    JSON or SOAP interface expects. Instead the app is asked with the declared length and
    no body: its own size check answers (problem+json on REST, a SOAP fault on SOAP), and
    the connection is closed, since the rest of the body was never read.
    """

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        declared = self.request.content_length
        environ["CONTENT_LENGTH"] = str(
            declared if declared > 0 else self.channel.server.adj.max_request_body_size + 1
        )
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input"] = io.BytesIO(b"")
        self.environ = environ
        return environ

    def execute(self) -> None:
        self.set_close_on_finish()
        super().execute()


def _error_task(channel: Any, request: Any) -> Any:
    if isinstance(request.error, RequestEntityTooLarge) and request.path:
        return _OversizeTask(channel, request)
    return ErrorTask(channel, request)


class _Channel(HTTPChannel):  # type: ignore[misc]
    error_task_class = staticmethod(_error_task)


def start_server(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    threads: int = 8,
    max_body_bytes: int = 64 * 1024 * 1024,
    ident: str = "govhub",
) -> RunningServer:
    """Bind a waitress server (port 0 picks a free one) without running its loop yet."""
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident=ident,
        max_request_body_size=max_body_bytes,
        channel_timeout=120,
        connection_limit=1000,
        clear_untrusted_proxy_headers=True,
        # poll() reports a socket closed by stop() as POLLNVAL; select() raised EBADF in
        # the serving thread instead (seen when tests stop many servers).
        asyncore_use_poll=True,
    )
    server.channel_class = _Channel
    return RunningServer(server=server, thread=None, host=host, port=int(server.effective_port))


def serve_in_thread(
    app: WSGIApp, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> RunningServer:
    """Start a waitress server in a daemon thread; returns once it is bound."""
    running = start_server(app, host, port, **options)

    def serve() -> None:
        try:
            running.server.run()
        except OSError:
            # stop() closes sockets from another thread; a select() that was waiting on
            # one of them fails with EBADF. That is the loop ending, not an error.
            if not running.stopping.is_set():
                raise

    thread = threading.Thread(target=serve, name=f"waitress-{running.port}", daemon=True)
    thread.start()
    running.thread = thread
    return running
