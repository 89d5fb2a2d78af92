"""How each configured destination is doing: last check, last delivery, circuit, backlog.

``govhub adapters check`` and ``POST /api/v1/adapters/{name}/check`` run an adapter's
``check()`` and record the outcome here (one row per destination, in the store, so every
node shows the same); ``GET /api/v1/adapters`` and the ops console read it together with
the last delivery attempt, the dispatcher's circuit breakers and the backlog.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    desc,
    insert,
    select,
)

from adapters.sdk import Adapter, AdapterError, ConfigurationError, RejectedError, RetriableError
from hub.core.clock import format_time, utcnow
from hub.core.columns import UTCDateTime
from hub.core.identifiers import mask_text
from hub.store import Store
from hub.store.tables import attempts, deliveries, metadata

if TYPE_CHECKING:
    from hub.runtime import Hub

__all__ = [
    "CheckResult",
    "adapter_checks",
    "check_destinations",
    "destination_overview",
    "last_checks",
    "last_delivery",
    "record_check",
    "run_check",
]

#: The last check of each destination (one row each; a new check replaces it).
adapter_checks = Table(
    "adapter_checks",
    metadata,
    Column("destination", String(100), primary_key=True),
    Column("checked_at", UTCDateTime(), nullable=False),
    Column("ok", Boolean, nullable=False),
    # configuration | retriable | rejected | internal; NULL when ok
    Column("error_kind", String(20)),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Column("checked_by", String(100), nullable=False),
)
# Lets "the last delivery of a destination" be found without scanning its history.
Index("ix_deliveries_destination_updated_at", deliveries.c.destination, deliveries.c.updated_at)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one ``check()``."""

    destination: str
    adapter: str
    ok: bool
    checked_at: dt.datetime
    duration_ms: int
    error_kind: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the API and ``--json`` show it."""
        return {
            "destination": self.destination,
            "adapter": self.adapter,
            "ok": self.ok,
            "at": format_time(self.checked_at),
            "duration_ms": self.duration_ms,
            "error_kind": self.error_kind,
            "error": self.error,
        }


def _kind(error: AdapterError) -> str:
    if isinstance(error, ConfigurationError):
        return "configuration"
    if isinstance(error, RejectedError):
        return "rejected"
    if isinstance(error, RetriableError):
        return "retriable"
    return "internal"


def run_check(name: str, adapter: Adapter) -> CheckResult:
    """Run one adapter's ``check()``; never raises."""
    started = utcnow()
    clock = time.perf_counter()
    kind = message = None
    try:
        adapter.check()
    except AdapterError as error:
        kind, message = _kind(error), mask_text(str(error))[:1000]
    except Exception as error:  # an adapter bug is a failed check, not a crash of the CLI
        kind, message = "internal", f"the adapter failed: {type(error).__name__}"
    return CheckResult(
        destination=name,
        adapter=adapter.name,
        ok=kind is None,
        checked_at=started,
        duration_ms=int((time.perf_counter() - clock) * 1000),
        error_kind=kind,
        error=message,
    )


def check_destinations(
    adapters: Mapping[str, Adapter], names: Iterable[str] | None = None, *, parallel: int = 8
) -> list[CheckResult]:
    """Check several destinations at once (a slow one does not hold up the others).

    Raises:
        KeyError: A name is not a configured destination.
    """
    chosen = list(adapters) if names is None else list(names)
    for name in chosen:
        if name not in adapters:
            raise KeyError(name)
    if not chosen:
        return []
    with ThreadPoolExecutor(min(parallel, len(chosen)), thread_name_prefix="govhub-check") as pool:
        return list(pool.map(lambda name: run_check(name, adapters[name]), chosen))


def record_check(store: Store, result: CheckResult, *, actor: str) -> None:
    """Keep ``result`` as the destination's last check."""
    with store.write() as connection:
        connection.execute(
            delete(adapter_checks).where(adapter_checks.c.destination == result.destination)
        )
        connection.execute(
            insert(adapter_checks),
            {
                "destination": result.destination,
                "checked_at": result.checked_at,
                "ok": result.ok,
                "error_kind": result.error_kind,
                "error": result.error,
                "duration_ms": result.duration_ms,
                "checked_by": actor,
            },
        )


def last_checks(store: Store) -> dict[str, dict[str, Any]]:
    """The last recorded check of every destination that has one."""
    with store.read() as connection:
        rows = connection.execute(select(adapter_checks)).all()
    return {
        row.destination: {
            "at": format_time(row.checked_at),
            "ok": row.ok,
            "error_kind": row.error_kind,
            "error": row.error,
            "duration_ms": row.duration_ms,
            "by": row.checked_by,
        }
        for row in rows
    }


def last_delivery(store: Store, destination: str) -> dict[str, Any] | None:
    """The outcome of the most recent delivery attempt to ``destination``, if any."""
    with store.read() as connection:
        delivery = connection.execute(
            select(deliveries.c.id, deliveries.c.status)
            .where(deliveries.c.destination == destination, deliveries.c.attempts > 0)
            .order_by(desc(deliveries.c.updated_at))
            .limit(1)
        ).first()
        if delivery is None:
            return None
        attempt = connection.execute(
            select(attempts)
            .where(attempts.c.delivery_id == delivery.id)
            .order_by(desc(attempts.c.number))
            .limit(1)
        ).first()
    if attempt is None:  # pragma: no cover - attempts > 0 says there is one
        return None
    return {
        "delivery_id": delivery.id,
        "at": format_time(attempt.finished_at),
        "outcome": attempt.outcome,
        "status_code": attempt.status_code,
        "error": attempt.error,
    }


def _health(
    circuit: Mapping[str, Any] | None,
    check: Mapping[str, Any] | None,
    delivery: Mapping[str, Any] | None,
) -> str:
    if circuit is not None and circuit["state"] != "closed":
        return "down"
    events = []
    if check is not None:
        events.append((check["at"], bool(check["ok"])))
    if delivery is not None:
        # a dead letter is the message's fault: the counterpart answered
        events.append((delivery["at"], delivery["outcome"] in ("delivered", "dead")))
    if not events:
        return "unknown"
    return "ok" if max(events)[1] else "degraded"


def destination_overview(hub: Hub, *, with_settings: bool = False) -> list[dict[str, Any]]:
    """Every configured destination as ``GET /api/v1/adapters`` shows it.

    Circuit state and in-flight counts live in the dispatcher of the process that
    delivers; a node that only serves the web (``govhub serve``) shows them as ``null``.
    """
    circuits = hub.dispatcher.circuits() if hub.dispatching else {}
    backlog = hub.store.backlog()
    checks = last_checks(hub.store)
    overview = []
    for destination in hub.config.destinations:
        adapter = hub.adapters[destination.name]
        circuit = circuits.get(destination.name)
        in_flight = circuit.pop("in_flight", 0) if circuit is not None else None
        check = checks.get(destination.name)
        delivery = last_delivery(hub.store, destination.name)
        item: dict[str, Any] = {
            "name": destination.name,
            "adapter": adapter.name,
            "version": adapter.version,
            "accepts": list(adapter.accepts),
            "produces": list(adapter.produces),
            "health": _health(circuit, check, delivery),
            "last_check": check,
            "last_delivery": delivery,
            "circuit": circuit,
            "in_flight": in_flight,
            "backlog": backlog.get(destination.name, 0),
        }
        if with_settings:
            item["settings"] = adapter.describe()
        overview.append(item)
    return overview
