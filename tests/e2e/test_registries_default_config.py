"""The default govhub.toml reaches the credit, citizen card and e-license sandboxes."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.sdk.sandbox import installed_sandboxes
from faces.serving import RunningServer, serve_in_thread
from hub.config import parse_config
from hub.registry import build_destinations

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "govhub.toml"
OURS = ("credit_platform", "citizen_card", "e_license", "unified_identity")


@pytest.fixture
def running_sandboxes() -> Iterator[dict[str, RunningServer]]:
    found = installed_sandboxes()
    started = {name: serve_in_thread(found[name].create_app(), "127.0.0.1", 0) for name in OURS}
    yield started
    for server in started.values():
        server.stop()


def test_default_destinations_point_at_the_sandboxes_default_ports() -> None:
    raw = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    found = installed_sandboxes()
    tables = {d["name"]: d for d in raw["destinations"]}
    for name in OURS:
        assert tables[name]["adapter"] == name
        assert urlsplit(tables[name]["url"]).port == found[name].default_port


def test_default_routes_send_disclosures_and_licences_to_their_counterparts() -> None:
    config = parse_config(tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")), DEFAULT_CONFIG)
    routes = {route.type_pattern: route.to for route in config.routes}
    assert routes["credit.*"] == ("credit_platform",)
    assert routes["license.*"] == ("e_license",)


def test_default_credentials_pass_the_sandboxes_checks(
    running_sandboxes: dict[str, RunningServer], tmp_path: Path
) -> None:
    raw = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["database"] = {"url": f"sqlite:///{tmp_path / 'govhub.db'}"}
    for table in raw["destinations"]:
        if table["name"] in running_sandboxes:
            table["url"] = running_sandboxes[table["name"]].url
    adapters = build_destinations(parse_config(raw, tmp_path / "govhub.toml"))
    try:
        for name in OURS:
            adapters[name].check()  # raises if the default secrets do not match
    finally:
        for adapter in adapters.values():
            adapter.close()
