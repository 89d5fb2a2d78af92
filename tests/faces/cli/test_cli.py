"""The ``govhub`` command line, run as users run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faces.cli import main
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.store import Outcome, Store


@pytest.fixture
def config(tmp_path: Path) -> Path:
    runner = CliRunner()
    path = tmp_path / "govhub.toml"
    result = runner.invoke(main, ["init", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_init_writes_a_working_config_and_refuses_to_overwrite(config: Path) -> None:
    assert "[[destinations]]" in config.read_text(encoding="utf-8")
    code, output = _run(config, "init", str(config))
    assert code == 1
    assert "exists already" in output


def test_clients_add_prints_the_key_once_as_json_and_it_authenticates(
    config: Path, tmp_path: Path
) -> None:
    code, output = _run(
        config, "clients", "add", "civil-affairs", "--allow", "case.*,credit.*", "--json"
    )
    assert code == 0, output
    document = json.loads(output)
    assert set(document) == {"name", "api_key"}
    store = Store(f"sqlite:///{tmp_path / 'var' / 'govhub.db'}")
    client = store.clients.authenticate(document["api_key"])
    assert client is not None
    assert client.allow == ("case.*", "credit.*")

    code, output = _run(config, "clients", "list", "--json")
    assert code == 0
    assert document["api_key"] not in output
    assert json.loads(output)[0]["name"] == "civil-affairs"

    code, output = _run(config, "clients", "add", "civil-affairs", "--allow", "case.*")
    assert code == 1
    assert "exists already" in output

    assert _run(config, "clients", "revoke", "civil-affairs")[0] == 0
    # another process (the running hub) sees it within AUTH_CACHE_S; a fresh one at once
    assert Store(store.url).clients.authenticate(document["api_key"]) is None
    assert _run(config, "clients", "revoke", "civil-affairs")[0] == 1


def test_config_option_works_after_the_command_too(config: Path) -> None:
    result = CliRunner().invoke(main, ["clients", "list", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


def test_operator_role(config: Path) -> None:
    code, output = _run(config, "clients", "add", "ops", "--role", "operator", "--json")
    assert code == 0, output
    code, output = _run(config, "clients", "add", "nobody")
    assert code == 1
    assert "--allow" in output


def test_messages_and_dead_letters_can_be_listed_shown_and_replayed(
    config: Path, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'var' / 'govhub.db'}")
    envelope = Envelope(
        id=new_id(),
        type="case.submitted",
        source="dept",
        payload={"case_no": "WH-1"},
        created_at=utcnow(),
        correlation_id="WH-1",
    )
    store.messages.accept(envelope, channel="rest", targets=[("civil_affairs", "cases")])
    [claim] = store.deliveries.claim("w", capacity={"civil_affairs": 1}, lease_s=30, limit=1)
    now = utcnow()
    store.deliveries.finish(
        claim, "w", "t", Outcome("dead", now, now, status_code=400, error="HTTP 400: bad")
    )

    code, output = _run(config, "messages", "list", "--json")
    assert code == 0
    assert json.loads(output)["items"][0]["id"] == envelope.id
    code, output = _run(config, "messages", "list", "--status", "dead")
    assert envelope.id in output
    code, output = _run(config, "messages", "show", envelope.id)
    assert code == 0
    assert "civil_affairs: dead" in output
    assert "HTTP 400: bad" in output
    assert _run(config, "messages", "show", "nope")[0] == 1

    code, output = _run(config, "dlq", "list", "--json")
    assert json.loads(output)["items"][0]["id"] == claim.delivery_id
    assert _run(config, "dlq", "replay")[0] == 1
    code, output = _run(
        config, "dlq", "replay", "--all", "--destination", "civil_affairs", "--json"
    )
    assert code == 0
    assert json.loads(output) == {"replayed": [claim.delivery_id], "count": 1}
    view = store.messages.get(envelope.id)
    assert view is not None
    assert view.status == "pending"


def test_a_broken_config_stops_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[server]\nport = "eighty"\n', encoding="utf-8")
    code, output = _run(path, "clients", "list")
    assert code == 1
    assert f"{path}: server.port: must be an integer" in output
