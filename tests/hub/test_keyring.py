"""The server key seals API keys for PasswordDigest; nonces are remembered across stores."""

from __future__ import annotations

import datetime as dt
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from faces.soap.settings import soap_settings
from hub.config import ConfigError, parse_config
from hub.core.clock import utcnow
from hub.keyring import KeyVault, VaultError, vault_for
from hub.store import Store


def test_key_file_is_created_private_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret.key"
    vault = KeyVault(key_file=path)
    token = vault.seal("ghk_abc_secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyVault(key_file=path).open(token) == "ghk_abc_secret"


def test_processes_racing_to_create_the_key_agree_on_one(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    vaults = [KeyVault(key_file=path) for _ in range(8)]
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda v=v: tokens.append(v.seal("x"))) for v in vaults]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for token in tokens:
        assert KeyVault(key_file=path).open(token) == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]


def test_environment_key_wins_and_rotation_keeps_old_tokens_readable(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    config = parse_config({}, tmp_path / "govhub.toml")
    sealed_with_old = vault_for(config, {"GOVHUB_SECRET_KEY": old}).seal("k")
    rotated = vault_for(config, {"GOVHUB_SECRET_KEY": f"{new},{old}"})
    assert rotated.open(sealed_with_old) == "k"
    assert not (tmp_path / "var" / "secret.key").exists()
    with pytest.raises(VaultError, match="another key"):
        vault_for(config, {"GOVHUB_SECRET_KEY": new}).open(sealed_with_old)
    with pytest.raises(VaultError, match="not a Fernet key"):
        vault_for(config, {"GOVHUB_SECRET_KEY": "short"}).seal("k")


def test_key_file_setting_is_checked(tmp_path: Path) -> None:
    config = parse_config({"security": {"secret_key_file": "keys/hub.key"}}, tmp_path / "g.toml")
    vault_for(config, {}).seal("k")
    assert (tmp_path / "keys" / "hub.key").exists()
    with pytest.raises(ConfigError, match=r"security\.key_file"):
        vault_for(parse_config({"security": {"key_file": "x"}}, tmp_path / "g.toml"), {})


def test_store_keeps_the_api_key_sealed_never_in_plain(tmp_path: Path) -> None:
    vault = KeyVault(key_file=tmp_path / "secret.key")
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}", vault=vault)
    client, key = store.clients.add("dept", allow=["case.*"])
    for file in tmp_path.glob("hub.db*"):  # the database and its write-ahead log
        assert key.encode() not in file.read_bytes()
    found = store.clients.key("dept")
    assert found is not None
    assert found == (client, key)
    store.clients.revoke("dept")
    assert store.clients.key("dept") is None
    plain = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    assert plain.clients.key("dept") is None


def test_a_nonce_is_accepted_once_across_two_stores_on_one_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    first, second = Store(url), Store(url)
    later = utcnow() + dt.timedelta(minutes=5)
    assert first.nonces.remember("n1", "dept", later)
    assert not second.nonces.remember("n1", "dept", later)
    assert second.nonces.remember("n2", "dept", later)


def test_expired_nonces_are_swept(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    assert store.nonces.remember("old", "dept", utcnow() - dt.timedelta(seconds=1))
    store._next_nonce_sweep = utcnow() - dt.timedelta(seconds=1)
    assert store.nonces.remember("new", "dept", utcnow() + dt.timedelta(minutes=5))
    from sqlalchemy import select

    from hub.store.tables import wsse_nonces

    with store.db.read() as connection:
        assert list(connection.execute(select(wsse_nonces.c.digest)).scalars()) == ["new"]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"max_depth": 2}, "soap.max_depth"),
        ({"max_body_bytes": "big"}, "soap.max_body_bytes"),
        ({"timestamp_tolerance_s": True}, "soap.timestamp_tolerance_s"),
        ({"colour": 1}, "soap.colour"),
    ],
)
def test_soap_settings_errors_name_the_key(
    tmp_path: Path, section: dict[str, object], key: str
) -> None:
    config = parse_config({"soap": section}, tmp_path / "govhub.toml")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        soap_settings(config)


def test_soap_body_cap_never_exceeds_the_servers(tmp_path: Path) -> None:
    config = parse_config(
        {
            "server": {"max_body_bytes": 4096},
            "soap": {"max_body_bytes": 1024 * 1024, "max_depth": 20},
        },
        tmp_path / "govhub.toml",
    )
    settings = soap_settings(config)
    assert (settings.max_body_bytes, settings.max_depth) == (4096, 20)


def test_clients_added_on_the_command_line_can_use_password_digest(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from faces.cli import main

    config_file = tmp_path / "govhub.toml"
    config_file.write_text('[database]\nurl = "sqlite:///var/hub.db"\n', encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["--config", str(config_file), "clients", "add", "dept", "--allow", "case.*", "--json"],
    )
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)["api_key"]
    config = parse_config({"database": {"url": "sqlite:///var/hub.db"}}, config_file)
    store = Store(config.database.url, vault=vault_for(config, {}))
    found = store.clients.key("dept")
    assert found is not None
    assert found[1] == key
