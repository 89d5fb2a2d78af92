"""Read-only aggregates over the store, for the ops console and ``/metrics``.

Everything here is computed on demand from the tables, so every node of a cluster shows
the same numbers and a restart loses none of them. Time buckets use a portable ``CASE``
over the bucket bounds instead of database date functions, so SQLite and PostgreSQL run
the same SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.sql import ColumnElement

from hub.core.clock import utcnow
from hub.store.database import Database
from hub.store.tables import attempts, deliveries, messages

__all__ = ["Bucket", "DestinationSeries", "DestinationTraffic", "Series", "Stats"]

_OPEN = ("pending", "inflight")


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar of a chart: counts by a category in ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All categories together."""
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Series:
    """Consecutive buckets ending now."""

    buckets: tuple[Bucket, ...]

    @property
    def total(self) -> int:
        """Everything in the window."""
        return sum(b.total for b in self.buckets)

    @property
    def peak(self) -> int:
        """The tallest bar (at least 1, so charts can divide by it)."""
        return max([b.total for b in self.buckets] + [1])

    def category_total(self, category: str) -> int:
        """One category over the whole window."""
        return sum(b.counts.get(category, 0) for b in self.buckets)


def _bounds(window: dt.timedelta, count: int, now: dt.datetime) -> list[dt.datetime]:
    width = window / count
    start = now - window
    return [start + width * i for i in range(count + 1)]


def _bucket_index(column: Any, bounds: Sequence[dt.datetime]) -> ColumnElement[Any]:
    """The bucket a row falls in, as nested ``CASE``: a binary search over the bounds, so
    each row costs log2(buckets) comparisons (rows are already limited to the window)."""

    def search(low: int, high: int) -> Any:
        if high - low == 1:
            return literal(low)
        middle = (low + high) // 2
        return case((column >= bounds[middle], search(middle, high)), else_=search(low, middle))

    index: ColumnElement[Any] = search(0, len(bounds) - 1)
    return index


def _series(rows: Sequence[Any], bounds: Sequence[dt.datetime]) -> Series:
    counts: list[dict[str, int]] = [{} for _ in range(len(bounds) - 1)]
    for index, category, number in rows:
        if 0 <= index < len(counts):
            counts[index][category] = counts[index].get(category, 0) + int(number)
    return Series(
        tuple(Bucket(bounds[i], bounds[i + 1], counts[i]) for i in range(len(bounds) - 1))
    )


@dataclass(frozen=True, slots=True)
class DestinationTraffic:
    """What one destination did over a window.

    Attributes:
        attempts: Attempts by outcome (``delivered``, ``retry``, ``dead``).
        mean_ms: Mean attempt duration, when there were attempts.
    """

    attempts: dict[str, int]
    mean_ms: float | None

    @property
    def total(self) -> int:
        """Every attempt."""
        return sum(self.attempts.values())

    @property
    def error_rate(self) -> float | None:
        """Share of attempts that did not deliver; ``None`` without attempts."""
        if not self.total:
            return None
        return 1 - self.attempts.get("delivered", 0) / self.total


@dataclass(frozen=True, slots=True)
class DestinationSeries:
    """One destination's attempts over time: how many, how they ended, how long they took.

    Attributes:
        attempts: Attempts finished per bucket, by outcome (delivered/retry/dead).
        mean_ms: Mean attempt duration per bucket; ``None`` where there was none.
    """

    attempts: Series
    mean_ms: tuple[float | None, ...]


