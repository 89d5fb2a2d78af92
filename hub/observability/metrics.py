"""Prometheus metrics: what came in, what went out, what is waiting, how jobs ran.

Counters and histograms are fed as things happen (the hub's events: messages accepted,
attempts recorded, runs ended). What the store already knows (backlog,
dead letters) is read from it at scrape time, so those numbers are the cluster's, not one
process's, and survive restarts.

Several processes on one machine (a forking web server, or ``govhub serve`` beside
``govhub worker``) share their counters through ``PROMETHEUS_MULTIPROC_DIR``: set it to an
empty folder in the environment of every process before it starts, and any of them serves
the sum at ``/metrics``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from hub.core.clock import utcnow
from hub.events import AttemptRecorded, Events, MessageAccepted, RunEnded
from hub.pipeline.circuit import CLOSED, HALF_OPEN, OPEN

if TYPE_CHECKING:
    from hub.pipeline.circuit import CircuitBreaker
    from hub.store import Store

__all__ = ["CIRCUIT_STATES", "MULTIPROC_ENV", "CaseCollector", "HubMetrics", "StoreCollector"]

log = logging.getLogger("govhub.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: ``govhub_circuit_state`` values: higher is worse, so the max over processes is the worst.
CIRCUIT_STATES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
OUTCOMES = ("delivered", "retry", "dead")
#: Supervision lights of open cases, each with a series from the start.
LIGHTS = ("green", "yellow", "red", "none")
SUPERVISION_TYPES = ("supervision.warning", "supervision.overdue")

# Attempts are HTTP calls (milliseconds to a timeout); latency from acceptance to delivery
# includes retries and can run to hours.
_ATTEMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400)
_JOB_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


def multiprocess_dir() -> str | None:
    """The shared folder of a multi-process deployment, if one is configured."""
    return os.environ.get(MULTIPROC_ENV) or None


class HubMetrics:
    """The hub's metrics, on a registry of its own (so several hubs in one process, as in
    tests, do not collide).

    Args:
        store: Where backlog and dead letters are read at scrape time.
        destinations: The configured destinations (each gets its series from the start).
        events: What the hub emits: accepted messages, recorded attempts, ended runs.
        breakers: The circuit breakers of the dispatcher in this process (none when it
            does not deliver here).
    """

    def __init__(
        self,
        store: Store,
        destinations: Sequence[str],
        events: Events,
        breakers: Callable[[], Mapping[str, CircuitBreaker]],
    ) -> None:
        self.store = store
        self.breakers = breakers
        self.registry = CollectorRegistry(auto_describe=True)
        self.received = Counter(
            "govhub_messages_received",
            "Messages accepted, by type and channel (rest, soap, job, adapter, notify...).",
            ("type", "channel"),
            registry=self.registry,
        )
        self.deliveries = Counter(
            "govhub_deliveries",
            "Delivery attempts by destination and outcome: delivered, retry (will try again)"
            " or dead (dead letter).",
            ("destination", "outcome"),
            registry=self.registry,
        )
        self.attempt_seconds = Histogram(
            "govhub_delivery_attempt_seconds",
            "How long one delivery attempt took, by destination.",
            ("destination",),
            buckets=_ATTEMPT_BUCKETS,
            registry=self.registry,
        )
        self.latency_seconds = Histogram(
            "govhub_delivery_latency_seconds",
            "From acceptance to delivery (retries included), by destination.",
            ("destination",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.job_runs = Counter(
            "govhub_job_runs",
            "Scheduled job runs by job and outcome.",
            ("job", "outcome"),
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "govhub_job_run_seconds",
            "How long job runs took, by job.",
            ("job",),
            buckets=_JOB_BUCKETS,
            registry=self.registry,
        )
        self.circuit_state = Gauge(
            "govhub_circuit_state",
            "Circuit breaker per destination: 0 closed, 1 half-open, 2 open.",
            ("destination",),
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.supervision_notices = Counter(
            "govhub_supervision_notices",
            "Supervision messages published: supervision.warning (a case turned yellow) and"
            " supervision.overdue (red).",
            ("type",),
            registry=self.registry,
        )
        for notice_type in SUPERVISION_TYPES:
            self.supervision_notices.labels(notice_type)
        self._store_collector = StoreCollector(store, destinations)
        self.registry.register(self._store_collector)
        self._case_collector = CaseCollector(store)
        self.registry.register(self._case_collector)
        for destination in destinations:
            # Zero series from the start, so rate() and alerts see the destination at once.
            for outcome in OUTCOMES:
                self.deliveries.labels(destination, outcome)
            self.circuit_state.labels(destination).set(0)
        events.subscribe(MessageAccepted, self.message_received)
        events.subscribe(AttemptRecorded, self.delivery_finished)
        events.subscribe(RunEnded, self.run_ended)

    # ------------------------------------------------------------------ feeding

    def message_received(self, accepted: MessageAccepted) -> None:
        """One message accepted."""
        self.received.labels(accepted.envelope.type, accepted.channel).inc()
        if accepted.envelope.type in SUPERVISION_TYPES:
            self.supervision_notices.labels(accepted.envelope.type).inc()

    def delivery_finished(self, recorded: AttemptRecorded) -> None:
        """One attempt recorded."""
        claim, outcome = recorded.claim, recorded.outcome
        destination = claim.destination
        self.deliveries.labels(destination, outcome.status).inc()
        took = (outcome.finished_at - outcome.started_at).total_seconds()
        self.attempt_seconds.labels(destination).observe(max(0.0, took))
        if outcome.status == "delivered":
            waited = (outcome.finished_at - claim.envelope.created_at).total_seconds()
            self.latency_seconds.labels(destination).observe(max(0.0, waited))
        self._refresh_circuit(destination)

    def run_ended(self, ended: RunEnded) -> None:
        """One job run ended."""
        self.job_runs.labels(ended.job_id, ended.outcome).inc()
        self.job_seconds.labels(ended.job_id).observe(max(0.0, ended.duration_s))

    def close(self) -> None:
        """The process is done: in a multi-process set-up, drop its live gauges."""
        if multiprocess_dir() is not None:
            mark_process_dead(os.getpid())

    def _refresh_circuit(self, destination: str) -> None:
        breaker = self.breakers().get(destination)
        if breaker is not None:
            state = breaker.snapshot().state
            self.circuit_state.labels(destination).set(CIRCUIT_STATES.get(state, 0))

    # ------------------------------------------------------------------ scraping

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric, for ``GET /metrics``.

        Args:
            accept: The scraper's ``Accept`` header: Prometheus text 0.0.4 by default,
                OpenMetrics or text 1.0.0 when asked for.

        Returns:
            The body and its content type.
        """
        for destination in self.breakers():
            self._refresh_circuit(destination)
        encode, content_type = choose_encoder(accept)
        if multiprocess_dir() is None:
            return encode(self.registry), content_type
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(self._store_collector)
        registry.register(self._case_collector)
        return encode(registry), content_type


