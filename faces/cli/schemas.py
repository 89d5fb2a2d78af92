"""``govhub schemas``: message types, their versions, and the check that keeps senders working."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from faces.cli.common import echo_json, fail, json_option, print_table
from hub.schema_lock import CheckReport, check, lock_path, read_lock, snapshot, write_lock
from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry

__all__ = ["schemas"]

_NEW_VERSION_HINT = (
    "a version senders use cannot break: undo the change, or add it as a new version"
    " (schemas/messages/<type>/v<N>.json, its step in <type>/transforms.json, an example in"
    " schemas/examples/<type>/v<N>.json); see docs/schemas.md"
)


def _schemas_option(function: Any) -> Any:
    return click.option(
        "--schemas",
        "directory",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        default=DEFAULT_SCHEMA_DIR,
        show_default="the installed schemas/",
        help="The schemas folder to look at (the one with messages/ and common.json).",
    )(function)


def _registry(directory: Path) -> SchemaRegistry:
    try:
        return SchemaRegistry(directory)
    except (ValueError, OSError) as error:
        fail(f"cannot read the schemas in {directory}: {error}")


@click.group()
def schemas() -> None:
    """Message types, their schema versions, and the compatibility check."""


@schemas.command("list")
@_schemas_option
@json_option
def schemas_list(directory: Path, as_json: bool) -> None:
    """Every message type with its versions."""
    registry = _registry(directory)
    rows = [
        {
            "type": message_type,
            "versions": list(registry.versions(message_type)),
            "title": str(
                registry.schema(message_type, registry.latest(message_type)).get("title", "")
            ),
        }
        for message_type in registry.types
    ]
    if as_json:
        echo_json(rows)
        return
    print_table(
        [(r["type"], ", ".join(map(str, r["versions"])), r["title"]) for r in rows],
        ("TYPE", "VERSIONS", "TITLE"),
    )


@schemas.command("check")
@_schemas_option
@click.option(
    "--against",
    metavar="REF|DIR|FILE",
    help="What senders were promised: a git revision (HEAD, main, v1.4), a schemas folder"
    " or checkout, or a lock file. Default: messages/versions.lock.json of --schemas.",
)
@json_option
def schemas_check(directory: Path, against: str | None, as_json: bool) -> None:
    """Refuse a breaking change to a schema version senders use (exit 1, naming the field)."""
    registry = _registry(directory)
    with _baseline(directory, against) as (baseline, label):
        report = check(registry, baseline)
    if as_json:
        echo_json({**report.to_json(), "against": label})
    else:
        _print_report(report, label)
    if not report.ok:
        _refuse(report, "refused")


@schemas.command("lock")
@_schemas_option
def schemas_lock(directory: Path) -> None:
    """Record the working versions as promised (after `govhub schemas check` passes)."""
    registry = _registry(directory)
    path = lock_path(directory)
    with _baseline(directory, None) as (baseline, _label):
        report = check(registry, baseline)
    if not report.ok:
        _refuse(report, "not locked")
    written = write_lock(registry, path)
    counts = Counter(v.status for v in report.versions)
    click.echo(
        f"locked {len(report.versions)} version(s) in {written}"
        f" ({counts['new']} new, {counts['compatible']} changed compatibly)"
    )


def _refuse(report: CheckReport, what: str) -> None:
    refused = [
        f"{v.message_type} v{v.version}: {change}"
        for v in report.versions
        if v.refused
        for change in v.changes
        if change.breaking
    ]
    fail(
        f"{what}: " + "; ".join([*refused, *report.problems]),
        _NEW_VERSION_HINT if refused else None,
    )


def _print_report(report: CheckReport, label: str) -> None:
    click.echo(f"against {label}")
    for result in report.versions:
        if result.status == "unchanged":
            continue
        note = " (not locked yet: govhub schemas lock)" if result.status == "new" else ""
        click.echo(f"  {result.message_type} v{result.version}: {result.status}{note}")
        for change in result.changes:
            mark = "✗" if change.breaking else "·"
            click.echo(f"      {mark} {change}")
    for problem in report.problems:
        click.echo(f"  ✗ {problem}")
    counts = Counter(v.status for v in report.versions)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    click.echo(f"{len(report.versions)} version(s): {summary}")


@contextmanager
def _baseline(directory: Path, against: str | None) -> Iterator[tuple[dict[Any, Any], str]]:
    """The promised versions, and a label saying where they came from."""
    if against is None:
        path = lock_path(directory)
        if not path.exists():
            yield {}, f"{path} (none yet: every version is new)"
            return
        yield _read_lock(path), str(path)
        return
    candidate = Path(against)
    if candidate.is_file():
        yield _read_lock(candidate), str(candidate)
    elif candidate.is_dir():
        folder = (
            candidate / "schemas" if (candidate / "schemas" / "messages").is_dir() else candidate
        )
        yield snapshot(_registry(folder)), str(folder)
    else:
        with _from_git(directory, against) as folder:
            yield snapshot(_registry(folder)), f"git {against}"


def _read_lock(path: Path) -> dict[Any, Any]:
    try:
        return read_lock(path)
    except (ValueError, OSError) as error:
        fail(str(error))


@contextmanager
def _from_git(directory: Path, revision: str) -> Iterator[Path]:
    """The schemas folder as it is at ``revision`` of the repository holding ``directory``."""

    def git(where: Path, *args: str) -> bytes:
        try:
            done = subprocess.run(  # noqa: S603 - git, with a revision the person named
                ["git", "-C", str(where), *args],  # noqa: S607 - git from PATH, as a person runs it
                capture_output=True,
                check=True,
                timeout=60,
            )
        except FileNotFoundError:
            fail(f"--against {revision}: git is not installed; pass a folder or a lock file")
        except subprocess.CalledProcessError as error:
            message = error.stderr.decode("utf-8", "replace").strip()
            fail(f"--against {revision}: {message}", "name a git revision, a folder or a file")
        return done.stdout

    top = Path(git(directory, "rev-parse", "--show-toplevel").decode().strip())
    inside = directory.resolve().relative_to(top.resolve()).as_posix()
    archive = git(top, "archive", "--format=tar", revision, "--", inside)
    with tempfile.TemporaryDirectory(prefix="govhub-schemas-") as temporary:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(temporary, filter="data")
        yield Path(temporary) / inside
