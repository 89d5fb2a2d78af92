"""``govhub adapters``: what adapters are installed, whether each destination works, and
``new``, which scaffolds an adapter package (``govhub adapter new`` says the same)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from faces.cli.common import config_option, echo_json, fail, json_option, load, print_table
from hub.config import ConfigError

__all__ = ["adapter", "adapters"]


@click.group()
@config_option
def adapters() -> None:
    """Installed adapters, checks of the configured destinations, new adapter packages."""


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


@adapters.command("new")
@config_option
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["rest", "soap"]),
    help="The counterpart's protocol (default: soap with --from-wsdl; otherwise required).",
)
@click.option(
    "--auth",
    type=click.Choice(["none", "basic", "bearer", "hmac", "wsse"]),
    help="How the counterpart authenticates the hub (default: bearer for rest, wsse for soap).",
)
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="A new or empty folder for the package (default: ./govhub-NAME).",
)
@click.option("--title", help="What people call the counterpart, e.g. 住房公积金管理中心.")
@click.option(
    "--from-wsdl",
    "wsdl",
    metavar="FILE|URL",
    help="Generate the operations and the sandbox from this WSDL (implies --kind soap).",
)
@json_option
def adapters_new(
    name: str,
    kind: str | None,
    auth: str | None,
    dest: Path | None,
    title: str | None,
    wsdl: str | None,
    as_json: bool,
) -> None:
    """Scaffold an installable adapter package NAME that passes its own tests.

    It holds the adapter, a sandbox simulating the counterpart (checking the chosen
    authentication, honouring the idempotency key, with the /_sandbox/ controls), the
    settings schema, a README and a test module running the SDK's contract suite.
    """
    from adapters.sdk.sandbox import installed_sandboxes
    from faces.devkit.scaffold import DEFAULT_AUTH, ScaffoldError, check_dest, check_name, names_for
    from faces.devkit.scaffold import scaffold as write_package
    from hub.registry import adapter_classes

    if wsdl is not None and kind == "rest":
        fail("--from-wsdl makes a SOAP adapter", "leave out --kind rest (or say --kind soap)")
    if wsdl is not None and title is not None:
        fail("--title is not used with --from-wsdl", "leave it out; the WSDL names the service")
    if kind is None:
        if wsdl is None:
            fail("say which protocol the counterpart speaks", "add --kind rest or --kind soap")
        kind = "soap"
    auth = auth or DEFAULT_AUTH[kind]
    dest = dest if dest is not None else Path(names_for(name).distribution)
    try:
        taken = {*adapter_classes(), *installed_sandboxes()}
    except Exception as error:  # a broken third-party entry point: say which
        fail(f"cannot load the installed adapters: {error}")
    try:
        if wsdl is None:
            written = write_package(name, kind=kind, auth=auth, dest=dest, title=title, taken=taken)
        else:
            check_name(name, taken)
            check_dest(dest)
            written = _from_wsdl(wsdl, name=name, auth=auth, dest=dest)
    except ScaffoldError as error:
        fail(error.message, error.hint)
    names = names_for(name)
    if as_json:
        echo_json(
            {
                "name": name,
                "kind": kind,
                "auth": auth,
                "dest": str(dest),
                "distribution": names.distribution,
                "package": names.package,
                "files": [str(path) for path in written],
            }
        )
        return
    click.echo(f"wrote {names.distribution} ({kind}, auth {auth}) in {dest}:")
    for path in written:
        click.echo(f"  {path}")
    click.echo("next: install it beside the hub, then run its tests:")
    click.echo(f"  pip install -e {dest}")
    click.echo(f"  pytest {dest}")


def _from_wsdl(source: str, *, name: str, auth: str, dest: Path) -> list[Path]:
    from faces.devkit.wsdl_import import WsdlError, generate_from_wsdl

    try:
        return generate_from_wsdl(source, name=name, auth=auth, dest=dest)
    except WsdlError as error:
        fail(str(error), "see docs/generating-from-a-wsdl.md for what the importer takes")


#: ``govhub adapter …``: the same commands; ``govhub adapter new NAME`` reads better.
adapter = click.Group(
    "adapter", commands=adapters.commands, help=adapters.help, hidden=True, params=adapters.params
)
