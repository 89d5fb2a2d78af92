"""The ``govhub`` command line, run as users run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

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
    assert json.loads(output) == {"replayed": [claim.delivery_id], "count": 1, "left_alone": []}
    view = store.messages.get(envelope.id)
    assert view is not None
    assert view.status == "pending"


def test_a_broken_config_stops_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[server]\nport = "eighty"\n', encoding="utf-8")
    code, output = _run(path, "clients", "list")
    assert code == 1
    assert f"{path}: server.port: must be an integer" in output


def _invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no govhub.toml, and no $GOVHUB_CONFIG."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("GOVHUB_CONFIG", raising=False)
    return folder


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (("clients", "add", "dept", "--allow", "case.*"), None),
        (("clients", "revoke", "dept"), None),
        (("users", "add", "me", "--role", "admin", "--password-stdin"), "a-long-password-1\n"),
        (("dlq", "replay", "01NOPE"), None),
        (("jobs", "pause", "hall.pull_applications"), None),
    ],
)
def test_without_a_config_a_command_that_writes_refuses_and_creates_nothing(
    elsewhere: Path, args: tuple[str, ...], stdin: str | None
) -> None:
    result = _invoke(*args, stdin=stdin)
    assert result.exit_code == 1, result.output
    assert "no configuration found" in result.stderr
    assert str(elsewhere / "var" / "govhub.db") in result.stderr
    assert "--config" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_without_a_config_a_command_that_reads_does_not_create_an_empty_database(
    elsewhere: Path,
) -> None:
    result = _invoke("messages", "list")
    assert result.exit_code == 1
    assert f"no database at sqlite:///{elsewhere / 'var' / 'govhub.db'}" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_without_a_config_an_existing_default_database_is_read_and_the_defaults_named(
    elsewhere: Path,
) -> None:
    (elsewhere / "var").mkdir()
    Store(f"sqlite:///{elsewhere / 'var' / 'govhub.db'}").close()
    result = _invoke("messages", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"items": [], "next": None}
    assert "using the built-in defaults" in result.stderr
    assert str(elsewhere / "var" / "govhub.db") in result.stderr


def test_a_relative_database_path_is_the_config_files_folder_whatever_the_directory(
    config: Path, elsewhere: Path
) -> None:
    result = _invoke("--config", str(config), "clients", "add", "dept", "--allow", "case.*")
    assert result.exit_code == 0, result.output
    assert (config.parent / "var" / "govhub.db").exists()
    assert list(elsewhere.iterdir()) == []
    assert "note:" not in result.stderr


def test_dlq_replay_of_an_unknown_or_live_delivery_fails_and_says_why(
    config: Path, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'var' / 'govhub.db'}")
    envelope = Envelope(
        id=new_id(),
        type="case.submitted",
        source="dept",
        payload={"case_no": "WH-2"},
        created_at=utcnow(),
        correlation_id="WH-2",
    )
    acceptance = store.messages.accept(
        envelope, channel="rest", targets=[("civil_affairs", "cases")]
    )
    [(pending_id, _destination)] = acceptance.deliveries
    store.close()

    code, output = _run(config, "dlq", "replay", "01NOPE")
    assert code == 1
    assert "01NOPE: no such delivery" in output
    code, output = _run(config, "dlq", "replay", pending_id)
    assert code == 1
    assert f"{pending_id}: not dead (pending)" in output
    code, output = _run(config, "dlq", "discard", "01NOPE", "--reason", "typo")
    assert code == 1
    assert "01NOPE: no such delivery" in output


def test_dlq_with_an_unknown_destination_fails_and_names_the_configured_ones(
    config: Path,
) -> None:
    for args in (("dlq", "list"), ("dlq", "replay", "--all")):
        code, output = _run(config, *args, "--destination", "nope")
        assert code == 1
        assert "no destination called 'nope'" in output
        assert "configured: civil_affairs" in output


def test_clients_add_warns_about_a_pattern_that_matches_no_message_type(config: Path) -> None:
    result = _invoke("--config", str(config), "clients", "add", "dept", "--allow", "cse.*,case.*")
    assert result.exit_code == 0, result.output
    assert "warning: --allow 'cse.*' matches no known message type" in result.stderr
    assert "'case.*'" not in result.stderr
    assert "case.*" in result.stderr  # the known families are named


@pytest.mark.parametrize("command", ["run", "serve"])
def test_host_and_port_options_are_explained(command: str) -> None:
    result = _invoke(command, "--help")
    assert result.exit_code == 0
    assert "Listen on this address instead of [server] host." in result.output
    assert "Listen on this port instead of [server] port" in result.output


def test_clients_add_with_replace_can_be_run_again_and_the_last_key_works(
    config: Path, tmp_path: Path
) -> None:
    keys = []
    for _ in range(2):  # README's Try-it block, run twice
        code, output = _run(
            config, "clients", "add", "my-department", "--allow", "case.*", "--replace", "--json"
        )
        assert code == 0, output
        keys.append(json.loads(output)["api_key"])
    store = Store(f"sqlite:///{tmp_path / 'var' / 'govhub.db'}")
    try:
        assert store.clients.authenticate(keys[0]) is None
        client = store.clients.authenticate(keys[1])
        assert client is not None
        assert client.allow == ("case.*",)
        assert store.clients.revoke("my-department")
        code, output = _run(
            config, "clients", "add", "my-department", "--allow", "case.*", "--replace", "--json"
        )
        assert code == 0, output
        assert Store(store.url).clients.authenticate(json.loads(output)["api_key"]) is not None
    finally:
        store.close()
    code, output = _run(config, "clients", "add", "my-department", "--allow", "case.*")
    assert code == 1
    assert "--replace" in output


def test_readmes_try_it_block_can_be_run_twice() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    [line] = [text for text in readme.splitlines() if "clients add my-department" in text]
    assert "--replace" in line
