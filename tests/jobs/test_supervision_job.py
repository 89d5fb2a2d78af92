"""``supervision.evaluate`` at chosen moments: lights on the right days, each notice once.

The runs are due at simulated times (the runner is told the due time); the case is a
承诺件 of 5 working days accepted on Friday 25 September 2026, the Friday before National
Day (a Mid-Autumn holiday itself): due Friday 9 October, yellow from Thursday 8 October,
red from Saturday 10 October (a worked day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.core.clock import HUB_TZ, utcnow
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.scheduler.runner import JobRunner
from hub.store import MessageFilter, ServiceItem
from hub.store.job_records import RunView
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run
from tests.support import Receiver, example, wait_for, webhook_destination

JOB = "supervision.evaluate"
ITEM = ServiceItem(
    code="1137100000433130091371000031000",
    name="食品经营许可",
    department_code="113710000043313009",
    department_name="威海市市场监督管理局",
    item_type="01",
    case_kind="2",
    committed_limit_days=5,
    legal_limit_days=20,
)


def shanghai(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=HUB_TZ)


@pytest.fixture
def hub(tmp_path: Path, receiver: Receiver) -> Iterator[Hub]:
    config = scheduler_config(
        tmp_path,
        destinations=[webhook_destination("supervision_office", receiver)],
        routes=[
            {
                "name": "supervision to the office",
                "when": {"type": "supervision.*"},
                "to": ["supervision_office"],
            }
        ],
    )
    with hub_with_jobs(config, installed_jobs()) as running:
        running.store.items.store([ITEM], source="provincial_hall", at=utcnow())
        running.start_dispatcher()
        yield running


@pytest.fixture
def runner(hub: Hub) -> Iterator[JobRunner]:
    started = make_runner(hub)
    yield started
    started.stop()


def _submit(hub: Hub, case_no: str, submitted_at: str, item_code: str = ITEM.code) -> None:
    hub.ingest.publish(
        "hall",
        Submission(
            "case.submitted",
            example(
                "case.submitted",
                case_no=case_no,
                item_code=item_code,
                item_name="食品经营许可",
                submitted_at=shanghai(submitted_at).isoformat(),
            ),
        ),
        channel="job",
    )


def _evaluate_at(hub: Hub, runner: JobRunner, moment: str) -> RunView:
    run_id = runner.due(JOB, shanghai(moment))
    assert run_id is not None
    run = wait_run(hub, run_id, timeout=20)
    assert run.status == "ok", (run.error, run.log)
    return run


def _light(hub: Hub, case_no: str) -> str:
    record = hub.store.cases.get(case_no)
    assert record is not None
    return record.light


def _settled(hub: Hub) -> bool:
    page = hub.store.messages.search(MessageFilter(type="supervision.*"), limit=100)
    return all(m.status == "delivered" for m in page.items)


def test_a_case_before_national_day_lights_up_on_the_right_days_and_the_office_hears_once(
    hub: Hub, runner: JobRunner, receiver: Receiver
) -> None:
    _submit(hub, "WH-2026-000925", "2026-09-25 10:00")
    lights = {}
    for moment in (
        "2026-09-30 12:00",
        "2026-10-07 23:55",
        "2026-10-08 00:05",
        "2026-10-08 14:00",
        "2026-10-09 23:55",
        "2026-10-10 00:05",
        "2026-10-10 00:10",
        "2026-10-11 09:00",
        "2026-10-12 09:00",
    ):
        _evaluate_at(hub, runner, moment)
        lights[moment] = _light(hub, "WH-2026-000925")
    assert lights == {
        "2026-09-30 12:00": "green",
        "2026-10-07 23:55": "green",
        "2026-10-08 00:05": "yellow",
        "2026-10-08 14:00": "yellow",
        "2026-10-09 23:55": "yellow",
        "2026-10-10 00:05": "red",
        "2026-10-10 00:10": "red",
        "2026-10-11 09:00": "red",
        "2026-10-12 09:00": "red",
    }
    record = hub.store.cases.get("WH-2026-000925")
    assert record is not None
    assert record.due_on == dt.date(2026, 10, 9)

    wait_for(lambda: _settled(hub), 20, "supervision messages to be delivered")
    delivered = [r.envelope for r in receiver.accepted()]
    overdue = [e for e in delivered if e["type"] == "supervision.overdue"]
    warnings = [e for e in delivered if e["type"] == "supervision.warning"]
    assert len(overdue) == 1, "the office hears of the overdue case once, not once per run"
    assert len(warnings) == 1
    payload = overdue[0]["payload"]
    assert payload["case_no"] == "WH-2026-000925"
    assert payload["due_on"] == "2026-10-09"
    assert payload["light"] == "red"
    assert payload["department"] == {"code": ITEM.department_code, "name": ITEM.department_name}
    assert payload["evaluated_at"].startswith("2026-10-10T00:05")
    assert warnings[0]["payload"]["remaining_working_days"] == 1
    assert overdue[0]["source"] == JOB


def test_a_run_takes_in_new_events_and_logs_what_it_did(hub: Hub, runner: JobRunner) -> None:
    _submit(hub, "WH-2026-001001", "2026-11-02 09:00")
    hub.ingest.publish(
        "department",
        Submission(
            "case.status_changed",
            example(
                "case.status_changed",
                case_no="WH-2026-001001",
                status="6",
                occurred_at="2026-11-04T15:00:00+08:00",
            ),
        ),
        channel="rest",
    )
    run = _evaluate_at(hub, runner, "2026-11-06 09:00")
    assert run.read == 2  # two events taken in
    record = hub.store.cases.get("WH-2026-001001")
    assert record is not None
    assert record.stopped
    assert any("open case(s) evaluated" in line["message"] for line in run.log or ())


def test_a_case_of_an_item_not_in_the_catalogue_is_accepted_and_flagged(
    hub: Hub, runner: JobRunner
) -> None:
    _submit(hub, "WH-2026-001002", "2026-11-02 09:00", item_code="UNKNOWN-ITEM-1")
    _evaluate_at(hub, runner, "2026-11-20 09:00")
    record = hub.store.cases.get("WH-2026-001002")
    assert record is not None
    assert record.flags == ["unknown_item"]
    assert record.light == "none"  # no limit to measure against: no notice either
    page = hub.store.messages.search(MessageFilter(type="supervision.*"))
    assert page.items == []
