"""The stage the demo story plays on: a hub and every sandbox, or the ones already running.

``own_stage()`` builds everything in this process on free ports: the sandboxes (found by
entry point, like any installed sandbox), their dev keys in a temporary folder, a hub on
a temporary database with its web server, dispatcher and scheduler. ``live_stage()``
plays against a hub started with ``govhub run`` and the sandboxes it started, found from
its configuration, so people can watch the story in the console.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from faces.demo.story import Endpoints
from hub.config import Config, parse_config
from hub.core.clock import new_id
from hub.store import Store

__all__ = ["SANDBOXES", "Stage", "live_stage", "own_stage"]

#: The sandboxes the story needs, by the destination that talks to each.
SANDBOXES = {
    "department": "civil_affairs",
    "provincial_hall": "provincial_hall",
    "citizen_card": "citizen_card",
    "credit_platform": "credit_platform",
    "signature": "signature",
    "payment": "payment",
    "courier": "courier",
    "e_license": "e_license",
}
#: The courier moves a parcel on this often in the demo (its default is 10 s).
COURIER_STEP_S = 0.3


@dataclass(frozen=True, slots=True)
class Stage:
    """Where the story plays, and the keys it plays with."""

    endpoints: Endpoints
    operator_key: str
    department_key: str
    database: str
    config: Config


@contextmanager
def own_stage() -> Iterator[Stage]:
    """A hub and every sandbox in this process, on free ports, gone afterwards."""
    from adapters.sdk.sandbox import installed_sandboxes
    from faces.app import create_app
    from faces.serving import serve_in_thread, start_server
    from hub.runtime import Hub

    folder = Path(tempfile.mkdtemp(prefix="govhub-demo-"))
    certs = folder / "certs"
    saved = {key: os.environ.get(key) for key in ("GOVHUB_CERTS_DIR",)}
    os.environ["GOVHUB_CERTS_DIR"] = str(certs)  # the sandboxes make their dev keys here
    servers: list[Any] = []
    hub = None
    try:
        found = installed_sandboxes()
        missing = sorted(set(SANDBOXES) - set(found))
        if missing:
            raise RuntimeError(f"sandboxes not installed: {', '.join(missing)}")
        urls: dict[str, str] = {}
        for name in SANDBOXES:
            server = serve_in_thread(found[name].create_app(), "127.0.0.1", 0, ident=name)
            servers.append(server)
            urls[name] = server.url
        port = _free_port()
        config = demo_config(folder, port, urls, certs)
        hub = Hub(config)
        app = create_app(hub)
        server = start_server(app, "127.0.0.1", port, threads=8)
        threading.Thread(target=server.server.run, name="govhub-demo-web", daemon=True).start()
        servers.append(server)
        hub.start_dispatcher()
        hub.start_scheduler()
        _, operator_key = hub.store.clients.add("demo-operator", allow=[], role="operator")
        _, department_key = hub.store.clients.add(
            "civil-affairs", allow=["case.*", "payment.*", "license.*"]
        )
        endpoints = _endpoints(server.url, urls)
        _courier_to(endpoints, server.url)
        yield Stage(endpoints, operator_key, department_key, config.database.url, config)
    finally:
        if hub is not None:
            hub.close()
        for running in reversed(servers):
            with contextlib.suppress(Exception):
                running.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def live_stage(config: Config) -> Iterator[Stage]:
    """The hub of ``config``, running (``govhub run``), and the sandboxes it points at.

    Two demo clients are added to its store (named ``demo-…``) and revoked when the story
    ends, however it ends; the courier sandbox is told to move parcels on quickly and to
    push to this hub.
    """
    destinations = {d.name: d for d in config.destinations}
    urls: dict[str, str] = {}
    for sandbox, destination in SANDBOXES.items():
        if destination not in destinations:
            raise RuntimeError(f"the configuration has no destination {destination!r}")
        parts = urlsplit(str(destinations[destination].settings.get("url", "")))
        urls[sandbox] = f"{parts.scheme}://{parts.netloc}"
    hub_url = config.server.public_url or f"http://{config.server.host}:{config.server.port}"
    try:
        requests.get(f"{hub_url}/healthz", timeout=3).raise_for_status()
    except requests.RequestException as error:
        raise RuntimeError(f"no hub answers at {hub_url} (start it with `govhub run`)") from error
    suffix = new_id()[-6:].lower()
    names = (f"demo-operator-{suffix}", f"demo-civil-affairs-{suffix}")
    store = Store(config.database.url)
    try:
        _, operator_key = store.clients.add(names[0], allow=[], role="operator")
        _, department_key = store.clients.add(names[1], allow=["case.*", "payment.*", "license.*"])
        endpoints = _endpoints(hub_url, urls)
        _courier_to(endpoints, hub_url)
        yield Stage(endpoints, operator_key, department_key, config.database.url, config)
    finally:
        # The demo's keys (one an operator's) must not outlive it in a real hub.
        for name in names:
            store.clients.revoke(name)
        store.close()


def demo_config(folder: Path, port: int, urls: dict[str, str], certs: Path) -> Config:
    """The demo configuration (``faces/demo/demo.toml``) for sandboxes at ``urls``."""
    text = resources.files("faces.demo").joinpath("demo.toml").read_text(encoding="utf-8")
    variables = {
        "GOVHUB_DEMO_DATABASE": f"sqlite:///{folder / 'govhub.db'}",
        "GOVHUB_DEMO_CERTS": str(certs),
        "GOVHUB_DEMO_PORT": str(port),
        **{f"GOVHUB_DEMO_{name.upper()}_URL": url for name, url in urls.items()},
    }
    for name, value in variables.items():
        text = text.replace("${" + name + "}", value)
    raw = tomllib.loads(text)
    raw["server"]["port"] = port
    return parse_config(raw, folder / "govhub.toml")


def _endpoints(hub_url: str, urls: dict[str, str]) -> Endpoints:
    return Endpoints(
        hub=hub_url,
        department=urls["department"],
        provincial_hall=urls["provincial_hall"],
        citizen_card=urls["citizen_card"],
        payment=urls["payment"],
        courier=urls["courier"],
        e_license=urls["e_license"],
    )


def _courier_to(endpoints: Endpoints, hub_url: str) -> None:
    requests.post(
        f"{endpoints.courier}/_sandbox/config",
        json={"step_s": COURIER_STEP_S, "push_url": f"{hub_url}/inbound/courier/routes"},
        timeout=5,
    ).raise_for_status()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
