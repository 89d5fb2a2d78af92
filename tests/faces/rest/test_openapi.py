"""The OpenAPI document is valid OpenAPI 3.1 and describes every route the app serves."""

from __future__ import annotations

import re
from pathlib import Path

from openapi_spec_validator import validate

from faces.app import create_app
from hub.runtime import Hub
from tests.support import hub_config

# Routes that are not part of the HTTP API contract (static files, the Flask default).
UNDOCUMENTED = {"/static/<path:filename>"}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_spec_is_valid_openapi_3_1_and_covers_every_route(tmp_path: Path) -> None:
    hub = Hub(hub_config(tmp_path))
    try:
        app = create_app(hub)
        client = app.test_client()
        response = client.get("/api/v1/openapi.json")
        assert response.status_code == 200
        spec = response.get_json()
        assert spec["openapi"].startswith("3.1")
        validate(spec)

        for rule in app.url_map.iter_rules():
            if (
                rule.rule in UNDOCUMENTED
                or rule.rule.startswith("/ops")
                or rule.rule.startswith("/_")
            ):
                continue
            path = _openapi_path(rule.rule)
            assert path in spec["paths"], f"{rule.rule} is served but not in the OpenAPI document"
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in spec["paths"][path], (
                    f"{method} {rule.rule} is not documented"
                )

        documented = set(spec["paths"])
        served = {_openapi_path(r.rule) for r in app.url_map.iter_rules()}
        assert documented <= served, f"documented but not served: {documented - served}"
        # the message types the API accepts are the registry's, not a stale copy
        enum = spec["components"]["schemas"]["MessageRequest"]["properties"]["type"]["enum"]
        assert enum == hub.schemas.types
    finally:
        hub.close()
