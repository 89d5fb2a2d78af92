"""``govhub reload``: apply the file's routes and destinations to the running hub."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from faces.cli.common import NO_CONFIG_HINT, config_option, echo_json, fail, json_option, open_store
from hub.config import ConfigError, load_config
from hub.following import Rollout, os_actor
from hub.reloads import ReloadResult, reload_configuration
from hub.schemas import SchemaRegistry
from hub.store import GenerationConflict

__all__ = ["reload"]


@click.command()
@config_option
@json_option
@click.option("--check", "check_only", is_flag=True, help="Only check the file; change nothing.")
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(0, 600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for every running process to apply it (0: do not wait).",
)
def reload(as_json: bool, check_only: bool, wait_s: float) -> None:
    """Check the configuration file's routes and destinations and, if they hold, apply
    them to every process of the hub (every node) without a restart; audited.

    Nothing changes when anything is wrong: the error names the file and the key. SIGHUP
    to `govhub run` and POST /api/v1/admin/reload do the same.
    """
    try:
        config = load_config(click.get_current_context().meta.get("govhub.config"))
    except ConfigError as error:
        _refused(error)
    if config.path is None:
        fail("no configuration file to reload", NO_CONFIG_HINT)
    schemas = SchemaRegistry(uscc_check=config.validation.uscc_check)

    def progress(state: Rollout) -> None:
        if not as_json and state.waiting:
            click.echo(
                f"applied by {len(state.applied)} of"
                f" {len(state.applied) + len(state.waiting) + len(state.failed)} processes…",
                err=True,
            )

    with open_store(writes=True) as store:
        try:
            result = reload_configuration(
                config.path,
                store,
                schemas,
                actor=os_actor(),
                wait_s=wait_s,
                check_only=check_only,
                progress=progress,
            )
        except ConfigError as error:
            _refused(error)
        except GenerationConflict as error:
            fail(f"reload refused: {error}", "run `govhub reload` again")
    if as_json:
        echo_json(result.to_json())
    else:
        _tell(result, check_only)
    if result.rollout is not None and not result.rollout.complete:
        sys.exit(1)


def _refused(error: ConfigError) -> NoReturn:
    fail(
        f"reload refused: {error}",
        "nothing was changed; the hub runs the routes it had. Fix the file and run"
        " `govhub reload` again",
    )


def _tell(result: ReloadResult, check_only: bool) -> None:
    plan = result.plan
    click.echo(f"{plan.config.path}: routes and destinations hold ({plan.changes.summary()})")
    for warning in plan.warnings:
        click.secho(f"warning: {warning}", fg="yellow")
    if check_only:
        click.echo("checked only: nothing was applied")
        return
    if result.generation is None:
        click.echo(f"nothing to reload: generation {plan.previous} runs these already")
        return
    click.echo(
        f"generation {result.generation.number} recorded (audited: config.reload by"
        f" {result.generation.actor})"
    )
    state = result.rollout
    if state is None:
        click.echo("not waited for: every process applies it within a second")
        return
    total = len(state.applied) + len(state.waiting) + len(state.failed)
    if state.complete:
        click.echo(f"applied by {len(state.applied)} of {total} running processes")
        return
    for process in state.failed:
        click.secho(
            f"error: {process.node} ({process.kind}) cannot apply it: {process.error}",
            fg="red",
            err=True,
        )
    for process in state.waiting:
        click.secho(
            f"error: {process.node} ({process.kind}) has not applied it yet", fg="red", err=True
        )
    click.echo(
        f"  applied by {len(state.applied)} of {total}; the others run the"
        " generation they had: see their logs, fix, and reload again",
        err=True,
    )
