"""What a scheduled job is: its id, when it runs, what it uses and what it publishes.

A job is a function of a :class:`~hub.scheduler.context.JobContext`, declared with
:func:`job`::

    @job("hall.pull_applications", every=minutes(1), adapter="provincial_hall",
         publishes=("case.submitted",))
    def pull_applications(ctx: JobContext) -> None:
        ...

and registered as an entry point of the group ``govhub.jobs``. The configuration
(``[jobs."<id>"]``) may override the trigger, timeout, misfire policy and timezone.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from hub.scheduler.context import JobContext

__all__ = [
    "JOB_ID",
    "JobFunction",
    "JobSpec",
    "Misfire",
    "Trigger",
    "days",
    "default_timeout",
    "hours",
    "job",
    "minutes",
    "seconds",
]

JobFunction = Callable[["JobContext"], None]

#: Dotted lower-case names: ``hall.pull_applications``, ``hub.retention``.
JOB_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")

#: Interval due times are counted from this moment in the job's timezone (a Monday
#: midnight), so every process computes the same due times: the claim key depends on it.
INTERVAL_ANCHOR = dt.datetime(2000, 1, 3)

#: Default timeout for cron jobs; interval jobs default to their interval, capped here.
DEFAULT_TIMEOUT = dt.timedelta(minutes=10)


class Misfire(StrEnum):
    """What to do with a due time that could not run on time.

    A due time misfires when no scheduler was running at the time (the hub was down),
    when the scheduler noticed it late, or when the previous run was still going.
    """

    #: Run once, as soon as possible: missed due times collapse into one run.
    RUN_ONCE = "run_once"
    #: Record the due time as skipped and wait for the next one.
    SKIP = "skip"


def seconds(count: float) -> dt.timedelta:
    """A duration of ``count`` seconds."""
    return dt.timedelta(seconds=count)


def minutes(count: float) -> dt.timedelta:
    """A duration of ``count`` minutes."""
    return dt.timedelta(minutes=count)


def hours(count: float) -> dt.timedelta:
    """A duration of ``count`` hours."""
    return dt.timedelta(hours=count)


def days(count: float) -> dt.timedelta:
    """A duration of ``count`` days."""
    return dt.timedelta(days=count)


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a job is due: every fixed interval, or on a cron schedule.

    Interval due times are aligned to midnight (``every=minutes(10)`` is due at :00,
    :10, :20...) in the job's timezone; cron expressions are the five classic fields
    (minute hour day month weekday), read in the job's timezone.

    Raises:
        ValueError: Neither or both given, an interval that is not a whole number of
            seconds (at least 1), or a cron expression that does not parse.
    """

    every: dt.timedelta | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give either an interval (every) or a cron expression, not both")
        if self.every is not None:
            total = self.every.total_seconds()
            if total < 1 or total != int(total):
                raise ValueError("an interval must be a whole number of seconds, at least 1")
        if self.cron is not None:
            try:
                CronTrigger.from_crontab(self.cron, timezone=ZoneInfo("UTC"))
            except ValueError as error:
                raise ValueError(f"not a cron expression ({error})") from None

    @property
    def kind(self) -> str:
        """``interval`` or ``cron``."""
        return "interval" if self.every is not None else "cron"

    def build(self, timezone: ZoneInfo) -> Any:
        """The APScheduler trigger that computes the due times."""
        if self.every is not None:
            return IntervalTrigger(
                seconds=int(self.every.total_seconds()),
                start_date=INTERVAL_ANCHOR.replace(tzinfo=timezone),
                timezone=timezone,
            )
        assert self.cron is not None
        return CronTrigger.from_crontab(self.cron, timezone=timezone)

    def next_due(self, timezone: ZoneInfo, at_or_after: dt.datetime) -> dt.datetime | None:
        """The first due time at or after a moment (whole seconds)."""
        moment: dt.datetime | None = self.build(timezone).get_next_fire_time(None, at_or_after)
        if moment is None:
            return None
        if moment.microsecond:  # the trigger rounds up to whole seconds; keep that explicit
            moment = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
        return moment

    def latest_due(
        self, timezone: ZoneInfo, after: dt.datetime, up_to: dt.datetime
    ) -> dt.datetime | None:
        """The last due time in ``(after, up_to]``, or ``None`` if there is none."""
        first = self.next_due(timezone, after + dt.timedelta(microseconds=1))
        if first is None or first > up_to:
            return None
        if self.every is not None:
            step = self.every.total_seconds()
            # Timestamp arithmetic, as APScheduler's interval trigger does (DST-proof).
            anchor = INTERVAL_ANCHOR.replace(tzinfo=timezone).timestamp()
            count = math.floor((up_to.timestamp() - anchor) / step)
            return dt.datetime.fromtimestamp(anchor + count * step, timezone)
        trigger = self.build(timezone)
        latest = first
        for _ in range(200_000):  # a minutely cron over four months; then good enough
            following = trigger.get_next_fire_time(latest, up_to)
            if following is None or following > up_to:
                break
            latest = following
        return latest

    def describe(self) -> str:
        """For people: ``every 10 min``, ``cron 30 10 * * *``."""
        if self.every is None:
            return f"cron {self.cron}"
        total = int(self.every.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if total % size == 0:
                return f"every {total // size} {unit}"
        return f"every {total} s"

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        if self.every is not None:
            return {
                "kind": "interval",
                "every_s": int(self.every.total_seconds()),
                "text": self.describe(),
            }
        return {"kind": "cron", "cron": self.cron, "text": self.describe()}


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job as its author declared it (the configuration may override parts).

    Attributes:
        id: Dotted name, unique among jobs; the ``source`` of what it publishes.
        function: The work; called with a :class:`JobContext` in a worker thread.
        trigger: When it is due.
        adapter: The destination (or adapter name) it reads from or writes to; the
            job is unavailable while no configured destination provides it.
        publishes: Message types it publishes (for people and the API).
        timeout: How long one run may take; ``None`` means the interval (at most
            10 minutes) for interval jobs, 10 minutes for cron jobs.
        misfire: What to do with a due time that could not run on time.
        timezone: IANA name; ``None`` means ``[scheduler] timezone`` (Asia/Shanghai).
        description: One line for people (default: the function's docstring).
        settings_schema: JSON Schema of the job's own keys in ``[jobs."<id>"]``.
    """

    id: str
    function: JobFunction
    trigger: Trigger
    adapter: str | None = None
    publishes: tuple[str, ...] = ()
    timeout: dt.timedelta | None = None
    misfire: Misfire = Misfire.RUN_ONCE
    timezone: str | None = None
    description: str = ""
    settings_schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )

    def __post_init__(self) -> None:
        if not JOB_ID.match(self.id) or len(self.id) > 100:
            raise ValueError(
                f"job id {self.id!r} must be dotted lower-case words (like hub.retention)"
            )
        if self.timeout is not None and self.timeout.total_seconds() <= 0:
            raise ValueError("a timeout must be positive")

    def __call__(self, ctx: JobContext) -> None:
        """Run the job's function (the scheduler does this in a worker thread)."""
        self.function(ctx)

    def default_timeout(self) -> dt.timedelta:
        """The declared timeout, or the default for the trigger."""
        return self.timeout or default_timeout(self.trigger)


def default_timeout(trigger: Trigger) -> dt.timedelta:
    """The timeout of a job that declares none: its interval (at most 10 min), or 10 min."""
    if trigger.every is not None:
        return min(trigger.every, DEFAULT_TIMEOUT)
    return DEFAULT_TIMEOUT


def job(
    job_id: str,
    *,
    every: dt.timedelta | None = None,
    cron: str | None = None,
    adapter: str | None = None,
    publishes: tuple[str, ...] = (),
    timeout: dt.timedelta | None = None,
    misfire: Misfire = Misfire.RUN_ONCE,
    timezone: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Callable[[JobFunction], JobSpec]:
    """Declare a scheduled job.

    Args:
        job_id: Dotted name, e.g. ``hall.pull_applications``.
        every: Run at this interval (``minutes(1)``), aligned to midnight.
        cron: Or on this five-field cron schedule (``"30 10 * * *"``).
        adapter: The destination it uses; ``ctx.adapter`` is that destination's adapter.
        publishes: Message types it publishes.
        timeout: How long one run may take (see :class:`JobSpec`).
        misfire: What to do with a due time that could not run on time.
        timezone: IANA timezone of the schedule (default ``[scheduler] timezone``).
        settings: JSON Schema ``properties`` of the job's own configuration keys.

    Returns:
        A decorator turning the function into a :class:`JobSpec`.

    Raises:
        ValueError: The id or the trigger is malformed.
    """
    trigger = Trigger(every=every, cron=cron)

    def declare(function: JobFunction) -> JobSpec:
        doc = (function.__doc__ or "").strip().splitlines()
        return JobSpec(
            id=job_id,
            function=function,
            trigger=trigger,
            adapter=adapter,
            publishes=tuple(publishes),
            timeout=timeout,
            misfire=Misfire(misfire),
            timezone=timezone,
            description=doc[0] if doc else "",
            settings_schema={
                "type": "object",
                "properties": dict(settings or {}),
            },
        )

    return declare
