"""The overview: traffic charts, backlog, dead letters, counterparts' health, troubled jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import render_template
from flask_babel import gettext

from faces.console.charts import BarChart, bar_chart
from faces.console.jobs import JobView
from faces.console.views.counterparts import counterparts
from faces.console.web import blueprint, console
from hub.core.clock import utcnow
from hub.observability.heartbeats import heartbeat_check

CHANNELS = (
    ("rest", "c1"),
    ("soap", "c2"),
    ("job", "c3"),
    ("adapter", "c4"),
    ("notify", "c5"),
)
OUTCOMES = (("delivered", "ok"), ("retry", "warn"), ("dead", "bad"))


def describe_category(name: str) -> str:
    """A chart category in the reader's language."""
    words = {
        "rest": "REST",
        "soap": "SOAP",
        "job": gettext("jobs"),
        "adapter": gettext("counterparts"),
        "notify": gettext("notifications"),
        "delivered": gettext("delivered"),
        "retry": gettext("to retry"),
        "dead": gettext("dead"),
        "other": gettext("other"),
    }
    return str(words.get(name, name))


def _charts() -> dict[str, BarChart]:
    store = console().hub.store
    now = utcnow()
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    return {
        "in_hour": bar_chart(
            store.stats.message_series(hour, 12, now=now),
            CHANNELS,
            describe=describe_category,
            label_every=3,
        ),
        "in_day": bar_chart(
            store.stats.message_series(day, 24, now=now),
            CHANNELS,
            describe=describe_category,
            label_every=4,
        ),
        "out_hour": bar_chart(
            store.stats.attempt_series(hour, 12, now=now),
            OUTCOMES,
            describe=describe_category,
            label_every=3,
        ),
        "out_day": bar_chart(
            store.stats.attempt_series(day, 24, now=now),
            OUTCOMES,
            describe=describe_category,
            label_every=4,
        ),
    }


def troubled_jobs() -> list[JobView] | None:
    """Jobs whose last run failed or that are late; ``None`` without a scheduler."""
    view = console().jobs
    if view is None:
        return None
    return [job for job in view.jobs() if job.late or (job.last_run and job.last_run.failed)]


def _signals() -> dict[str, Any]:
    hub = console().hub
    signals: dict[str, Any] = {}
    if hub.dispatching:
        signals["dispatcher"] = heartbeat_check(
            hub.dispatcher.heartbeat_age_s(), hub.dispatcher.heartbeat_limit_s
        )
    view = console().jobs
    if view is not None and (age := view.heartbeat_age_s()) is not None:
        signals["scheduler"] = heartbeat_check(age, view.heartbeat_limit_s)
    return signals


@blueprint.get("/")
def overview() -> str:
    """What is happening now, at a glance."""
    hub = console().hub
    now = utcnow()
    oldest = {
        name: (now - since).total_seconds()
        for name, since in hub.store.stats.oldest_pending().items()
    }
    return render_template(
        "ops/overview.html",
        charts=_charts(),
        channels=CHANNELS,
        outcomes=OUTCOMES,
        describe=describe_category,
        counterparts=counterparts(hub),
        oldest=oldest,
        jobs=troubled_jobs(),
        signals=_signals(),
    )
