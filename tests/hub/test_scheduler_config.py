"""``[scheduler]`` and ``[jobs."<id>"]``: overrides apply, mistakes name the file and the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hub.config import ConfigError
from hub.scheduler import JobSpec, Misfire, minutes, seconds
from hub.scheduler.catalog import JobCatalog, installed_jobs
from hub.scheduler.spec import Trigger
from hub.store import Store
from tests.scheduling import Probe, probe_job, scheduler_config
from tests.support import hub_config

SETTINGS = {"batch": {"type": "integer", "minimum": 1, "default": 50}}


def _catalog(
    tmp_path: Path, specs: list[JobSpec] | None = None, *, installed: bool = False, **sections: Any
) -> JobCatalog:
    config = hub_config(tmp_path, **sections)
    store = Store(config.database.url)
    try:
        chosen = None if installed else (specs if specs is not None else _specs())
        return JobCatalog(config, store, specs=chosen)
    finally:
        store.close()


def _specs() -> list[JobSpec]:
    return [probe_job(Probe(), "test.probe", every=minutes(1), timeout=None, settings=SETTINGS)]


def test_job_table_overrides_trigger_timeout_misfire_timezone_and_enabled(
    tmp_path: Path,
) -> None:
    catalog = _catalog(
        tmp_path,
        jobs={
            "test.probe": {
                "cron": "30 10 * * *",
                "timeout_s": 45,
                "misfire": "skip",
                "misfire_grace_s": 5,
                "timezone": "Asia/Urumqi",
                "enabled": False,
                "batch": 10,
            }
        },
    )
    job = catalog.get("test.probe")
    assert job.settings.trigger == Trigger(cron="30 10 * * *")
    assert job.settings.timeout_s == 45
    assert job.settings.misfire is Misfire.SKIP
    assert job.settings.misfire_grace_s == 5
    assert job.settings.timezone == "Asia/Urumqi"
    assert job.settings.options == {"batch": 10}
    assert not job.active
    assert catalog.describe()[0]["state"] == "disabled"
    assert catalog.describe()[0]["next_due"] is None


def test_defaults_are_shanghai_run_once_the_interval_as_timeout_and_setting_defaults(
    tmp_path: Path,
) -> None:
    job = _catalog(tmp_path).get("test.probe")
    assert job.settings.timezone == "Asia/Shanghai"
    assert job.settings.misfire is Misfire.RUN_ONCE
    assert job.settings.timeout_s == 60
    assert job.settings.options == {"batch": 50}
    assert job.active


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ({"every": "soon"}, 'jobs."test.probe".every', "must be a duration"),
        ({"every": "0s"}, 'jobs."test.probe".every', "at least 1 second"),
        ({"cron": "61 * * * *"}, 'jobs."test.probe".cron', "not a cron expression"),
        ({"cron": "* * *"}, 'jobs."test.probe".cron', "not a cron expression"),
        ({"every": "1m", "cron": "* * * * *"}, 'jobs."test.probe".cron', "not both"),
        ({"timezone": "Mars/Olympus"}, 'jobs."test.probe".timezone', "IANA timezone"),
        ({"misfire": "later"}, 'jobs."test.probe".misfire', '"run_once", "skip"'),
        ({"timeout_s": 0}, 'jobs."test.probe".timeout_s', "greater than 0"),
        ({"enabled": "yes"}, 'jobs."test.probe".enabled', "true or false"),
        ({"misfire_grace_s": -1}, 'jobs."test.probe".misfire_grace_s', "0 or more"),
        ({"batch": 0}, 'jobs."test.probe".batch', "at least 1"),
        ({"bach": 5}, 'jobs."test.probe".bach', "not a known field"),
    ],
)
def test_a_wrong_job_table_names_the_file_and_the_key(
    tmp_path: Path, table: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _catalog(tmp_path, jobs={"test.probe": table})
    assert caught.value.file == str(tmp_path / "govhub.toml")
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_an_unknown_job_id_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _catalog(tmp_path, jobs={"hall.pull_aplications": {"every": "1m"}})
    assert caught.value.key == 'jobs."hall.pull_aplications"'
    assert "known: test.probe" in caught.value.reason


@pytest.mark.parametrize(
    ("section", "key", "reason"),
    [
        ({"poll": 1}, "scheduler.poll", "not a known field"),
        ({"lease_s": "long"}, "scheduler.lease_s", "must be a number"),
        ({"enabled": 1}, "scheduler.enabled", "true or false"),
        ({"timezone": "Shanghai"}, "scheduler.timezone", "IANA timezone"),
        ({"poll_interval_s": 5, "lease_s": 10}, "scheduler.lease_s", "3 × poll_interval_s"),
        ({"max_log_lines": 0}, "scheduler.max_log_lines", "greater than 0"),
    ],
)
def test_a_wrong_scheduler_section_names_the_file_and_the_key(
    tmp_path: Path, section: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _catalog(tmp_path, scheduler=section)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(tmp_path / "govhub.toml") in str(caught.value)


def test_a_job_whose_destination_is_missing_is_unavailable_not_an_error(tmp_path: Path) -> None:
    spec = probe_job(Probe(), "hall.pull_applications", adapter="provincial_hall")
    catalog = _catalog(tmp_path, specs=[spec])
    job = catalog.get("hall.pull_applications")
    assert not job.active
    assert job.unavailable == "no destination 'provincial_hall' is configured"
    assert catalog.describe()[0]["state"] == "unavailable"


def test_explicitly_enabling_a_job_without_its_destination_is_an_error(tmp_path: Path) -> None:
    spec = probe_job(Probe(), "hall.pull_applications", adapter="provincial_hall")
    with pytest.raises(ConfigError) as caught:
        _catalog(tmp_path, specs=[spec], jobs={"hall.pull_applications": {"enabled": True}})
    assert caught.value.key == 'jobs."hall.pull_applications".destination'


def test_a_job_finds_its_destination_by_name_or_by_adapter(tmp_path: Path) -> None:
    spec = probe_job(Probe(), "test.probe", adapter="webhook")
    hooks = [
        {"name": "civil_affairs", "adapter": "webhook", "url": "http://127.0.0.1:9/h"},
    ]
    by_adapter = _catalog(tmp_path, specs=[spec], destinations=hooks).get("test.probe")
    assert by_adapter.destination == "civil_affairs"
    renamed = _catalog(
        tmp_path,
        specs=[spec],
        destinations=[
            *hooks,
            {"name": "other", "adapter": "webhook", "url": "http://127.0.0.1:9/o"},
        ],
        jobs={"test.probe": {"destination": "other"}},
    ).get("test.probe")
    assert renamed.destination == "other"
    ambiguous = _catalog(
        tmp_path,
        specs=[spec],
        destinations=[
            *hooks,
            {"name": "other", "adapter": "webhook", "url": "http://127.0.0.1:9/o"},
        ],
    ).get("test.probe")
    assert ambiguous.unavailable is not None
    assert "several destinations" in ambiguous.unavailable


def test_triggers_refuse_bad_declarations() -> None:
    with pytest.raises(ValueError, match="not both"):
        Trigger(every=minutes(1), cron="* * * * *")
    with pytest.raises(ValueError, match="whole number of seconds"):
        Trigger(every=seconds(0.5))
    with pytest.raises(ValueError, match="dotted lower-case"):
        probe_job(Probe(), "Hall Pull")


def test_interval_due_times_are_aligned_to_midnight_in_the_jobs_timezone(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    moment = dt.datetime(2026, 11, 27, 9, 33, 12, tzinfo=shanghai)
    assert Trigger(every=minutes(10)).next_due(shanghai, moment) == moment.replace(
        minute=40, second=0
    )
    assert Trigger(cron="30 10 * * *").next_due(shanghai, moment) == moment.replace(
        hour=10, minute=30, second=0
    )
    # 09:33 in Shanghai is 01:33 UTC: a 02:00 UTC job is due in 27 minutes, not tomorrow.
    assert Trigger(cron="0 2 * * *").next_due(ZoneInfo("UTC"), moment) == dt.datetime(
        2026, 11, 27, 2, 0, tzinfo=ZoneInfo("UTC")
    )


def test_the_builtin_retention_job_is_installed_by_entry_point(tmp_path: Path) -> None:
    specs = {spec.id: spec for spec in installed_jobs()}
    assert "hub.retention" in specs
    catalog = _catalog(tmp_path, installed=True, jobs={"hub.retention": {"keep_runs_days": 7}})
    retention = catalog.get("hub.retention")
    assert retention.settings.options == {
        "keep_messages_days": 90,
        "keep_runs_days": 7,
        "include_unrouted": True,
    }
    assert retention.settings.trigger.describe() == "cron 30 3 * * *"
    assert retention.active


def test_hub_refuses_to_start_with_a_wrong_jobs_section(tmp_path: Path) -> None:
    from hub.runtime import Hub

    config = scheduler_config(tmp_path, jobs={"hub.retention": {"every": "never"}})
    with pytest.raises(ConfigError, match=r'jobs\."hub.retention"\.every'):
        Hub(config)
