"""The dispatcher: claims due deliveries, hands them to adapters, records every attempt.

One loop thread claims deliveries with a lease and submits them to a pool of worker
threads. Capacity is counted per destination (``max_in_flight``) and gated by each
destination's circuit breaker, so a slow or broken counterpart holds back only its own
deliveries. Retries are written to the store as ``next_attempt_at``: a restart forgets
nothing, and a worker that dies loses its lease to whoever claims next.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from tenacity import RetryCallState, wait_exponential_jitter

from adapters.sdk import Adapter, Attempt, ConfigurationError, RejectedError, RetriableError
from hub.config import Destination as DestinationConfig
from hub.config import DispatcherConfig, RetryPolicy
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.events import AttemptRecorded, Events
from hub.observability.logs import log_context
from hub.observability.tracing import continued_from, span
from hub.pipeline.circuit import CircuitBreaker
from hub.store import Claim, Outcome, Store

__all__ = ["Dispatcher", "retry_delay"]

log = logging.getLogger("govhub.dispatcher")
#: How often the loop records in the store that it is alive.
BEAT_EVERY_S = 2.0
#: How long the loop waits, after a claim, for more workers to come free before it claims
#: again: one claim for several free workers instead of a claim (a write) per worker.
GATHER_S = 0.005


@functools.cache
def _strategy(policy: RetryPolicy) -> wait_exponential_jitter:
    return wait_exponential_jitter(
        multiplier=policy.backoff_initial_s,
        max=policy.backoff_max_s,
        jitter=policy.backoff_initial_s,
    )


def retry_delay(
    policy: RetryPolicy, attempt_number: int, retry_after: float | None = None
) -> float:
    """Seconds to wait before the next attempt: exponential with jitter, capped.

    A counterpart's ``Retry-After`` is honoured when it asks for longer.
    """
    strategy = _strategy(policy)
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt_number
    delay = float(strategy(state))
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.backoff_max_s))
    return delay


class Dispatcher:
    """Delivers what the store holds, until stopped.

    Args:
        store: The message store.
        adapters: The built destinations by name.
        destinations: Their configuration (retry, circuit, ``max_in_flight``).
        settings: Worker count, poll interval, lease length, claim batch.
        prepare: Turns a claim into the message its adapter gets (route transforms);
            it may raise the adapter errors, which count as the attempt's outcome.
        events: Told of every attempt recorded (:class:`~hub.events.AttemptRecorded`).
    """

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        destinations: Mapping[str, DestinationConfig],
        settings: DispatcherConfig,
        prepare: Callable[[Claim], Envelope] | None = None,
        events: Events | None = None,
    ) -> None:
        self.store = store
        self.prepare = prepare
        self.adapters = dict(adapters)
        self.destinations = dict(destinations)
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"
        self.breakers = {name: CircuitBreaker(d.circuit) for name, d in self.destinations.items()}
        self.events = events if events is not None else Events()
        self._lock = threading.Lock()
        self._in_flight: dict[str, set[str]] = {name: set() for name in self.destinations}
        # Attempts under way per adapter instance (by id): a reload retires an adapter,
        # which is closed once the last attempt that started with it has ended.
        self._using: dict[int, int] = {}
        self._retired: list[Adapter] = []
        # Destinations a reload removed, kept (with their old settings) for the
        # deliveries routed to them before: each one ends delivered or dead.
        self._draining: dict[str, _Target] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._recover = True
        self.heartbeat = 0.0
        self.listening = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the loop and the worker pool."""
        self._pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="govhub-worker")
        self._thread = threading.Thread(target=self._run, name="govhub-dispatcher", daemon=True)
        self._thread.start()
        # Accepts elsewhere (other processes, other nodes) wake this loop; polling remains
        # the fallback where nobody can tell it (a second dispatcher on one SQLite file).
        self.listening = self.store.db.dialect.listen(self.wake, self._stopping)

    def wake(self) -> None:
        """Look for work now (called after a message is accepted)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, let running deliveries finish, give back what was not started."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.store.deliveries.release(self.owner)
        with contextlib.suppress(Exception):
            self.store.nodes.remove_node(self.owner)
        with self._lock:
            closing = [
                *self.adapters.values(),
                *self._retired,
                *(target.adapter for target in self._draining.values()),
            ]
            self._retired.clear()
            self._draining.clear()
        for adapter in closing:
            adapter.close()

    def use(
        self, adapters: Mapping[str, Adapter], destinations: Mapping[str, DestinationConfig]
    ) -> None:
        """Deliver with these destinations from now on (a reload), in one swap.

        Deliveries already claimed finish with the adapter they were claimed for; an
        adapter no longer used is closed when its last attempt ends. A destination
        defined as before keeps its adapter and its circuit breaker. A destination no
        longer configured *drains*: its open deliveries (routed to it before) are still
        claimed and delivered with its old settings, until this process stops; a later
        configuration that names it again takes over.
        """
        with self._lock:
            if self._thread is not None:
                for name, adapter in self.adapters.items():
                    if name not in adapters:
                        self._draining[name] = _Target(
                            adapter, self.destinations[name], self.breakers[name]
                        )
            for name, adapter in adapters.items():
                drained = self._draining.pop(name, None)
                if drained is not None and drained.adapter is not adapter:
                    self._retired.append(drained.adapter)
            breakers: dict[str, CircuitBreaker] = {}
            for name, destination in destinations.items():
                breaker = self.breakers.get(name)
                same = self.adapters.get(name) is adapters.get(name)
                if breaker is None or not same or self.destinations.get(name) != destination:
                    breaker = CircuitBreaker(destination.circuit)
                breakers[name] = breaker
                self._in_flight.setdefault(name, set())
            kept = {id(adapter) for adapter in adapters.values()}
            kept |= {id(target.adapter) for target in self._draining.values()}
            self._retired.extend(a for a in self.adapters.values() if id(a) not in kept)
            self.adapters = dict(adapters)
            self.destinations = dict(destinations)
            self.breakers = breakers
            closing = self._unused_retired()
        for adapter in closing:
            adapter.close()
        self._wake.set()

    def _unused_retired(self) -> list[Adapter]:
        """Retired adapters no attempt uses any more (called holding the lock)."""
        unused = [a for a in self._retired if not self._using.get(id(a))]
        self._retired = [a for a in self._retired if self._using.get(id(a))]
        return unused

    @property
    def alive(self) -> bool:
        """True while the loop runs and has turned over recently."""
        age = self.heartbeat_age_s()
        fresh = age is not None and age < self.heartbeat_limit_s
        return self._thread is not None and self._thread.is_alive() and fresh

    @property
    def heartbeat_limit_s(self) -> float:
        """How old the loop's last turn may be before the dispatcher counts as stuck."""
        return max(10.0, 5 * self.settings.poll_interval_s)

    def heartbeat_age_s(self) -> float | None:
        """Seconds since the loop last turned over; ``None`` before it first ran."""
        return None if self.heartbeat == 0.0 else time.monotonic() - self.heartbeat

    def circuits(self) -> dict[str, dict[str, Any]]:
        """Circuit state and load per destination, for ``GET /api/v1/adapters``."""
        with self._lock:
            busy = {name: len(ids) for name, ids in self._in_flight.items()}
        return {
            name: {**breaker.snapshot().to_json(), "in_flight": busy.get(name, 0)}
            for name, breaker in self.breakers.items()
        }

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        last_renewal = time.monotonic()
        last_beat = 0.0
        while not self._stopping.is_set():
            self.heartbeat = time.monotonic()
            if self.heartbeat - last_beat > BEAT_EVERY_S:
                # in the store, so a web-only process (govhub run's) can tell one delivers
                with contextlib.suppress(Exception):
                    self.store.nodes.beat(self.owner, utcnow(), kind="dispatcher")
                last_beat = self.heartbeat
            claimed = 0
            try:
                claimed = self._claim_and_submit()
                if time.monotonic() - last_renewal > self.settings.lease_s / 3:
                    self._renew_leases()
                    last_renewal = time.monotonic()
                    self._recover = True
            except Exception:  # the loop must survive a database hiccup
                log.exception("dispatcher loop failed; retrying")
                claimed = 0
            if claimed:
                self._gather()
                continue
            self._wake.wait(self._sleep_for())
            self._wake.clear()

    def _sleep_for(self) -> float:
        poll = self.settings.poll_interval_s
        # Without room, only a finished delivery (which wakes the loop) or the poll can
        # change anything: asking the store when work falls due would be wasted.
        due = self.store.deliveries.next_due() if self._room() else None
        if due is None:
            return poll
        return min(poll, max(0.01, (due - utcnow()).total_seconds()))

    def _gather(self) -> None:
        """Wait (briefly) until there is room for a quarter of a claim batch."""
        enough = max(1, min(self.settings.batch, self.settings.workers) // 4)
        deadline = time.monotonic() + GATHER_S
        while not self._stopping.is_set():
            if self._room() >= enough:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(left)
            self._wake.clear()

    def _free_workers(self) -> int:
        with self._lock:
            return self.settings.workers - sum(len(ids) for ids in self._in_flight.values())

    def _capacity(self) -> dict[str, int]:
        """Free slots per destination: ``max_in_flight`` less its running, within the
        circuit's permits."""
        capacity: dict[str, int] = {}
        with self._lock:
            for name, destination in self.destinations.items():
                slots = destination.max_in_flight - len(self._in_flight[name])
                permits = self.breakers[name].permits()
                capacity[name] = slots if permits is None else min(slots, permits)
            for name, target in self._draining.items():
                slots = target.destination.max_in_flight - len(self._in_flight[name])
                permits = target.breaker.permits()
                capacity[name] = slots if permits is None else min(slots, permits)
        return capacity

    def _room(self) -> int:
        """How many deliveries a claim could start now."""
        return min(self._free_workers(), sum(max(0, n) for n in self._capacity().values()))

    def _claim_and_submit(self) -> int:
        free = self._free_workers()
        if free <= 0 or self._pool is None:
            return 0
        capacity = self._capacity()
        claims = self.store.deliveries.claim(
            self.owner,
            capacity=capacity,
            lease_s=self.settings.lease_s,
            limit=min(free, self.settings.batch),
            recover=self._recover,
        )
        self._recover = False
        for claim in claims:
            with self._lock:
                # what this delivery is worked with, whatever a reload changes meanwhile
                target = self._draining.get(claim.destination) or _Target(
                    self.adapters[claim.destination],
                    self.destinations[claim.destination],
                    self.breakers[claim.destination],
                )
                self._in_flight[claim.destination].add(claim.delivery_id)
                self._using[id(target.adapter)] = self._using.get(id(target.adapter), 0) + 1
            target.breaker.started()
            self._pool.submit(self._work, claim, target)
        return len(claims)

    def _renew_leases(self) -> None:
        with self._lock:
            ids = [d for ids in self._in_flight.values() for d in ids]
        self.store.deliveries.renew_leases(self.owner, ids, self.settings.lease_s)

    # ------------------------------------------------------------------ one delivery

    def _work(self, claim: Claim, target: _Target) -> None:
        # Each attempt continues the trace the message was accepted in (its envelope
        # keeps the context), so the receiver sees the sender's trace id.
        with (
            span(
                "deliver",
                kind=SpanKind.CLIENT,
                parent=continued_from(claim.envelope.headers),
                attributes={
                    "govhub.destination": claim.destination,
                    "govhub.delivery.id": claim.delivery_id,
                    "govhub.message.id": claim.envelope.id,
                    "govhub.message.type": claim.envelope.type,
                    "govhub.attempt": claim.attempts + 1,
                },
            ) as current,
            log_context(
                message_id=claim.envelope.id,
                correlation_id=claim.envelope.correlation_id,
                destination=claim.destination,
                delivery_id=claim.delivery_id,
            ),
        ):
            self._work_in_context(claim, target, current)

    def _work_in_context(self, claim: Claim, target: _Target, current: Span) -> None:
        try:
            outcome = self._attempt(claim, target)
            _describe(current, outcome)
            log.debug(
                "attempt %d to deliver %s: %s%s",
                claim.attempts + 1,
                claim.envelope.id,
                outcome.status,
                f" (HTTP {outcome.status_code})" if outcome.status_code is not None else "",
            )
            if not self.store.deliveries.finish(claim, self.owner, _worker_name(), outcome):
                log.warning("lease lost on delivery %s; another worker owns it", claim.delivery_id)
            else:
                self.events.emit(AttemptRecorded(claim, outcome))
        except Exception:
            log.exception("recording delivery %s failed; its lease will expire", claim.delivery_id)
        finally:
            with self._lock:
                self._in_flight[claim.destination].discard(claim.delivery_id)
                self._using[id(target.adapter)] -= 1
                if not self._using[id(target.adapter)]:
                    del self._using[id(target.adapter)]
                closing = self._unused_retired() if self._retired else []
            for adapter in closing:
                adapter.close()
            self._wake.set()

    def _attempt(self, claim: Claim, target: _Target) -> Outcome:
        destination, breaker, adapter = target.destination, target.breaker, target.adapter
        number = claim.attempts + 1
        started = utcnow()
        extra = {
            "message_id": claim.envelope.id,
            "correlation_id": claim.envelope.correlation_id,
            "destination": claim.destination,
            "delivery_id": claim.delivery_id,
        }
        try:
            message = claim.envelope if self.prepare is None else self.prepare(claim)
            receipt = adapter.deliver(
                message, Attempt(claim.delivery_id, claim.destination, number)
            )
        except RejectedError as error:
            breaker.succeeded()  # the counterpart is up; this message is the problem
            log.warning("delivery rejected: %s", error, extra=extra)
            return Outcome(
                "dead", started, utcnow(), status_code=error.status_code, error=str(error)
            )
        except ConfigurationError as error:
            breaker.failed(str(error), trip=True)
            log.error("destination misconfigured, pausing it: %s", error, extra=extra)
            return self._retry(
                destination.retry,
                number,
                started,
                f"configuration: {error}",
                error.status_code,
                destination.circuit.open_s,
            )
        except RetriableError as error:
            breaker.failed(str(error))
            return self._retry(
                destination.retry, number, started, str(error), error.status_code, error.retry_after
            )
        except Exception as error:  # an adapter bug must not lose the message
            breaker.failed(type(error).__name__)
            log.exception("adapter %s raised unexpectedly", adapter.name, extra=extra)
            return self._retry(
                destination.retry,
                number,
                started,
                f"internal error: {type(error).__name__}",
                None,
                None,
            )
        breaker.succeeded()
        return Outcome(
            "delivered",
            started,
            utcnow(),
            status_code=receipt.status_code,
            receipt=receipt.to_json(),
        )

    @staticmethod
    def _retry(
        policy: RetryPolicy,
        number: int,
        started: dt.datetime,
        error: str,
        status_code: int | None,
        retry_after: float | None,
    ) -> Outcome:
        finished = utcnow()
        if number >= policy.max_attempts:
            return Outcome(
                "dead",
                started,
                finished,
                status_code=status_code,
                error=f"gave up after {number} attempts: {error}",
            )
        delay = retry_delay(policy, number, retry_after)
        return Outcome(
            "retry",
            started,
            finished,
            status_code=status_code,
            error=error,
            next_attempt_at=finished + dt.timedelta(seconds=delay),
        )


def _describe(current: Span, outcome: Outcome) -> None:
    """What the attempt's span says of its outcome (the error text stays in the store:
    a counterpart's answer may quote personal data)."""
    if not current.is_recording():
        return
    current.set_attribute("govhub.outcome", outcome.status)
    if outcome.status_code is not None:
        current.set_attribute("http.response.status_code", outcome.status_code)
    if outcome.status != "delivered":
        current.set_status(Status(StatusCode.ERROR, outcome.status))


@dataclass(frozen=True, slots=True)
class _Target:
    """What one delivery is worked with: its destination as it was when claimed."""

    adapter: Adapter
    destination: DestinationConfig
    breaker: CircuitBreaker


def _worker_name() -> str:
    return threading.current_thread().name
