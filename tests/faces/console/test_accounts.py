"""Console accounts: ``govhub users``, argon2id hashes, password rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY
from click.testing import CliRunner
from sqlalchemy import select

import faces.console.accounts
from faces.cli import main
from faces.console.accounts import AccountError, UserStore
from faces.console.tables import users
from hub.store import Store

PASSWORD = "correct horse battery staple"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "hub.db"}"\n', encoding="utf-8")
    return path


def _store(config_file: Path) -> Store:
    return Store(f"sqlite:///{config_file.parent / 'hub.db'}")


@pytest.mark.usefixtures("real_password_hashing")
def test_passwords_are_hashed_with_memory_hard_argon2id(tmp_path: Path) -> None:
    hasher: PasswordHasher = faces.console.accounts._hasher
    assert hasher.type.name == "ID"
    assert hasher.memory_cost >= RFC_9106_LOW_MEMORY.memory_cost  # 64 MiB
    assert hasher.time_cost >= RFC_9106_LOW_MEMORY.time_cost
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        UserStore(store).add("frank", role="viewer", password=PASSWORD, actor="test")
        with store.db.read() as connection:
            stored = connection.execute(select(users.c.password_hash)).scalar_one()
    finally:
        store.close()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_users_add_with_password_on_stdin(config_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "--config",
            str(config_file),
            "users",
            "add",
            "alice",
            "--role",
            "operator",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "alice (operator) added" in result.output
    store = _store(config_file)
    try:
        with store.db.read() as connection:
            stored = connection.execute(select(users.c.password_hash)).scalar_one()
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored
        assert UserStore(store).verify("alice", PASSWORD) is not None
        assert UserStore(store).verify("alice", PASSWORD + "x") is None
        [record] = [r for r in store.audit.trail() if r["action"] == "user.add"]
        assert record["actor"] == "cli"
        assert record["detail"] == {"role": "operator"}
    finally:
        store.close()


def test_users_add_prompts_for_the_password_twice(config_file: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--config", str(config_file), "users", "add", "bob", "--role", "viewer"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["carol", "--role", "admin"], "short", "at least 10 characters"),
        (["carol", "--role", "root"], PASSWORD, "Invalid value for '--role'"),
        (["bad name!", "--role", "viewer"], PASSWORD, "a user name is"),
    ],
)
def test_users_add_refuses_bad_input(
    config_file: Path, args: list[str], password: str, message: str
) -> None:
    result = CliRunner().invoke(
        main,
        ["--config", str(config_file), "users", "add", *args, "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code != 0
    assert message in result.output


def test_duplicate_user_is_refused_with_a_hint(config_file: Path) -> None:
    runner = CliRunner()
    base = ["--config", str(config_file), "users", "add", "dave", "--role", "viewer"]
    assert runner.invoke(main, [*base, "--password-stdin"], input=PASSWORD).exit_code == 0
    again = runner.invoke(main, [*base, "--password-stdin"], input=PASSWORD)
    assert again.exit_code == 1
    assert "exists already" in again.output


def test_users_list_role_disable_enable(config_file: Path) -> None:
    runner = CliRunner()
    cfg = ["--config", str(config_file)]
    runner.invoke(
        main, [*cfg, "users", "add", "erin", "--role", "viewer", "--password-stdin"], input=PASSWORD
    )
    assert runner.invoke(main, [*cfg, "users", "role", "erin", "admin"]).exit_code == 0
    assert runner.invoke(main, [*cfg, "users", "disable", "erin"]).exit_code == 0
    listed = runner.invoke(main, [*cfg, "users", "list", "--json"])
    assert '"role": "admin"' in listed.output
    assert '"disabled": true' in listed.output
    store = _store(config_file)
    try:
        assert UserStore(store).verify("erin", PASSWORD) is None  # disabled
        runner.invoke(main, [*cfg, "users", "enable", "erin"])
        assert UserStore(store).verify("erin", PASSWORD) is not None
    finally:
        store.close()
    assert runner.invoke(main, [*cfg, "users", "disable", "nobody"]).exit_code == 1


def test_store_refuses_empty_names_and_roles(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        with pytest.raises(AccountError, match="role must be one of"):
            UserStore(store).add("x", role="root", password=PASSWORD, actor="t")
        with pytest.raises(AccountError, match="user name"):
            UserStore(store).add("", role="viewer", password=PASSWORD, actor="t")
    finally:
        store.close()
