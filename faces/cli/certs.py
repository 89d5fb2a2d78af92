"""``govhub certs``: make and show the dev key material (never for production)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from certs.devca import CERTS_DIR_ENV, default_dir, init
from faces.cli.common import config_option, echo_json, json_option

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
@json_option
def certs_init(directory: Path | None, as_json: bool) -> None:
    """Make the dev CA and the payment key pairs that are missing (keeps existing ones)."""
    made = init(directory)
    if as_json:
        echo_json({"files": [str(path) for path in made]})
        return
    for path in made:
        kind = "private, 0600" if path.name.endswith("-key.pem") else "public"
        fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        click.echo(f"{path}  ({kind}, sha256 {fingerprint}…)")
    click.echo("dev material only: never use these keys in production")


@certs.command("where")
@config_option
def certs_where() -> None:
    """Print the directory the dev material lives in."""
    click.echo(str(default_dir()))
