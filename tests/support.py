"""Test helpers: a running hub on a temporary database, webhook receivers, waiting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from flask import Flask, Response, request
from requests.structures import CaseInsensitiveDict

from adapters.webhook.signature import HEADER, SignatureError, verify
from faces.app import create_app
from faces.serving import RunningServer, serve_in_thread
from hub.config import Config, parse_config
from hub.runtime import Hub
from hub.schemas import DEFAULT_SCHEMA_DIR

T = TypeVar("T")

SECRET = "test-webhook-secret-0123456789"
EXAMPLES = DEFAULT_SCHEMA_DIR / "examples"


def example(message_type: str, **changes: Any) -> dict[str, Any]:
    """The valid example payload of a type, with top-level fields changed."""
    payload: dict[str, Any] = json.loads(
        (EXAMPLES / f"{message_type}.json").read_text(encoding="utf-8")
    )
    payload.update(changes)
    return payload


def wait_for(condition: Callable[[], T], timeout: float = 10.0, message: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(0.02)


@dataclass
class Received:
    """One request a receiver got."""

    headers: CaseInsensitiveDict[str]
    body: bytes
    status: int

    @property
    def envelope(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class Receiver:
    """A departmental system in a test: real HTTP on 127.0.0.1, scripted answers.

    ``script`` is a list of statuses to answer in turn (then 200 for ever); ``gate``,
    when cleared, holds every request until it is set (a slow counterpart).
    """

    server: RunningServer
    secret: str = SECRET
    script: list[int] = field(default_factory=list)
    decide: Callable[[dict[str, Any]], int | None] | None = None
    received: list[Received] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Requests that arrived and wait at the gate.
    holding: int = 0

    @property
    def url(self) -> str:
        return self.server.url + "/hook"

    def accepted(self) -> list[Received]:
        """Requests answered 2xx."""
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def respond_with(self, *statuses: int) -> None:
        with self.lock:
            self.script[:] = list(statuses)


def start_receiver(secret: str = SECRET) -> Receiver:
    app = Flask("test-receiver")
    holder: dict[str, Receiver] = {}

    @app.post("/hook")
    def hook() -> Response:
        receiver = holder["r"]
        with receiver.lock:
            receiver.holding += 1
        receiver.gate.wait(30)
        with receiver.lock:
            receiver.holding -= 1
        body = request.get_data()
        try:
            verify(receiver.secret, body, request.headers.get(HEADER))
            with receiver.lock:
                decided = receiver.decide(json.loads(body)) if receiver.decide else None
                if decided is not None:
                    status = decided
                else:
                    status = receiver.script.pop(0) if receiver.script else 200
        except SignatureError:
            status = 401
        with receiver.lock:
            receiver.received.append(
                Received(CaseInsensitiveDict(dict(request.headers)), body, status)
            )
        return Response(json.dumps({"status": status}), status=status, mimetype="application/json")

    server = serve_in_thread(app, "127.0.0.1", 0, threads=16)
    receiver = Receiver(server=server, secret=secret)
    receiver.gate.set()
    holder["r"] = receiver
    return receiver


def webhook_destination(name: str, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    """A ``[[destinations]]`` table for a receiver, with fast retries for tests."""
    table: dict[str, Any] = {
        "name": name,
        "adapter": "webhook",
        "url": receiver.url,
        "secret": receiver.secret,
        "timeout_s": 5,
        "retry": {"max_attempts": 5, "backoff_initial_s": 0.05, "backoff_max_s": 0.2},
        "circuit": {"failure_threshold": 50, "open_s": 1},
    }
    table.update(extra)
    return table


def hub_config(
    tmp_path: Path,
    destinations: Sequence[Mapping[str, Any]] = (),
    routes: Sequence[Mapping[str, Any]] = (),
    **sections: Any,
) -> Config:
    raw: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "threads": 8},
        "database": {"url": f"sqlite:///{tmp_path / 'govhub.db'}"},
        "sandbox": {"enabled": False},
        "dispatcher": {"workers": 4, "poll_interval_s": 0.2, "lease_s": 5},
        "destinations": list(destinations),
        "routes": list(routes),
    }
    raw.update(sections)
    return parse_config(raw, tmp_path / "govhub.toml")


@dataclass
class RunningHub:
    """A hub serving HTTP on 127.0.0.1 with its dispatcher running."""

    hub: Hub
    server: RunningServer
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, name: str, allow: Sequence[str] = ("case.*",), role: str = "client") -> str:
        """Register a client; its API key."""
        _client, key = self.hub.store.clients.add(name, allow=list(allow), role=role)
        return key

    def post(
        self,
        key: str,
        document: Any,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        return self.session.post(
            f"{self.url}/api/v1/messages",
            json=document,
            headers={"Authorization": f"Bearer {key}", **(headers or {})},
            timeout=10,
            **kwargs,
        )

    def get(self, key: str | None, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.session.get(f"{self.url}{path}", headers=headers, timeout=10, **kwargs)

    def message(self, message_id: str) -> dict[str, Any]:
        view = self.hub.store.messages.get(message_id)
        assert view is not None
        return view.to_json()

    def wait_delivered(self, message_id: str, timeout: float = 10.0) -> dict[str, Any]:
        return wait_for(
            lambda: (m := self.message(message_id))["status"] in ("delivered", "dead") and m,
            timeout,
            f"message {message_id} to finish",
        )


@contextmanager
def running_hub(config: Config, *, dispatch: bool = True) -> Iterator[RunningHub]:
    hub = Hub(config)
    app = create_app(hub)
    server = serve_in_thread(app, "127.0.0.1", 0, threads=8)
    if dispatch:
        hub.start_dispatcher()
    try:
        yield RunningHub(hub=hub, server=server)
    finally:
        server.stop()
        hub.close()
