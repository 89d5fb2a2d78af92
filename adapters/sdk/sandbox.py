"""What every sandbox shares: failure injection, so tests and demos show retries.

Each sandbox is a Flask app that behaves like its counterpart and keeps state in memory.
``POST /_sandbox/faults`` tells it to misbehave::

    {"down": true}            every request gets 503 (the counterpart is down)
    {"delay_s": 2.5}          answer slowly
    {"error_rate": 0.3}       that share of requests gets 500
    {"status": 400, "times": 2}   the next 2 requests get that status
    {}                        behave again

``GET /_sandbox/faults`` shows the current faults; ``POST /_sandbox/reset`` also clears
the sandbox's own state where it supports that.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request

__all__ = ["Faults", "SandboxInfo", "install_faults"]

CONTROL_PREFIX = "/_sandbox/"


@dataclass
class Faults:
    """The current misbehaviour of a sandbox (thread-safe by its lock)."""

    down: bool = False
    delay_s: float = 0.0
    error_rate: float = 0.0
    status: int | None = None
    times: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def set(self, document: dict[str, Any]) -> None:
        """Replace the faults with those in ``document``."""
        with self.lock:
            self.down = bool(document.get("down", False))
            self.delay_s = float(document.get("delay_s", 0.0))
            self.error_rate = float(document.get("error_rate", 0.0))
            self.status = document.get("status")
            self.times = int(document.get("times", 1 if self.status else 0))

    def to_json(self) -> dict[str, Any]:
        """The faults as set."""
        with self.lock:
            return {
                "down": self.down,
                "delay_s": self.delay_s,
                "error_rate": self.error_rate,
                "status": self.status,
                "times": self.times,
            }

    def injected(self) -> Response | None:
        """A response standing in for the real one, or ``None`` to behave."""
        with self.lock:
            delay, down, rate = self.delay_s, self.down, self.error_rate
            status = None
            if self.status and self.times > 0:
                status = self.status
                self.times -= 1
        if delay:
            time.sleep(delay)  # simulating a slow counterpart, not synchronising a test
        if down:
            return _fault(503, "service unavailable (sandbox: down)")
        if status:
            return _fault(status, f"sandbox: injected status {status}")
        if rate and random.random() < rate:
            return _fault(500, "sandbox: injected error")
        return None


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox as the registry lists it: name, default port and app factory."""

    name: str
    default_port: int
    create_app: Callable[[], Flask]
    description: str = ""


def _fault(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response


def install_faults(app: Flask, reset: Callable[[], None] | None = None) -> Faults:
    """Add failure injection and its control endpoints to a sandbox app."""
    faults = Faults()
    app.extensions["sandbox_faults"] = faults

    @app.before_request
    def _maybe_misbehave() -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        return faults.injected()

    @app.get(CONTROL_PREFIX + "faults")
    def _get_faults() -> Response:
        return jsonify(faults.to_json())

    @app.post(CONTROL_PREFIX + "faults")
    def _set_faults() -> Response:
        faults.set(request.get_json(force=True) or {})
        return jsonify(faults.to_json())

    @app.post(CONTROL_PREFIX + "reset")
    def _reset() -> Response:
        faults.set({})
        if reset is not None:
            reset()
        return jsonify({"reset": True})

    return faults
