"""What every sandbox shares: failure injection, and the controls tests and demos use.

Each sandbox is a Flask app that behaves like its counterpart and keeps state in memory.
:func:`install_faults` gives it these control endpoints (under ``/_sandbox/``, never
subject to the faults themselves; sandboxes listen on 127.0.0.1 and are for tests and
demos, so the controls take no credentials):

``POST /_sandbox/faults`` tells it to misbehave::

    {"down": true}                            every request gets 503 (the counterpart is down)
    {"delay_s": 2.5}                          answer slowly (every request, until cleared)
    {"error_rate": 0.3}                       that share of requests gets 500
    {"status": 429, "times": 2, "retry_after": 7}   the next 2 requests get that status
                                              (with ``Retry-After: 7``)
    {"fault": "server", "times": 1}           the next request gets a protocol-level fault:
                                              a SOAP fault, or the counterpart's error
                                              document; kinds ``server`` and ``client`` at
                                              least (see ``render_fault``)
    {}                                        behave again

``GET /_sandbox/faults`` shows them; ``POST /_sandbox/reset`` clears faults and the
sandbox's own state; ``GET /_sandbox/effects`` lists what the sandbox has *done* (each
effect once, however often it was asked: how tests see idempotency); ``POST
/_sandbox/seed`` ``{"stream": "...", "count": N}`` makes N new records appear in a
stream the adapter reads, and answers their keys.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from flask import Flask, Response, jsonify, request

__all__ = [
    "CONTROL_PREFIX",
    "SANDBOX_GROUP",
    "Faults",
    "SandboxInfo",
    "install_faults",
    "installed_sandboxes",
    "json_fault",
]

CONTROL_PREFIX = "/_sandbox/"

#: Renders an injected protocol fault of a kind (``server``, ``client``...), or ``None``
#: when the sandbox has no such kind.
FaultRenderer = Callable[[str], Response | None]


@dataclass
class Faults:
    """The current misbehaviour of a sandbox (thread-safe by its lock)."""

    down: bool = False
    delay_s: float = 0.0
    error_rate: float = 0.0
    status: int | None = None
    times: int = 0
    retry_after: int | None = None
    fault: str | None = None

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def set(self, document: dict[str, Any]) -> None:
        """Replace the faults with those in ``document``.

        Raises:
            ValueError: A value of the wrong kind, naming the field.
        """
        try:
            down = bool(document.get("down", False))
            delay_s = float(document.get("delay_s", 0.0))
            error_rate = float(document.get("error_rate", 0.0))
            status = document.get("status")
            status = int(status) if status is not None else None
            fault = document.get("fault")
            fault = str(fault) if fault is not None else None
            times = int(document.get("times", 1 if (status or fault) else 0))
            retry_after = document.get("retry_after")
            retry_after = int(retry_after) if retry_after is not None else None
        except (TypeError, ValueError) as error:
            raise ValueError(f"a fault setting has the wrong type: {error}") from None
        if status is not None and not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status (100..599)")
        if not 0 <= error_rate <= 1 or delay_s < 0 or times < 0:
            raise ValueError("error_rate is 0..1; delay_s and times are not negative")
        with self.lock:
            self.down, self.delay_s, self.error_rate = down, delay_s, error_rate
            self.status, self.fault, self.times = status, fault, times
            self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        """The faults as set."""
        with self.lock:
            return {
                "down": self.down,
                "delay_s": self.delay_s,
                "error_rate": self.error_rate,
                "status": self.status,
                "fault": self.fault,
                "times": self.times,
                "retry_after": self.retry_after,
            }

    def injected(self, render_fault: FaultRenderer | None = None) -> Response | None:
        """A response standing in for the real one, or ``None`` to behave."""
        with self.lock:
            delay, down, rate = self.delay_s, self.down, self.error_rate
            status = fault = None
            retry_after = self.retry_after
            if (self.status or self.fault) and self.times > 0:
                status, fault = self.status, self.fault
                self.times -= 1
        if delay:
            time.sleep(delay)  # simulating a slow counterpart, not synchronising a test
        if down:
            return json_fault(503, "service unavailable (sandbox: down)", retry_after or 1)
        if fault:
            rendered = render_fault(fault) if render_fault else None
            if rendered is None:
                rendered = _default_fault(fault)
            return rendered
        if status:
            return json_fault(status, f"sandbox: injected status {status}", retry_after)
        if rate and random.random() < rate:
            return json_fault(500, "sandbox: injected error")
        return None


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox as the registry lists it: name, default port and app factory."""

    name: str
    default_port: int
    create_app: Callable[[], Flask]
    description: str = ""


