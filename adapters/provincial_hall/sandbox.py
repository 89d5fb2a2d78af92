"""The provincial online hall (省级网上政务大厅) as a SOAP 1.1 service, in memory.

It behaves as the halls' data-exchange WebServices do: a WSDL at ``?wsdl``
(document/literal), a WS-Security UsernameToken on every call, online applications read
page by page since a watermark (the hall's own 入库时间, ``RKSJ``), results pushed back per
case and event (``SBLSH`` + ``SJBH``: a repeated push is acknowledged and ignored), a
legacy operation whose query is XML in a string declared GBK and whose answer is the
bytes of an XML document declared GB2312 (but holding GBK-only characters, as real halls
send), ``soap:Client`` faults naming the field for bad input, and business errors as
codes inside normal answers (``CODE`` 1001 unknown case, 1002 case already completed,
2001 no access to that area, 9001 busy).

It also publishes its service-item catalogue (事项目录, ``QueryItems``): a few hundred
Weihai-like items (:mod:`adapters.provincial_hall.catalogue`), read page by page after a
cursor in the order they last changed (:mod:`adapters.provincial_hall.sandbox_items`).

Controls for tests and demos, besides those of :func:`adapters.sdk.sandbox.install_faults`:
``POST /_sandbox/applications`` (seed online applications: a JSON object or list of
partial applications, or ``{"count": N}``), ``GET /_sandbox/cases/<SBLSH>`` (what the
hall knows of a case: ``state`` is ``submitted``, ``processing`` or ``completed``),
``POST /_sandbox/items`` (``{"count": N}``: hold the first N items of the catalogue, up to
20,000), ``GET``/``POST /_sandbox/items/<SXBM>`` (an item; revise it with new field values,
e.g. ``{"CNBJSX": 3}``: next version, new stamp).
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import os
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from lxml import etree

from adapters.provincial_hall.catalogue import DEFAULT_SIZE, generate
from adapters.provincial_hall.sandbox_items import Catalogue, CursorError, item_element
from adapters.sdk.sandbox import SandboxInfo, install_faults
from adapters.sdk.sandbox_soap import (
    SoapRequestError,
    UsernameTokenVerifier,
    Wsdl,
    parse_envelope,
    soap_fault,
    soap_response,
)
from adapters.sdk.xml import XmlError, parse_declared
from hub.core.clock import HUB_TZ

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "ENDPOINT",
    "NS",
    "SANDBOX",
    "HallState",
    "create_app",
]

NS = "http://zwfw.sandbox.govhub.dev/hall/ws"
ENDPOINT = "/soap/ProvincialHall"
WSDL_FILE = Path(__file__).resolve().parent / "hall.wsdl"
DEFAULT_USERNAME = "govhub"
#: The sandbox's password when none is set; the default configuration uses the same one.
DEFAULT_PASSWORD = "sandbox-hall-password-0001"  # noqa: S105 - a sandbox's public test value
PASSWORD_ENV = "GOVHUB_HALL_PASSWORD"  # noqa: S105 - a variable's name, not a secret
AREA = "371000"  # 威海市

#: What online applicants apply for: five of the city's items in the catalogue.
_ITEMS = tuple(
    (str(item["SXBM"]), str(item["SXMC"]))
    for item in generate(DEFAULT_SIZE)
    if item["XZQHDM"] == AREA
    and item["SXMC"]
    in (
        "老年人优待证办理",
        "社会团体成立登记",
        "建设工程规划许可证核发",
        "城乡居民基本养老保险参保登记",
        "食品经营许可",
    )
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙朱马胡郭林何高罗"
# 喆, 镕, 堃 and 赟 are in GBK but not GB2312: the names halls mangle when they trust
# their own "encoding=GB2312" declaration.
_GIVEN = ("秀英", "伟", "静", "喆", "镕基", "志强", "桂兰", "堃", "赟", "海燕", "建国", "丽")
_STREETS = ("新威路1号", "文化中路88号", "青岛北路56号", "统一路218号", "海滨北路9号")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _resident_id(rng: random.Random) -> str:
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 60))
    body = f"371002{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]


def _uscc(rng: random.Random) -> str:
    body = "91371000" + "".join(rng.choice(_USCC_CHARS[:10]) for _ in range(9))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


def _format(moment: dt.datetime) -> str:
    return moment.astimezone(HUB_TZ).isoformat(timespec="microseconds")


def _parse_time(text: str, field_name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise SoapRequestError(
            "soap:Client", f"{field_name}: not an xs:dateTime", detail_code="1000", field=field_name
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=HUB_TZ)


@dataclass
class HallState:
    """Everything the hall holds; every method takes the lock."""

    rng: random.Random = field(default_factory=lambda: random.Random(20261127))
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    pushed: set[tuple[str, str]] = field(default_factory=set)
    effects: list[dict[str, Any]] = field(default_factory=list)
    # (RKSJ, SBLSH) in storage order: stamps only grow, so appending keeps it sorted
    order: list[tuple[dt.datetime, str]] = field(default_factory=list)
    last_stamp: dt.datetime | None = None
    sequence: int = 0
    catalogue_size: int = DEFAULT_SIZE

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.catalogue = Catalogue(self.catalogue_size)

    def reset(self) -> None:
        """Forget everything (the catalogue is published afresh)."""
        self.catalogue.resize(self.catalogue_size)
        with self.lock:
            self.applications.clear()
            self.cases.clear()
            self.pushed.clear()
            self.effects.clear()
            self.order.clear()
            self.last_stamp = None
            self.sequence = 0

    # ------------------------------------------------------------------ applications

    def add(self, given: dict[str, Any] | None = None) -> tuple[str, bool]:
        """Store an online application (missing fields made up); its SBLSH, and if new."""
        with self.lock:
            return self._add(dict(given or {}))

    def _add(self, given: dict[str, Any]) -> tuple[str, bool]:
        now = dt.datetime.now(HUB_TZ)
        # The hall's own stamp only ever grows, as a database sequence would.
        stamp = (
            now
            if self.last_stamp is None or now > self.last_stamp
            else (self.last_stamp + dt.timedelta(microseconds=1))
        )
        self.sequence += 1
        sblsh = str(given.get("SBLSH") or f"SD{now:%Y%m%d}{self.sequence:08d}")
        if sblsh in self.applications:
            return sblsh, False
        self.last_stamp = stamp
        rng = self.rng
        item_code, item_name = rng.choice(_ITEMS)
        person = rng.random() < 0.75
        application: dict[str, Any] = {
            "SBLSH": sblsh,
            "SXBM": item_code,
            "SXMC": item_name,
            "SQRLX": "1" if person else "2",
            "SQRMC": rng.choice(_SURNAMES) + rng.choice(_GIVEN)
            if person
            else f"威海{rng.choice(_GIVEN)}科技有限公司",
            "SQRZJLX": "111" if person else "001",
            "SQRZJHM": _resident_id(rng) if person else _uscc(rng),
            "LXRSJ": f"13{rng.randrange(0, 10**9):09d}",
            "SBSJ": _format(now - dt.timedelta(minutes=rng.randrange(0, 30))),
            "SBQD": rng.choice(("1", "2")),
            "XZQHDM": AREA,
            "CLXX": ["居民身份证", "申请表"] if person else ["营业执照", "申请书"],
        }
        if rng.random() < 0.5:
            application["YJDZ"] = f"山东省威海市环翠区{rng.choice(_STREETS)}"
        application.update({k: v for k, v in given.items() if v is not None})
        application["RKSJ"] = _format(stamp)
        self.applications[sblsh] = application
        self.order.append((stamp, sblsh))
        self.cases[sblsh] = {
            "sblsh": sblsh,
            "state": "submitted",
            "status": None,
            "result": None,
            "events": [],
        }
        return sblsh, True

    def query(
        self, since: dt.datetime, page_no: int, page_size: int, area: str | None
    ) -> tuple[int, list[dict[str, Any]]]:
        """Applications stored at or after ``since``, by (RKSJ, SBLSH), one page."""
        with self.lock:
            first = bisect.bisect_left(self.order, (since, ""))
            found = [
                self.applications[sblsh]
                for _stamp, sblsh in self.order[first:]
                if not area or self.applications[sblsh]["XZQHDM"] == area
            ]
        start = (page_no - 1) * page_size
        return len(found), [dict(a) for a in found[start : start + page_size]]

    # ------------------------------------------------------------------ pushes

    def push(self, kind: str, fields: dict[str, Any]) -> tuple[str, str]:
        """Apply a process or result push; ``(CODE, MESSAGE)``."""
        sblsh, event = fields["SBLSH"], fields["SJBH"]
        with self.lock:
            case = self.cases.get(sblsh)
            if case is None:
                return "1001", f"办件不存在：{sblsh}"
            if (sblsh, event) in self.pushed:
                return "0", "重复推送，已忽略"
            if case["state"] == "completed":
                return "1002", "办件已办结，不能再推送过程或结果"
            self.pushed.add((sblsh, event))
            case["events"].append({"kind": kind, "event": event, **fields})
            if kind == "result":
                case.update(state="completed", result=fields["BJJG"])
            elif kind == "prereview":
                # 在线预审 happens before acceptance: the case's state does not move
                case.update(prereview=fields["YSJG"], missing=list(fields.get("BQCL", [])))
            else:
                case.update(state="processing", status=fields["BLZT"])
            self.effects.append({"kind": kind, "key": f"{sblsh}/{event}"})
        return "0", "成功"

    def case(self, sblsh: str) -> dict[str, Any] | None:
        """What the hall knows of a case."""
        with self.lock:
            found = self.cases.get(sblsh)
            return None if found is None else {**found, "events": list(found["events"])}


# --------------------------------------------------------------------------- SOAP plumbing


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _fields(element: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        text = (child.text or "").strip()
        if name in ("ZZBS", "CLXX", "BQCL"):
            values.setdefault(name, []).append(text)
        else:
            values[name] = text
    return values


def _answer(operation: str, code: str, message: str, **fields: Any) -> Any:
    answer = etree.Element(_q(f"{operation}Response"), nsmap={"h": NS})
    etree.SubElement(answer, _q("CODE")).text = code
    etree.SubElement(answer, _q("MESSAGE")).text = message
    for name, value in fields.items():
        if isinstance(value, etree._Element):
            answer.append(value)
        elif isinstance(value, list):
            for item in value:
                answer.append(item)
        else:
            etree.SubElement(answer, _q(name)).text = str(value)
    return answer


_APPLY_ORDER = (
    "SBLSH",
    "SXBM",
    "SXMC",
    "SQRLX",
    "SQRMC",
    "SQRZJLX",
    "SQRZJHM",
    "LXRSJ",
    "SBSJ",
    "RKSJ",
    "SBQD",
    "XZQHDM",
    "YJDZ",
)


def _apply_element(application: dict[str, Any], namespace: str | None) -> Any:
    def tag(name: str) -> str:
        return f"{{{namespace}}}{name}" if namespace else name

    element = etree.Element(tag("APPLY"))
    for name in _APPLY_ORDER:
        if application.get(name) is not None:
            etree.SubElement(element, tag(name)).text = str(application[name])
    for material in application.get("CLXX", []):
        etree.SubElement(etree.SubElement(element, tag("CLXX")), tag("CLMC")).text = material
    return element


def _client(message: str, field_name: str | None = None) -> SoapRequestError:
    return SoapRequestError("soap:Client", message, detail_code="1000", field=field_name)


def create_app(
    username: str = DEFAULT_USERNAME,
    password: str | None = None,
    *,
    demo_applications: int = 0,
    items: int = DEFAULT_SIZE,
) -> Flask:
    """The provincial hall sandbox.

    Args:
        username: The WS-Security user it accepts.
        password: Its password; default ``$GOVHUB_HALL_PASSWORD`` or :data:`DEFAULT_PASSWORD`.
        demo_applications: Online applications to hold from the start (for demos).
        items: Items in its catalogue (a few hundred by default).
    """
    secret = password or os.environ.get(PASSWORD_ENV, DEFAULT_PASSWORD)
    app = Flask("govhub.sandbox.provincial_hall")
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    state = HallState(catalogue_size=items)
    wsdl = Wsdl(WSDL_FILE)
    verifier = UsernameTokenVerifier({username: secret})
    areas = {username: {AREA}}
    for _ in range(demo_applications):
        state.add()

    def operation_of_request() -> str:
        try:
            _header, body = parse_envelope(request.get_data(), request.content_type)
        except SoapRequestError:
            return "Push"
        return str(etree.QName(body).localname)

    def render_fault(kind: str) -> Response | None:
        if kind == "server":
            return soap_fault("soap:Server", "系统内部错误 (sandbox: injected)")
        if kind == "client":
            return _fault(_client("请求数据不合法 (sandbox: injected)", "SBLSH"))
        if kind == "busy":
            return soap_response(_answer(operation_of_request(), "9001", "系统繁忙，请稍后再试"))
        return None

    install_faults(
        app,
        state.reset,
        render_fault=render_fault,
        effects=lambda: list(state.effects),
        seed=lambda stream, count: _seed(state, stream, count),
    )

    @app.get(ENDPOINT)
    def get_wsdl() -> Response | tuple[Response, int]:
        if "wsdl" not in {k.lower() for k in request.args}:
            return jsonify({"error": "POST SOAP 1.1 envelopes here; the WSDL is at ?wsdl"}), 405
        return wsdl.served_at(request.host_url.rstrip("/") + ENDPOINT)

    @app.post(ENDPOINT)
    def soap() -> Response:
        try:
            header, body = parse_envelope(request.get_data(), request.content_type)
            user = verifier.verify(header)
            wsdl.validate(body)
            operation = etree.QName(body).localname
            handler = _HANDLERS.get(operation)
            if etree.QName(body).namespace != NS or handler is None:
                raise _client(f"unknown operation {etree.QName(body).text}")
            return soap_response(handler(state, _fields(body), areas[user]))
        except SoapRequestError as error:
            return _fault(error)

    @app.post("/_sandbox/applications")
    def seed_applications() -> tuple[Response, int]:
        document = request.get_json(force=True, silent=True)
        if isinstance(document, dict) and set(document) == {"count"}:
            count = document["count"]
            if not isinstance(count, int) or not 0 < count <= 1000:
                return jsonify({"error": "count is 1..1000"}), 400
            given: list[Any] = [{} for _ in range(count)]
        elif isinstance(document, dict):
            given = [document]
        elif isinstance(document, list):
            given = document
        else:
            return jsonify({"error": "send an application object, a list, or {count}"}), 400
        if not all(isinstance(item, dict) for item in given):
            return jsonify({"error": "each application is a JSON object"}), 400
        results = [state.add(item) for item in given]
        return jsonify(
            {"applications": [{"SBLSH": s, "created": created} for s, created in results]}
        ), 201

    @app.get("/_sandbox/cases/<sblsh>")
    def get_case(sblsh: str) -> Response | tuple[Response, int]:
        found = state.case(sblsh)
        if found is None:
            return jsonify({"error": f"no case {sblsh}"}), 404
        return jsonify(found)

    @app.post("/_sandbox/items")
    def size_catalogue() -> tuple[Response, int]:
        document = request.get_json(force=True, silent=True)
        count = document.get("count") if isinstance(document, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 20_000:
            return jsonify({"error": "send {count}: 0..20000"}), 400
        state.catalogue_size = count
        state.catalogue.resize(count)
        return jsonify({"items": count}), 201

    @app.get("/_sandbox/items/<code>")
    def get_item(code: str) -> Response | tuple[Response, int]:
        found = state.catalogue.get(code)
        if found is None:
            return jsonify({"error": f"no item {code}"}), 404
        return jsonify({**found, "GXSJ": found["GXSJ"].isoformat()})

    @app.post("/_sandbox/items/<code>")
    def change_item(code: str) -> Response | tuple[Response, int]:
        document = request.get_json(force=True, silent=True)
        if not isinstance(document, dict):
            return jsonify({"error": "send the fields to change as a JSON object"}), 400
        try:
            changed = state.catalogue.change(code, document)
        except ValueError as error:
            return jsonify({"error": str(error)}), 400
        if changed is None:
            return jsonify({"error": f"no item {code}"}), 404
        return jsonify({**changed, "GXSJ": changed["GXSJ"].isoformat()})

    @app.get("/_sandbox/applications")
    def list_applications() -> Response:
        total, items = state.query(dt.datetime.min.replace(tzinfo=HUB_TZ), 1, 10_000, None)
        return jsonify({"total": total, "items": items})

    return app


def _fault(error: SoapRequestError) -> Response:
    return soap_fault(
        error.code,
        error.message,
        detail_ns=NS,
        detail_code=error.detail_code,
        field=error.field,
    )


def _seed(state: HallState, stream: str, count: int) -> list[str]:
    if stream != "applications":
        raise KeyError(stream)
    return [state.add()[0] for _ in range(count)]


# --------------------------------------------------------------------------- operations


def _query_applies(state: HallState, fields: dict[str, Any], areas: set[str]) -> Any:
    area = fields.get("XZQHDM") or None
    if area and area not in areas:
        return _answer("QueryApplies", "2001", f"无权访问行政区划 {area} 的数据")
    since = _parse_time(fields["SINCE"], "SINCE")
    page_no, page_size = int(fields["PAGENO"]), int(fields["PAGESIZE"])
    total, items = state.query(since, page_no, page_size, area)
    return _answer(
        "QueryApplies",
        "0",
        "成功",
        TOTAL=total,
        PAGENO=page_no,
        PAGESIZE=page_size,
        APPLY=[_apply_element(item, NS) for item in items],
    )


def _query_applies_xml(state: HallState, fields: dict[str, Any], areas: set[str]) -> Any:
    try:
        query = parse_declared(fields["xmlParam"], limit=64 * 1024)
    except XmlError as error:
        raise _client(f"xmlParam: {error}", "xmlParam") from None
    values = {
        etree.QName(c).localname: (c.text or "").strip() for c in query if isinstance(c.tag, str)
    }
    try:
        page_no, page_size = int(values.get("PAGENO", "1")), int(values.get("PAGESIZE", "50"))
    except ValueError:
        raise _client("xmlParam: PAGENO and PAGESIZE are integers", "xmlParam") from None
    if not (page_no >= 1 and 1 <= page_size <= 100) or "SINCE" not in values:
        raise _client("xmlParam: SINCE is required; PAGENO ≥ 1; PAGESIZE 1..100", "xmlParam")
    area = values.get("XZQHDM") or None
    if area and area not in areas:
        return _answer("QueryAppliesXml", "2001", f"无权访问行政区划 {area} 的数据")
    total, items = state.query(_parse_time(values["SINCE"], "SINCE"), page_no, page_size, area)
    result = etree.Element("RESULT")
    for name, value in (
        ("CODE", "0"),
        ("MESSAGE", "成功"),
        ("TOTAL", total),
        ("PAGENO", page_no),
        ("PAGESIZE", page_size),
    ):
        etree.SubElement(result, name).text = str(value)
    for item in items:
        result.append(_apply_element(item, None))
    # Declared GB2312, written as GB18030: what the halls in the field actually send.
    text = etree.tostring(result, encoding="unicode")
    document = ('<?xml version="1.0" encoding="GB2312"?>\n' + text).encode("gb18030")
    return _answer(
        "QueryAppliesXml", "0", "成功", **{"return": base64.b64encode(document).decode("ascii")}
    )


def _query_items(state: HallState, fields: dict[str, Any], areas: set[str]) -> Any:
    area = fields.get("XZQHDM") or None
    if area and area not in areas:
        return _answer("QueryItems", "2001", f"无权访问行政区划 {area} 的数据")
    try:
        left, items, cursor, more = state.catalogue.page(
            fields.get("CURSOR") or None, int(fields["PAGESIZE"]), area
        )
    except CursorError as error:
        raise _client(str(error), "CURSOR") from None
    extra: dict[str, Any] = {"TOTAL": left}
    if cursor:
        extra["NEXTCURSOR"] = cursor
    extra["HASMORE"] = "true" if more else "false"
    return _answer(
        "QueryItems", "0", "成功", **extra, ITEM=[item_element(item, _q) for item in items]
    )


def _push_process(state: HallState, fields: dict[str, Any], _areas: set[str]) -> Any:
    _parse_time(fields["BLSJ"], "BLSJ")
    code, message = state.push("process", fields)
    return _answer("PushProcess", code, message)


def _push_result(state: HallState, fields: dict[str, Any], _areas: set[str]) -> Any:
    _parse_time(fields["BJSJ"], "BJSJ")
    code, message = state.push("result", fields)
    return _answer("PushResult", code, message)


def _push_prereview(state: HallState, fields: dict[str, Any], _areas: set[str]) -> Any:
    _parse_time(fields["YSSJ"], "YSSJ")
    if fields["YSJG"] == "2" and not fields.get("BQCL"):
        raise _client("YSJG 2 (needs supplement) lists the missing materials in BQCL", "BQCL")
    code, message = state.push("prereview", fields)
    return _answer("PushPreReview", code, message)


_HANDLERS = {
    "QueryApplies": _query_applies,
    "QueryAppliesXml": _query_applies_xml,
    "QueryItems": _query_items,
    "PushProcess": _push_process,
    "PushResult": _push_result,
    "PushPreReview": _push_prereview,
}


def create_demo_app() -> Flask:
    """The sandbox as ``govhub run`` starts it: holding three online applications."""
    return create_app(demo_applications=3)


SANDBOX = SandboxInfo(
    name="provincial_hall",
    default_port=9911,
    create_app=create_demo_app,
    description="the provincial online hall, SOAP 1.1 with WS-Security (省级网上政务大厅)",
)
