"""``/api/v1/items``, ``/api/v1/cases`` and the supervision report over real HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.core.clock import HUB_TZ, utcnow
from tests.hub.test_case_store import item
from tests.support import RunningHub, example, hub_config, running_hub

CASE = "WH/2026/000777"  # case numbers may hold slashes


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=HUB_TZ)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RunningHub]:
    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        hub = running.hub
        hub.store.items.store(
            [item(), item("ITEM-1", 1, case_kind="1")], source="hall", at=utcnow()
        )
        hub.store.items.store([item(limit=3)], source="hall", at=utcnow())  # version 2
        key = running.client("department", allow=("case.*",))
        for payload_type, payload in (
            ("case.submitted", example("case.submitted", case_no=CASE, item_code="ITEM-5",
                                       submitted_at="2026-09-25T10:00:00+08:00")),
            ("case.status_changed", example("case.status_changed", case_no=CASE, status="6",
                                            occurred_at="2026-09-29T10:00:00+08:00")),
            ("case.status_changed", example("case.status_changed", case_no=CASE, status="7",
                                            occurred_at="2026-09-30T10:00:00+08:00")),
            ("case.submitted", example("case.submitted", case_no="WH-UNKNOWN", item_code="NOPE",
                                       submitted_at="2026-10-12T10:00:00+08:00")),
        ):  # fmt: skip
            response = running.post(key, {"type": payload_type, "payload": payload})
            assert response.status_code == 202, response.text  # an unknown item is accepted
        hub.cases.catch_up(at("2026-10-13 09:00"))
        hub.cases.evaluate(at("2026-10-13 09:00"))
        yield running


def test_items_are_listed_and_shown_with_their_versions_to_any_client(api: RunningHub) -> None:
    key = api.client("reader", allow=())
    listed = api.get(key, "/api/v1/items?kind=2").json()
    assert [entry["code"] for entry in listed["items"]] == ["ITEM-5"]
    shown = api.get(key, "/api/v1/items/ITEM-5").json()
    assert (shown["version"], shown["committed_limit_days"], shown["case_kind_name"]) == (
        2,
        3,
        "committed",
    )
    assert [v["version"] for v in shown["versions"]] == [2, 1]
    assert shown["versions"][1]["item"]["committed_limit_days"] == 5
    assert api.get(key, "/api/v1/items/NOPE").status_code == 404
    assert api.get(None, "/api/v1/items").status_code == 401


def test_a_bad_filter_is_a_problem_naming_the_parameter(api: RunningHub) -> None:
    ops = api.client("ops", allow=(), role="operator")
    response = api.get(ops, "/api/v1/cases?light=purple")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["path"] == "light"
    assert api.get(ops, "/api/v1/items?kind=7").json()["errors"][0]["path"] == "kind"
    assert api.get(ops, "/api/v1/cases?open=maybe").json()["errors"][0]["path"] == "open"
    bad_month = api.get(ops, "/api/v1/supervision/report?month=2026-13")
    assert bad_month.json()["errors"][0]["path"] == "month"
    empty_end = api.get(ops, "/api/v1/supervision/report?month=&to=")
    assert empty_end.status_code == 400
    assert empty_end.json()["errors"][0]["path"] == "month"


def test_cases_are_for_operators_only(api: RunningHub) -> None:
    key = api.client("department2", allow=("case.*",))
    assert api.get(key, "/api/v1/cases").status_code == 403
    assert api.get(key, f"/api/v1/cases/{CASE}").status_code == 403


def test_a_case_shows_its_timeline_stops_due_day_and_light(api: RunningHub) -> None:
    ops = api.client("ops", allow=(), role="operator")
    body = api.get(ops, f"/api/v1/cases/{CASE}").json()
    assert body["case_no"] == CASE
    assert body["limit_working_days"] == 3  # the item's version when the case came
    assert body["item"]["version"] == 2
    # 3 working days from 25 September (28, 29, 30), plus the one-day supplement (30th):
    assert body["due_on"] == "2026-10-08"
    assert body["stops"] == [
        {
            "kind": "supplement",
            "from": "2026-09-29T10:00:00.000+08:00",
            "to": "2026-09-30T10:00:00.000+08:00",
            "working_days": 1,
        }
    ]
    assert [e["status"] for e in body["timeline"]] == [None, "6", "7"]
    assert body["clock"]["light"] == "red"  # read now, long after
    assert body["evaluated_light"] == "red"
    assert api.get(ops, "/api/v1/cases/NOBODY").status_code == 404


def test_cases_are_listed_by_light_department_and_flag(api: RunningHub) -> None:
    ops = api.client("ops", allow=(), role="operator")
    red = api.get(ops, "/api/v1/cases?light=red&department=11371000004336447W").json()
    assert [c["case_no"] for c in red["items"]] == [CASE]
    flagged = api.get(ops, "/api/v1/cases?unknown_item=true").json()
    assert [(c["case_no"], c["flags"], c["light"]) for c in flagged["items"]] == [
        ("WH-UNKNOWN", ["unknown_item"], "none")
    ]
    assert api.get(ops, "/api/v1/cases?open=false").json()["items"] == []


def test_the_report_gives_on_time_rates_per_department(api: RunningHub) -> None:
    ops = api.client("ops", allow=(), role="operator")
    body = api.get(ops, "/api/v1/supervision/report?month=2026-09").json()
    assert body["period"]["label"] == "2026-09"
    lines = {entry["code"]: entry for entry in body["lines"]}
    line = lines["11371000004336447W"]
    assert (line["received"], line["finished"], line["open"]["red"]) == (1, 0, 1)
    assert lines[""]["open"]["none"] == 1  # the unknown item's case: no department known
    assert body["total"]["received"] == 1
    by_item = api.get(ops, "/api/v1/supervision/report?from=2026-09-01&to=2026-10-31&by=item")
    assert {entry["code"] for entry in by_item.json()["lines"]} == {"ITEM-5", "NOPE"}


def test_a_case_for_an_item_not_in_the_catalogue_is_accepted_with_a_warning(
    api: RunningHub,
) -> None:
    key = api.client("department3", allow=("case.*",))

    def submit(case_no: str, item_code: str) -> dict[str, object]:
        payload = example("case.submitted", case_no=case_no, item_code=item_code)
        response = api.post(key, {"type": "case.submitted", "payload": payload})
        assert response.status_code == 202, response.text
        body: dict[str, object] = response.json()
        return body

    unknown = submit("WH-W-1", "NOT-IN-CATALOGUE")
    assert unknown["warnings"] == [
        {
            "path": "payload.item_code",
            "message": "is not in the service-item catalogue: the case is accepted and flagged;"
            " its time limit is unknown until the item is",
        }
    ]
    assert "warnings" not in submit("WH-W-2", "ITEM-5")
    # An item synced a moment ago is known at once, not after the next refresh.
    api.hub.store.items.store([item("JUST-SYNCED")], source="hall", at=utcnow())
    assert "warnings" not in submit("WH-W-3", "JUST-SYNCED")
