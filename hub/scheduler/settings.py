"""The ``[scheduler]`` and ``[jobs."<id>"]`` configuration sections, checked.

::

    [scheduler]
    enabled = true              # run the scheduler in `govhub run` / `govhub worker`
    timezone = "Asia/Shanghai"  # default timezone of job schedules
    poll_interval_s = 1         # how often queued runs and timeouts are looked at
    lease_s = 60                # a dead node's jobs are taken over after this long
    misfire_grace_s = 60        # a due time later than this is a misfire
    max_log_lines = 200         # log lines kept per run
    shutdown_grace_s = 10       # how long stopping waits for running jobs

    [jobs."hall.pull_applications"]
    enabled = true
    every = "1m"                # or cron = "*/5 * * * *"
    timeout_s = 50
    misfire = "skip"            # or "run_once"
    misfire_grace_s = 30
    timezone = "Asia/Shanghai"
    destination = "provincial_hall"
    # ...plus the job's own keys, checked against its settings schema
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jsonschema import Draft202012Validator

from hub.config import Config, ConfigError
from hub.registry import with_defaults
from hub.scheduler.spec import JobSpec, Misfire, Trigger, default_timeout
from hub.schemas import describe_error

__all__ = [
    "JobSettings",
    "SchedulerSettings",
    "job_settings",
    "parse_duration",
    "scheduler_settings",
]

DEFAULT_TIMEZONE = "Asia/Shanghai"

_SCHEDULER_KEYS: dict[str, type | tuple[type, ...]] = {
    "enabled": bool,
    "timezone": str,
    "poll_interval_s": (int, float),
    "lease_s": (int, float),
    "misfire_grace_s": (int, float),
    "max_log_lines": int,
    "shutdown_grace_s": (int, float),
}
#: Keys every job takes; anything else belongs to the job's own settings schema.
COMMON_JOB_KEYS = (
    "enabled",
    "every",
    "cron",
    "timeout_s",
    "misfire",
    "misfire_grace_s",
    "timezone",
    "destination",
)
_DURATION = re.compile(r"^\s*(?P<count>\d+)\s*(?P<unit>s|sec|m|min|h|d)?\s*$")
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """``[scheduler]``: how the scheduler itself behaves."""

    enabled: bool = True
    timezone: str = DEFAULT_TIMEZONE
    poll_interval_s: float = 1.0
    lease_s: float = 60.0
    misfire_grace_s: float = 60.0
    max_log_lines: int = 200
    shutdown_grace_s: float = 10.0

    @property
    def zone(self) -> ZoneInfo:
        """The default timezone of schedules."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class JobSettings:
    """A job's effective settings: its declaration with the configuration applied."""

    trigger: Trigger
    enabled: bool
    timeout_s: float
    misfire: Misfire
    misfire_grace_s: float
    timezone: str
    destination: str | None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        """The timezone of the job's schedule."""
        return ZoneInfo(self.timezone)


def scheduler_settings(config: Config) -> SchedulerSettings:
    """``[scheduler]`` of ``config``, checked.

    Raises:
        ConfigError: A key is unknown or has the wrong type or range.
    """
    file = str(config.path or "<config>")
    raw: Mapping[str, Any] = config.sections.get("scheduler", {})
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"scheduler.{key}"
        expected = _SCHEDULER_KEYS.get(key)
        if expected is None:
            known = ", ".join(_SCHEDULER_KEYS)
            raise ConfigError(file, where, f"is not a known field ({known})")
        if isinstance(value, bool) and expected is not bool:
            raise ConfigError(file, where, "must be a number")
        if not isinstance(value, expected):
            raise ConfigError(
                file, where, "must be true or false" if expected is bool else "must be a number"
            )
        values[key] = value
    if "timezone" in values:
        _zone(values["timezone"], file, "scheduler.timezone")
    for key in ("poll_interval_s", "lease_s", "shutdown_grace_s", "max_log_lines"):
        if key in values and values[key] <= 0:
            raise ConfigError(file, f"scheduler.{key}", "must be greater than 0")
    if values.get("misfire_grace_s", 0) < 0:
        raise ConfigError(file, "scheduler.misfire_grace_s", "must be 0 or more")
    settings = SchedulerSettings(**values)
    if settings.lease_s < 3 * settings.poll_interval_s:
        raise ConfigError(
            file, "scheduler.lease_s", "must be at least 3 × poll_interval_s (leases are renewed)"
        )
    return settings


