"""Submit once (免提交): a case reaches its department with the licences the library holds.

Real sandboxes on 127.0.0.1: the e-license library, the unified identity service, and a
department's webhook receiver; the hub's dispatcher delivers; the retry job runs at a
simulated due time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from stdnum.iso7064 import mod_37_36

from adapters.e_license.metadata import to_metadata
from adapters.e_license.sandbox import DEFAULT_CLIENT_ID as LIBRARY_ID
from adapters.e_license.sandbox import DEFAULT_CLIENT_SECRET as LIBRARY_SECRET
from adapters.e_license.sandbox import create_app as library_app
from adapters.unified_identity.sandbox import DEFAULT_CLIENT_ID as IDENTITY_ID
from adapters.unified_identity.sandbox import DEFAULT_CLIENT_SECRET as IDENTITY_SECRET
from adapters.unified_identity.sandbox import create_app as identity_app
from faces.serving import RunningServer, serve_in_thread
from hub.core.clock import utcnow
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.scheduler.catalog import installed_jobs
from hub.store import MessageFilter, ServiceItem
from hub.store.case_records import Material
from tests.scheduling import hub_with_jobs, make_runner, scheduler_config, wait_run
from tests.support import Receiver, example, start_receiver, wait_for, webhook_destination

WANG = "11010519491231002X"
ITEM = ServiceItem(
    code="11371000004336447K4370220001000",
    name="老年人优待证办理",
    department_code="11371000004336447K",
    department_name="威海市民政局",
    item_type="20",
    case_kind="2",
    committed_limit_days=5,
    materials=(Material("居民身份证"), Material("户口簿"), Material("近期免冠照片")),
)
ISSUER = "11371000004336447W"
ID_CARD_TYPE = "11100000000013338W001"
HOUSEHOLD_TYPE = "11100000000013338W002"


def licence_id(type_code: str, serial: str) -> str:
    body = f"{type_code}{ISSUER}{serial}001"
    return f"1.2.156.3005.2.{type_code}.{ISSUER}.{serial}.001.{mod_37_36.calc_check_digit(body)}"


ID_CARD = licence_id(ID_CARD_TYPE, "3710020001")
HOUSEHOLD = licence_id(HOUSEHOLD_TYPE, "3710020002")


def licence(license_id: str, name: str, type_code: str) -> dict[str, Any]:
    return {
        "license_id": license_id,
        "name": name,
        "type_code": type_code,
        "number": license_id.split(".")[7],
        "issuer": {"name": "威海市公安局", "code": ISSUER},
        "issued_on": "2020-01-02",
        "holder": {"name": "王秀英", "code": WANG, "code_type": "111"},
        "valid_from": "2020-01-02",
        "valid_until": "长期",
        "area_code": "371002",
        "file": {"media_type": "application/ofd", "sha256": "ab" * 32},
    }


@dataclass
class World:
    hub: Hub
    library: RunningServer
    identity: RunningServer
    department: Receiver

    def put(self, payload: dict[str, Any]) -> None:
        requests.post(
            f"{self.library.url}/_sandbox/licenses",
            json={"metadata": to_metadata(payload)},
            timeout=5,
        ).raise_for_status()

    def library_audit(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = requests.get(
            f"{self.library.url}/_sandbox/audit", timeout=5
        ).json()["entries"]
        return entries

    def faults(self, server: RunningServer, **faults: Any) -> None:
        requests.post(f"{server.url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()

    def submit(self, case_no: str, **changes: Any) -> str:
        acceptance = self.hub.ingest.publish(
            "hall",
            Submission("case.submitted", example("case.submitted", case_no=case_no, **changes)),
            channel="job",
        )
        return acceptance.message_id

    def delivered(self, message_type: str, case_no: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for received in self.department.accepted():
                envelope = received.envelope
                if envelope["type"] == message_type and envelope["payload"]["case_no"] == case_no:
                    return envelope
            return None

        return wait_for(found, 20, f"{message_type} {case_no} at the department")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    library = serve_in_thread(library_app(), "127.0.0.1", 0, threads=8)
    identity = serve_in_thread(identity_app(), "127.0.0.1", 0, threads=8)
    department = start_receiver()
    config = scheduler_config(
        tmp_path,
        destinations=[
            webhook_destination("civil_affairs", department),
            {
                "name": "e_license",
                "adapter": "e_license",
                "url": library.url,
                "client_id": LIBRARY_ID,
                "client_secret": LIBRARY_SECRET,
                "timeout_s": 2,
            },
            {
                "name": "unified_identity",
                "adapter": "unified_identity",
                "url": identity.url,
                "client_id": IDENTITY_ID,
                "client_secret": IDENTITY_SECRET,
                "timeout_s": 2,
            },
        ],
        routes=[
            {"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]},
        ],
        submit_once={
            "library": "e_license",
            "identity": "unified_identity",
            "to": ["civil_affairs"],
            "materials": {"居民身份证": ID_CARD_TYPE, "户口簿": HOUSEHOLD_TYPE},
            "retry_initial_s": 60,
        },
    )
    try:
        with hub_with_jobs(config, installed_jobs()) as hub:
            hub.store.items.store([ITEM], source="provincial_hall", at=utcnow())
            hub.start_dispatcher()
            yield World(hub, library, identity, department)
    finally:
        for server in (library, identity, department.server):
            server.stop()


def test_a_case_reaches_its_department_with_the_id_card_and_household_register_reused(
    world: World,
) -> None:
    world.put(licence(ID_CARD, "居民身份证", ID_CARD_TYPE))
    world.put(licence(HOUSEHOLD, "户口簿", HOUSEHOLD_TYPE))
    message_id = world.submit("WH-2026-100001")

    envelope = world.delivered("case.submitted", "WH-2026-100001")
    payload = envelope["payload"]
    materials = {m["name"]: m for m in payload["materials"]}
    assert materials["居民身份证"] == {"name": "居民身份证", "license_id": ID_CARD, "reused": True}
    assert materials["户口簿"] == {"name": "户口簿", "license_id": HOUSEHOLD, "reused": True}
    assert "license_id" not in materials["近期免冠照片"]
    assert payload["submit_once"]["status"] == "enriched"
    assert payload["submit_once"]["reused"] == [
        {"material": "居民身份证", "license_id": ID_CARD},
        {"material": "户口簿", "license_id": HOUSEHOLD},
    ]
    assert payload["submit_once"]["identity"] == {
        "verified": True,
        "level_of_assurance": 3,
        "kind": "person",
    }
    assert envelope["headers"]["submit_once"] == {
        "status": "enriched",
        "reused": ["居民身份证", "户口簿"],
    }

    # One look-up per material the guide names, each with its reason and item.
    searches = [e for e in world.library_audit() if e["action"] == "search"]
    assert len(searches) == len(ITEM.materials)
    assert all(e["item_code"] == ITEM.code and "WH-2026-100001" in e["reason"] for e in searches)
    # The stored message is unchanged; the trace (audit about the message) has every look-up.
    stored = world.hub.store.messages.get(message_id)
    assert stored is not None
    assert "submit_once" not in stored.envelope.payload
    trail = world.hub.store.audit.about([message_id])
    assert [r.action for r in trail] == ["identity.lookup", *["license.lookup"] * 3]
    assert [r.detail["material"] for r in trail[1:]] == ["居民身份证", "户口簿", "近期免冠照片"]
    assert all(r.detail["reason"] and r.detail["holder"] == "110105********002X" for r in trail)


def test_a_case_delivered_again_is_not_looked_up_again(world: World) -> None:
    world.put(licence(ID_CARD, "居民身份证", ID_CARD_TYPE))
    world.department.respond_with(503)  # the first attempt fails; the retry reuses the result
    world.submit("WH-2026-100002")
    envelope = world.delivered("case.submitted", "WH-2026-100002")
    assert envelope["payload"]["submit_once"]["reused"][0]["license_id"] == ID_CARD
    assert len(world.department.received) == 2
    assert len([e for e in world.library_audit() if e["action"] == "search"]) == 3


def test_an_applicant_who_declines_is_not_looked_up(world: World) -> None:
    world.put(licence(ID_CARD, "居民身份证", ID_CARD_TYPE))
    world.submit("WH-2026-100003", consent={"licence_reuse": False})
    envelope = world.delivered("case.submitted", "WH-2026-100003")
    assert envelope["payload"]["submit_once"] == {
        "status": "declined",
        "reused": [],
        "checked_at": envelope["payload"]["submit_once"]["checked_at"],
    }
    assert world.library_audit() == []


@pytest.mark.parametrize("down", ["library", "identity"])
def test_with_a_counterpart_down_the_case_goes_out_not_enriched_and_the_job_catches_up(
    world: World, down: str
) -> None:
    world.put(licence(ID_CARD, "居民身份证", ID_CARD_TYPE))
    world.put(licence(HOUSEHOLD, "户口簿", HOUSEHOLD_TYPE))
    server = world.library if down == "library" else world.identity
    world.faults(server, down=True)
    case_no = f"WH-2026-2000{len(down)}"
    world.submit(case_no)

    envelope = world.delivered("case.submitted", case_no)
    marked = envelope["payload"]["submit_once"]
    assert marked["status"] == "not_enriched"
    assert marked["reused"] == []
    assert "503" in marked["reason"]
    waiting = world.hub.store.enrichments.get(case_no)
    assert waiting is not None
    assert waiting.status == "not_enriched"
    assert waiting.next_attempt_at is not None

    # Still down at the first retry: the case waits longer, nothing is published.
    later = waiting.next_attempt_at + dt.timedelta(seconds=1)
    runner = make_runner(world.hub, clock=lambda: later)
    try:
        run = wait_run(world.hub, runner.due("submit_once.retry", later) or "", 20)
        assert run.status == "ok", (run.error, run.log)
        again = world.hub.store.enrichments.get(case_no)
        assert again is not None
        assert again.attempts == 2
        assert again.next_attempt_at is not None
        assert again.next_attempt_at > waiting.next_attempt_at
    finally:
        runner.stop()

    world.faults(server)
    latest = again.next_attempt_at + dt.timedelta(seconds=1)
    runner = make_runner(world.hub, clock=lambda: latest)
    try:
        run = wait_run(world.hub, runner.due("submit_once.retry", latest) or "", 20)
        assert run.status == "ok", (run.error, run.log)
        assert run.published == 1
    finally:
        runner.stop()
    enriched = world.delivered("case.enriched", case_no)["payload"]
    assert enriched["reused"] == [
        {"material": "居民身份证", "license_id": ID_CARD},
        {"material": "户口簿", "license_id": HOUSEHOLD},
    ]
    done = world.hub.store.enrichments.get(case_no)
    assert done is not None
    assert done.status == "enriched"
    assert done.published_id is not None
    page = world.hub.store.messages.search(MessageFilter(correlation_id=case_no), limit=10)
    assert {m.envelope.type for m in page.items} == {"case.submitted", "case.enriched"}
