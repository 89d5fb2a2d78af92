"""Helpers for the fully-online counterparts' tests: sandboxes on 127.0.0.1, key files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from faces.serving import RunningServer, serve_in_thread


@dataclass
class RunningSandbox:
    """A sandbox app served on a free port."""

    app: Flask
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, path: str, document: Any = None) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=document or {}, timeout=10)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=10)


@contextmanager
def serving(app: Flask) -> Iterator[RunningSandbox]:
    """Serve ``app`` on 127.0.0.1 (a free port) until the block ends."""
    server = serve_in_thread(app, "127.0.0.1", 0, threads=8)
    try:
        yield RunningSandbox(app=app, server=server)
    finally:
        server.stop()
        for extension in ("payment_sandbox", "courier_sandbox"):
            worker = app.extensions.get(extension)
            if worker is not None:
                worker.stop()


def payment_destination(sandbox_url: str, certs: Path, **extra: Any) -> dict[str, Any]:
    """A ``payment`` destination for a sandbox whose keys are under ``certs``."""
    from adapters.payment.sandbox import DEFAULT_APP_ID

    table: dict[str, Any] = {
        "name": "payment",
        "adapter": "payment",
        "url": sandbox_url,
        "app_id": DEFAULT_APP_ID,
        "merchant_private_key": str(certs / "payment" / "merchant-key.pem"),
        "platform_public_key": str(certs / "payment" / "platform.pem"),
        # the hub's port is known only once it runs; tests point this at it then
        "notify_url": "http://127.0.0.1:9/inbound/payment/notify",
        "retry": {"max_attempts": 3, "backoff_initial_s": 0.05, "backoff_max_s": 0.2},
        "circuit": {"failure_threshold": 50, "open_s": 1},
    }
    table.update(extra)
    return table


CENTRE = {
    "name": "威海市政务服务中心",
    "mobile": "13906310000",
    "province": "山东省",
    "city": "威海市",
    "county": "环翠区",
    "address": "青岛中路140号",
}


def courier_destination(sandbox_url: str, **extra: Any) -> dict[str, Any]:
    """A ``courier`` destination for the courier sandbox at ``sandbox_url``."""
    from adapters.courier.sandbox import DEFAULT_PARTNER_ID, DEFAULT_SECRET

    table: dict[str, Any] = {
        "name": "courier",
        "adapter": "courier",
        "url": sandbox_url,
        "partner_id": DEFAULT_PARTNER_ID,
        "secret": DEFAULT_SECRET,
        "centre": dict(CENTRE),
        "retry": {"max_attempts": 3, "backoff_initial_s": 0.05, "backoff_max_s": 0.2},
        "circuit": {"failure_threshold": 50, "open_s": 1},
    }
    table.update(extra)
    return table


def dev_certs() -> Path:
    """A directory for generated dev keys, removed when the test run ends.

    The contract suite calls sandbox factories with no arguments, so the keys cannot
    come from ``tmp_path``; this keeps them out of the working tree all the same.
    """
    import atexit
    import shutil
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="govhub-test-certs-"))
    atexit.register(shutil.rmtree, directory, True)
    return directory
