"""``govhub certs``: make and show the dev key material (never for production)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from certs.devca import CERTS_DIR_ENV, default_dir, init
from certs.tls import init_tls, issue_client, revoke_client
from faces.cli.common import config_option, echo_json, fail, json_option

__all__ = ["certs"]


@click.group()
@config_option
def certs() -> None:
    """Dev CA and key pairs for the sandboxes (generated, never committed)."""


@certs.command("init")
@config_option
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Where to write them (default: ${CERTS_DIR_ENV} or ./certs/dev).",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="A name or address of the hub for its TLS server certificate (repeatable;"
    " default 127.0.0.1 and localhost).",
)
@json_option
def certs_init(directory: Path | None, hosts: tuple[str, ...], as_json: bool) -> None:
    """Make what is missing (keeps what exists): the dev CA and payment key pairs, and for
    mutual TLS the client CA, its CRL and the hub's server certificate (under tls/)."""
    made = init(directory) + init_tls(directory, hosts or ("127.0.0.1", "localhost"))
    if as_json:
        echo_json({"files": [str(path) for path in made]})
        return
    for path in made:
        kind = "private, 0600" if path.name.endswith("-key.pem") else "public"
        if not path.exists():
            continue
        fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        click.echo(f"{path}  ({kind}, sha256 {fingerprint}…)")
    click.echo("dev material only: never use these keys in production")


@certs.command("issue")
@config_option
@click.argument("client")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"The certs directory (default: ${CERTS_DIR_ENV} or ./certs/dev).",
)
@click.option("--days", type=click.IntRange(1, 3650), default=365, show_default=True)
@json_option
def certs_issue(client: str, directory: Path | None, days: int, as_json: bool) -> None:
    """Issue a TLS client certificate for CLIENT (CN = the client's name in govhub clients).

    The key is written 0600 beside the certificate: hand both to that system only.
    """
    try:
        cert_path, key_path = issue_client(directory, client, days=days)
    except ValueError as error:
        fail(str(error))
    if as_json:
        echo_json({"certificate": str(cert_path), "key": str(key_path)})
        return
    click.echo(f"{cert_path}  (public)")
    click.echo(f"{key_path}  (private, 0600: give it to {client} only, then delete it here)")


@certs.command("revoke")
@config_option
@click.argument("client")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"The certs directory (default: ${CERTS_DIR_ENV} or ./certs/dev).",
)
@json_option
def certs_revoke(client: str, directory: Path | None, as_json: bool) -> None:
    """Revoke CLIENT's TLS certificate: the CRL is rewritten, and serving hubs refuse it."""
    try:
        serial = revoke_client(directory, client)
    except ValueError as error:
        fail(str(error))
    if as_json:
        echo_json({"client": client, "serial": f"{serial:x}"})
        return
    click.echo(f"revoked the certificate of {client} (serial {serial:x})")


@certs.command("where")
@config_option
def certs_where() -> None:
    """Print the directory the dev material lives in."""
    click.echo(str(default_dir()))
