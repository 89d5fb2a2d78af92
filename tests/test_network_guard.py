"""The tests' network guard: a test reaches only what this run opened (see tests/netguard.py)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests

from tests import netguard
from tests.support import wait_for

# A listener in a child process, as `govhub run` (or another engineer's server) would be:
# it binds the port it is given, prints it (or "busy"), and on "count" prints how many
# connections it accepted.
_LISTENER = """
import socket, sys, threading
listener = socket.socket()
try:
    listener.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    print("busy", flush=True)
    sys.exit(0)
listener.listen(16)
accepted = []
def accept():
    while True:
        connection, _ = listener.accept()
        accepted.append(connection)
threading.Thread(target=accept, daemon=True).start()
print(listener.getsockname()[1], flush=True)
for line in sys.stdin:
    print(len(accepted), flush=True)
"""


@dataclass
class Listener:
    """A port listened on by another process; ``port`` is None when it was taken already."""

    process: subprocess.Popen[str]
    port: int | None

    def connections(self) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())


@contextmanager
def listener_in_another_process(port: int = 0) -> Iterator[Listener]:
    process = subprocess.Popen(
        [sys.executable, "-c", _LISTENER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        yield Listener(process, None if first == "busy" else int(first))
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_a_loopback_port_no_test_opened_is_refused_and_its_listener_hears_nothing() -> None:
    with listener_in_another_process() as listener:
        assert listener.port is not None
        with (
            netguard.expecting_refusals(),
            pytest.raises(requests.ConnectionError, match="ports this run opened"),
        ):
            requests.get(f"http://127.0.0.1:{listener.port}/api/v1/messages", timeout=5)
        assert listener.connections() == 0

        # The same port, once a test declares it (a child it started itself), is reachable:
        # the listener does count what reaches it.
        netguard.opened_by_this_run(listener.port)
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5):
            pass
        # The child's accept thread takes the connection in its own time: wait for it.
        wait_for(lambda: listener.connections() == 1, message="the listener to count it")
        assert listener.connections() == 1


def test_a_hub_listening_on_8700_receives_nothing_from_the_tests() -> None:
    with listener_in_another_process(8700) as listener:
        with (
            netguard.expecting_refusals(),
            pytest.raises(requests.ConnectionError, match="ports this run opened"),
        ):
            requests.post("http://127.0.0.1:8700/inbound/courier/routes", data={}, timeout=5)
        # Taken already (a `govhub run` beside the tests): refused all the same, above.
        if listener.port is not None:
            assert listener.connections() == 0


def test_a_refusal_swallowed_in_a_background_thread_is_still_recorded() -> None:
    def push() -> None:
        # What a sandbox's pusher does: swallow it, retry later, tell nobody.
        with contextlib.suppress(requests.ConnectionError):
            requests.post("http://127.0.0.1:8700/inbound/courier/routes", timeout=5)

    with netguard.capturing_strays() as strays:
        thread = threading.Thread(target=push, name="pusher")
        thread.start()
        thread.join(10)
    assert strays == ["127.0.0.1:8700 from thread pusher"]


def test_ports_bound_by_this_run_are_reachable_and_the_nowhere_port_is_not() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    with netguard.capturing_strays() as strays, pytest.raises(netguard.NetworkBlocked):
        socket.create_connection(("127.0.0.1", netguard.NOWHERE), timeout=5)
    assert strays == []  # the tests' "nobody listens here" is expected, not a stray


def test_addresses_beyond_loopback_are_neither_reached_nor_resolved() -> None:
    with pytest.raises(netguard.NetworkBlocked, match="offline"):
        socket.create_connection(("192.0.2.1", 80), timeout=5)
    with pytest.raises(netguard.NetworkBlocked, match="resolve"):
        socket.getaddrinfo("example.org", 443)
