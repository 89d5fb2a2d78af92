"""``govhub adapters``: what adapters are installed, and whether each destination works."""

from __future__ import annotations

import json
import sys

import click

from faces.cli.common import config_option, echo_json, fail, json_option, load, print_table
from hub.config import ConfigError

__all__ = ["adapters"]


@click.group()
@config_option
def adapters() -> None:
    """Installed adapters, and checks of the configured destinations."""


@adapters.command("list")
@config_option
@json_option
def adapters_list(as_json: bool) -> None:
    """Every installed adapter: name, version, what it accepts and produces, its settings."""
    from hub.registry import adapter_classes

    try:
        found = adapter_classes()
    except Exception as error:  # a broken third-party entry point: say which
        fail(f"cannot load the installed adapters: {error}")
    specs = [found[name].spec() | {"name": name} for name in sorted(found)]
    if as_json:
        echo_json(specs)
        return
    print_table(
        [
            (
                spec["name"],
                spec["version"],
                ", ".join(spec["accepts"]) or "-",
                ", ".join(spec["produces"]) or "-",
                spec["description"],
            )
            for spec in specs
        ],
        ("NAME", "VERSION", "ACCEPTS", "PRODUCES", "DESCRIPTION"),
    )
    for spec in specs:
        schema = spec["settings_schema"]
        required = set(schema.get("required", ()))
        settings = [
            f"{key}{'*' if key in required else ''}{' (secret)' if prop.get('writeOnly') else ''}"
            for key, prop in schema.get("properties", {}).items()
        ]
        click.echo(f"{spec['name']} settings: {', '.join(settings) or '-'}")
    click.echo("(* required; --json for the full settings schemas)")


@adapters.command("check")
@config_option
@click.argument("names", nargs=-1)
@json_option
def adapters_check(names: tuple[str, ...], as_json: bool) -> None:
    """Run check() on every configured destination (or those NAMES); exit 1 if any fails."""
    from hub.registry import build_destinations
    from hub.status import check_destinations
    from hub.store import Store

    config = load()
    try:
        built = build_destinations(config)
    except ConfigError as error:
        fail(str(error))
    unknown = [name for name in names if name not in built]
    if unknown:
        fail(
            f"no destination called {', '.join(unknown)}",
            f"configured: {', '.join(built) or 'none'}",
        )
    if not built:
        click.echo("no destinations are configured")
        return
    try:
        results = check_destinations(built, names or None)
    finally:
        for adapter in built.values():
            adapter.close()
    try:
        store = Store(config.database.url)
        try:
            for result in results:
                store.checks.record(result, actor="cli")
        finally:
            store.close()
    except Exception as error:  # the checks ran; not recording them must not hide them
        click.secho(f"warning: cannot record the results: {error}", fg="yellow", err=True)
    failed = [r for r in results if not r.ok]
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
    else:
        print_table(
            [
                (
                    r.destination,
                    r.adapter,
                    "ok" if r.ok else f"FAILED ({r.error_kind})",
                    f"{r.duration_ms} ms",
                    r.error or "",
                )
                for r in results
            ],
            ("DESTINATION", "ADAPTER", "RESULT", "TIME", "ERROR"),
        )
        if failed:
            hints = {
                "configuration": "fix the destination's settings or credentials",
                "retriable": "the counterpart is down, slow or unreachable",
            }
            for result in failed:
                hint = hints.get(result.error_kind or "", "see the error")
                click.echo(f"  {result.destination}: {hint}", err=True)
    if failed:
        sys.exit(1)
