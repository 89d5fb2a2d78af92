"""The counterparts' inbound endpoints are part of the OpenAPI document, and it is valid."""

from __future__ import annotations

from pathlib import Path

from openapi_spec_validator import validate

from tests.fullonline import CENTRE
from tests.support import hub_config, running_hub


def test_inbound_endpoints_are_documented_in_a_valid_spec(tmp_path: Path) -> None:
    config = hub_config(
        tmp_path,
        destinations=[
            {
                "name": "payment",
                "adapter": "payment",
                "url": "http://127.0.0.1:9",
                "app_id": "2026000000000001",
                "merchant_private_key": str(tmp_path / "missing-key.pem"),
                "platform_public_key": str(tmp_path / "missing.pem"),
                "notify_url": "http://127.0.0.1:8700/inbound/payment/notify",
            },
            {
                "name": "courier",
                "adapter": "courier",
                "url": "http://127.0.0.1:9",
                "partner_id": "GOVHUB-WH",
                "secret": "sandbox-courier-secret-0001",
                "centre": CENTRE,
            },
        ],
    )
    with running_hub(config, dispatch=False) as hub:
        spec = hub.get(None, "/api/v1/openapi.json").json()
    validate(spec)
    assert "post" in spec["paths"]["/inbound/payment/notify"]
    assert "post" in spec["paths"]["/inbound/courier/routes"]
