"""Joint review (联审联批) as scatter-gather, on a simulated clock and the real calendar.

The lead's acceptance fans the project out to every reviewing department's destination;
opinions come back as messages; a module ends when every department answered, a reject
ends it with the reason, a supplement stops its clock until the materials come.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.core.clock import format_time
from hub.flows import BUILTIN_DIR
from hub.pipeline.ingest import Invalid
from hub.runtime import Hub
from hub.store import MessageFilter
from tests.flows_support import Departments, at, flow_config

PROPOSAL = [{"code": "project_proposal", "name": "项目申请书", "ref": "sha256:abc"}]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(flow_config(tmp_path))
    yield running
    running.close()


def sent(hub: Hub, project_no: str, message_type: str) -> list[tuple[str, dict[str, Any]]]:
    """``(destination, payload)`` of every delivery of a type the hub stored for a project."""
    found: list[tuple[str, dict[str, Any]]] = []
    page = hub.store.messages.search(
        MessageFilter(type=message_type, correlation_id=project_no), limit=500
    )
    for item in page.items:
        view = hub.store.messages.get(item.envelope.id)
        assert view is not None
        found.extend((d.destination, view.envelope.payload) for d in view.deliveries)
    return found


def module_of(hub: Hub, project_no: str, module: str, now: dt.datetime) -> dict[str, Any]:
    view = hub.flows.view(project_no, now)
    assert view is not None
    return next(m for m in view["modules"] if m["id"] == module)


def test_acceptance_fans_out_one_request_per_reviewing_department(hub: Hub) -> None:
    project = Departments(hub, "WH-JR-1")
    project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
    first = hub.flows.advance(at("2026-11-02", 9))
    again = hub.flows.advance(at("2026-11-02", 10))

    requests = sent(hub, "WH-JR-1", "flow.review_requested")
    assert sorted(d for d, _ in requests) == [
        "dept_development_reform",
        "dept_ecology",
        "dept_natural_resources",
    ]
    assert first.published == 3
    assert again.published == 0
    assert again.events == 0
    payload = dict(requests)["dept_ecology"]
    assert payload["due_on"] == "2026-11-09"
    assert payload["round"] == 1
    assert payload["lead"] is False
    assert {m["code"]: m["source"] for m in payload["materials"]} == {
        "project_proposal": "applicant",
        "business_licence": "missing",
    }


def test_a_module_completes_when_every_department_approved(hub: Hub) -> None:
    project = Departments(hub, "WH-JR-2")
    project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
    hub.flows.advance(at("2026-11-02", 9))
    project.approve_all("project_approval", at("2026-11-04"), except_for=("ecology",))
    hub.flows.advance(at("2026-11-04", 11))
    assert module_of(hub, "WH-JR-2", "project_approval", at("2026-11-04", 11))["status"] == (
        "running"
    )
    assert sent(hub, "WH-JR-2", "flow.module_completed") == []

    project.opinion("project_approval", "ecology", "approve", at("2026-11-05"))
    hub.flows.advance(at("2026-11-05", 11))

    completed = sent(hub, "WH-JR-2", "flow.module_completed")
    assert [(d, p["module"], p["result"], p["on_time"]) for d, p in completed] == [
        ("dept_development_reform", "project_approval", "approved", True)
    ]
    land = [
        p
        for _, p in sent(hub, "WH-JR-2", "flow.review_requested")
        if p["module"] == "land_approval"
    ]
    assert len(land) == 3
    assert land[0]["requested_at"] == format_time(at("2026-11-05"))
    licences = sent(hub, "WH-JR-2", "license.issued")
    assert [(d, p["name"], p["case_no"]) for d, p in licences] == [
        ("e_license", "项目立项批复", "WH-JR-2")
    ]


def test_a_reject_ends_the_module_and_the_project_with_its_reason(hub: Hub) -> None:
    project = Departments(hub, "WH-JR-3")
    project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
    project.opinion(
        "project_approval", "ecology", "reject", at("2026-11-03"), reason="选址位于水源保护区"
    )
    project.opinion("project_approval", "natural_resources", "approve", at("2026-11-04"))
    hub.flows.advance(at("2026-11-04", 12))

    view = hub.flows.view("WH-JR-3", at("2026-11-04", 12))
    assert view is not None
    assert (view["state"], view["reason"]) == ("rejected", "选址位于水源保护区")
    module = view["modules"][0]
    assert (module["status"], module["reason"]) == ("rejected", "选址位于水源保护区")
    assert [o["effect"] for o in module["opinions"]] == ["answer", "late"]
    assert [
        (p["result"], p["reason"]) for _, p in sent(hub, "WH-JR-3", "flow.module_completed")
    ] == [("rejected", "选址位于水源保护区")]
    assert all(m["status"] == "waiting" for m in view["modules"][1:])


def test_opinions_are_idempotent_and_a_late_one_is_recorded_not_acted_on(hub: Hub) -> None:
    project = Departments(hub, "WH-JR-4")
    project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
    first = project.opinion("project_approval", "ecology", "approve", at("2026-11-03"), key="e1")
    same = project.opinion("project_approval", "ecology", "approve", at("2026-11-03"), key="e1")
    assert (first.created, same.created, same.message_id) == (True, False, first.message_id)
    project.opinion("project_approval", "ecology", "reject", at("2026-11-03", 11), reason="改主意")
    project.approve_all("project_approval", at("2026-11-04"), except_for=("ecology",))
    project.opinion("project_approval", "ecology", "reject", at("2026-11-05"), reason="晚了")
    hub.flows.advance(at("2026-11-05", 12))

    module = module_of(hub, "WH-JR-4", "project_approval", at("2026-11-05", 12))
    assert module["status"] == "approved"
    assert module["finished_at"] == format_time(at("2026-11-04"))
    effects = [(o["department"], o["opinion"], o["effect"]) for o in module["opinions"]]
    assert effects == [
        ("ecology", "approve", "answer"),
        ("ecology", "reject", "duplicate"),
        ("development_reform", "approve", "answer"),
        ("natural_resources", "approve", "answer"),
        ("ecology", "reject", "late"),
    ]


def test_an_opinion_from_a_department_that_does_not_review_the_module_is_refused(
    hub: Hub,
) -> None:
    project = Departments(hub, "WH-JR-5")
    with pytest.raises(Invalid) as raised:
        project.opinion("project_approval", "housing", "approve", at("2026-11-03"))
    assert [e.path for e in raised.value.errors] == ["payload.department.code"]
    assert hub.store.flows.timeline("WH-JR-5") == []


def test_a_supplement_in_planning_moves_its_due_day_by_the_paused_working_days(
    hub: Hub,
) -> None:
    project = Departments(hub, "WH-JR-6")
    project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
    project.approve_all("project_approval", at("2026-11-06"))
    project.approve_all("land_approval", at("2026-11-12"))
    hub.flows.advance(at("2026-11-12", 12))
    before = module_of(hub, "WH-JR-6", "planning", at("2026-11-12", 12))
    assert before["due_on"] == "2026-11-25"  # 9 working days from Thursday 12 November

    # 生态环境局 asks for a revised design on Wednesday 18th; it comes on Monday 23rd.
    project.opinion("planning", "ecology", "supplement", at("2026-11-18"), reason="补充环评")
    hub.flows.advance(at("2026-11-18", 12))
    stopped = module_of(hub, "WH-JR-6", "planning", at("2026-11-20", 12))
    assert stopped["stopped"] is True
    project.supply(
        "planning", at("2026-11-23", 15), [{"code": "design_scheme", "name": "设计方案（修改）"}]
    )
    hub.flows.advance(at("2026-11-23", 16))

    after = module_of(hub, "WH-JR-6", "planning", at("2026-11-23", 16))
    paused = hub.calendar.working_days_between(dt.date(2026, 11, 18), dt.date(2026, 11, 23))
    assert paused == after["stopped_working_days"] == 3
    assert (
        after["due_on"] == hub.calendar.add_working_days(dt.date(2026, 11, 25), paused).isoformat()
    )
    assert after["due_on"] == "2026-11-30"
    rounds = [
        (p["round"], {m["code"]: m["source"] for m in p["materials"]}["design_scheme"])
        for d, p in sent(hub, "WH-JR-6", "flow.review_requested")
        if d == "dept_ecology" and p["module"] == "planning"
    ]
    assert sorted(rounds) == [(1, "missing"), (2, "applicant")]
    assert after["due_on"] == next(
        p["due_on"]
        for d, p in sent(hub, "WH-JR-6", "flow.review_requested")
        if d == "dept_ecology" and p["module"] == "planning" and p["round"] == 2
    )


def test_the_whole_flow_takes_28_working_days_and_reuses_each_modules_licence(
    hub: Hub,
) -> None:
    project = Departments(hub, "WH-JR-7")
    accepted = at("2026-11-02", 9)
    project.accept("project_approval", accepted, PROPOSAL)
    now = accepted
    for module in project.flow.modules:
        hub.flows.advance(now)
        due = dt.date.fromisoformat(module_of(hub, "WH-JR-7", module.id, now)["due_on"])
        now = at(due.isoformat(), 16)  # every department answers on the module's last day
        project.approve_all(module.id, now)
    hub.flows.advance(now)

    record = hub.store.flows.get("WH-JR-7")
    assert record is not None
    assert (record.state, record.light, record.working_days) == ("approved", "green", 28)
    assert record.finished_at == at("2026-12-10", 16)
    assert [m["on_time"] for m in record.modules] == [True] * 5
    requests = sent(hub, "WH-JR-7", "flow.review_requested")
    per_department = [(p["module"], d) for d, p in requests]
    assert len(per_department) == len(set(per_department)) == 3 + 3 + 4 + 3 + 4
    planning = next(p for d, p in requests if p["module"] == "planning" and d == "dept_housing")
    sources = {m["code"]: m["source"] for m in planning["materials"]}
    assert sources["land_planning_permit"] == "module:land_approval"
    assert sources["project_approval_doc"] == "module:project_approval"
    assert len(sent(hub, "WH-JR-7", "license.issued")) == 5


def test_one_late_department_turns_yellow_then_red_across_the_spring_festival(
    hub: Hub,
) -> None:
    project = Departments(hub, "WH-JR-8")
    # Wednesday 11 February 2026: the limit runs 12, 13, 14 (a worked Saturday), then the
    # Spring Festival (15-23 February), then 24 and 25 February.
    project.accept("project_approval", at("2026-02-11", 9), PROPOSAL)
    project.approve_all("project_approval", at("2026-02-12"), except_for=("ecology",))
    hub.flows.advance(at("2026-02-12", 12))

    def lights(moment: dt.datetime) -> tuple[str, str, str]:
        hub.flows.evaluate(moment)
        record = hub.store.flows.get("WH-JR-8")
        assert record is not None
        module = record.modules[0]
        ecology = next(d for d in module["departments"] if d["department"] == "ecology")
        return record.light, module["light"], ecology["light"]

    assert lights(at("2026-02-14", 18)) == ("green", "green", "green")
    assert lights(at("2026-02-23", 23)) == ("green", "green", "green")  # still the holiday
    assert lights(at("2026-02-24", 0)) == ("yellow", "yellow", "yellow")  # 4th working day
    assert lights(at("2026-02-25", 23)) == ("yellow", "yellow", "yellow")  # the due day
    assert lights(at("2026-02-26", 0)) == ("red", "red", "red")
    module = module_of(hub, "WH-JR-8", "project_approval", at("2026-02-26", 0))
    assert module["due_on"] == "2026-02-25"
    others = {d["department"]: d["light"] for d in module["departments"]}
    assert others == {"development_reform": "green", "natural_resources": "green", "ecology": "red"}
    assert hub.store.flows.by_state_and_light() == {("running", "red"): 1}
    notices = [
        (t, p["department"]["name"], p["light"], p["due_on"], p["evaluated_at"][:10])
        for t in ("supervision.warning", "supervision.overdue")
        for _, p in _published(hub, t)
    ]
    # once each, however many evaluations saw it; only the late department
    assert notices == [
        ("supervision.warning", "威海市生态环境局", "yellow", "2026-02-25", "2026-02-24"),
        ("supervision.overdue", "威海市生态环境局", "red", "2026-02-25", "2026-02-26"),
    ]


def _published(hub: Hub, message_type: str) -> list[tuple[str, dict[str, Any]]]:
    page = hub.store.messages.search(MessageFilter(type=message_type), limit=50)
    return [(item.envelope.id, item.envelope.payload) for item in page.items]


def test_a_material_the_library_holds_is_attached_and_one_it_cannot_say_is_asked_for(
    hub: Hub,
) -> None:
    asked: list[tuple[str, str]] = []

    def library(flow: Any, applicant: Any, type_code: str) -> dict[str, str] | None:
        asked.append((applicant["code"], type_code))
        if applicant["code"] == "91371002MA3C00001M":
            return {"license_id": "1.2.156.3005.2.x", "name": "营业执照"}
        raise ConnectionError("the library is away")

    hub.flows.lookup = library
    project = Departments(hub, "WH-JR-9")
    project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
    hub.flows.advance(at("2026-11-02", 10))
    hub.flows.advance(at("2026-11-02", 11))  # asked once: nothing is looked up again
    [first, *_] = [p for _, p in sent(hub, "WH-JR-9", "flow.review_requested")]
    assert {m["code"]: (m["source"], m.get("ref")) for m in first["materials"]} == {
        "project_proposal": ("applicant", "sha256:abc"),
        "business_licence": ("e_license", "1.2.156.3005.2.x"),
    }
    assert asked == [("91371002MA3C00001M", "11100000000013338W001")]

    other = Departments(hub, "WH-JR-10")
    other.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
    hub.flows.lookup = lambda flow, applicant, type_code: library(flow, {"code": "x"}, type_code)
    hub.flows.advance(at("2026-11-02", 10))
    [request, *_] = [p for _, p in sent(hub, "WH-JR-10", "flow.review_requested")]
    assert {m["code"]: m["source"] for m in request["materials"]}["business_licence"] == "missing"


def test_a_project_runs_on_postgresql_too(tmp_path: Path, postgres_url: str) -> None:
    from dataclasses import replace

    config = flow_config(tmp_path)
    hub = Hub(replace(config, database=replace(config.database, url=postgres_url)))
    try:
        project = Departments(hub, "WH-PG-1")
        project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
        project.approve_all("project_approval", at("2026-11-06"))
        hub.flows.advance(at("2026-11-06", 12))
        record = hub.store.flows.get("WH-PG-1")
        assert record is not None
        assert [m["status"] for m in record.modules[:2]] == ["approved", "running"]
        # every department had answered 项目立项 before the first run: only 用地审批 asks
        assert len(sent(hub, "WH-PG-1", "flow.review_requested")) == 3
        assert hub.store.flows.by_state_and_light() == {("running", "green"): 1}
    finally:
        hub.close()


def test_a_project_whose_publication_is_refused_holds_no_other_back(hub: Hub) -> None:
    from hub.core.envelope import Envelope
    from hub.core.errors import FieldError

    def refuse_its_licences(envelope: Envelope) -> list[FieldError]:
        if envelope.type == "license.issued" and envelope.payload["case_no"] == "WH-JR-11":
            return [FieldError("headers.signature", "license.issued must arrive signed")]
        return []

    hub.ingest.screens.append(refuse_its_licences)
    refused, fine = Departments(hub, "WH-JR-11"), Departments(hub, "WH-JR-12")
    for project in (refused, fine):
        project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
        project.approve_all("project_approval", at("2026-11-04"))
    done = hub.flows.advance(at("2026-11-04", 12))
    assert (done.projects, done.failed) == (1, 1)
    assert hub.store.flows.get("WH-JR-12") is not None
    assert hub.store.flows.get("WH-JR-11") is None
    assert hub.store.flows.pending() == ["WH-JR-11"]  # tried again by the next run


def test_a_department_bound_to_its_client_is_spoken_for_by_no_other(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    text = (BUILTIN_DIR / "weihai_construction.toml").read_text(encoding="utf-8")
    bound = text.replace('client = "dept-ecology"', 'client = "sthj-system"')
    (folder / "weihai_construction.toml").write_text(bound, encoding="utf-8")
    hub = Hub(flow_config(tmp_path, flows_dir=folder))
    try:
        project = Departments(hub, "WH-JR-13")
        with pytest.raises(Invalid) as raised:
            project.opinion("project_approval", "ecology", "approve", at("2026-11-03"))
        assert [e.to_json() for e in raised.value.errors] == [
            {
                "path": "payload.department",
                "message": "client 'dept-ecology' may not speak for 威海市生态环境局",
            }
        ]
        project.source = "sthj-system"
        assert project.opinion("project_approval", "ecology", "approve", at("2026-11-03")).created
    finally:
        hub.close()


def test_a_project_of_a_flow_no_longer_run_waits_without_stopping_the_run(hub: Hub) -> None:
    project = Departments(hub, "WH-JR-14")
    project.accept("project_approval", at("2026-11-02", 9), PROPOSAL)
    flows = hub.flows.flows
    hub.flows.flows = {}  # the flow's file was removed; its project's events stay
    done = hub.flows.advance(at("2026-11-02", 10))
    assert (done.projects, done.failed) == (0, 1)
    hub.flows.flows = flows
    assert hub.flows.advance(at("2026-11-02", 11)).projects == 1