class StoreCollector(Collector):
    """Gauges read from the store at scrape time: backlog, its age, dead letters."""

    def __init__(self, store: Store, destinations: Sequence[str]) -> None:
        self.store = store
        self.destinations = list(destinations)

    def describe(self) -> Iterable[Metric]:
        # Describing without collecting keeps registration from querying the database.
        return list(self._families())

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "govhub_backlog",
                "Deliveries pending or in flight, by destination.",
                labels=("destination",),
            ),
            GaugeMetricFamily(
                "govhub_backlog_oldest_seconds",
                "Age of the oldest open delivery, by destination.",
                labels=("destination",),
            ),
            GaugeMetricFamily(
                "govhub_dead_letters",
                "Dead letters waiting for ops, by destination.",
                labels=("destination",),
            ),
            GaugeMetricFamily("govhub_store_up", "1 when the store answered this scrape."),
        )

    def collect(self) -> Iterable[Metric]:
        backlog_family, oldest_family, dead_family, up_family = self._families()
        started = time.monotonic()
        try:
            backlog = self.store.deliveries.backlog()
            oldest = self.store.stats.oldest_pending()
            dead = self.store.stats.dead_letters_by_destination()
        except Exception:  # a scrape must answer even when the database does not
            log.exception("reading the store for /metrics failed")
            up_family.add_metric((), 0)
            return [up_family]
        now = utcnow()
        names = sorted(set(self.destinations) | set(backlog) | set(dead))
        for name in names:
            backlog_family.add_metric((name,), backlog.get(name, 0))
            dead_family.add_metric((name,), dead.get(name, 0))
            since = oldest.get(name)
            oldest_family.add_metric(
                (name,), max(0.0, (now - since).total_seconds()) if since else 0.0
            )
        up_family.add_metric((), 1)
        log.debug("store gauges read in %.3f s", time.monotonic() - started)
        return [backlog_family, oldest_family, dead_family, up_family]


class CaseCollector(Collector):
    """Gauges of electronic supervision read from the store at scrape time: open cases by
    light, and the case events waiting to be taken into their records."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "govhub_cases_open",
                "Open cases by supervision light (green, yellow, red; none: no time limit known).",
                labels=("light",),
            ),
            GaugeMetricFamily(
                "govhub_case_events_pending",
                "Case events accepted but not yet taken into their case's record.",
            ),
            GaugeMetricFamily(
                "govhub_case_events_pending_oldest_seconds",
                "Age of the oldest case event waiting to be taken into its record.",
            ),
            GaugeMetricFamily(
                "govhub_projects",
                "Projects of the approval flows by state (running, approved, rejected) and"
                " light, as last evaluated.",
                labels=("state", "light"),
            ),
        )

    def collect(self) -> Iterable[Metric]:
        open_family, pending_family, oldest_family, projects_family = self._families()
        try:
            lights = self.store.cases.open_by_light()
            pending, oldest = self.store.cases.backlog()
            projects = self.store.flows.by_state_and_light()
        except Exception:  # a scrape must answer even when the database does not
            log.exception("reading the case clocks for /metrics failed")
            return []
        for light in sorted(set(LIGHTS) | set(lights)):
            open_family.add_metric((light,), lights.get(light, 0))
        pending_family.add_metric((), pending)
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        oldest_family.add_metric((), max(0.0, age))
        for (state, light), count in sorted(projects.items()):
            projects_family.add_metric((state, light), count)
        return [open_family, pending_family, oldest_family, projects_family]
