"""``govhub data``: the personal data the hub keeps sealed at rest."""

from __future__ import annotations

import click

from faces.cli.common import config_option, echo_json, fail, json_option, open_store

__all__ = ["data"]


@click.group()
@config_option
def data() -> None:
    """Personal fields sealed at rest (SM4-GCM; keys in [security] data_key_file)."""


@data.command("rekey")
@config_option
@json_option
def data_rekey(as_json: bool) -> None:
    """Seal every stored payload again under the first data key (after adding a new one).

    Rotation: put a new `sm4 <key>` line first in the key file (or $GOVHUB_DATA_KEYS),
    keep the old ones below it, restart the hub, run this, then drop the old lines.
    """
    from hub.store.messages import rekey_payloads
    from hub.store.protection import ProtectionError

    with open_store(writes=True) as store:
        try:
            count = rekey_payloads(store.db)
        except (ValueError, ProtectionError) as error:
            fail(str(error))
        store.audit.record("cli", "data.rekey", None, {"payloads": count})
    if as_json:
        echo_json({"rewritten": count})
    else:
        click.echo(f"sealed {count} stored payloads again under the current key")
