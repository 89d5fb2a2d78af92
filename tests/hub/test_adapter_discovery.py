"""Discovery: `govhub adapters list/check` and `GET /api/v1/adapters`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate

from adapters.provincial_hall.sandbox import DEFAULT_PASSWORD, ENDPOINT
from adapters.provincial_hall.sandbox import create_app as hall_app
from adapters.webhook.sandbox import DEFAULT_SECRET
from adapters.webhook.sandbox import create_app as department_app
from faces.cli import main
from faces.serving import RunningServer, serve_in_thread
from hub.store import Store
from tests.support import RunningHub, example, hub_config, running_hub


@pytest.fixture(scope="module")
def hall() -> Iterator[RunningServer]:
    server = serve_in_thread(hall_app(), "127.0.0.1", 0)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def department() -> Iterator[RunningServer]:
    server = serve_in_thread(department_app(), "127.0.0.1", 0)
    yield server
    server.stop()


def _config(tmp_path: Path, hall: RunningServer, department: RunningServer, password: str) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "govhub.db"}"

[sandbox]
enabled = false

[[destinations]]
name = "civil_affairs"
adapter = "webhook"
url = "{department.url}/govhub"
secret = "{DEFAULT_SECRET}"

[[destinations]]
name = "provincial_hall"
adapter = "provincial_hall"
url = "{hall.url}{ENDPOINT}"
username = "govhub"
password = "{password}"
""",
        encoding="utf-8",
    )
    return path


def _run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def test_adapters_list_shows_every_installed_adapter_with_its_settings_schema(
    tmp_path: Path,
) -> None:
    config = tmp_path / "empty.toml"
    config.write_text("", encoding="utf-8")
    code, output, _ = _run(config, "adapters", "list", "--json")
    assert code == 0
    specs = {spec["name"]: spec for spec in json.loads(output)}
    hall = specs["provincial_hall"]
    assert hall["accepts"] == ["case.status_changed", "case.completed", "case.pre_reviewed"]
    assert hall["produces"] == ["case.submitted"]
    assert hall["streams"] == {"applications": "case.submitted"}
    assert hall["settings_schema"]["properties"]["password"]["writeOnly"] is True
    assert specs["webhook"]["accepts"] == ["*"]

    code, output, _ = _run(config, "adapters", "list")
    assert code == 0
    assert re.search(r"^provincial_hall +1\.0 ", output, re.MULTILINE), output
    assert "password* (secret)" in output


def test_adapters_check_passes_records_and_exits_zero(
    tmp_path: Path, hall: RunningServer, department: RunningServer
) -> None:
    config = _config(tmp_path, hall, department, DEFAULT_PASSWORD)
    code, output, _ = _run(config, "adapters", "check", "--json")
    assert code == 0, output
    results = {r["destination"]: r for r in json.loads(output)}
    assert results["provincial_hall"]["ok"] is True
    assert results["civil_affairs"]["ok"] is True
    store = Store(f"sqlite:///{tmp_path / 'govhub.db'}")
    try:
        recorded = store.checks.last_checks()
    finally:
        store.close()
    assert recorded["provincial_hall"]["ok"] is True
    assert recorded["provincial_hall"]["by"] == "cli"


def test_adapters_check_fails_with_a_wrong_password_and_does_not_show_it(
    tmp_path: Path, hall: RunningServer, department: RunningServer
) -> None:
    config = _config(tmp_path, hall, department, "a-wrong-password-123")
    code, output, errors = _run(config, "adapters", "check")
    assert code == 1
    assert "provincial_hall" in output
    assert "FAILED (configuration)" in output
    assert "FailedAuthentication" in output
    assert "a-wrong-password-123" not in output + errors
    assert "fix the destination's settings or credentials" in errors

    code, output, _ = _run(config, "adapters", "check", "civil_affairs")
    assert code == 0, output
    assert "provincial_hall" not in output

    code, _output, errors = _run(config, "adapters", "check", "nowhere")
    assert code == 1
    assert "no destination called nowhere" in errors


