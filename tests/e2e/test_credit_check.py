"""Joint credit check (联合奖惩): a licensing case reaches its department with the credit standing.

The credit platform's sandbox and a department's receiver on 127.0.0.1; the dispatcher
delivers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.credit_platform.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, create_app
from faces.serving import RunningServer, serve_in_thread
from hub.core.clock import utcnow
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.store import ServiceItem
from tests.support import (
    Receiver,
    example,
    hub_config,
    start_receiver,
    wait_for,
    webhook_destination,
)

BLACKLISTED = "91371002MA3C00098L"  # the sandbox's seeded 严重失信主体
CLEAR = "91371002MA3C00001M"
LICENSING = ServiceItem(
    code="1137100000433130091371000031000",
    name="食品经营许可",
    department_code="113710000043313009",
    department_name="威海市市场监督管理局",
    item_type="01",
    case_kind="2",
    committed_limit_days=5,
)


@dataclass
class World:
    hub: Hub
    platform: RunningServer
    department: Receiver

    def submit(self, case_no: str, uscc: str | None, item_code: str = LICENSING.code) -> None:
        payload = example("case.submitted", case_no=case_no, item_code=item_code)
        if uscc is not None:
            payload["applicant"] = {
                "type": "2",
                "name": "威海某公司",
                "id_type": "001",
                "id_no": uscc,
            }
        self.hub.ingest.publish("hall", Submission("case.submitted", payload), channel="job")

    def delivered(self, case_no: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for received in self.department.accepted():
                if received.envelope["payload"]["case_no"] == case_no:
                    return received.envelope
            return None

        return wait_for(found, 20, f"case {case_no} at the department")


def make_world(tmp_path: Path, action: str) -> Iterator[World]:
    platform = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    department = start_receiver()
    config = hub_config(
        tmp_path,
        destinations=[
            webhook_destination("market", department),
            {
                "name": "credit_platform",
                "adapter": "credit_platform",
                "url": platform.url,
                "app_key": DEFAULT_APP_KEY,
                "app_secret": DEFAULT_APP_SECRET,
                "timeout_s": 2,
            },
        ],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["market"]}],
        credit_check={"credit": "credit_platform", "to": ["market"], "action": action},
    )
    hub = Hub(config)
    try:
        hub.store.items.store([LICENSING], source="provincial_hall", at=utcnow())
        hub.start_dispatcher()
        yield World(hub, platform, department)
    finally:
        hub.close()
        platform.stop()
        department.server.stop()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path, "flag")


@pytest.fixture
def holding(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path, "hold")


def test_a_blacklisted_companys_licensing_case_is_flagged_with_the_reason_and_delivered(
    world: World,
) -> None:
    world.submit("WH-2026-300001", BLACKLISTED)
    envelope = world.delivered("WH-2026-300001")
    check = envelope["payload"]["credit_check"]
    assert check["status"] == "blacklisted"
    assert check["action"] == "flag"
    assert check["reasons"] == ["严重失信主体名单：拒不履行人民法院生效判决"]
    assert envelope["headers"]["credit_check"] == {"status": "blacklisted", "action": "flag"}
    [record] = [r for r in world.hub.store.audit.trail() if r["action"] == "credit.check"]
    assert record["target"] == envelope["id"]
    assert record["detail"]["applicant"] == "913710**********8L"


def test_hold_asks_the_department_not_to_approve_and_still_delivers(holding: World) -> None:
    holding.submit("WH-2026-300002", BLACKLISTED)
    check = holding.delivered("WH-2026-300002")["payload"]["credit_check"]
    assert (check["status"], check["action"]) == ("blacklisted", "hold")


def test_a_clear_company_is_marked_clear_and_a_person_or_other_item_is_not_checked(
    world: World,
) -> None:
    world.submit("WH-2026-300003", CLEAR)
    world.submit("WH-2026-300004", None)  # a natural person: the platform asks by USCC
    assert world.delivered("WH-2026-300003")["payload"]["credit_check"]["status"] == "clear"
    assert "credit_check" not in world.delivered("WH-2026-300004")["payload"]
    world.hub.store.items.store(
        [
            ServiceItem(
                code="11371000004336447K4370220001000",
                name="老年人优待证办理",
                department_code="11371000004336447K",
                department_name="威海市民政局",
                item_type="20",
                case_kind="2",
                committed_limit_days=5,
            )
        ],
        source="provincial_hall",
        at=utcnow(),
    )
    world.submit("WH-2026-300005", BLACKLISTED, item_code="11371000004336447K4370220001000")
    assert "credit_check" not in world.delivered("WH-2026-300005")["payload"]


def test_the_platform_down_the_case_goes_out_unchecked(world: World) -> None:
    requests.post(f"{world.platform.url}/_sandbox/faults", json={"down": True}, timeout=5)
    world.submit("WH-2026-300006", BLACKLISTED)
    check = world.delivered("WH-2026-300006")["payload"]["credit_check"]
    assert check["status"] == "unchecked"
    assert "503" in check["reasons"][0]
