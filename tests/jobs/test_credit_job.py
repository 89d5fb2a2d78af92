"""``credit.publish_disclosures`` against the credit platform sandbox.

Undisclosed decisions reach the platform; decisions near or past their 7-working-day
deadline are warned of once per level.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.credit_platform.sandbox import create_app as credit_platform
from hub.core.clock import HUB_TZ, utcnow
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.scheduler.runner import JobRunner
from hub.store import MessageFilter
from hub.store.job_records import RunView
from tests.fullonline import RunningSandbox, serving
from tests.jobs.sandboxes import credit_destination
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run
from tests.support import example, wait_for


def _last_working_day() -> dt.date:
    from hub.workdays import WorkingCalendar

    calendar, day = WorkingCalendar(), dt.datetime.now(HUB_TZ).date()
    while not calendar.is_working_day(day):
        day -= dt.timedelta(days=1)
    return day


#: The job's "today" in these tests: a working day, so counts do not depend on the weekday.
TODAY = _last_working_day()


@pytest.fixture
def platform() -> Iterator[RunningSandbox]:
    with serving(credit_platform()) as sandbox:
        yield sandbox


@pytest.fixture
def hub(tmp_path: Path, platform: RunningSandbox) -> Iterator[Hub]:
    # Only penalties are routed to the platform: licensing disclosures wait for the job.
    config = scheduler_config(
        tmp_path,
        destinations=[credit_destination(platform.url)],
        routes=[
            {
                "name": "penalties",
                "when": {"type": "credit.penalty_disclosed"},
                "to": ["credit_platform"],
            }
        ],
    )
    with hub_with_jobs(config, installed_jobs()) as running:
        # Runs asked for now are due at 09:00 of TODAY (the clock runs on from there).
        offset = dt.datetime.combine(TODAY, dt.time(9), HUB_TZ) - utcnow()
        running.jobs.clock = lambda: utcnow() + offset
        running.start_dispatcher()
        yield running


@pytest.fixture
def runner(hub: Hub) -> Iterator[JobRunner]:
    started = make_runner(hub)
    yield started
    started.stop()


def _working_days_ago(hub: Hub, count: int) -> str:
    return hub.calendar.add_working_days(TODAY, -count).isoformat()


def _publish(hub: Hub, message_type: str, payload: dict[str, Any]) -> str:
    acceptance = hub.ingest.publish(
        "market-supervision", Submission(type=message_type, payload=payload), channel="rest"
    )
    return acceptance.message_id


def _settled(hub: Hub, message_id: str) -> bool:
    view = hub.store.messages.get(message_id)
    return view is not None and view.status in ("delivered", "dead", "unrouted")


def _run(hub: Hub) -> RunView:
    run = wait_run(hub, hub.jobs.request_run("credit.publish_disclosures", actor="t").id, 20)
    assert run.status == "ok", (run.error, run.log)
    return run


def _licence(hub: Hub, decision_no: str, decided_on: str, number: str) -> dict[str, Any]:
    return example(
        "credit.license_disclosed",
        decision_no=decision_no,
        decided_on=decided_on,
        valid_from=decided_on,
        license_number=number,
    )


def test_undisclosed_decisions_go_to_the_platform_and_due_ones_are_warned_of_once(
    hub: Hub, platform: RunningSandbox, runner: JobRunner
) -> None:
    platform.post("/_sandbox/rules", {"reject": {"威市监罚〔2026〕第0002号": "处罚机关不匹配"}})
    overdue = _publish(
        hub,
        "credit.license_disclosed",
        _licence(hub, "威市监许字〔2026〕第0001号", _working_days_ago(hub, 9), "JY1"),
    )
    fresh = _publish(
        hub,
        "credit.license_disclosed",
        _licence(hub, "威市监许字〔2026〕第0002号", TODAY.isoformat(), "JY2"),
    )
    disclosed = _publish(
        hub,
        "credit.penalty_disclosed",
        example("credit.penalty_disclosed", decided_on=_working_days_ago(hub, 8)),
    )
    refused = _publish(
        hub,
        "credit.penalty_disclosed",
        example(
            "credit.penalty_disclosed",
            decision_no="威市监罚〔2026〕第0002号",
            decided_on=_working_days_ago(hub, 6),
        ),
    )
    _publish(
        hub,
        "license.issued",
        example("license.issued", number="JY9", issued_on=_working_days_ago(hub, 7)),
    )
    for message_id in (disclosed, refused):
        wait_for(lambda m=message_id: _settled(hub, m), 10, "the routed penalty to settle")

    first = _run(hub)
    for message_id in (overdue, fresh):
        wait_for(lambda m=message_id: _settled(hub, m), 10, "the queued disclosure to settle")
    second = _run(hub)
    warnings = {
        m.envelope.payload["decision_no"]: m.envelope
        for m in hub.store.messages.search(MessageFilter(type="credit.disclosure_due")).items
    }
    records = platform.get("/_sandbox/records").json()

    assert first.read == 5
    assert first.published == 3
    assert first.failed == 1
    assert any("queued 2 undisclosed decision(s)" in line["message"] for line in first.log or ())
    assert second.published == 0  # each warning once per level
    overdue_warning = warnings["威市监许字〔2026〕第0001号"].payload
    assert overdue_warning["level"] == "overdue"
    assert overdue_warning["state"] == "not_sent"
    assert overdue_warning["working_days_left"] == -2
    assert overdue_warning["authority"] == {
        "name": "威海市市场监督管理局",
        "uscc": "11371000004336447W",
    }
    refused_warning = warnings["威市监罚〔2026〕第0002号"].payload
    assert refused_warning["level"] == "near"
    assert refused_warning["state"] == "failed"
    assert refused_warning["working_days_left"] == 1
    assert "处罚机关不匹配" in refused_warning["detail"]
    issued_warning = warnings["JY9"].payload
    assert (issued_warning["state"], issued_warning["level"]) == ("no_disclosure", "near")
    assert issued_warning["due_on"] == TODAY.isoformat()
    assert issued_warning["working_days_left"] == 0
    assert set(warnings) == {"威市监许字〔2026〕第0001号", "威市监罚〔2026〕第0002号", "JY9"}
    published = {r["fields"].get("XK_WSH") or r["fields"].get("CF_WSH") for r in records["records"]}
    assert {"威市监许字〔2026〕第0001号", "威市监许字〔2026〕第0002号"} <= published
    view = hub.store.messages.get(overdue)
    assert view is not None
    assert [(d.destination, d.route) for d in view.deliveries] == [
        ("credit_platform", "job:credit.publish_disclosures")
    ]
    assert ("delivery.add", overdue) in {
        (a["action"], a["target"]) for a in hub.store.audit.trail()
    }


def test_a_decision_disclosed_since_is_not_warned_of_again_and_its_new_message_is_sent(
    hub: Hub, platform: RunningSandbox, runner: JobRunner
) -> None:
    decided = _working_days_ago(hub, 6)
    first = _publish(
        hub,
        "credit.license_disclosed",
        _licence(hub, "威市监许字〔2026〕第0007号", decided, "JY7"),
    )
    warned = _run(hub)  # not sent yet, and due tomorrow: warned of
    wait_for(lambda: _settled(hub, first), 10, "the queued disclosure to be delivered")
    revoked = {**_licence(hub, "威市监许字〔2026〕第0007号", decided, "JY7"), "status": "1"}
    later = _publish(hub, "credit.license_disclosed", revoked)
    run = _run(hub)
    wait_for(lambda: _settled(hub, later), 10, "the revocation to be delivered")
    view = hub.store.messages.get(later)
    assert view is not None
    assert view.status == "delivered"
    assert warned.published == 1
    assert run.published == 0  # disclosed now: nothing more to warn of
    assert len(hub.store.messages.search(MessageFilter(type="credit.disclosure_due")).items) == 1
    assert any("queued 1 undisclosed" in line["message"] for line in run.log or ())
