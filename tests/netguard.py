"""The tests' network guard: they reach only what they opened themselves.

Installed for the whole session by ``tests/conftest.py`` (before collection, so session
fixtures and import-time code are guarded too), in the spirit of zeep's tests:

- nothing beyond loopback can be reached or resolved;
- on loopback, only ports that a server of this run bound (every ``bind`` in this process is
  recorded, port 0 included once the system has chosen), the local PostgreSQL of the
  ``db_url`` fixture, and ports a test declares with :func:`opened_by_this_run` (a child
  process it started and asked for its port);
- port :data:`NOWHERE` (the discard port) is the tests' "nobody listens here": refused like
  any other, and expected.

A connection to any other loopback port (a ``govhub run`` on 8700, another engineer's test
server) is refused before a single byte leaves, and remembered: code that swallows the error
(a sandbox's background pusher, a retrying client) does not hide it, the session fails and
lists each one (see ``pytest_sessionfinish`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "NOWHERE",
    "NetworkBlocked",
    "capturing_strays",
    "expecting_refusals",
    "install",
    "opened_by_this_run",
    "stray_connections",
    "uninstall",
]

NOWHERE = 9
"""The discard port: tests use ``http://127.0.0.1:9`` for a counterpart that is not there."""

_real_bind = socket.socket.bind
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo

_lock = threading.Lock()
_opened: set[int] = set()
_strays: list[str] = []
_expecting = threading.local()


class NetworkBlocked(OSError):
    """A test tried to reach beyond 127.0.0.1, or a loopback port it did not open."""


def _is_loopback(host: Any) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def opened_by_this_run(where: int | str) -> int:
    """Declare a port (or a URL's port) opened by this run outside this process.

    A test that starts ``govhub run --port 0`` in a child process reads the port from what
    the child prints, and declares it here before connecting.

    Returns:
        The port.
    """
    port = where if isinstance(where, int) else urlsplit(where).port
    if port is None:
        raise ValueError(f"no port in {where!r}")
    with _lock:
        _opened.add(port)
    return port


def stray_connections() -> list[str]:
    """The refused connections to loopback ports nobody in this run opened, so far."""
    with _lock:
        return list(_strays)


@contextmanager
def expecting_refusals() -> Iterator[None]:
    """In this thread, refusals are what the test wants to see: not recorded as strays."""
    _expecting.on = True
    try:
        yield
    finally:
        _expecting.on = False


@contextmanager
def capturing_strays() -> Iterator[list[str]]:
    """The strays recorded (in any thread) inside the block, taken out of the session's list.

    For the guard's own tests, which make strays on purpose.
    """
    with _lock:
        mark = len(_strays)
    captured: list[str] = []
    try:
        yield captured
    finally:
        with _lock:
            captured.extend(_strays[mark:])
            del _strays[mark:]


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # AF_UNIX: PostgreSQL's socket, the Playwright driver
    host, port = address[0], int(address[1])
    if not _is_loopback(host):
        raise NetworkBlocked(f"tests are offline: refused connection to {address!r}")
    with _lock:
        if port in _opened:
            return
        if port != NOWHERE and not getattr(_expecting, "on", False):
            _strays.append(f"{host}:{port} from thread {threading.current_thread().name}")
    raise NetworkBlocked(
        f"tests reach only ports this run opened: refused connection to {host}:{port}"
    )


def _guarded_bind(self: socket.socket, address: Any) -> None:
    _real_bind(self, address)
    if self.family in (socket.AF_INET, socket.AF_INET6):
        with _lock:
            _opened.add(int(self.getsockname()[1]))


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_loopback(host):
        raise NetworkBlocked(f"tests are offline: refused to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def install(*, known_ports: tuple[int, ...] = ()) -> None:
    """Guard every socket of this process; ``known_ports`` are services the tests use."""
    with _lock:
        _opened.update(known_ports)
    socket.socket.bind = _guarded_bind  # type: ignore[method-assign]
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo


def uninstall() -> None:
    """Put the real socket functions back."""
    socket.socket.bind = _real_bind  # type: ignore[method-assign]
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo
