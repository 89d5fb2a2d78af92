"""Route transforms are checked at start-up: every name, every type, with file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.config import ConfigError
from hub.runtime import Hub
from tests.fullonline import CENTRE
from tests.support import hub_config

COURIER = {
    "name": "courier",
    "adapter": "courier",
    "url": "http://127.0.0.1:9",
    "partner_id": "GOVHUB-WH",
    "secret": "sandbox-courier-secret-0001",
    "centre": CENTRE,
}
SIGNATURE = {
    "name": "signature",
    "adapter": "signature",
    "url": "http://127.0.0.1:9",
    "api_key": "sandbox-signature-key-0001",
    "ca_certificate": "certs/dev/ca/ca.pem",
}
DEPARTMENT = {
    "name": "civil_affairs",
    "adapter": "webhook",
    "url": "http://127.0.0.1:9/hook",
    "secret": "a-department-secret-0001",
}


def _build(tmp_path: Path, route: dict[str, Any]) -> Hub:
    config = hub_config(tmp_path, destinations=[COURIER, SIGNATURE, DEPARTMENT], routes=[route])
    return Hub(config)


def test_courier_delivery_order_route_builds(tmp_path: Path) -> None:
    hub = _build(
        tmp_path,
        {
            "name": "results by courier",
            "when": {"type": "case.completed", "payload.deliver_by_courier": True},
            "transform": "courier.delivery_order",
            "to": ["courier"],
        },
    )
    assert hub.transforms.for_route("results by courier") == "courier.delivery_order"
    hub.close()


@pytest.mark.parametrize(
    ("route", "key", "reason"),
    [
        (
            {"when": {"type": "case.completed"}, "transform": "nobody.sign", "to": ["courier"]},
            "routes[0].transform",
            "no destination is called 'nobody'",
        ),
        (
            {"when": {"type": "case.completed"}, "transform": "courier.sign", "to": ["courier"]},
            "routes[0].transform",
            "offers no transform 'sign'",
        ),
        (
            {
                "when": {"type": "case.submitted"},
                "transform": "courier.delivery_order",
                "to": ["courier"],
            },
            "routes[0].transform",
            "takes case.completed, not case.submitted",
        ),
        (
            {
                "when": {"type": "license.issued"},
                "transform": "signature.sign_license",
                "to": ["courier"],
            },
            "routes[0].to[0]",
            "does not accept license.issued",
        ),
        (
            {"when": {"type": "case.completed"}, "transform": "Courier", "to": ["courier"]},
            "routes[0].transform",
            "does not have the expected form",
        ),
    ],
)
def test_a_wrong_transform_stops_start_up_naming_the_key(
    tmp_path: Path, route: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _build(tmp_path, {"name": "r", **route})
    assert raised.value.key == key
    assert reason in raised.value.reason
    assert str(tmp_path / "govhub.toml") in str(raised.value)
