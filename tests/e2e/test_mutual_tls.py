"""``govhub serve --tls``: only certificates of the hub's client CA get in, mapped to clients."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from certs.tls import TlsFiles, init_tls, issue_client
from faces.cli import main
from hub.store import Store
from tests.processes import Govhub
from tests.support import example


def _certs(runner: CliRunner, directory: Path, *args: str) -> str:
    result = runner.invoke(main, ["certs", *args, "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Govhub, TlsFiles, str]]:
    database = f"sqlite:///{tmp_path / 'govhub.db'}"
    config = tmp_path / "govhub.toml"
    config.write_text(
        f'[database]\nurl = "{database}"\n[sandbox]\nenabled = false\n', encoding="utf-8"
    )
    runner = CliRunner()
    directory = tmp_path / "certs"
    _certs(runner, directory, "init")
    for name in ("dept", "stranger", "revoked-dept"):
        _certs(runner, directory, "issue", name)
    store = Store(database)
    key = store.clients.add("dept", allow=["case.*"])[1]
    store.clients.add("revoked-dept", allow=["case.*"])
    store.close()
    _certs(runner, directory, "revoke", "revoked-dept")
    hub = Govhub(
        config,
        "serve",
        "--port",
        "0",
        "--workers",
        "1",
        "--tls",
        "--tls-dir",
        str(directory / "tls"),
    )
    try:
        yield hub, TlsFiles(directory / "tls"), key
    finally:
        hub.stop()


def _get(hub: Govhub, files: TlsFiles, client: str | None, **kwargs: object) -> requests.Response:
    cert = tuple(map(str, files.client(client))) if client else None
    return requests.get(
        f"{hub.url}/api/v1/messages",
        cert=cert,  # type: ignore[arg-type]
        verify=str(files.ca),
        timeout=10,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_client_certificate_is_the_client_it_names(served: tuple[Govhub, TlsFiles, str]) -> None:
    hub, files, key = served
    assert hub.url.startswith("https://")
    assert _get(hub, files, "dept").status_code == 200
    posted = requests.post(
        f"{hub.url}/api/v1/messages",
        json={"type": "case.submitted", "payload": example("case.submitted")},
        cert=tuple(map(str, files.client("dept"))),  # type: ignore[arg-type]
        verify=str(files.ca),
        timeout=10,
    )
    assert posted.status_code == 202, posted.text
    # an API key with the certificate must be that client's
    with_key = _get(hub, files, "dept", headers={"Authorization": f"Bearer {key}"})
    assert with_key.status_code == 200


def test_without_a_certificate_the_handshake_fails(served: tuple[Govhub, TlsFiles, str]) -> None:
    hub, files, _key = served
    with pytest.raises(requests.exceptions.SSLError):
        _get(hub, files, None)


def test_a_certificate_of_another_ca_is_refused(
    served: tuple[Govhub, TlsFiles, str], tmp_path: Path
) -> None:
    hub, files, _key = served
    other = tmp_path / "other"
    init_tls(other)
    cert, key = issue_client(other, "dept")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(
            f"{hub.url}/api/v1/messages",
            cert=(str(cert), str(key)),
            verify=str(files.ca),
            timeout=10,
        )


def test_a_revoked_certificate_is_refused_saying_so(served: tuple[Govhub, TlsFiles, str]) -> None:
    hub, files, _key = served
    refused = _get(hub, files, "revoked-dept")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_a_certificate_naming_no_client_is_refused(served: tuple[Govhub, TlsFiles, str]) -> None:
    hub, files, _key = served
    refused = _get(hub, files, "stranger")
    assert refused.status_code == 401
    assert "names no active client" in refused.json()["detail"]


def test_certificate_files_keep_private_keys_private(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    init_tls(tmp_path)
    _cert, key = issue_client(tmp_path, "dept")
    for private in (files.ca_key, files.server_key, key):
        assert private.stat().st_mode & 0o077 == 0
    context = ssl.create_default_context(cafile=str(files.ca))
    context.load_cert_chain(str(_cert), str(key))  # a usable pair
