"""Warn when the hub's files can be read by other users of the machine.

The SQLite database (and its ``-wal`` and ``-shm`` files) holds every message with its
personal identifiers; the key file opens every client's sealed API key. The hub creates
them owner-only (``0600``, folder ``0700``); files made by an older version, by hand or by
a copy keep their mode, and ``govhub run`` says so rather than change them behind the
operator's back (a group may be meant to read them).
"""

from __future__ import annotations

import stat
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from hub.config import Config, ConfigError
from hub.keyring import vault_for

__all__ = ["warn_if_readable_by_others", "wide_files"]


def wide_files(config: Config) -> list[tuple[Path, int]]:
    """The hub's private files and folders that grant group or others any access, with
    their modes."""
    candidates: list[Path] = []
    url = make_url(config.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        candidates += [
            database.parent,
            database,
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
        ]
    key_file = _key_file(config)
    if key_file is not None:
        candidates += [key_file.parent, key_file]
    found: list[tuple[Path, int]] = []
    for path in dict.fromkeys(candidates):  # in order, once each
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue  # not there (yet), or not ours to look at
        if mode & 0o077:
            found.append((path, mode))
    return found


def warn_if_readable_by_others(config: Config) -> None:
    """Print a warning, with the command that fixes it, for each file :func:`wide_files`
    finds."""
    for path, mode in wide_files(config):
        fix = "chmod 700" if path.is_dir() else "chmod 600"
        click.secho(
            f"warning: {path} is open to other users (mode {mode:04o}); it holds personal"
            f" data or keys: {fix} {path}",
            fg="yellow",
            err=True,
        )


def _key_file(config: Config) -> Path | None:
    try:
        vault = vault_for(config)
    except ConfigError:  # a malformed [security] is reported where the key is used
        return None
    return vault.key_file