class Stats:
    """Aggregates for charts and metrics.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def message_series(
        self, window: dt.timedelta, count: int, *, now: dt.datetime | None = None
    ) -> Series:
        """Messages accepted per bucket over ``window``, by channel."""
        return self._series(messages.c.created_at, messages.c.channel, window, count, now)

    def attempt_series(
        self, window: dt.timedelta, count: int, *, now: dt.datetime | None = None
    ) -> Series:
        """Attempts finished per bucket over ``window``, by outcome (delivered/retry/dead)."""
        return self._series(attempts.c.finished_at, attempts.c.outcome, window, count, now)

    def _series(
        self,
        moment: Any,
        category: Any,
        window: dt.timedelta,
        count: int,
        now: dt.datetime | None,
    ) -> Series:
        """Rows counted per time bucket (by ``moment``) and ``category``."""
        bounds = _bounds(window, count, now or utcnow())
        index = _bucket_index(moment, bounds).label("bucket")
        query = (
            select(index, category, func.count())
            .where(moment >= bounds[0], moment < bounds[-1])
            .group_by(index, category)
        )
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        return _series(rows, bounds)

    def dead_letters_by_destination(self) -> dict[str, int]:
        """Dead letters waiting for ops, per destination."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(deliveries.c.destination, func.count())
                .where(deliveries.c.status == "dead")
                .group_by(deliveries.c.destination)
            ).all()
        return {name: int(number) for name, number in rows}

    def oldest_pending(self) -> dict[str, dt.datetime]:
        """When the oldest open delivery of each destination was accepted."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(deliveries.c.destination, func.min(deliveries.c.created_at))
                .where(deliveries.c.status.in_(_OPEN))
                .group_by(deliveries.c.destination)
            ).all()
        return {name: moment for name, moment in rows if moment is not None}

    def destination_traffic(
        self, window: dt.timedelta, *, now: dt.datetime | None = None
    ) -> dict[str, DestinationTraffic]:
        """Attempts per destination and outcome over the last ``window``."""
        since = (now or utcnow()) - window
        query = (
            select(
                deliveries.c.destination,
                attempts.c.outcome,
                func.count(),
                func.avg(attempts.c.duration_ms),
            )
            .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
            .where(attempts.c.finished_at >= since)
            .group_by(deliveries.c.destination, attempts.c.outcome)
        )
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        outcomes: dict[str, dict[str, int]] = {}
        weighted: dict[str, float] = {}
        for destination, outcome, number, mean in rows:
            outcomes.setdefault(destination, {})[outcome] = int(number)
            weighted[destination] = weighted.get(destination, 0.0) + float(mean or 0) * int(number)
        return {
            name: DestinationTraffic(
                attempts=counts,
                mean_ms=weighted[name] / sum(counts.values()) if sum(counts.values()) else None,
            )
            for name, counts in outcomes.items()
        }

    def destination_series(
        self,
        window: dt.timedelta,
        count: int,
        *,
        destinations: Sequence[str] = (),
        now: dt.datetime | None = None,
    ) -> dict[str, DestinationSeries]:
        """Per destination, attempts per bucket over ``window`` by outcome, and their mean
        duration: throughput, errors and latency over time, in one query. Every name in
        ``destinations`` gets a series, empty buckets if it had no attempts."""
        bounds = _bounds(window, count, now or utcnow())
        index = _bucket_index(attempts.c.finished_at, bounds).label("bucket")
        query = (
            select(
                deliveries.c.destination,
                index,
                attempts.c.outcome,
                func.count(),
                func.sum(attempts.c.duration_ms),
            )
            .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
            .where(attempts.c.finished_at >= bounds[0], attempts.c.finished_at < bounds[-1])
            .group_by(deliveries.c.destination, index, attempts.c.outcome)
        )
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        by_destination: dict[str, list[Any]] = {name: [] for name in destinations}
        for destination, bucket, outcome, number, total_ms in rows:
            by_destination.setdefault(destination, []).append((bucket, outcome, number, total_ms))
        found: dict[str, DestinationSeries] = {}
        for destination, items in by_destination.items():
            numbers = [0] * count
            durations = [0.0] * count
            for bucket, _outcome, number, total_ms in items:
                if 0 <= bucket < count:
                    numbers[bucket] += int(number)
                    durations[bucket] += float(total_ms or 0)
            found[destination] = DestinationSeries(
                attempts=_series([(b, o, n) for b, o, n, _ in items], bounds),
                mean_ms=tuple(
                    durations[i] / numbers[i] if numbers[i] else None for i in range(count)
                ),
            )
        return found
