"""The console's cases, supervision and catalogue pages (in Chinese by default), and the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from hub.core.clock import HUB_TZ, utcnow
from hub.pipeline.ingest import Submission
from tests.hub.test_case_store import item
from tests.ops_support import RunningConsole, signed_in
from tests.support import example


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=HUB_TZ)


@pytest.fixture
def supervised(console: RunningConsole) -> RunningConsole:
    hub = console.hub
    hub.store.items.store([item()], source="hall", at=utcnow())

    def publish(message_type: str, **payload: object) -> None:
        hub.ingest.publish(
            "department", Submission(message_type, example(message_type, **payload)), channel="rest"
        )

    publish("case.submitted", case_no="WH-OCT-1", item_code="ITEM-5",
            submitted_at="2026-10-12T09:00:00+08:00")  # fmt: skip
    publish("case.completed", case_no="WH-OCT-1", completed_at="2026-10-14T09:00:00+08:00")
    publish("case.submitted", case_no="WH-OCT-2", item_code="ITEM-5",
            submitted_at="2026-10-12T09:00:00+08:00")  # fmt: skip
    publish("case.completed", case_no="WH-OCT-2", completed_at="2026-10-30T09:00:00+08:00")
    publish("case.submitted", case_no="WH-OCT-3", item_code="ITEM-5",
            submitted_at="2026-10-26T09:00:00+08:00")  # fmt: skip
    publish("case.status_changed", case_no="WH-OCT-3", status="6",
            occurred_at="2026-10-27T09:00:00+08:00")  # fmt: skip
    publish("case.submitted", case_no="WH-OCT-4", item_code="UNLISTED",
            submitted_at="2026-10-26T09:00:00+08:00")  # fmt: skip
    hub.cases.catch_up(at("2026-10-28 09:00"))
    hub.cases.evaluate(at("2026-11-10 09:00"))
    return console


def test_cases_page_shows_open_cases_by_light_and_flags_unknown_items(
    supervised: RunningConsole,
) -> None:
    viewer = signed_in(supervised, "viewer")
    page = viewer.get("/ops/cases").text
    assert "限时办结与电子监察" in page
    assert "WH-OCT-3" in page
    assert "WH-OCT-4" in page
    assert "不在目录中" in page  # the unknown item
    assert "WH-OCT-1" not in page  # finished: not among the open ones
    finished = viewer.get("/ops/cases?state=closed").text
    assert "按时办结" in finished
    assert "超期办结" in finished
    flagged = viewer.get("/ops/cases?unknown_item=1&state=all").text
    assert "WH-OCT-4" in flagged
    assert "WH-OCT-3" not in flagged


def test_a_case_page_shows_the_timeline_and_the_running_stop(supervised: RunningConsole) -> None:
    viewer = signed_in(supervised, "viewer")
    page = viewer.get("/ops/cases/WH-OCT-3").text
    assert "办理过程" in page
    assert "补正开始" in page  # state 6 in words
    assert "当前暂停计时" in page
    assert "计时暂停" in page
    assert viewer.get("/ops/cases/NOBODY").status_code == 404


def test_supervision_page_gives_on_time_rates_per_department_and_item(
    supervised: RunningConsole,
) -> None:
    viewer = signed_in(supervised, "viewer")
    page = viewer.get("/ops/supervision?from=2026-10-01&to=2026-10-31").text
    assert "按部门" in page
    assert "按事项" in page
    assert "威海市市场监督管理局" in page
    assert "50.0%" in page  # one of two finished on time
    assert "请按" in viewer.get("/ops/supervision?from=2026-10-31&to=2026-10-01").text


def test_the_monthly_report_has_a_chart_and_a_csv(supervised: RunningConsole) -> None:
    viewer = signed_in(supervised, "viewer")
    page = viewer.get("/ops/supervision/monthly?month=2026-10").text
    assert "监察月报" in page
    assert "<svg" in page
    assert 'class="ok"' in page  # the on-time part of October's bar
    assert 'class="bad"' in page  # the late part
    assert "2026-10: 1/2" in page
    response = viewer.get("/ops/supervision/monthly.csv?month=2026-10")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "supervision-2026-10-department.csv" in response.headers["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    department = next(row for row in rows if row[1] == "威海市市场监督管理局")
    assert department[3:7] == ["2", "1", "1", "50.0%"]
    assert viewer.get("/ops/supervision/monthly.csv?month=bad").status_code == 400


def test_the_catalogue_pages_list_items_and_show_versions(supervised: RunningConsole) -> None:
    viewer = signed_in(supervised, "viewer")
    page = viewer.get("/ops/items").text
    assert "食品经营许可" in page
    assert "全程网办" in page
    assert "承诺件" in page
    one = viewer.get("/ops/items/ITEM-5").text
    assert "版本历史" in one
    assert "营业执照" in one
    assert viewer.get("/ops/items/NOPE").status_code == 404


def test_pages_need_a_signed_in_user(supervised: RunningConsole) -> None:
    from tests.ops_support import OpsClient

    anonymous = OpsClient(supervised.url)
    for path in ("/ops/cases", "/ops/supervision", "/ops/supervision/monthly.csv", "/ops/items"):
        assert anonymous.get(path).status_code == 302
