"""A webhook receiver for benchmarks: answers 200 at once (or after a delay), counts what came.

asyncio at the protocol level, so one process takes tens of thousands of requests a second
and is never what a benchmark measures. It records, per request, the ``Idempotency-Key``
and the time it arrived, and answers ``GET /_stats`` with the counts (received, distinct
keys, duplicates) and, with ``?latency=1``, each message's seconds from the hub taking the POST in
(the envelope's ``created_at``) to its arrival here.

Run: ``python bench/receiver.py [--delay-ms 20] [--port 0]``; it prints
``receiver listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

__all__ = ["Receiver"]

_CREATED = re.compile(rb'"created_at":"([^"]+)"')


class Receiver:
    """What arrived, by idempotency key."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.received = 0
        self.arrived: dict[str, float] = {}
        self.latencies: list[float] = []
        self.duplicates = 0

    def record(self, key: str | None, body: bytes) -> None:
        now = time.time()
        self.received += 1
        if key is None:
            return
        if key in self.arrived:
            self.duplicates += 1
            return
        self.arrived[key] = now
        # the envelope's created_at is when the hub took the POST in (before storing it)
        found = _CREATED.search(body)
        if found is not None:
            accepted = dt.datetime.fromisoformat(found.group(1).decode()).timestamp()
            self.latencies.append(now - accepted)

    def stats(self, with_times: bool) -> bytes:
        body: dict[str, object] = {
            "received": self.received,
            "distinct": len(self.arrived),
            "duplicates": self.duplicates,
            "last_at": max(self.arrived.values(), default=None),
        }
        if with_times:
            body["latencies"] = self.latencies
        return json.dumps(body).encode()

    def reset(self) -> None:
        self.received = 0
        self.duplicates = 0
        self.arrived.clear()
        self.latencies.clear()


class _Connection(asyncio.Protocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = lines[0].split(" ", 2)
            asyncio.get_running_loop().create_task(self._answer(method, target, headers, body))

    async def _answer(
        self, method: str, target: str, headers: dict[str, str], request_body: bytes
    ) -> None:
        path = urlsplit(target)
        if method == "GET" and path.path == "/_stats":
            body = self.receiver.stats("latency" in parse_qs(path.query))
        elif method == "POST" and path.path == "/_reset":
            self.receiver.reset()
            body = b"{}"
        else:
            if self.receiver.delay_s:
                await asyncio.sleep(self.receiver.delay_s)
            self.receiver.record(headers.get("idempotency-key"), request_body)
            body = b'{"ok":true}'
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )


async def _serve(port: int, delay_s: float) -> None:
    receiver = Receiver(delay_s)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(receiver), "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"receiver listening on http://127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
