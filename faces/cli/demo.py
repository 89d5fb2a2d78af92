"""``govhub demo``: play the fully online story end to end and say whether every step happened."""

from __future__ import annotations

import logging
import sys

import click

from faces.cli.common import config_option, fail, load

__all__ = ["demo"]


@click.command()
@config_option
@click.option(
    "--live",
    is_flag=True,
    help="Play against the hub of --config started with `govhub run` (watch it in /ops).",
)
@click.option(
    "--step-timeout",
    type=click.FloatRange(min=1),
    default=20.0,
    show_default=True,
    help="Seconds one step may take.",
)
@click.option(
    "--construction",
    is_flag=True,
    help="Play the construction-permit story instead: a project through Weihai's five"
    " modules (28 working days) with sandbox departments on a simulated clock.",
)
@click.option("--verbose", is_flag=True, help="Show the hub's own log lines too.")
def demo(live: bool, step_timeout: float, construction: bool, verbose: bool) -> None:
    """Play the fully online (全程网办) story; exit 0 only if every step happened.

    Without --live it starts its own hub and every sandbox on free ports, with a
    temporary database, and removes them afterwards. --construction plays the
    modular approval (模块化审批) of a construction project instead.
    """
    from faces.demo import play

    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "apscheduler", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    if not verbose:
        logging.getLogger("govhub.jobs").setLevel(logging.WARNING)
    if construction:
        if live:
            fail("--construction plays on a stage of its own; it cannot be --live")
        from faces.demo.construction import play_construction

        try:
            ok = play_construction(echo=click.echo, step_timeout_s=step_timeout)
        except RuntimeError as error:
            fail(str(error))
        sys.exit(0 if ok else 1)
    config = load() if live else None
    try:
        ok = play(live=config, echo=click.echo, step_timeout_s=step_timeout)
    except RuntimeError as error:
        fail(str(error))
    sys.exit(0 if ok else 1)
