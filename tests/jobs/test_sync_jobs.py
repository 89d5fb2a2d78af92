"""``hall.pull_applications`` and ``citizen_card.sync_status`` against their sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.citizen_card.sandbox import create_app as card_platform
from adapters.provincial_hall.sandbox import create_app as hall_app
from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.store import MessageFilter
from tests.fullonline import RunningSandbox, serving
from tests.jobs.sandboxes import card_destination, hall_destination
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run

HOLDER = "371002199001012029"  # 王秀英, who holds card 371000100000002 in the sandbox


@pytest.fixture
def hall() -> Iterator[RunningSandbox]:
    with serving(hall_app()) as sandbox:
        yield sandbox


@pytest.fixture
def cards() -> Iterator[RunningSandbox]:
    with serving(card_platform()) as sandbox:
        yield sandbox


def _run(hub: Hub, job_id: str) -> str:
    runner = make_runner(hub)
    try:
        run = wait_run(hub, hub.jobs.request_run(job_id, actor="test").id, timeout=20)
    finally:
        runner.stop()
    assert run.status == "ok", (run.error, run.log)
    return run.id


def test_hall_applications_become_cases_with_the_applicants_citizen_card(
    tmp_path: Path, hall: RunningSandbox, cards: RunningSandbox
) -> None:
    hall.post(
        "/_sandbox/applications",
        [
            {"SBLSH": "SD202611270001", "SQRLX": "1", "SQRZJLX": "111", "SQRZJHM": HOLDER},
            {"SBLSH": "SD202611270002", "SQRLX": "2", "SQRZJLX": "001"},
            {"SBLSH": "SD202611270003", "SQRLX": "1", "SQRZJLX": "111"},
        ],
    ).raise_for_status()
    config = scheduler_config(
        tmp_path, destinations=[hall_destination(hall.url), card_destination(cards.url)]
    )
    with hub_with_jobs(config, installed_jobs()) as hub:
        first = _run(hub, "hall.pull_applications")
        again = _run(hub, "hall.pull_applications")
        cases = {m.envelope.correlation_id: m.envelope for m in hub.store.messages.search().items}
        runs = {r.id: r for r in hub.jobs.runs("hall.pull_applications").items}
        state = hub.jobs.store.state("hall.pull_applications")

    assert set(cases) == {"SD202611270001", "SD202611270002", "SD202611270003"}
    card_holder = cases["SD202611270001"]
    assert card_holder.type == "case.submitted"
    assert card_holder.source == "hall.pull_applications"
    assert card_holder.client_ref == "SD202611270001"
    assert card_holder.payload["citizen_card"] == {
        "card_no": "371000100000002",
        "status": "active",
        "issued_on": "2026-01-05",
    }
    assert "citizen_card" not in cases["SD202611270002"].payload  # an enterprise
    assert "citizen_card" not in cases["SD202611270003"].payload  # a person with no card
    assert (runs[first].read, runs[first].published) == (3, 3)
    assert runs[again].published == 0  # the cursor moved past them
    assert state.cursor is not None
    assert runs[again].cursor_before == runs[first].cursor_after


def test_hall_applications_still_go_out_when_the_card_platform_is_down(
    tmp_path: Path, hall: RunningSandbox, cards: RunningSandbox
) -> None:
    hall.post(
        "/_sandbox/applications",
        [{"SBLSH": "SD202611270009", "SQRLX": "1", "SQRZJLX": "111", "SQRZJHM": HOLDER}],
    ).raise_for_status()
    cards.post("/_sandbox/faults", {"down": True}).raise_for_status()
    config = scheduler_config(
        tmp_path, destinations=[hall_destination(hall.url), card_destination(cards.url)]
    )
    with hub_with_jobs(config, installed_jobs()) as hub:
        run_id = _run(hub, "hall.pull_applications")
        [case] = hub.store.messages.search().items
        run = hub.jobs.run(run_id)
    assert "citizen_card" not in case.envelope.payload
    assert run is not None
    warnings = [line["message"] for line in run.log or () if line["level"] == "WARNING"]
    assert any("SD202611270009" in w and "without the card" in w for w in warnings)
    assert not any("19900101" in line["message"] for line in run.log or ())


def test_hall_job_is_unavailable_without_the_hall_and_runs_without_the_card_platform(
    tmp_path: Path, hall: RunningSandbox
) -> None:
    hall.post("/_sandbox/applications", [{"SBLSH": "SD202611270010"}]).raise_for_status()
    config = scheduler_config(tmp_path, destinations=[hall_destination(hall.url)])
    with hub_with_jobs(config, installed_jobs()) as hub:
        views = {v["id"]: v for v in hub.jobs.describe()}
        _run(hub, "hall.pull_applications")
        published = hub.store.messages.search().items
    assert views["hall.pull_applications"]["state"] == "scheduled"
    assert views["citizen_card.sync_status"]["state"] == "unavailable"
    assert [m.envelope.correlation_id for m in published] == ["SD202611270010"]


def test_card_status_changes_are_published_once_in_order_and_the_cursor_follows(
    tmp_path: Path, cards: RunningSandbox
) -> None:
    config = scheduler_config(tmp_path, destinations=[card_destination(cards.url)])
    with hub_with_jobs(config, installed_jobs()) as hub:
        first = _run(hub, "citizen_card.sync_status")
        cards.post(
            "/_sandbox/cards/371000100000002/status", {"status": "frozen"}
        ).raise_for_status()
        second = _run(hub, "citizen_card.sync_status")
        runs = {r.id: r for r in hub.jobs.runs("citizen_card.sync_status").items}
        changes = list(
            reversed(
                hub.store.messages.search(MessageFilter(type="citizen_card.status_changed")).items
            )
        )
    assert runs[first].published == 7  # five cards issued, one lost and found again
    assert runs[second].published == 1
    assert runs[second].cursor_before == runs[first].cursor_after
    latest = changes[-1].envelope
    assert latest.payload["card_no"] == "371000100000002"
    assert latest.payload["status"] == "frozen"
    assert latest.correlation_id == "371000100000002"
    assert latest.source == "citizen_card.sync_status"
    assert len({m.envelope.client_ref for m in changes}) == 8
