"""``govhub run`` warns when the database or the key file is open to other users."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from hub.keyring import KeyVault
from tests.support import wait_for


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0

[database]
url = "sqlite:///{tmp_path / "var" / "govhub.db"}"

[sandbox]
enabled = false

[security]
secret_key_file = "{tmp_path / "var" / "secret.key"}"
""",
        encoding="utf-8",
    )
    return path


def _start_and_stop(config: Path) -> str:
    """Run ``govhub run`` until it listens, stop it; what it wrote to stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "faces.cli", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.extend(process.stdout or ()), daemon=True),
        threading.Thread(target=lambda: err.extend(process.stderr or ()), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        wait_for(lambda: any("listening on" in line for line in out), 30, "the hub to listen")
    finally:
        process.terminate()
        process.wait(20)
        for reader in readers:
            reader.join(10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
    return "".join(err)


def test_run_is_quiet_about_files_it_created_itself(tmp_path: Path) -> None:
    config = _config(tmp_path)
    KeyVault(key_file=tmp_path / "var" / "secret.key").seal("make the key file")
    stderr = _start_and_stop(config)
    assert "warning" not in stderr
    assert (tmp_path / "var" / "govhub.db").stat().st_mode & 0o777 == 0o600


def test_run_warns_about_a_database_and_key_file_others_can_read(tmp_path: Path) -> None:
    config = _config(tmp_path)
    folder = tmp_path / "var"
    KeyVault(key_file=folder / "secret.key").seal("make the key file")
    _start_and_stop(config)
    # As an older version, a copy or a restore would have left them:
    folder.chmod(0o755)
    for name in ("govhub.db", "govhub.db-wal", "govhub.db-shm", "secret.key"):
        if (folder / name).exists():
            (folder / name).chmod(0o644)
    stderr = _start_and_stop(config)
    assert f"warning: {folder} is open to other users (mode 0755)" in stderr
    assert f"chmod 700 {folder}" in stderr
    assert f"warning: {folder / 'govhub.db'} is open to other users (mode 0644)" in stderr
    assert f"chmod 600 {folder / 'govhub.db'}" in stderr
    assert f"warning: {folder / 'secret.key'} is open to other users (mode 0644)" in stderr
    # The hub does not change them behind the operator's back.
    assert (folder / "govhub.db").stat().st_mode & 0o777 == 0o644
