"""The shipped govhub.toml builds: every destination, route and transform checks out."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hub.config import parse_config
from hub.runtime import Hub

ROOT = Path(__file__).resolve().parents[2]


def test_default_configuration_builds_with_every_route_and_transform(tmp_path: Path) -> None:
    raw = tomllib.loads((ROOT / "govhub.toml").read_text(encoding="utf-8"))
    raw["database"] = {"url": f"sqlite:///{tmp_path / 'govhub.db'}"}
    hub = Hub(parse_config(raw, ROOT / "govhub.toml"))
    try:
        assert {"signature", "payment", "courier", "e_license"} <= set(hub.adapters)
        assert hub.transforms.for_route("results by courier") == "courier.delivery_order"
        assert (
            hub.transforms.for_route("licences to the e-license library")
            == "signature.sign_license"
        )
    finally:
        hub.close()
