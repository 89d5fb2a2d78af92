"""The default govhub.toml reaches the credit, citizen card and e-license sandboxes."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.sdk.sandbox import installed_sandboxes
from faces.serving import RunningServer, serve_in_thread
from hub.config import parse_config
from hub.core.envelope import Envelope
from hub.pipeline.routing import Router
from hub.registry import build_destinations
from hub.scheduler.catalog import installed_jobs
from hub.schemas import SchemaRegistry

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
    assert routes["credit.license_disclosed"] == ("credit_platform",)
    assert routes["credit.penalty_disclosed"] == ("credit_platform",)
    assert routes["license.*"] == ("e_license",)


def test_default_routes_take_every_type_a_job_publishes_somewhere_that_accepts_it(
    tmp_path: Path,
) -> None:
    raw = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    config = parse_config(raw, tmp_path / "govhub.toml")
    schemas = SchemaRegistry()
    adapters = build_destinations(config, known_types=schemas.types)  # raises on a bad glob
    try:
        router = Router(config.routes)
        published = {kind for spec in installed_jobs() for kind in spec.publishes}
        assert {"credit.disclosure_due", "payment.discrepancy"} <= published
        # flows.advance addresses its requests and results to the departments its flow
        # files name (flows_from_config checks at start-up that they take them): no route
        addressed = {"flow.review_requested", "flow.module_completed"}
        for kind in sorted(published - addressed):
            envelope = Envelope(
                id="01TEST",
                type=kind,
                source="job",
                payload=schemas.example(kind),
                created_at=dt.datetime.now(dt.UTC),
            )
            targets = [name for name, _ in router.targets(envelope)]
            assert targets, f"{kind} has no route"
            for name in targets:
                assert type(adapters[name]).can_deliver(kind), f"{kind} to {name}"
    finally:
        for adapter in adapters.values():
            adapter.close()


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
