"""``flows.advance``: the approval flows' orchestrator, every 15 s.

Each run folds every project with opinions, acceptances or materials accepted since the
last run into its record and publishes what that asks for (review requests to each
reviewing department, module results, licences to the e-license library), each once
by its key; then it reads every running project's clocks at the run's due time, so the
lights of a module, of each of its departments and of the project are up to date
(yellow at the warning share of a limit, red past its due day). The events were stored
with their messages, so a crash anywhere loses none: the next run catches up.
"""

from __future__ import annotations

from hub.scheduler import JobContext, job, minutes, seconds

__all__ = ["advance"]


@job(
    "flows.advance",
    every=seconds(15),
    publishes=("flow.review_requested", "flow.module_completed", "license.issued"),
    timeout=minutes(5),
)
def advance(ctx: JobContext) -> None:
    """Projects take in their events and act on them; running projects' clocks are read."""
    flows = ctx.flows
    if flows is None:
        raise RuntimeError("this hub runs no approval flows")
    if not flows.flows:
        ctx.log.info("no flow is configured ([flows] dir)")
        return
    moment = ctx.due_at
    done = flows.advance(moment, check=ctx.check)
    ctx.count_read(done.events)
    ctx.count_published(done.published)
    if done.failed:
        ctx.count_failed(done.failed)
    evaluated = flows.evaluate(moment)
    ctx.log.info(
        "%d event(s) of %d project(s) taken in, %d message(s) published; %d running"
        " project(s) evaluated at %s",
        done.events,
        done.projects,
        done.published,
        evaluated,
        moment.isoformat(),
    )
