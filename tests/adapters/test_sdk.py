"""The SDK's pieces on their own: error mapping, budgets, masking, XML, the REST client."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from flask import Flask, Response, jsonify, request
from lxml import etree
from zeep.exceptions import Fault

from adapters.sdk import (
    Attempt,
    ConfigurationError,
    Receipt,
    RejectedError,
    ResultCodes,
    RetriableError,
    redact,
    secret_values,
)
from adapters.sdk.budget import CallBudget
from adapters.sdk.errors import dig
from adapters.sdk.http import BearerTokenAuth, RestClient, parse_retry_after
from adapters.sdk.sandbox import install_faults
from adapters.sdk.settings import looks_secret
from adapters.sdk.soap import error_from_fault
from adapters.sdk.traffic import Masker
from adapters.sdk.xml import XmlError, parse_declared
from faces.serving import RunningServer, serve_in_thread

RESIDENT_ID = "11010519491231002X"

# --------------------------------------------------------------------------- result codes


CODES = ResultCodes(
    code="head.code",
    message="head.msg",
    ok=("0", "0000"),
    errors={"9*": RetriableError, "401": ConfigurationError},
)


def test_result_code_ok_passes() -> None:
    CODES.check({"head": {"code": "0000"}}, "platform")
    CODES.check({"head": {"code": 0}}, "platform")  # numbers compare as text


def test_result_code_glob_maps_to_its_class_with_the_masked_message() -> None:
    with pytest.raises(RetriableError) as raised:
        CODES.check({"head": {"code": "9002", "msg": f"查询 {RESIDENT_ID} 超时"}}, "platform")
    assert "platform answered code 9002" in str(raised.value)
    assert RESIDENT_ID not in str(raised.value)
    assert "110105********002X" in str(raised.value)


def test_result_code_unlisted_is_rejected_and_listed_configuration() -> None:
    with pytest.raises(RejectedError):
        CODES.check({"head": {"code": "E17"}}, "platform")
    with pytest.raises(ConfigurationError):
        CODES.check({"head": {"code": "401"}}, "platform")


def test_missing_result_code_is_retriable_unless_optional() -> None:
    with pytest.raises(RetriableError, match="without a result code"):
        CODES.check({"data": []}, "platform")
    ResultCodes(required=False).check({"data": []}, "platform")


def test_dig_reads_dicts_lists_and_objects() -> None:
    class Answer:
        def __init__(self) -> None:
            self.header = {"items": [{"code": "7"}]}

    assert dig(Answer(), "header.items.0.code") == "7"
    assert dig({"a": None}, "a.b") is None
    assert dig({"a": [1]}, "a.5") is None


# --------------------------------------------------------------------------- SOAP faults


@pytest.mark.parametrize(
    ("code", "subcodes", "expected"),
    [
        ("soap:Client", None, RejectedError),
        ("{http://schemas.xmlsoap.org/soap/envelope/}Client", None, RejectedError),
        ("Client.Validation", None, RejectedError),
        ("soap:Server", None, RetriableError),
        ("env:Receiver", None, RetriableError),
        ("env:Sender", ["wsse:FailedAuthentication"], ConfigurationError),
        ("wsse:InvalidSecurity", None, ConfigurationError),
        ("wsse:MessageExpired", None, ConfigurationError),
        ("soap:VersionMismatch", None, ConfigurationError),
        ("x:SomethingNew", None, RetriableError),
    ],
)
def test_soap_fault_codes_map_onto_the_taxonomy(
    code: str, subcodes: list[str] | None, expected: type[Exception]
) -> None:
    error = error_from_fault(Fault("nope", code=code, subcodes=subcodes), "hall")
    assert type(error) is expected
    assert str(error).startswith("hall answered SOAP fault")


def test_adapter_fault_codes_come_first_and_read_the_detail() -> None:
    detail = etree.fromstring(
        "<detail><e:err xmlns:e='urn:x'><e:errorCode>E42</e:errorCode></e:err></detail>"
    )
    fault = Fault(f"证件 {RESIDENT_ID} 已注销", code="soap:Server", detail=detail)
    error = error_from_fault(fault, "hall", fault_codes={"E42": RejectedError})
    assert type(error) is RejectedError
    assert RESIDENT_ID not in str(error)


# --------------------------------------------------------------------------- budgets


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_budget_lets_a_burst_through_then_paces() -> None:
    clock = FakeClock()
    budget = CallBudget(2.0, burst=2, clock=clock, sleep=clock.sleep)
    budget.acquire()
    budget.acquire()
    assert clock.slept == []
    budget.acquire()
    assert clock.slept == [pytest.approx(0.5)]


def test_budget_refuses_to_hold_a_worker_past_its_wait() -> None:
    clock = FakeClock()
    budget = CallBudget(0.1, burst=1, max_wait_s=2, clock=clock, sleep=clock.sleep)
    budget.acquire()
    with pytest.raises(RetriableError, match="call budget") as raised:
        budget.acquire()
    assert raised.value.retry_after == pytest.approx(10)
    clock.now += 10
    budget.acquire()  # refused calls took no token


def test_unlimited_budget_never_waits() -> None:
    budget = CallBudget(None)
    for _ in range(1000):
        assert budget.reserve() == 0


# --------------------------------------------------------------------------- masking


def test_masker_hides_identifiers_mobiles_secrets_and_wsse_passwords() -> None:
    masker = Masker(["s3cret-value"])
    text = masker.text(
        f"id={RESIDENT_ID} tel=13800138000 key=s3cret-value "
        '<wsse:Password Type="x">hunter2</wsse:Password><wsse:Nonce>abc==</wsse:Nonce>'
    )
    assert RESIDENT_ID not in text
    assert "110105********002X" in text
    assert "138****8000" in text
    assert "s3cret-value" not in text
    assert "hunter2" not in text
    assert "abc==" not in text
    assert masker.headers({"Authorization": "Bearer x", "Accept": "a"}) == {
        "Authorization": "***",
        "Accept": "a",
    }


def test_masker_cuts_long_bodies_and_summarises_base64() -> None:
    masker = Masker()
    assert len(masker.text("x" * 10_000, 100)) < 200
    blob = "QUJD" * 100
    assert masker.text(f"<return>{blob}</return>") == "<return><base64, 400 characters></return>"


# --------------------------------------------------------------------------- XML


def test_declared_gb2312_with_gbk_characters_decodes() -> None:
    document = '<?xml version="1.0" encoding="GB2312"?><r><n>王喆</n></r>'.encode("gb18030")
    assert parse_declared(document).findtext("n") == "王喆"


def test_text_with_a_declaration_parses() -> None:
    root = parse_declared('<?xml version="1.0" encoding="GBK"?><q><s>1</s></q>')
    assert root.findtext("s") == "1"


def test_entities_are_not_expanded_and_files_not_read() -> None:
    inner = parse_declared(b'<!DOCTYPE x [<!ENTITY a "boom">]><x>&a;</x>')
    assert "boom" not in etree.tostring(inner).decode()
    outer = parse_declared(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    assert "root:" not in etree.tostring(outer).decode()


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"<a>" + b"x" * 2000 + b"</a>", "larger than"),
        (b'<?xml version="1.0" encoding="X-NOPE"?><a/>', "unknown declared encoding"),
        (b"<a><b></a>", "not well-formed"),
        ('<?xml version="1.0" encoding="GB2312"?><a>\u00e9</a>'.encode("latin-1"), "not valid"),
    ],
)
def test_bad_xml_says_why(document: bytes, reason: str) -> None:
    with pytest.raises(XmlError, match=reason):
        parse_declared(document, limit=1000)


# --------------------------------------------------------------------------- settings


def test_secret_values_and_redact_reach_nested_settings() -> None:
    schema = {
        "type": "object",
        "properties": {
            "password": {"type": "string", "writeOnly": True},
            "oauth": {
                "type": "object",
                "properties": {"client_secret": {"type": "string", "writeOnly": True}},
            },
        },
    }
    settings = {"password": "p-1234", "oauth": {"client_secret": "c-5678", "id": "x"}}
    assert sorted(secret_values(settings, schema)) == ["c-5678", "p-1234"]
    assert redact(settings, schema) == {
        "password": "***",
        "oauth": {"client_secret": "***", "id": "x"},
    }


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("client_secret", True),
        ("api_key", True),
        ("token_url", False),
        ("username", False),
        ("private_key_file", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


# --------------------------------------------------------------------------- the REST client


def test_retry_after_as_http_date() -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    seconds = parse_retry_after(email.utils.format_datetime(later, usegmt=True))
    assert seconds is not None
    assert 100 < seconds <= 120
    assert parse_retry_after("soon") is None


@pytest.fixture(scope="module")
def platform() -> Iterator[RunningServer]:
    app = Flask("platform")
    tokens = {"valid": "t2"}
    release = threading.Event()

    @app.get("/slow")
    def slow() -> Response:
        release.wait(2)
        return jsonify({"code": "0"})

    @app.get("/limited")
    def limited() -> tuple[Response, int, dict[str, str]]:
        return jsonify({"error": "too many"}), 429, {"Retry-After": "7"}

    @app.post("/records")
    def records() -> Response:
        document = request.get_json()
        return jsonify({"code": document["answer"], "msg": "系统繁忙"})

    @app.get("/secure")
    def secure() -> tuple[Response, int]:
        if request.headers.get("Authorization") != f"Bearer {tokens['valid']}":
            return jsonify({"error": "bad token"}), 401
        return jsonify({"code": "0"}), 200

    @app.get("/moved")
    def moved() -> tuple[str, int, dict[str, str]]:
        return "", 302, {"Location": "/elsewhere"}

    @app.get("/html")
    def html() -> str:
        return "<html>proxy error</html>"

    server = serve_in_thread(app, "127.0.0.1", 0, threads=8)
    yield server
    release.set()
    server.stop()


def client(platform: RunningServer, **options: Any) -> RestClient:
    return RestClient(platform.url, counterpart="platform", **options)


def test_rest_client_always_times_out(platform: RunningServer) -> None:
    with pytest.raises(RetriableError, match=r"no answer within 0\.2 s"):
        client(platform, timeout_s=0.2).get("/slow")


def test_rest_client_honours_retry_after(platform: RunningServer) -> None:
    with pytest.raises(RetriableError) as raised:
        client(platform).get("/limited")
    assert raised.value.retry_after == 7
    assert raised.value.status_code == 429


def test_rest_client_applies_result_codes_to_200_answers(platform: RunningServer) -> None:
    codes = ResultCodes(code="code", message="msg", errors={"9001": RetriableError})
    rest = client(platform, result_codes=codes)
    assert rest.json("POST", "/records", json={"answer": "0"})["code"] == "0"
    with pytest.raises(RetriableError, match="9001: 系统繁忙"):
        rest.post("/records", json={"answer": "9001"})
    with pytest.raises(RejectedError, match="E1"):
        rest.post("/records", json={"answer": "E1"})


def test_bearer_token_is_fetched_once_and_renewed_after_a_401(platform: RunningServer) -> None:
    issued = iter(["t1", "t2", "t3"])
    fetched: list[str] = []

    def fetch() -> tuple[str, float]:
        fetched.append(next(issued))
        return fetched[-1], 3600

    rest = client(platform, auth=BearerTokenAuth(fetch))
    rest.get("/secure")  # t1 refused, t2 fetched and accepted
    rest.get("/secure")  # t2 re-used
    assert fetched == ["t1", "t2"]


def test_a_redirect_means_the_url_setting_is_wrong(platform: RunningServer) -> None:
    with pytest.raises(ConfigurationError, match="check the destination's URL"):
        client(platform).get("/moved")


def test_an_answer_that_is_not_json_is_retriable(platform: RunningServer) -> None:
    with pytest.raises(RetriableError, match="not JSON"):
        client(platform).json("GET", "/html")


def test_rest_client_keeps_to_its_budget(platform: RunningServer) -> None:
    rest = client(platform, budget=CallBudget(0.01, burst=1, max_wait_s=0.1))
    rest.get("/html")
    with pytest.raises(RetriableError, match="call budget"):
        rest.get("/html")


def test_rest_client_refuses_unknown_arguments(platform: RunningServer) -> None:
    with pytest.raises(TypeError, match="verify"):
        client(platform).get("/html", verify=False)


def test_rest_client_logs_masked(platform: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    codes = ResultCodes(code="code")
    client(
        platform,
        result_codes=codes,
        secrets=["app-secret-99"],
        headers={"Authorization": "Bearer app-secret-99"},
    ).post("/records", json={"answer": "0", "id_no": RESIDENT_ID, "key": "app-secret-99"})
    assert "→ platform POST" in caplog.text
    assert "← platform HTTP 200" in caplog.text
    assert RESIDENT_ID not in caplog.text
    assert "app-secret-99" not in caplog.text


# --------------------------------------------------------------------------- sandbox controls


def test_sandbox_faults_are_checked_and_counted() -> None:
    app = Flask("s")
    install_faults(app)

    @app.get("/x")
    def x() -> Response:
        return jsonify({"ok": True})

    web = app.test_client()
    assert web.post("/_sandbox/faults", json={"status": "many"}).status_code == 400
    assert web.post("/_sandbox/faults", json={"error_rate": 2}).status_code == 400
    assert (
        web.post("/_sandbox/faults", json={"status": 429, "retry_after": 3, "times": 2}).status_code
        == 200
    )
    first = web.get("/x")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert web.get("/x").status_code == 429
    assert web.get("/x").status_code == 200
    web.post("/_sandbox/faults", json={"fault": "client"})
    assert web.get("/x").status_code == 400
    web.post("/_sandbox/faults", json={"down": True})
    assert web.get("/x").status_code == 503
    assert web.get("/_sandbox/faults").get_json()["down"] is True
    web.post("/_sandbox/reset")
    assert web.get("/x").status_code == 200
    assert web.post("/_sandbox/seed", json={"stream": "s", "count": 1}).status_code == 404
    assert json.loads(web.get("/_sandbox/effects").data) == {"count": 0, "effects": []}


def test_a_soap_adapter_may_authenticate_over_http_instead_of_ws_security() -> None:
    from requests.auth import HTTPBasicAuth

    from adapters.sdk.http import Auth
    from adapters.sdk.soap_adapter import SoapAdapter
    from hub.core.envelope import Envelope

    class ByWsSecurity(SoapAdapter):
        name = "by_ws_security"
        settings_schema: ClassVar[dict[str, Any]] = {"type": "object"}

        def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
            raise NotImplementedError

    class ByBasic(ByWsSecurity):
        name = "by_basic"
        ws_security = False

        def auth(self) -> Auth:
            return HTTPBasicAuth(self.settings["username"], self.settings["password"])

    settings = {"url": "http://127.0.0.1:9/soap", "username": "govhub", "password": "pw-123456"}
    wsse = ByWsSecurity("hall", settings)
    basic = ByBasic("hall", settings)
    try:
        assert wsse.soap.wsse is not None
        assert wsse.soap.session.auth is None
        assert basic.soap.wsse is None  # the password never goes into a UsernameToken
        assert isinstance(basic.soap.session.auth, HTTPBasicAuth)
        assert basic.soap.session.auth.username == "govhub"
    finally:
        wsse.close()
        basic.close()
