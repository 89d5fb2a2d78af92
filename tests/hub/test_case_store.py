"""Item catalogue and case clocks in the store, on SQLite and PostgreSQL.

Case events are on the timeline as soon as their message is accepted (the same
transaction); records catch up from there; evaluation reads open cases only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hub.cases import CaseClocks, SupervisionSettings
from hub.core.clock import HUB_TZ, new_id, utcnow
from hub.core.envelope import Envelope
from hub.store import CaseFilter, ServiceItem, Store
from hub.store.case_records import Material
from hub.workdays import WorkingCalendar
from tests.support import example

DEPARTMENT = "11371000004336447W"


def at(text_: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_).replace(tzinfo=HUB_TZ)


def item(code: str = "ITEM-5", limit: int = 5, **changes: Any) -> ServiceItem:
    fields: dict[str, Any] = {
        "code": code,
        "name": "食品经营许可",
        "department_code": DEPARTMENT,
        "department_name": "威海市市场监督管理局",
        "item_type": "01",
        "case_kind": "2",
        "committed_limit_days": limit,
        "legal_limit_days": 20,
        "materials": (Material("食品经营许可申请书"), Material("营业执照", required=False)),
        "online_depth": "fully_online",
        "area_code": "371000",
    }
    fields.update(changes)
    return ServiceItem(**fields)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def clocks(store: Store) -> CaseClocks:
    return CaseClocks(store, WorkingCalendar(), SupervisionSettings())


def accept(store: Store, message_type: str, **payload: Any) -> Envelope:
    body = example(message_type, **payload)
    envelope = Envelope(
        id=new_id(),
        type=message_type,
        source="department",
        payload=body,
        created_at=utcnow(),
        correlation_id=body.get("case_no"),
    )
    store.messages.accept(envelope, channel="rest", targets=[])
    return envelope


def submitted(store: Store, case_no: str, when: str, item_code: str = "ITEM-5") -> Envelope:
    return accept(
        store,
        "case.submitted",
        case_no=case_no,
        item_code=item_code,
        submitted_at=at(when).isoformat(),
    )


def status(store: Store, case_no: str, code: str, when: str) -> Envelope:
    return accept(
        store, "case.status_changed", case_no=case_no, status=code, occurred_at=at(when).isoformat()
    )


def completed(store: Store, case_no: str, when: str) -> Envelope:
    return accept(store, "case.completed", case_no=case_no, completed_at=at(when).isoformat())


# --------------------------------------------------------------------------- catalogue


def test_a_new_item_is_version_1_and_a_changed_one_gets_the_next_version(store: Store) -> None:
    first = store.items.store([item(), item("ITEM-9", 9)], source="hall", at=utcnow())
    again = store.items.store([item(), item("ITEM-9", 9)], source="hall", at=utcnow())
    changed = store.items.store([item(limit=3)], source="hall", at=utcnow(), run_id="R1")
    assert (first.added, first.changed, first.unchanged) == (2, 0, 0)
    assert (again.added, again.changed, again.unchanged) == (0, 0, 2)
    assert (changed.added, changed.changed, changed.unchanged) == (0, 1, 0)
    view = store.items.get("ITEM-5")
    assert view is not None
    assert (view.version, view.item.committed_limit_days) == (2, 3)
    versions = store.items.versions("ITEM-5")
    assert [(v.version, v.document["committed_limit_days"], v.run_id) for v in versions] == [
        (2, 3, "R1"),
        (1, 5, None),
    ]
    assert store.items.version_count() == 3
    assert view.item.materials == item().materials


def test_only_the_hall_stamps_changing_is_no_new_version(store: Store) -> None:
    store.items.store([item(hall_version=1)], source="hall", at=utcnow())
    counts = store.items.store(
        [item(hall_version=2, hall_updated_at=utcnow())], source="hall", at=utcnow()
    )
    assert counts.unchanged == 1
    assert store.items.version_count() == 1


def test_items_are_searched_by_department_kind_and_name(store: Store) -> None:
    store.items.store(
        [
            item("A-1"),
            item("A-2", name="老年人优待证办理", case_kind="1", committed_limit_days=0),
            item("B-1", department_code="11100000000013338W", department_name="威海市民政局"),
        ],
        source="hall",
        at=utcnow(),
    )
    from hub.store import ItemFilter

    assert [v.item.code for v in store.items.search(ItemFilter(case_kind="1")).items] == ["A-2"]
    assert [v.item.code for v in store.items.search(ItemFilter(text="老年")).items] == ["A-2"]
    by_department = store.items.search(ItemFilter(department=DEPARTMENT), limit=1)
    assert [v.item.code for v in by_department.items] == ["A-1"]
    assert by_department.next == "A-1"
    assert store.items.count(ItemFilter(department=DEPARTMENT)) == 2
    departments = {(code, n) for code, _name, n in store.items.departments()}
    assert departments == {(DEPARTMENT, 2), ("11100000000013338W", 1)}


def test_an_item_with_a_bad_field_is_refused_naming_the_field() -> None:
    good = item().document()
    with pytest.raises(ValueError, match="committed_limit_days"):
        ServiceItem.from_document({**good, "committed_limit_days": -1})
    with pytest.raises(ValueError, match=r"department\.code"):
        ServiceItem.from_document({**good, "department": {"code": "123", "name": "x"}})
    with pytest.raises(ValueError, match="case_kind"):
        ServiceItem.from_document({**good, "case_kind": "3"})
    assert ServiceItem.from_document(good) == item(materials=item().materials)


# --------------------------------------------------------------------------- timelines


def test_an_accepted_case_event_is_on_the_timeline_with_its_message(store: Store) -> None:
    envelope = submitted(store, "WH-1", "2026-09-25 10:00")
    accept(store, "credit.license_disclosed")  # not a case event
    [row] = store.cases.timeline("WH-1")
    assert (row.message_id, row.type, row.item_code, row.applied) == (
        envelope.id,
        "case.submitted",
        "ITEM-5",
        False,
    )
    assert row.occurred_at == at("2026-09-25 10:00")
    assert store.cases.pending() == ["WH-1"]
    assert store.cases.backlog()[0] == 1


def test_a_failed_accept_leaves_no_event_behind(store: Store) -> None:
    body = example("case.submitted", case_no="WH-BAD")
    envelope = Envelope(
        id=new_id(), type="case.submitted", source="d", payload=body, created_at=utcnow()
    )
    with pytest.raises(Exception, match=r"(?i)not.null"):
        store.messages.accept(envelope, channel="rest", targets=[(None, "r")])  # type: ignore[list-item]
    assert store.cases.timeline("WH-BAD") == []


def test_a_duplicate_client_ref_adds_no_second_event(store: Store) -> None:
    for _ in range(2):
        envelope = Envelope(
            id=new_id(),
            type="case.submitted",
            source="department",
            payload=example("case.submitted", case_no="WH-DUP"),
            created_at=utcnow(),
            client_ref="ref-1",
        )
        store.messages.accept(envelope, channel="rest", targets=[])
    assert len(store.cases.timeline("WH-DUP")) == 1


def test_events_accepted_by_a_process_that_died_are_caught_up_by_another(
    db_url: str, store: Store
) -> None:
    store.items.store([item()], source="hall", at=utcnow())
    submitted(store, "WH-2", "2026-11-02 09:00")
    status(store, "WH-2", "3", "2026-11-02 10:00")
    # A second "process": nothing of the first one's memory, only the database.
    other = Store(db_url)
    try:
        taken = CaseClocks(other, WorkingCalendar(), SupervisionSettings()).catch_up(
            at("2026-11-03 09:00")
        )
        record = other.cases.get("WH-2")
    finally:
        other.close()
    assert taken == 2
    assert record is not None
    assert (record.accepted_at, record.due_on, record.limit_days) == (
        at("2026-11-02 10:00"),
        dt.date(2026, 11, 9),
        5,
    )
    assert store.cases.pending() == []


def test_a_supplement_of_three_working_days_moves_the_stored_due_date_by_three(
    store: Store, clocks: CaseClocks
) -> None:
    store.items.store([item()], source="hall", at=utcnow())
    submitted(store, "WH-3", "2026-11-02 09:00")
    clocks.catch_up(at("2026-11-02 12:00"))
    before = store.cases.get("WH-3")
    status(store, "WH-3", "6", "2026-11-04 15:00")
    status(store, "WH-3", "7", "2026-11-09 10:00")
    clocks.catch_up(at("2026-11-09 12:00"))
    after = store.cases.get("WH-3")
    assert before is not None
    assert after is not None
    assert before.due_on == dt.date(2026, 11, 9)
    assert after.due_on == WorkingCalendar().add_working_days(before.due_on, 3)
    assert after.stops == ({"kind": "supplement", "from": "2026-11-04T15:00:00.000+08:00",
                            "to": "2026-11-09T10:00:00.000+08:00"},)  # fmt: skip


def test_a_case_for_an_unknown_item_is_kept_flagged_until_the_item_is_known(
    store: Store, clocks: CaseClocks
) -> None:
    submitted(store, "WH-4", "2026-11-02 09:00", item_code="NOT-IN-CATALOGUE")
    clocks.catch_up(at("2026-11-02 12:00"))
    record = store.cases.get("WH-4")
    assert record is not None
    assert (record.item_known, record.light, record.flags) == (False, "none", ["unknown_item"])
    assert [r.case_no for r in store.cases.search(CaseFilter(unknown_item=True)).items] == ["WH-4"]
    store.items.store([item("NOT-IN-CATALOGUE", 2)], source="hall", at=utcnow())
    result = clocks.evaluate(at("2026-11-04 09:00"))
    record = store.cases.get("WH-4")
    assert record is not None
    assert result.bound == 1
    assert (record.item_known, record.limit_days, record.light) == (True, 2, "yellow")


def test_the_limit_of_the_item_version_first_seen_stays_with_the_case(
    store: Store, clocks: CaseClocks
) -> None:
    store.items.store([item(limit=5)], source="hall", at=utcnow())
    submitted(store, "WH-5", "2026-11-02 09:00")
    clocks.catch_up(at("2026-11-02 12:00"))
    store.items.store([item(limit=2)], source="hall", at=utcnow())  # the guide is revised
    status(store, "WH-5", "8", "2026-11-03 09:00")
    clocks.catch_up(at("2026-11-03 12:00"))
    record = store.cases.get("WH-5")
    assert record is not None
    assert (record.limit_days, record.item_version, record.due_on) == (5, 1, dt.date(2026, 11, 9))


def test_a_completed_case_is_closed_with_its_verdict(store: Store, clocks: CaseClocks) -> None:
    store.items.store([item()], source="hall", at=utcnow())
    submitted(store, "WH-6", "2026-11-02 09:00")
    completed(store, "WH-6", "2026-11-10 09:00")  # a day after its due day
    clocks.catch_up(at("2026-11-20 09:00"))
    record = store.cases.get("WH-6")
    assert record is not None
    assert (record.open, record.on_time, record.light, record.used_days) == (False, False, "red", 6)


# --------------------------------------------------------------------------- evaluation


def _many_closed(store: Store, count: int) -> None:
    """``count`` finished cases, written as records directly (fast)."""
    from hub.store.case_records import CaseRecord

    now = utcnow()
    store.cases.save(
        [
            CaseRecord(
                case_no=f"CLOSED-{n:05d}",
                item_code="ITEM-5",
                item_known=True,
                limit_days=5,
                accepted_at=at("2026-11-02 09:00"),
                finished_at=at("2026-11-05 09:00"),
                open=False,
                light="green",
                on_time=True,
                used_days=3,
                updated_at=now,
            )
            for n in range(count)
        ],
        [],
    )


def test_evaluation_reads_open_cases_only(store: Store, clocks: CaseClocks) -> None:
    store.items.store([item()], source="hall", at=utcnow())
    _many_closed(store, 300)
    for n in range(5):
        submitted(store, f"OPEN-{n}", "2026-11-02 09:00")
    clocks.catch_up(at("2026-11-02 12:00"))
    result = clocks.evaluate(at("2026-11-06 09:00"), page=2)
    assert result.examined == 5
    assert result.changed == 5  # all turned yellow
    assert store.cases.open_by_light() == {"yellow": 5}


def test_the_open_cases_query_uses_the_open_index(tmp_path: Path) -> None:
    # Checked on SQLite: PostgreSQL's plans for small tables depend on its statistics.
    store = Store(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        with store.db.read() as connection:
            plan = connection.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT * FROM cases WHERE open = 1 AND case_no > 'A'"
                    " ORDER BY case_no LIMIT 10"
                )
            ).all()
    finally:
        store.close()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "ix_cases_open_case_no" in detail
    assert "SCAN cases" not in detail.replace("USING INDEX", "")


def test_notices_are_published_once_per_case_and_due_day(store: Store, clocks: CaseClocks) -> None:
    store.items.store([item()], source="hall", at=utcnow())
    submitted(store, "WH-7", "2026-09-25 10:00")
    clocks.catch_up(at("2026-09-25 12:00"))
    sent: list[tuple[str, str]] = []

    def notify(kind: str, payload: dict[str, Any], key: str) -> bool:
        sent.append((kind, key))
        return True

    for moment in (
        "2026-10-07 09:00",
        "2026-10-08 00:05",
        "2026-10-08 12:00",
        "2026-10-09 09:00",
        "2026-10-10 00:05",
        "2026-10-10 09:00",
        "2026-10-12 09:00",
    ):
        clocks.evaluate(at(moment), notify)
    assert sent == [
        ("supervision.warning", "WH-7/2026-10-09/warning"),
        ("supervision.overdue", "WH-7/2026-10-09/overdue"),
    ]
    record = store.cases.get("WH-7")
    assert record is not None
    assert (record.warned_for, record.overdue_for) == (dt.date(2026, 10, 9), dt.date(2026, 10, 9))


def test_the_view_is_current_before_the_record_catches_up(store: Store, clocks: CaseClocks) -> None:
    store.items.store([item()], source="hall", at=utcnow())
    submitted(store, "WH/8", "2026-11-02 09:00")
    status(store, "WH/8", "6", "2026-11-04 15:00")
    view = clocks.view("WH/8", at("2026-11-06 09:00"))
    assert view is not None
    document = view.to_json()
    assert document["evaluated_light"] is None  # no record yet
    assert document["clock"]["stopped"] is True
    assert [stop["working_days"] for stop in document["stops"]] == [2]
    assert [event["type"] for event in document["timeline"]] == [
        "case.submitted",
        "case.status_changed",
    ]
    assert clocks.view("NOBODY", utcnow()) is None


def test_counts_per_department_give_on_time_rates(store: Store, clocks: CaseClocks) -> None:
    store.items.store([item()], source="hall", at=utcnow())
    submitted(store, "R-1", "2026-10-12 09:00")
    completed(store, "R-1", "2026-10-14 09:00")  # on time
    submitted(store, "R-2", "2026-10-12 09:00")
    completed(store, "R-2", "2026-10-30 09:00")  # late
    submitted(store, "R-3", "2026-10-26 09:00")  # open
    clocks.catch_up(at("2026-11-10 09:00"))
    clocks.evaluate(at("2026-11-10 09:00"))
    since, until = at("2026-10-01 00:00"), at("2026-11-01 00:00")
    [group] = store.cases.counts("department", since=since, until=until)
    assert (group.key, group.received, group.finished, group.on_time, group.late) == (
        DEPARTMENT,
        3,
        2,
        1,
        1,
    )
    assert group.on_time_rate == 0.5
    assert group.open("red") == 1
    [by_item] = store.cases.counts("item", since=since, until=until)
    assert by_item.key == "ITEM-5"
