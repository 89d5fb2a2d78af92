"""Jobs: schedule, next due, last runs, a run's log lines; run now, pause, resume.

The scheduler is reached only through :class:`faces.console.jobs.JobsView`.
"""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from faces.console.accounts import OPERATOR
from faces.console.web import blueprint, console, current_user, requires
from hub.observability.logs import log_context

log = logging.getLogger("govhub.ops")

ACTIONS = ("run", "pause", "resume")


def _not_found(detail: str) -> tuple[str, int]:
    return render_template(
        "ops/error.html", status=404, title=gettext("Not found"), detail=detail
    ), 404


@blueprint.get("/jobs")
def jobs_page() -> str:
    """Every job with its schedule and last run; or a note that no scheduler runs."""
    view = console().jobs
    return render_template("ops/jobs.html", jobs=view.jobs() if view else None)


@blueprint.get("/jobs/<job_id>")
def job_page(job_id: str) -> str | tuple[str, int]:
    """One job and its recent runs."""
    view = console().jobs
    job = view.job(job_id) if view else None
    if view is None or job is None:
        return _not_found(gettext("No job has this id."))
    return render_template("ops/job.html", job=job, runs=view.runs(job_id, limit=50))


@blueprint.get("/jobs/<job_id>/runs/<run_id>")
def job_run_page(job_id: str, run_id: str) -> str | tuple[str, int]:
    """One run: counts, outcome, error and its log lines."""
    view = console().jobs
    run = view.run(run_id) if view else None
    if view is None or run is None or run.job_id != job_id:
        return _not_found(gettext("No run has this id."))
    return render_template("ops/job_run.html", run=run, job=view.job(job_id))


@blueprint.post("/jobs/<job_id>/<action>")
@requires(OPERATOR)
def job_action(job_id: str, action: str) -> BaseResponse | tuple[str, int]:
    """Run a job now, pause it or resume it; recorded in the audit trail."""
    view = console().jobs
    if view is None or action not in ACTIONS or view.job(job_id) is None:
        return _not_found(gettext("No job has this id."))
    actor = current_user().name
    with log_context(job_id=job_id, user=actor):
        try:
            if action == "run":
                run_id = view.run_now(job_id, actor=actor)
                flash(gettext("%(job)s started.", job=job_id), "ok")
            elif action == "pause":
                run_id = None
                view.pause(job_id, actor=actor)
                flash(gettext("%(job)s paused.", job=job_id), "ok")
            else:
                run_id = None
                view.resume(job_id, actor=actor)
                flash(gettext("%(job)s resumed.", job=job_id), "ok")
        except KeyError:
            return _not_found(gettext("No job has this id."))
        console().hub.store.audit.record(
            actor, f"job.{action}", job_id, {"run": run_id} if run_id else None
        )
        log.info("job %s by the console", action)
    return redirect(url_for("ops.job_page", job_id=job_id))
