"""Configuration: TOML, ${VAR} expansion, and errors that name the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_config
from hub.registry import build_destinations
from hub.schemas import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]

BASE = """
[database]
url = "sqlite:///var/test.db"

[[destinations]]
name = "civil_affairs"
adapter = "webhook"
url = "http://127.0.0.1:9901/govhub"
secret = "${SECRET}"

[[routes]]
name = "cases"
when = { type = "case.*", "payload.item_code" = ["A", "B"] }
to = ["civil_affairs"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["govhub.toml", "faces/cli/starter.toml"])
def test_shipped_configurations_load_and_build(name: str) -> None:
    config = load_config(ROOT / name)
    assert config.sandbox.enabled
    adapters = build_destinations(config)
    assert set(adapters) == {d.name for d in config.destinations}


def test_variables_are_expanded_and_paths_resolved_against_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET", "s3cret-from-the-environment")
    config = load_config(_write(tmp_path, BASE))
    destination = config.destination("civil_affairs")
    assert destination.settings["secret"] == "s3cret-from-the-environment"
    assert config.database.url == f"sqlite:///{tmp_path / 'var' / 'test.db'}"
    [route] = config.routes
    assert route.type_pattern == "case.*"
    assert route.conditions == {"payload.item_code": ("A", "B")}
    assert destination.retry.max_attempts == 8


def test_config_env_variable_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET", "x" * 20)
    monkeypatch.setenv("GOVHUB_CONFIG", str(_write(tmp_path, BASE)))
    assert load_config().path == tmp_path / "govhub.toml"


def test_default_with_fallback_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET", raising=False)
    config = load_config(
        _write(tmp_path, BASE.replace("${SECRET}", "${SECRET:-fallback-secret-value}"))
    )
    assert config.destination("civil_affairs").settings["secret"] == "fallback-secret-value"


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (
            ("${SECRET}", "${NOT_SET_ANYWHERE}"),
            "destinations[0].secret",
            "NOT_SET_ANYWHERE is not set",
        ),
        (
            ('to = ["civil_affairs"]', 'to = ["nowhere"]'),
            "routes[0].to[0]",
            "no destination is called 'nowhere'",
        ),
        (('url = "sqlite:///var/test.db"', "url = 5"), "database.url", "must be a string"),
        (("[database]", "[database]\nport = 1"), "database.port", "is not a known field"),
        (
            ('name = "cases"', 'name = "cases"\nsend_to = 1'),
            "routes[0].send_to",
            "is not a known field",
        ),
        (
            ('adapter = "webhook"', 'adapter = "pigeon"'),
            "destinations[0].adapter",
            "unknown adapter 'pigeon'",
        ),
        (
            ('secret = "${SECRET}"', 'secret = "short"'),
            "destinations[0].secret",
            "at least 16 characters",
        ),
        (
            ('secret = "${SECRET}"', 'secret = "${SECRET}"\nretry = { max_attempts = 0 }'),
            "destinations[0].retry.max_attempts",
            "must be at least 1",
        ),
        (
            (
                'when = { type = "case.*", "payload.item_code" = ["A", "B"] }',
                'when = { "item_code" = "A" }',
            ),
            "routes[0].when.item_code",
            "starts with payload.",
        ),
    ],
)
def test_a_wrong_file_names_the_file_the_key_and_what_is_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: tuple[str, str], key: str, reason: str
) -> None:
    monkeypatch.setenv("SECRET", "a-secret-long-enough-for-hmac")
    path = _write(tmp_path, BASE.replace(*change))
    with pytest.raises(ConfigError) as caught:
        build_destinations(load_config(path))
    message = str(caught.value)
    assert message.startswith(str(path))
    assert caught.value.key == key
    assert reason in message


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(_write(tmp_path, "[server\nport = 1"))
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


GLOB_ROUTE = """
[database]
url = "sqlite:///var/govhub.db"

[[destinations]]
name = "credit"
adapter = "credit_platform"
url = "http://127.0.0.1:9921"
app_key = "govhub-sandbox"
app_secret = "${SECRET}"

[[routes]]
name = "disclosures"
when = { type = "credit.*" }
to = ["credit"]
"""


def test_a_glob_route_matching_a_type_its_destination_refuses_is_refused_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET", "a-secret-long-enough-for-hmac")
    config = load_config(_write(tmp_path, GLOB_ROUTE))
    with pytest.raises(ConfigError) as caught:
        build_destinations(config, known_types=SchemaRegistry().types)
    assert caught.value.key == "routes[0].to[0]"
    assert "does not accept credit.disclosure_due, which credit.* matches" in str(caught.value)


def test_a_glob_route_whose_matches_the_destination_all_takes_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET", "a-secret-long-enough-for-hmac")
    config = load_config(_write(tmp_path, GLOB_ROUTE.replace("credit.*", "credit.*_disclosed")))
    built = build_destinations(config, known_types=SchemaRegistry().types)
    assert list(built) == ["credit"]
    built["credit"].close()
