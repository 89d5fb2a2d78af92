"""``hall.sync_items`` against the hall sandbox: 5,000 items in pages, versions, the cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.provincial_hall.sandbox import create_app as hall_app
from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.store.job_records import RunView
from tests.fullonline import RunningSandbox, serving
from tests.jobs.sandboxes import hall_destination
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run

JOB = "hall.sync_items"


@pytest.fixture
def hall() -> Iterator[RunningSandbox]:
    with serving(hall_app()) as sandbox:
        yield sandbox


@pytest.fixture
def hub(tmp_path: Path, hall: RunningSandbox) -> Iterator[Hub]:
    config = scheduler_config(
        tmp_path,
        destinations=[hall_destination(hall.url)],
        jobs={JOB: {"page_size": 250}},
    )
    with hub_with_jobs(config, installed_jobs()) as running:
        yield running


def _sync(hub: Hub) -> RunView:
    runner = make_runner(hub)
    try:
        run = wait_run(hub, hub.jobs.request_run(JOB, actor="test").id, timeout=60)
    finally:
        runner.stop()
    assert run.status == "ok", (run.error, run.log)
    return run


def test_the_sandbox_catalogue_is_a_few_hundred_weihai_items(
    hub: Hub, hall: RunningSandbox
) -> None:
    run = _sync(hub)
    count = hub.store.items.count()
    assert 200 <= count <= 1000
    assert run.read == count
    departments = {name for _code, name, _n in hub.store.items.departments()}
    assert {"威海市民政局", "荣成市市场监督管理局", "乳山市住房公积金管理中心"} <= departments
    example_item = hub.store.items.get("11371000004336447K4370220001000")
    assert example_item is not None
    assert (example_item.item.name, example_item.item.case_kind) == ("老年人优待证办理", "1")
    kinds = {v.item.case_kind for v in hub.store.items.search(limit=200).items}
    assert kinds == {"1", "2"}


def test_five_thousand_items_arrive_in_pages_and_a_changed_one_gets_a_new_version(
    hub: Hub, hall: RunningSandbox
) -> None:
    hall.post("/_sandbox/items", {"count": 5000}).raise_for_status()
    first = _sync(hub)
    assert hub.store.items.count() == 5000
    assert hub.store.items.version_count() == 5000
    assert first.read == 5000
    assert first.cursor_after is not None
    code = "1137100000433130091371000031000"  # 食品经营许可, 威海市市场监督管理局
    hall.post(f"/_sandbox/items/{code}", {"CNBJSX": 3}).raise_for_status()

    second = _sync(hub)
    assert second.read == 1  # only what changed since the cursor
    assert second.cursor_before == first.cursor_after
    view = hub.store.items.get(code)
    assert view is not None
    assert (view.version, view.item.committed_limit_days, view.item.hall_version) == (2, 3, 2)
    assert [v.version for v in hub.store.items.versions(code)] == [2, 1]
    assert hub.store.items.version_count() == 5001

    third = _sync(hub)
    assert (third.read, hub.store.items.version_count()) == (0, 5001)


def test_reading_pages_again_from_an_old_cursor_stores_nothing_twice(
    hub: Hub, hall: RunningSandbox
) -> None:
    hall.post("/_sandbox/items", {"count": 1200}).raise_for_status()
    _sync(hub)
    # As after a crash between storing a page and moving the cursor: start over.
    with hub.store.db.write() as connection:
        from sqlalchemy import update

        from hub.store.job_tables import job_state

        connection.execute(update(job_state).where(job_state.c.job_id == JOB).values(cursor=None))
    again = _sync(hub)
    assert again.read == 1200
    assert hub.store.items.count() == hub.store.items.version_count() == 1200
    assert any("0 new, 0 changed, 1200 unchanged" in line["message"] for line in again.log or ())


def test_an_item_the_hall_describes_wrongly_is_counted_failed_and_the_rest_is_stored(
    hub: Hub, hall: RunningSandbox
) -> None:
    _sync(hub)
    code = "11371000004336447K4370220001000"
    hall.post(f"/_sandbox/items/{code}", {"SXLX": "99"}).raise_for_status()  # no such type
    hall.post("/_sandbox/items/1137100000433130091371000031000", {"CNBJSX": 4}).raise_for_status()
    run = _sync(hub)
    assert (run.read, run.failed) == (2, 1)
    warnings = [line["message"] for line in run.log or () if line["level"] == "WARNING"]
    assert any(code in w and "item_type" in w for w in warnings)
    changed = hub.store.items.get("1137100000433130091371000031000")
    assert changed is not None
    assert changed.item.committed_limit_days == 4
    kept = hub.store.items.get(code)
    assert kept is not None
    assert kept.item.item_type == "20"  # the last good version stays