def job_settings(
    spec: JobSpec, raw: Mapping[str, Any], defaults: SchedulerSettings, file: str
) -> JobSettings:
    """A job's effective settings from its declaration and its ``[jobs."<id>"]`` table.

    Raises:
        ConfigError: Naming the file and the key, e.g. ``jobs."hub.retention".every``.
    """
    prefix = f'jobs."{spec.id}"'
    if not isinstance(raw, Mapping):
        raise ConfigError(file, prefix, "must be a table")
    trigger = spec.trigger
    if "every" in raw and "cron" in raw:
        raise ConfigError(file, f"{prefix}.cron", "give either every or cron, not both")
    if "every" in raw:
        try:
            trigger = Trigger(every=parse_duration(raw["every"]))
        except ValueError as error:
            raise ConfigError(file, f"{prefix}.every", str(error)) from None
    if "cron" in raw:
        if not isinstance(raw["cron"], str):
            raise ConfigError(file, f"{prefix}.cron", "must be a cron expression in a string")
        try:
            trigger = Trigger(cron=raw["cron"])
        except ValueError as error:
            raise ConfigError(file, f"{prefix}.cron", str(error)) from None
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(file, f"{prefix}.enabled", "must be true or false")
    timeout_s = _positive(raw, "timeout_s", prefix, file)
    if timeout_s is None:
        timeout_s = (spec.timeout or default_timeout(trigger)).total_seconds()
    misfire = spec.misfire
    if "misfire" in raw:
        try:
            misfire = Misfire(raw["misfire"])
        except ValueError:
            choices = ", ".join(f'"{m.value}"' for m in Misfire)
            raise ConfigError(file, f"{prefix}.misfire", f"must be one of {choices}") from None
    grace = raw.get("misfire_grace_s", defaults.misfire_grace_s)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
        raise ConfigError(file, f"{prefix}.misfire_grace_s", "must be a number, 0 or more")
    timezone = raw.get("timezone", spec.timezone or defaults.timezone)
    _zone(timezone, file, f"{prefix}.timezone")
    destination = raw.get("destination", spec.adapter)
    if destination is not None and not isinstance(destination, str):
        raise ConfigError(file, f"{prefix}.destination", "must be a destination name")
    options = with_defaults(
        {k: v for k, v in raw.items() if k not in COMMON_JOB_KEYS}, spec.settings_schema
    )
    schema = {"additionalProperties": False, **spec.settings_schema}
    errors = sorted(
        Draft202012Validator(schema).iter_errors(options), key=lambda e: list(e.absolute_path)
    )
    if errors:
        key, reason = describe_error(errors[0])
        if reason == "is not a known field":
            known = ", ".join([*COMMON_JOB_KEYS, *spec.settings_schema.get("properties", {})])
            reason = f"is not a known field (known: {known})"
        raise ConfigError(file, f"{prefix}.{key}" if key else prefix, reason)
    return JobSettings(
        trigger=trigger,
        enabled=enabled,
        timeout_s=float(timeout_s),
        misfire=misfire,
        misfire_grace_s=float(grace),
        timezone=timezone,
        destination=destination,
        options=options,
    )


def parse_duration(value: Any) -> dt.timedelta:
    """``"90s"``, ``"10m"``, ``"2h"``, ``"1d"`` or a number of seconds.

    Raises:
        ValueError: Anything else, or less than one second.
    """
    if isinstance(value, bool):
        raise ValueError('must be a duration such as "30s", "10m", "2h", "1d"')
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        count = int(match["count"]) * _UNITS[match["unit"]]
    else:
        raise ValueError('must be a duration such as "30s", "10m", "2h", "1d"')
    if count < 1:
        raise ValueError("must be at least 1 second")
    return dt.timedelta(seconds=count)


def _positive(raw: Mapping[str, Any], key: str, prefix: str, file: str) -> float | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(file, f"{prefix}.{key}", "must be a number greater than 0")
    return float(value)


def _zone(name: Any, file: str, key: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ConfigError(file, key, 'must be an IANA timezone name such as "Asia/Shanghai"')
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            file, key, f'is not an IANA timezone name (such as "Asia/Shanghai"): {name!r}'
        ) from None
