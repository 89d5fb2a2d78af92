"""How each configured destination is doing: last check, last delivery, circuit, backlog.

``govhub adapters check`` and ``POST /api/v1/adapters/{name}/check`` run an adapter's
``check()`` and record the outcome here (one row per destination, in the store, so every
node shows the same); ``GET /api/v1/adapters`` and the ops console read it together with
the last delivery attempt, the dispatcher's circuit breakers and the backlog.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from adapters.sdk import Adapter, AdapterError, ConfigurationError, RejectedError, RetriableError
from hub.core.clock import utcnow
from hub.core.identifiers import mask_text
from hub.store.records import CheckResult

if TYPE_CHECKING:
    from hub.runtime import Hub

__all__ = ["check_destinations", "destination_overview", "run_check"]


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
    backlog = hub.store.deliveries.backlog()
    checks = hub.store.checks.last_checks()
    overview = []
    config = hub.config
    adapters = hub.adapters  # read after the config: a reload swaps the adapters first
    for destination in config.destinations:
        adapter = adapters.get(destination.name)
        if adapter is None:  # removed by a reload this very moment
            continue
        circuit = circuits.get(destination.name)
        in_flight = circuit.pop("in_flight", 0) if circuit is not None else None
        check = checks.get(destination.name)
        delivery = hub.store.checks.last_delivery(destination.name)
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