def test_adapters_check_reports_a_counterpart_that_is_down(
    tmp_path: Path, hall: RunningServer, department: RunningServer
) -> None:
    config = _config(tmp_path, hall, department, DEFAULT_PASSWORD)
    text = config.read_text(encoding="utf-8").replace(hall.url, "http://127.0.0.1:9")
    config.write_text(text, encoding="utf-8")
    code, output, _ = _run(config, "adapters", "check", "provincial_hall", "--json")
    assert code == 1
    [result] = json.loads(output)
    assert result["error_kind"] == "retriable"


@pytest.fixture
def hub(tmp_path: Path, hall: RunningServer, department: RunningServer) -> Iterator[RunningHub]:
    config = hub_config(
        tmp_path,
        destinations=[
            {
                "name": "provincial_hall",
                "adapter": "provincial_hall",
                "url": f"{hall.url}{ENDPOINT}",
                "username": "govhub",
                "password": DEFAULT_PASSWORD,
            },
            {
                "name": "civil_affairs",
                "adapter": "webhook",
                "url": f"{department.url}/govhub",
                "secret": DEFAULT_SECRET,
                "retry": {"max_attempts": 3, "backoff_initial_s": 0.05, "backoff_max_s": 0.1},
            },
        ],
        routes=[{"name": "all cases", "when": {"type": "case.submitted"}, "to": ["civil_affairs"]}],
    )
    with running_hub(config) as running:
        yield running


def test_get_adapters_is_for_operators_with_health_and_redacted_settings(
    hub: RunningHub,
) -> None:
    assert hub.get(None, "/api/v1/adapters").status_code == 401
    client = hub.client("dept")
    operator = hub.client("ops", allow=(), role="operator")

    message_id = hub.post(
        client, {"type": "case.submitted", "payload": example("case.submitted")}
    ).json()["id"]
    hub.wait_delivered(message_id)

    # A department sees nothing of the counterparts: not their names, circuits or errors.
    refused = hub.get(client, "/api/v1/adapters")
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "civil_affairs" not in refused.text
    assert message_id not in refused.text

    seen = hub.get(operator, "/api/v1/adapters").json()
    assert seen["dispatching"] is True
    items = {item["name"]: item for item in seen["items"]}
    assert list(items) == ["provincial_hall", "civil_affairs"]
    civil = items["civil_affairs"]
    assert civil["adapter"] == "webhook"
    assert civil["health"] == "ok"
    assert civil["last_delivery"]["outcome"] == "delivered"
    assert civil["circuit"]["state"] == "closed"
    assert civil["in_flight"] == 0
    assert civil["backlog"] == 0
    assert items["provincial_hall"]["health"] == "unknown"
    assert items["provincial_hall"]["last_check"] is None

    as_operator = seen["items"]
    settings = {item["name"]: item["settings"] for item in as_operator}
    assert settings["provincial_hall"]["password"] == "***"
    assert settings["civil_affairs"]["secret"] == "***"
    assert DEFAULT_PASSWORD not in json.dumps(as_operator)


def test_post_check_is_for_operators_and_records_the_outcome(hub: RunningHub) -> None:
    client = hub.client("dept")
    operator = hub.client("ops", allow=(), role="operator")
    url = f"{hub.url}/api/v1/adapters/provincial_hall/check"
    assert hub.session.post(url, headers={"Authorization": f"Bearer {client}"}).status_code == 403
    missing = hub.session.post(
        f"{hub.url}/api/v1/adapters/nowhere/check", headers={"Authorization": f"Bearer {operator}"}
    )
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"

    answer = hub.session.post(url, headers={"Authorization": f"Bearer {operator}"})
    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    [hall] = [
        i
        for i in hub.get(operator, "/api/v1/adapters").json()["items"]
        if i["name"] == "provincial_hall"
    ]
    assert hall["last_check"]["ok"] is True
    assert hall["last_check"]["by"] == "ops"
    assert hall["health"] == "ok"


def test_adapters_endpoints_are_in_the_openapi_document(hub: RunningHub) -> None:
    spec = hub.get(None, "/api/v1/openapi.json").json()
    validate(spec)
    assert "get" in spec["paths"]["/api/v1/adapters"]
    assert "post" in spec["paths"]["/api/v1/adapters/{name}/check"]
