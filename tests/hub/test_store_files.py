"""The SQLite database is created readable by its owner only: folder, file, -wal and -shm."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.store import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems run services with (files 0644, folders 0755)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("usual_umask")
def test_a_new_database_its_folder_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "var" / "govhub.db"
    store = Store(f"sqlite:///{database}")
    try:
        store.clients.add("dept", allow=["case.*"], role="client")
        assert store.messages.search().items == []
        wal = database.with_name("govhub.db-wal")
        shm = database.with_name("govhub.db-shm")
        assert wal.exists()
        assert shm.exists()
        assert _mode(database.parent) == 0o700
        assert {path.name: _mode(path) for path in (database, wal, shm)} == {
            "govhub.db": 0o600,
            "govhub.db-wal": 0o600,
            "govhub.db-shm": 0o600,
        }
    finally:
        store.close()


@pytest.mark.usefixtures("usual_umask")
def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    database = tmp_path / "govhub.db"
    Store(f"sqlite:///{database}").close()
    database.chmod(0o640)  # an operator let a group read it on purpose
    store = Store(f"sqlite:///{database}")
    try:
        assert store.messages.search().items == []
    finally:
        store.close()
    assert _mode(database) == 0o640
