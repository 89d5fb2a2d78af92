"""``govhub demo``: the fully online story (全程网办) on one machine, end to end.

See :mod:`faces.demo.story` for the story and :mod:`faces.demo.stage` for where it plays.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from faces.demo.stage import live_stage, own_stage
from faces.demo.story import Story
from hub.config import Config

__all__ = ["play"]


def play(
    *,
    live: Config | None = None,
    echo: Callable[[str], None] = print,
    step_timeout_s: float = 20.0,
) -> bool:
    """Play the story; True when every step happened.

    Args:
        live: Play against the running hub of this configuration (``govhub run``)
            instead of a hub and sandboxes of the demo's own.
        echo: Where the progress goes.
        step_timeout_s: How long one step may take.
    """
    started = time.monotonic()
    stage = live_stage(live) if live is not None else own_stage()
    with stage as ready:
        echo(f"hub {ready.endpoints.hub}, database {ready.database}")
        story = Story(
            ready.endpoints,
            ready.operator_key,
            ready.department_key,
            echo=echo,
            step_timeout_s=step_timeout_s,
        )
        ok = story.play()
    took = time.monotonic() - started
    done = sum(step.ok for step in story.steps)
    echo("")
    if ok:
        echo(
            f"all {done} steps happened in {took:.1f} s: case {story.case_no} was applied for"
            " online, pulled from the hall, accepted, paid, licensed (signed and archived),"
            " completed and delivered by courier."
        )
    else:
        failed = story.steps[-1]
        echo(f"{done} of 9 steps happened in {took:.1f} s; step {failed.number} did not:")
        echo(f"  {failed.sender} → {failed.receiver}: {failed.what}: {failed.detail}")
    return ok
