"""``govhub certs init`` makes the dev material once, private keys readable only by us."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from faces.cli import main


def test_certs_init_makes_keys_once_with_private_ones_0600(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["certs", "init", "--dir", str(tmp_path), "--json"])
    assert first.exit_code == 0, first.output
    files = [Path(p) for p in json.loads(first.output)["files"]]
    assert all(path.exists() for path in files)
    private = [p for p in files if p.name.endswith("-key.pem")]
    assert len(private) == 5  # dev CA, two payment keys; TLS CA and server (mutual TLS)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in private)
    before = {p: p.read_bytes() for p in files}

    again = runner.invoke(main, ["certs", "init", "--dir", str(tmp_path)])

    assert again.exit_code == 0
    assert {p: p.read_bytes() for p in files} == before