def json_fault(status: int, message: str, retry_after: int | None = None) -> Response:
    """A JSON error response, with ``Retry-After`` when given."""
    response = jsonify({"error": message})
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _default_fault(kind: str) -> Response:
    if kind == "client":
        return json_fault(400, "sandbox: injected client fault")
    return json_fault(500, f"sandbox: injected {kind} fault")


def install_faults(
    app: Flask,
    reset: Callable[[], None] | None = None,
    *,
    render_fault: FaultRenderer | None = None,
    effects: Callable[[], list[dict[str, Any]]] | None = None,
    seed: Callable[[str, int], list[str]] | None = None,
) -> Faults:
    """Add failure injection and the control endpoints to a sandbox app.

    Args:
        app: The sandbox.
        reset: Clears the sandbox's own state.
        render_fault: Renders ``{"fault": kind}`` in the counterpart's protocol (a SOAP
            fault, an error document); default: JSON with 500 (400 for ``client``).
        effects: What the sandbox has done, one dict per effect (at least ``kind`` and
            ``key``); a duplicate request must not add one.
        seed: Makes ``count`` new records appear in a stream; returns their keys.
            Raises ``KeyError`` for an unknown stream.
    """
    faults = Faults()
    app.extensions["sandbox_faults"] = faults

    @app.before_request
    def _maybe_misbehave() -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        return faults.injected(render_fault)

    @app.get(CONTROL_PREFIX + "faults")
    def _get_faults() -> Response:
        return jsonify(faults.to_json())

    @app.post(CONTROL_PREFIX + "faults")
    def _set_faults() -> Response | tuple[Response, int]:
        document = request.get_json(force=True, silent=True)
        if not isinstance(document, dict):
            return jsonify({"error": "send a JSON object"}), 400
        try:
            faults.set(document)
        except ValueError as error:
            return jsonify({"error": str(error)}), 400
        return jsonify(faults.to_json())

    @app.post(CONTROL_PREFIX + "reset")
    def _reset() -> Response:
        faults.set({})
        if reset is not None:
            reset()
        return jsonify({"reset": True})

    @app.get(CONTROL_PREFIX + "effects")
    def _effects() -> Response:
        done = effects() if effects is not None else []
        return jsonify({"count": len(done), "effects": done})

    @app.post(CONTROL_PREFIX + "seed")
    def _seed() -> Response | tuple[Response, int]:
        document = request.get_json(force=True, silent=True) or {}
        stream, count = document.get("stream"), document.get("count", 1)
        if seed is None:
            return jsonify({"error": "this sandbox has no streams to seed"}), 404
        if not isinstance(stream, str) or not isinstance(count, int) or not 0 < count <= 1000:
            return jsonify({"error": "send {stream: name, count: 1..1000}"}), 400
        try:
            keys = seed(stream, count)
        except KeyError:
            return jsonify({"error": f"no stream {stream!r}"}), 404
        return jsonify({"seeded": keys})

    return faults


#: Entry-point group of the installed sandboxes.
SANDBOX_GROUP = "govhub.sandboxes"


def installed_sandboxes() -> dict[str, SandboxInfo]:
    """Every installed sandbox (entry-point group ``govhub.sandboxes``) by name."""
    found: dict[str, SandboxInfo] = {}
    for entry in entry_points(group=SANDBOX_GROUP):
        info = entry.load()
        if not isinstance(info, SandboxInfo):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a SandboxInfo")
        found[info.name] = info
    return found
