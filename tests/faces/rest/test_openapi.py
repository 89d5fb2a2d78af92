"""The OpenAPI document is valid OpenAPI 3.1 and describes every route the app serves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from faces.app import create_app
from hub.runtime import Hub
from tests.support import hub_config, running_hub

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
        mapping = spec["components"]["schemas"]["MessageRequest"]["discriminator"]["mapping"]
        assert sorted(mapping) == hub.schemas.types
    finally:
        hub.close()


def test_spec_publishes_each_message_types_payload_schema(tmp_path: Path) -> None:
    hub = Hub(hub_config(tmp_path))
    try:
        spec = create_app(hub).test_client().get("/api/v1/openapi.json").get_json()
        schemas = spec["components"]["schemas"]
        request = schemas["MessageRequest.case.completed"]
        assert request["properties"]["type"] == {"const": "case.completed"}
        assert request["properties"]["payload"] == {"$ref": "#/components/schemas/case.completed"}
        completed = schemas["case.completed"]
        assert completed["required"] == hub.schemas.schema("case.completed")["required"]
        assert completed["properties"]["license_ids"]["items"] == {
            "$ref": "#/components/schemas/common.e_license_id"
        }
        assert schemas["common.e_license_id"]["format"] == "cn-e-license-id"
        assert schemas["citizen_card.status_changed"]["properties"]["status"] == {
            "$ref": "#/components/schemas/citizen_card.status_changed.card_status"
        }
        # Every reference resolves inside the document: a generated client needs no file.
        text = json.dumps(spec)
        for ref in set(re.findall(r'"\$ref": "([^"]+)"', text)):
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.removeprefix("#/components/schemas/") in schemas, ref
        assert "$id" not in text
        assert "../common.json" not in text
        # A payload valid under the type's own schema is valid under the published one.
        validator = Draft202012Validator(
            {"$ref": "urn:spec#/components/schemas/MessageRequest"},
            registry=Registry().with_resource(
                "urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012)
            ),
        )
        for message_type in hub.schemas.types:
            body = {"type": message_type, "payload": hub.schemas.example(message_type)}
            assert not list(validator.iter_errors(body)), message_type
        wrong = {"type": "case.completed", "payload": hub.schemas.example("case.submitted")}
        assert list(validator.iter_errors(wrong))
    finally:
        hub.close()


def _body_operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def test_every_refusal_of_a_json_body_is_documented(tmp_path: Path) -> None:
    config = hub_config(tmp_path, server={"host": "127.0.0.1", "port": 0, "max_body_bytes": 4096})
    with running_hub(config, dispatch=False) as hub:
        operator = hub.client("ops", allow=["*"], role="operator")
        spec = hub.get(None, "/api/v1/openapi.json").json()
        job_id = hub.hub.jobs.describe()[0]["id"]
        operations = _body_operations(spec)
        # messages, two dead-letter replays, the message replay, run, pause, resume, reload
        assert len(operations) == 8
        bodies = {
            "bad JSON": (b"{", "application/json"),
            "not JSON": (b"reason=x", "text/plain"),
            "unknown field": (b'{"colour": "red"}', "application/json"),
            "too large": (b'{"reason": "' + b"x" * 5000 + b'"}', "application/json"),
        }
        for path, method in operations:
            url = hub.url + path.replace("{delivery_id}", "01NOPE").replace("{job_id}", job_id)
            documented = set(spec["paths"][path][method]["responses"])
            assert {"400", "413", "415", "422"} <= documented, path
            for name, (body, content_type) in bodies.items():
                answer = hub.session.request(
                    method,
                    url,
                    data=body,
                    headers={"Authorization": f"Bearer {operator}", "Content-Type": content_type},
                    timeout=10,
                )
                assert str(answer.status_code) in documented, (path, name, answer.status_code)
                assert answer.status_code in (400, 404, 413, 415, 422), (path, name)
        # The bulk replay's rule (ids or a filter) is the document's too.
        replay = spec["components"]["schemas"]["ReplayRequest"]
        assert replay["anyOf"] == [
            {"required": ["ids"]},
            {"required": ["destination"]},
            {"required": ["type"]},
        ]
        empty = hub.session.post(
            hub.url + "/api/v1/dead-letters/replay",
            json={},
            headers={"Authorization": f"Bearer {operator}"},
            timeout=10,
        )
        assert empty.status_code == 422


def test_an_unsupported_method_is_a_405_that_names_the_allowed_ones(tmp_path: Path) -> None:
    with running_hub(hub_config(tmp_path), dispatch=False) as hub:
        for path, allowed in [
            ("/api/v1/messages", {"GET", "HEAD", "OPTIONS", "POST"}),
            ("/api/v1/adapters", {"GET", "HEAD", "OPTIONS"}),
            ("/metrics", {"GET", "HEAD", "OPTIONS"}),
            ("/soap/GovHubService", {"GET", "HEAD", "OPTIONS", "POST"}),
            ("/ops/messages", {"GET", "HEAD", "OPTIONS", "POST"}),
        ]:
            for method in ("TRACE", "DELETE", "PATCH"):
                answer = hub.session.request(method, hub.url + path, timeout=10)
                assert answer.status_code == 405, (method, path)
                assert {m.strip() for m in answer.headers["Allow"].split(",")} == allowed, path


def test_the_document_says_text_must_not_hold_u0000(tmp_path: Path) -> None:
    hub = Hub(hub_config(tmp_path))
    try:
        spec = create_app(hub).test_client().get("/api/v1/openapi.json").get_json()
        schemas = spec["components"]["schemas"]
        no_nul = "^[^\\u0000]*$"
        assert re.fullmatch(no_nul, "王秀英")
        assert not re.fullmatch(no_nul, "a\x00b")
        assert schemas["common.name"]["pattern"] == no_nul
        assert schemas["case.completed"]["properties"]["description"] == {
            "$ref": "#/components/schemas/common.text"
        }
        assert schemas["common.text"]["pattern"] == no_nul
        assert schemas["common.case_no"]["pattern"] == "^[0-9A-Za-z_.:/-]+$"  # its own stays
        variant = schemas["MessageRequest.case.submitted.v1"]["properties"]
        assert variant["id"]["pattern"] == no_nul
        assert variant["headers"]["propertyNames"] == {"pattern": no_nul}
        assert schemas["JsonValue"]["anyOf"][0] == {"type": "string", "pattern": no_nul}
        listing = spec["paths"]["/api/v1/messages"]["get"]["parameters"]
        assert {p["name"]: p["schema"].get("pattern") for p in listing}["correlation_id"] == no_nul
        # Response schemas describe what the hub sends, and are left alone.
        assert "pattern" not in schemas["Message"]["properties"]["source"]
    finally:
        hub.close()
