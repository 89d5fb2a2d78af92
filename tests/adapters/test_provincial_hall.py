"""The provincial hall adapter against its SOAP sandbox: the contract, and what is its own."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from lxml import etree

from adapters.provincial_hall.adapter import ProvincialHallAdapter
from adapters.provincial_hall.catalogue import DEFAULT_SIZE
from adapters.provincial_hall.sandbox import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    ENDPOINT,
    NS,
    create_app,
)
from adapters.sdk import Attempt, ConfigurationError, RejectedError, RetriableError
from adapters.sdk.testing import AdapterContract, SandboxClient
from faces.serving import RunningServer, serve_in_thread
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.registry import with_defaults
from tests.support import example

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def hall_settings(url: str, **changes: Any) -> dict[str, Any]:
    settings = {
        "url": f"{url}{ENDPOINT}",
        "username": DEFAULT_USERNAME,
        "password": DEFAULT_PASSWORD,
    }
    settings.update(changes)
    return settings


class TestProvincialHallContract(AdapterContract):
    adapter = ProvincialHallAdapter
    sandbox = create_app
    examples = ("case.pre_reviewed", "case.status_changed", "case.completed")

    def settings(self, url: str) -> dict[str, Any]:
        return hall_settings(url)

    def arrange(self, sandbox: SandboxClient, message: Envelope) -> None:
        # The hall takes process and results only for cases it knows: seed the case.
        response = sandbox.session.post(
            f"{sandbox.url}/_sandbox/applications",
            json={"SBLSH": message.payload["case_no"]},
            timeout=10,
        )
        response.raise_for_status()


class TestProvincialHallLegacyContract(TestProvincialHallContract):
    """The same contract with reads through the XML-in-a-string operation."""

    def settings(self, url: str) -> dict[str, Any]:
        return hall_settings(url, query_mode="legacy_xml")


# --------------------------------------------------------------------------- beyond the contract


@pytest.fixture(scope="module")
def hall() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    yield server
    server.stop()


@pytest.fixture
def control(hall: RunningServer) -> Iterator[requests.Session]:
    session = requests.Session()
    session.post(f"{hall.url}/_sandbox/reset", timeout=5).raise_for_status()
    yield session
    session.post(f"{hall.url}/_sandbox/reset", timeout=5).raise_for_status()
    session.close()


@pytest.fixture
def make(hall: RunningServer) -> Iterator[Any]:
    made: list[ProvincialHallAdapter] = []

    def build(**changes: Any) -> ProvincialHallAdapter:
        settings = with_defaults(
            hall_settings(hall.url, **changes), ProvincialHallAdapter.settings_schema
        )
        made.append(ProvincialHallAdapter("provincial_hall", settings))
        return made[-1]

    yield build
    for adapter in made:
        adapter.close()


def seed(session: requests.Session, hall: RunningServer, *applications: dict[str, Any]) -> None:
    session.post(
        f"{hall.url}/_sandbox/applications", json=list(applications), timeout=5
    ).raise_for_status()


def message(message_type: str, **changes: Any) -> Envelope:
    payload = example(message_type, **changes)
    return Envelope(
        id=new_id(),
        type=message_type,
        source="test",
        payload=payload,
        created_at=utcnow(),
        correlation_id=payload["case_no"],
    )


def test_completed_case_is_reported_completed_by_the_hall(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    seed(control, hall, {"SBLSH": "WH-2026-000123"})
    adapter = make()
    adapter.deliver(message("case.status_changed"), Attempt(new_id(), "provincial_hall"))
    assert control.get(f"{hall.url}/_sandbox/cases/WH-2026-000123").json()["state"] == (
        "processing"
    )
    receipt = adapter.deliver(message("case.completed"), Attempt(new_id(), "provincial_hall"))
    assert receipt.data["code"] == "0"
    case = control.get(f"{hall.url}/_sandbox/cases/WH-2026-000123").json()
    assert case["state"] == "completed"
    assert case["result"] == "0"
    [_process, result] = case["events"]
    assert result["ZZBS"] == [
        "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
    ]
    assert result["SFKD"] == "true"


def test_pre_review_outcomes_reach_the_hall_with_the_missing_materials(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    seed(control, hall, {"SBLSH": "WH-2026-000123"})
    adapter = make()
    receipt = adapter.deliver(message("case.pre_reviewed"), Attempt(new_id(), "provincial_hall"))
    assert receipt.detail.startswith("PushPreReview")
    case = control.get(f"{hall.url}/_sandbox/cases/WH-2026-000123").json()
    assert (case["prereview"], case["missing"]) == ("2", ["户口簿", "近期免冠照片"])
    [event] = case["events"]
    assert (event["kind"], event["YSYJ"]) == ("prereview", "请补充户口簿和近期免冠照片")
    passed = message("case.pre_reviewed", outcome="pass", missing_materials=[])
    adapter.deliver(passed, Attempt(new_id(), "provincial_hall"))
    case = control.get(f"{hall.url}/_sandbox/cases/WH-2026-000123").json()
    assert (case["prereview"], case["missing"]) == ("1", [])
    assert case["state"] != "completed", "a pre-review does not end the case"


def test_result_for_a_case_the_hall_does_not_know_is_rejected_with_its_reason(
    control: requests.Session, make: Any
) -> None:
    with pytest.raises(RejectedError, match="1001: 办件不存在"):
        make().deliver(message("case.completed"), Attempt(new_id(), "provincial_hall"))


def test_nothing_may_follow_the_result(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    seed(control, hall, {"SBLSH": "WH-2026-000123"})
    adapter = make()
    adapter.deliver(message("case.completed"), Attempt(new_id(), "provincial_hall"))
    with pytest.raises(RejectedError, match="1002"):
        adapter.deliver(message("case.status_changed"), Attempt(new_id(), "provincial_hall"))


def test_busy_code_inside_a_normal_answer_is_retriable(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    seed(control, hall, {"SBLSH": "WH-2026-000123"})
    adapter = make()
    adapter.check()
    control.post(f"{hall.url}/_sandbox/faults", json={"fault": "busy"}).raise_for_status()
    with pytest.raises(RetriableError, match="9001: 系统繁忙"):
        adapter.deliver(message("case.completed"), Attempt(new_id(), "provincial_hall"))
    # one busy answer only: the retry goes through
    adapter.deliver(message("case.completed"), Attempt(new_id(), "provincial_hall"))


def test_bad_input_gets_a_client_fault_naming_the_field(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    seed(control, hall, {"SBLSH": "WH-2026-000123"})
    bad = message("case.status_changed", status="99")  # past the schema, e.g. a replayed old row
    with pytest.raises(RejectedError, match="BLZT") as raised:
        make().deliver(bad, Attempt(new_id(), "provincial_hall"))
    assert "SOAP fault soap:Client" in str(raised.value)
    assert control.get(f"{hall.url}/_sandbox/cases/WH-2026-000123").json()["events"] == []


def test_account_without_the_area_is_a_configuration_error(
    control: requests.Session, make: Any
) -> None:
    with pytest.raises(ConfigurationError, match="2001"):
        make(area_code="370100").check()


def test_password_text_works_as_well_as_digest(control: requests.Session, make: Any) -> None:
    make(password_digest=False).check()
    with pytest.raises(ConfigurationError, match="FailedAuthentication"):
        make(password_digest=False, password="not-the-password").check()


def test_legacy_answer_declared_gb2312_with_gbk_names_decodes_right(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    seed(control, hall, {"SBLSH": "SD-LEGACY-1", "SQRMC": "王喆", "SQRLX": "1"})
    adapter = make(query_mode="legacy_xml")
    [record] = adapter.read("applications", None, 10).records
    assert record.payload["applicant"]["name"] == "王喆"

    # What came over the wire: declared GB2312, yet 喆 is not in GB2312.
    answer = adapter.soap.call(
        "QueryAppliesXml",
        xmlParam='<?xml version="1.0" encoding="GBK"?><QUERY><SINCE>1970-01-01T00:00:00+08:00'
        "</SINCE><PAGENO>1</PAGENO><PAGESIZE>10</PAGESIZE></QUERY>",
    )
    raw: bytes = answer["return"]
    assert raw.startswith(b'<?xml version="1.0" encoding="GB2312"?>')
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")


def test_legacy_query_that_is_not_xml_is_a_client_fault(
    control: requests.Session, make: Any
) -> None:
    adapter = make()
    with pytest.raises(RejectedError, match="xmlParam"):
        adapter.soap.call("QueryAppliesXml", xmlParam="<QUERY><SINCE>")


def test_raw_envelope_escape_hatch_and_nonce_replay(control: requests.Session, make: Any) -> None:
    adapter = make()
    envelope = adapter.soap.envelope(
        "QueryApplies", SINCE=utcnow(), PAGENO=1, PAGESIZE=1, XZQHDM=None
    )
    raw = etree.tostring(envelope)
    answer = adapter.soap.post_raw(raw, soap_action=adapter.soap.soap_action("QueryApplies"))
    assert answer.tag == f"{{{NS}}}QueryAppliesResponse"
    assert answer.findtext(f"{{{NS}}}CODE") == "0"
    # the same signed envelope again: its nonce was used, the hall refuses a replay
    with pytest.raises(ConfigurationError, match="FailedAuthentication"):
        adapter.soap.post_raw(raw)


def test_raw_envelope_signed_by_the_helper(control: requests.Session, make: Any) -> None:
    adapter = make()
    raw = (
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:h="{NS}"><soap:Body><h:QueryApplies>'
        "<h:SINCE>2026-01-01T00:00:00+08:00</h:SINCE><h:PAGENO>1</h:PAGENO>"
        "<h:PAGESIZE>5</h:PAGESIZE></h:QueryApplies></soap:Body></soap:Envelope>"
    )
    with pytest.raises(ConfigurationError, match="InvalidSecurity"):
        adapter.soap.post_raw(raw)
    answer = adapter.soap.post_raw(raw, sign=True)
    assert answer.findtext(f"{{{NS}}}TOTAL") == "0"


def test_wsdl_is_served_with_the_address_it_was_fetched_from(hall: RunningServer) -> None:
    response = requests.get(f"{hall.url}{ENDPOINT}?wsdl", timeout=5)
    assert response.status_code == 200
    assert f'location="{hall.url}{ENDPOINT}"' in response.text


def test_hall_refuses_soap_12_and_entities(hall: RunningServer) -> None:
    soap12 = requests.post(
        f"{hall.url}{ENDPOINT}",
        data=b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
        headers={"Content-Type": "application/soap+xml"},
        timeout=5,
    )
    assert soap12.status_code == 500
    assert b"VersionMismatch" in soap12.content

    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<soap:Envelope xmlns:soap="' + SOAP.encode() + b'"><soap:Body><x>&e;</x>'
        b"</soap:Body></soap:Envelope>"
    )
    answer = requests.post(
        f"{hall.url}{ENDPOINT}", data=xxe, headers={"Content-Type": "text/xml"}, timeout=5
    )
    assert answer.status_code == 500
    assert b"root:" not in answer.content
    assert b"InvalidSecurity" in answer.content


def test_applications_page_in_storage_order_with_the_cursor(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    seed(control, hall, *({"SBLSH": f"SD-{n:03d}"} for n in range(7)))
    adapter = make(page_size=3)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        batch = adapter.read("applications", cursor, 2)
        seen += [record.key for record in batch.records]
        cursor = batch.cursor or cursor
        if not batch.more:
            break
    assert seen == [f"SD-{n:03d}" for n in range(7)]
    assert adapter.read("applications", cursor, 10).records == []


def test_mobile_channel_and_courier_delivery_map_onto_the_case(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    seed(
        control,
        hall,
        {"SBLSH": "SD-M-1", "SBQD": "2", "YJDZ": "山东省威海市环翠区新威路1号"},
    )
    [record] = make().read("applications", None, 10).records
    assert record.payload["channel"] == "mobile"
    assert record.payload["delivery"] == {
        "method": "courier",
        "address": "山东省威海市环翠区新威路1号",
    }
    assert record.correlation_id == record.key == "SD-M-1"


def test_a_cursor_from_elsewhere_is_a_configuration_error(make: Any) -> None:
    with pytest.raises(ConfigurationError, match="cursor"):
        make().read("applications", "not-json", 10)


def test_legacy_blob_is_not_logged_whole(
    hall: RunningServer, control: requests.Session, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    seed(control, hall, {"SBLSH": "SD-LOG-1", "SQRZJHM": "11010519491231002X", "SQRZJLX": "111"})
    make(query_mode="legacy_xml").read("applications", None, 10)
    assert "<base64," in caplog.text
    assert base64.b64encode(b"11010519491231002X").decode()[:12] not in caplog.text
    assert "11010519491231002X" not in caplog.text


# --------------------------------------------------------------------------- item catalogue


def test_items_come_in_pages_after_the_cursor_until_none_are_left(
    control: requests.Session, make: Any
) -> None:
    adapter = make()
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = adapter.items_after(cursor, 100)
        seen += [item["code"] for item in page.items]
        cursor = page.cursor
        if not page.more:
            break
    assert len(seen) == len(set(seen)) == DEFAULT_SIZE
    last = adapter.items_after(cursor, 100)
    assert (last.items, last.more, last.cursor) == ([], False, cursor)


def test_an_item_maps_onto_the_catalogue_fields(control: requests.Session, make: Any) -> None:
    items = {item["code"]: item for item in make().items_after(None, 500).items}
    first = items["11371000004336447K4370220001000"]
    assert first["department"]["name"] == "威海市民政局"
    assert (first["item_type"], first["case_kind"], first["committed_limit_days"]) == ("20", "1", 0)
    assert first["online_depth"] == "fully_online"
    assert first["materials"][0] == {"name": "居民身份证", "required": True}
    assert first["hall_version"] == 1
    assert first["hall_updated_at"].endswith("+08:00")


def test_a_revised_item_comes_again_after_the_cursor_with_the_next_version(
    hall: RunningServer, control: requests.Session, make: Any
) -> None:
    adapter = make()
    cursor = None
    while True:
        page = adapter.items_after(cursor, 500)
        cursor = page.cursor
        if not page.more:
            break
    code = "11371000004336447K4370220001000"
    control.post(f"{hall.url}/_sandbox/items/{code}", json={"WBSD": "2"}, timeout=5)
    [revised] = adapter.items_after(cursor, 500).items
    assert (revised["code"], revised["hall_version"], revised["online_depth"]) == (
        code,
        2,
        "pre_review",
    )


def test_a_cursor_the_hall_did_not_write_is_refused_naming_it(make: Any) -> None:
    with pytest.raises(RejectedError, match="CURSOR"):
        make().items_after("not-a-cursor", 10)


def test_items_of_an_area_outside_the_account_are_a_configuration_error(make: Any) -> None:
    with pytest.raises(ConfigurationError, match="2001"):
        make(area_code="370200").items_after(None, 10)
