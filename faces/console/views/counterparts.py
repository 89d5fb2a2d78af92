"""Counterparts: each destination's adapter, settings (secrets hidden), health and traffic."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from faces.console.accounts import OPERATOR
from faces.console.charts import TrafficChart, traffic_chart
from faces.console.masking import mask_document
from faces.console.web import blueprint, console, current_user, requires
from faces.console.words import word
from hub.core.identifiers import mask_text
from hub.observability.logs import log_context
from hub.pipeline.circuit import HALF_OPEN, OPEN
from hub.runtime import Hub
from hub.status import destination_overview, run_check
from hub.store.stats import DestinationTraffic

log = logging.getLogger("govhub.ops")

GREEN, AMBER, RED = "green", "amber", "red"
#: Above this share of failed attempts in the last hour a counterpart is amber...
AMBER_ERROR_RATE = 0.05
#: ...and above this, red.
RED_ERROR_RATE = 0.5
_SECRET_NAME = re.compile(
    r"secret|password|passwd|token|private|api_?key|credential|authorization|cookie", re.I
)
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True, slots=True)
class Counterpart:
    """One destination as the console shows it."""

    name: str
    adapter: str
    version: str
    health: str
    circuit: dict[str, Any] | None
    backlog: int
    dead_letters: int
    traffic: DestinationTraffic | None
    settings: dict[str, Any]
    routes: tuple[str, ...]
    last_check: dict[str, Any] | None = None
    last_delivery: dict[str, Any] | None = None


_RANK = {GREEN: 0, AMBER: 1, RED: 2}
#: ``hub.status`` health words (last check, last delivery) as colours.
_STATUS_COLOUR = {"down": RED, "degraded": AMBER, "ok": GREEN, "unknown": GREEN}


def health_of(
    circuit: dict[str, Any] | None,
    traffic: DestinationTraffic | None,
    status: str = "unknown",
) -> str:
    """Green, amber or red: the worst of the circuit state, the last hour's error rate and
    the adapter status (last connection check or delivery, see ``hub.status``)."""
    rate = traffic.error_rate if traffic else None
    state = circuit["state"] if circuit else None
    failing = bool(circuit and circuit["consecutive_failures"] > 0)
    if state == OPEN or (rate is not None and rate >= RED_ERROR_RATE):
        colour = RED
    elif state == HALF_OPEN or failing or (rate is not None and rate > AMBER_ERROR_RATE):
        colour = AMBER
    else:
        colour = GREEN
    other = _STATUS_COLOUR.get(status, GREEN)
    if circuit and circuit["state"] == HALF_OPEN and other == RED:
        other = AMBER  # a probe is on its way: not down yet
    return max(colour, other, key=_RANK.__getitem__)


def shown_settings(settings: Any) -> Any:
    """Settings fit to show: secrets (by schema, and by name as a second guard) hidden."""
    if isinstance(settings, dict):
        return {
            key: "***"
            if _SECRET_NAME.search(str(key)) and value not in (None, "")
            else shown_settings(value)
            for key, value in settings.items()
        }
    if isinstance(settings, list):
        return [shown_settings(item) for item in settings]
    if isinstance(settings, str):
        return mask_text(_URL_USERINFO.sub("***@", settings))
    return settings


def counterparts(hub: Hub) -> list[Counterpart]:
    """Every configured destination with its health, for the overview and this page."""
    dead = hub.store.stats.dead_letters_by_destination()
    traffic = hub.store.stats.destination_traffic(dt.timedelta(hours=1))
    found: list[Counterpart] = []
    for status in destination_overview(hub):
        name = status["name"]
        circuit = status["circuit"]
        if circuit is not None:
            circuit = {**circuit, "in_flight": status["in_flight"]}
        used = traffic.get(name)
        found.append(
            Counterpart(
                name=name,
                adapter=status["adapter"],
                version=status["version"],
                health=health_of(circuit, used, status["health"]),
                circuit=circuit,
                backlog=status["backlog"],
                dead_letters=dead.get(name, 0),
                traffic=used,
                settings=shown_settings(mask_document(hub.adapters[name].describe())),
                routes=tuple(r.name for r in hub.config.routes if name in r.to),
                last_check=status["last_check"],
                last_delivery=status["last_delivery"],
            )
        )
    return found


#: Each counterpart's chart: the last day in hourly bars.
CHART_WINDOW = dt.timedelta(hours=24)
CHART_BARS = 24
OUTCOMES = (("delivered", "ok"), ("retry", "warn"), ("dead", "bad"))


def traffic_charts(hub: Hub, names: list[str]) -> dict[str, TrafficChart]:
    """Per counterpart: attempts by outcome and mean attempt time, hour by hour."""
    series = hub.store.stats.destination_series(CHART_WINDOW, CHART_BARS, destinations=names)
    return {
        name: traffic_chart(series[name], OUTCOMES, describe=word, label_every=6) for name in names
    }


@blueprint.get("/counterparts")
def counterparts_page() -> str:
    """Every destination: adapter, settings, health, circuit, throughput, error rate, and a
    chart of its attempts (how many, how they ended, how long they took) over the last day."""
    hub = console().hub
    found = counterparts(hub)
    return render_template(
        "ops/counterparts.html",
        counterparts=found,
        charts=traffic_charts(hub, [c.name for c in found]),
        outcomes=OUTCOMES,
        dispatching=hub.dispatching,
    )


@blueprint.post("/counterparts/<name>/check")
@requires(OPERATOR)
def check_counterpart(name: str) -> BaseResponse | tuple[str, int]:
    """Reach the counterpart now (the adapter's ``check``) and say how it went."""
    hub = console().hub
    adapter = hub.adapters.get(name)
    if adapter is None:
        return render_template(
            "ops/error.html", status=404, title=gettext("Not found"), detail=""
        ), 404
    actor = current_user().name
    with log_context(destination=name, user=actor):
        result = run_check(name, adapter)
        hub.store.checks.record(result, actor=actor)
        if result.ok:
            log.info("connection check passed")
            flash(gettext("%(name)s answered: connection and credentials work.", name=name), "ok")
        else:
            log.warning("connection check failed: %s", result.error)
            flash(
                gettext("%(name)s: check failed: %(error)s", name=name, error=result.error or ""),
                "bad",
            )
    return redirect(url_for("ops.counterparts_page") + f"#{name}")
