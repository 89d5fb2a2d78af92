"""Replaying stored messages: a request checked whole, then carried out batch by batch.

A replay sends the messages a filter chooses (type, period, case number...) again, to
named destinations or to where the current routes say, as new deliveries (see
:mod:`hub.store.replays` for why new, and how a stopped replay goes on). Before anything
is stored the request is checked: a filter that names nothing (unless ``everything``),
a period that ends before it starts, an unknown destination, or a destination whose
adapter does not take a type among the chosen messages refuse the whole request.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from adapters.sdk import Adapter
from hub.core.clock import HUB_TZ, parse_time
from hub.core.envelope import Envelope
from hub.core.errors import FieldError
from hub.pipeline.routing import Router
from hub.store import MessageFilter, ReplayPreview, ReplayRecord, Store
from hub.store.replays import Targets

__all__ = [
    "MessageReplays",
    "ReplayRefused",
    "ReplayRequest",
    "period_bound",
]

log = logging.getLogger("govhub.replay")

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOUND = "must be a day (2026-11-01) or a time with an offset (2026-11-01T08:00:00+08:00)"


def period_bound(text: str, *, end: bool = False) -> dt.datetime:
    """One end of a period: RFC 3339 with an offset, or a day ``YYYY-MM-DD`` in Beijing time.

    Args:
        text: The bound as given.
        end: It is the end of the period: a day then counts whole (up to the next
            midnight, excluded), so ``--until 2026-11-30`` includes the 30th.

    Raises:
        ValueError: Neither a day nor a time with an offset.
    """
    value = text.strip()
    if _DAY.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("is no day of the calendar") from None
        if end:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(), HUB_TZ)
    if "T" not in value.upper():
        raise ValueError(_BOUND)
    try:
        return parse_time(value)
    except ValueError:
        raise ValueError(_BOUND) from None


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """What to replay, where to, and why.

    Attributes:
        where: Which messages (type glob, period, case number, source, status, or a
            destination they had a delivery to).
        to: The destinations; ``None`` for where the current routes say.
        reason: Why, for the audit trail.
        missing_only: Only to destinations that never had the message.
        everything: The filter may be empty (every stored message): said on purpose.
    """

    where: MessageFilter
    to: tuple[str, ...] | None
    reason: str
    missing_only: bool = False
    everything: bool = False


class ReplayRefused(Exception):
    """A replay request that cannot be carried out; nothing was stored.

    Args:
        errors: What is wrong, field by field.
        by_configuration: Only the hub's configuration stands in the way (a destination it
            does not have, or one whose adapter does not take a chosen type), not the
            request's own sense.
    """

    def __init__(self, errors: Sequence[FieldError], *, by_configuration: bool = False) -> None:
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = list(errors)
        self.by_configuration = by_configuration


def _filters(where: MessageFilter) -> bool:
    return bool(
        where.type
        or where.correlation_id
        or where.source
        or where.status
        or where.destination
        or where.since
        or where.until
    )


class MessageReplays:
    """Replays as the hub runs them: checked against its destinations and routes.

    Args:
        store: The store.
        routes: The routes in force now (read when a replay runs, so a reload counts).
        destinations: The adapter class of each configured destination, now.
        wake: Called after each batch (the dispatcher has new deliveries).
    """

    def __init__(
        self,
        store: Store,
        routes: Callable[[], Router],
        destinations: Callable[[], Mapping[str, type[Adapter]]],
        *,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self._routes = routes
        self._destinations = destinations
        self._wake = wake
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ checking

    def check(self, request: ReplayRequest, *, dry_run: bool = False) -> None:
        """Refuse a request that cannot be carried out as asked.

        Args:
            request: The request.
            dry_run: Only counting: no reason needed, since nothing changes.

        Raises:
            ReplayRefused: Naming each field that is wrong.
        """
        errors: list[FieldError] = []
        where = request.where
        if not dry_run and not request.reason.strip():
            errors.append(FieldError("reason", "say why: it is kept in the audit trail"))
        if not _filters(where) and not request.everything:
            errors.append(
                FieldError(
                    "filter",
                    "name the messages (type, correlation_id, since/until, source, status or"
                    " from_destination), or ask for all of them on purpose (all)",
                )
            )
        if where.since is not None and where.until is not None and where.until <= where.since:
            errors.append(FieldError("until", "must be after since (the period is empty)"))
        configuration = self._check_destinations(request) if request.to is not None else []
        if errors or configuration:
            raise ReplayRefused(errors + configuration, by_configuration=not errors)

    def _check_destinations(self, request: ReplayRequest) -> list[FieldError]:
        assert request.to is not None
        if not request.to:
            return [FieldError("to", "name a destination, or replay to the current routes")]
        configured = self._destinations()
        errors = []
        types: list[str] | None = None
        for index, name in enumerate(request.to):
            adapter = configured.get(name)
            if adapter is None:
                known = ", ".join(sorted(configured)) or "none"
                errors.append(
                    FieldError(f"to[{index}]", f"no destination {name!r} (configured: {known})")
                )
                continue
            if types is None:
                types = self.store.replays.measure(request.where)[2]
            refused = [kind for kind in types if not adapter.can_deliver(kind)]
            if refused:
                errors.append(
                    FieldError(
                        f"to[{index}]",
                        f"destination {name!r} ({adapter.name}) does not accept"
                        f" {', '.join(refused)} (it accepts"
                        f" {', '.join(adapter.accepts) or 'nothing'}); narrow the type",
                    )
                )
        return errors

    # ------------------------------------------------------------------ replaying

    def preview(self, request: ReplayRequest, *, batch: int = 500) -> Iterator[ReplayPreview]:
        """A dry run: what would go where, counted batch by batch; nothing is written.

        Raises:
            ReplayRefused: The request cannot be carried out.
        """
        self.check(request, dry_run=True)
        return self.store.replays.preview(
            request.where,
            self._targets(request.to),
            missing_only=request.missing_only,
            batch=batch,
        )

    def begin(self, request: ReplayRequest, *, actor: str) -> ReplayRecord:
        """Check a request and record it as a replay (audited); :meth:`run` sends.

        Raises:
            ReplayRefused: The request cannot be carried out; nothing was stored.
        """
        self.check(request)
        return self.store.replays.begin(
            request.where,
            to=request.to,
            missing_only=request.missing_only,
            actor=actor,
            reason=request.reason.strip(),
        )

    def resume(self, replay_id: str, *, actor: str, reason: str) -> ReplayRecord:
        """Take up a replay that stopped before it was done (audited as
        ``messages.replay_resume``).

        Raises:
            KeyError: No such replay.
        """
        record = self.store.replays.get(replay_id)
        if record is None:
            raise KeyError(replay_id)
        if record.status != "done":
            self.store.audit.record(
                actor,
                "messages.replay_resume",
                replay_id,
                {"scanned": record.scanned, "created": record.created, "reason": reason},
            )
        return record

    def run(self, replay_id: str, *, batch: int = 500) -> Iterator[ReplayRecord]:
        """Carry a replay out (or on), yielding it after each committed batch.

        Raises:
            KeyError: No such replay.
        """
        record = self.store.replays.get(replay_id)
        if record is None:
            raise KeyError(replay_id)
        targets = self._targets(record.to)
        for progress in self.store.replays.run(replay_id, targets, batch=batch):
            if progress.created:
                self._wake()
            yield progress
            if self._stopping.is_set():
                return

    def run_in_background(self, replay_id: str, *, batch: int = 500) -> None:
        """Carry a replay out on a thread of its own (for the web face, which answers 202)."""

        def work() -> None:
            try:
                for _progress in self.run(replay_id, batch=batch):
                    pass
            except Exception:  # the replay stays running: `--resume` takes it up
                log.exception("replay %s stopped", replay_id)

        thread = threading.Thread(target=work, name=f"replay-{replay_id}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop background replays after their current batch (they can be resumed)."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _targets(self, to: Sequence[str] | None) -> Targets:
        router = self._routes()
        if to is None:
            return router.targets
        chosen = tuple(to)

        def named(envelope: Envelope) -> list[tuple[str, str | None]]:
            # the route that takes the message there now, if any: its transform applies
            routed = dict(router.targets(envelope))
            return [(name, routed.get(name)) for name in chosen]

        return named
