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

from adapters.sdk import AdapterError
from hub.circuit import HALF_OPEN, OPEN
from hub.identifiers import mask_text
from hub.observability.logs import log_context
from hub.ops.accounts import OPERATOR
from hub.ops.masking import mask_document
from hub.ops.web import blueprint, console, current_user, requires
from hub.runtime import Hub
from hub.store.stats import DestinationTraffic, dead_letters_by_destination, destination_traffic

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


def health_of(circuit: dict[str, Any] | None, traffic: DestinationTraffic | None) -> str:
    """Green, amber or red from the circuit state and the last hour's error rate."""
    rate = traffic.error_rate if traffic else None
    if (circuit and circuit["state"] == OPEN) or (rate is not None and rate >= RED_ERROR_RATE):
        return RED
    if circuit and (circuit["state"] == HALF_OPEN or circuit["consecutive_failures"] > 0):
        return AMBER
    if rate is not None and rate > AMBER_ERROR_RATE:
        return AMBER
    return GREEN


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
    circuits = hub.dispatcher.circuits() if hub.dispatching else {}
    backlog = hub.store.backlog()
    dead = dead_letters_by_destination(hub.store)
    traffic = destination_traffic(hub.store, dt.timedelta(hours=1))
    found: list[Counterpart] = []
    for destination in hub.config.destinations:
        adapter = hub.adapters[destination.name]
        circuit = circuits.get(destination.name)
        used = traffic.get(destination.name)
        found.append(
            Counterpart(
                name=destination.name,
                adapter=adapter.name,
                version=adapter.version,
                health=health_of(circuit, used),
                circuit=circuit,
                backlog=backlog.get(destination.name, 0),
                dead_letters=dead.get(destination.name, 0),
                traffic=used,
                settings=shown_settings(mask_document(adapter.describe())),
                routes=tuple(r.name for r in hub.config.routes if destination.name in r.to),
            )
        )
    return found


@blueprint.get("/counterparts")
def counterparts_page() -> str:
    """Every destination: adapter, settings, health, circuit, throughput, error rate."""
    hub = console().hub
    return render_template(
        "ops/counterparts.html", counterparts=counterparts(hub), dispatching=hub.dispatching
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
    with log_context(destination=name, user=current_user().name):
        try:
            adapter.check()
        except AdapterError as error:
            log.warning("connection check failed: %s", error)
            flash(
                gettext(
                    "%(name)s: check failed: %(error)s", name=name, error=mask_text(str(error))
                ),
                "bad",
            )
        except Exception as error:  # an adapter bug must not break the page
            log.exception("connection check raised")
            flash(
                gettext("%(name)s: check failed: %(error)s", name=name, error=type(error).__name__),
                "bad",
            )
        else:
            log.info("connection check passed")
            flash(gettext("%(name)s answered: connection and credentials work.", name=name), "ok")
    return redirect(url_for("ops.counterparts_page") + f"#{name}")
