"""A simulated credit platform (信用平台), as the hub meets it.

What it does, like the real one:

- ``POST /api/auth/token`` ``{"app_key", "app_secret"}`` hands out an access token that
  expires; every ``/api/v1`` call needs ``Authorization: Bearer <token>`` (401 with code
  ``TOKEN_INVALID`` or ``TOKEN_EXPIRED`` otherwise).
- ``POST /api/v1/disclosures/batch`` takes up to 100 ``XK`` / ``CF`` records and answers
  each one: accepted (with the platform's id) or rejected with a reason. It is idempotent
  per record: an accepted ``record_id`` again gets the first answer, and the same decision
  (kind + 文书号 + 相对人) again is one record, updated when its fields changed.
- ``GET /api/v1/credit/<uscc>`` answers a credit check: the counterpart's name, whether
  it is on a blacklist (严重失信主体名单 …) and how many disclosures it has.
- Answers carry ``{"code", "message", "data"}``; ``code`` ``"0"`` is success, and a busy
  platform says ``SYSTEM_BUSY`` inside an HTTP 200.

Controls for tests and demos (besides ``/_sandbox/faults`` and ``/_sandbox/reset``):

- ``POST /_sandbox/rules`` ``{"reject": {"<文书号>": "<reason>"}, "busy": 2}``: records
  with that decision number are rejected with that reason; the next 2 batches answer
  ``SYSTEM_BUSY``. ``{"clear": true}`` forgets the rules.
- ``POST /_sandbox/blacklist`` ``{"uscc", "name", "list", "reason"}`` lists a code.
- ``POST /_sandbox/expire-tokens`` makes every issued token expired.
- ``GET /_sandbox/records`` what was published, and how many batches came in.
- ``GET /_sandbox/effects`` one entry per record published or changed (duplicates add none).
- ``{"fault": "server"}`` / ``{"fault": "client"}`` answer HTTP 200 with ``SYSTEM_ERROR`` /
  ``PARAM_ERROR``, as the platform reports its own trouble.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, jsonify, request

from adapters.sdk.sandbox import SandboxInfo, install_faults
from hub.core.clock import HUB_TZ
from hub.core.identifiers import IdentifierError, check_resident_id, check_uscc

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "MAX_BATCH",
    "SANDBOX",
    "CreditPlatformState",
    "create_app",
]

DEFAULT_APP_KEY = "govhub-sandbox"
#: The sandbox's secret when none is set; the default configuration uses the same one.
DEFAULT_APP_SECRET = "sandbox-credit-secret-0001"  # noqa: S105 - a sandbox's public test value
MAX_BATCH = 100
MAX_BODY_BYTES = 4 * 1024 * 1024

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,6})?$")
_CATEGORIES = ("法人及非法人组织", "自然人", "个体工商户")
_STATUSES = ("0", "1", "2", "3")
_COMMON = ("XDR_MC", "XDR_LB", "XDR_SHXYM", "XDR_ZJLX", "XDR_ZJHM", "FRDB", "FR_ZJLX", "FR_ZJHM")
_XK_REQUIRED = (
    "XDR_MC", "XDR_LB", "XKWS", "WSH", "NR", "JDRQ", "YXQZ", "YXQJZ", "XKJG", "XKJGDM", "ZT",
    "LYDW", "LYDWDM",
)  # fmt: skip
_CF_REQUIRED = (
    "XDR_MC", "XDR_LB", "WSH", "WFXW", "SY", "YJ", "CFLB", "NR", "JDRQ", "GSJZQ", "CFJG",
    "CFJGDM", "ZT", "SJLY", "SJLYDM",
)  # fmt: skip
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # kind: (required, optional)
    "XK": (
        frozenset("XK_" + f for f in _XK_REQUIRED),
        frozenset(["BZ"] + ["XK_" + f for f in (*_COMMON, "XKLB", "XKZS", "XKBH")]),
    ),
    "CF": (
        frozenset("CF_" + f for f in _CF_REQUIRED),
        frozenset(["BZ"] + ["CF_" + f for f in (*_COMMON, "NR_FK", "NR_WFFF", "NR_ZKDX", "YXQ")]),
    ),
}
_USCC_FIELDS = {"XK": ("XDR_SHXYM", "XKJGDM", "LYDWDM"), "CF": ("XDR_SHXYM", "CFJGDM", "SJLYDM")}
_DATE_FIELDS = {"XK": ("JDRQ", "YXQZ", "YXQJZ"), "CF": ("JDRQ", "GSJZQ", "YXQ")}


@dataclass
class StoredRecord:
    """One disclosure as the platform keeps it."""

    platform_id: str
    kind: str
    fields: dict[str, str]
    record_ids: list[str]
    version: int = 1
    received_at: str = ""


@dataclass
class BlacklistEntry:
    """A code on one of the platform's lists."""

    uscc: str
    name: str
    list: str
    reason: str
    listed_on: str


@dataclass
class CreditPlatformState:
    """Everything the sandbox remembers (in memory, behind one lock)."""

    app_key: str
    app_secret: str
    token_ttl_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, float] = field(default_factory=dict)
    records: dict[tuple[str, str, str], StoredRecord] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    reject: dict[str, str] = field(default_factory=dict)
    busy: int = 0
    batches: int = 0
    blacklist: dict[str, BlacklistEntry] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    effects: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        """Forget everything but the seeded blacklist and the credentials."""
        with self.lock:
            self.tokens.clear()
            self.records.clear()
            self.answers.clear()
            self.reject.clear()
            self.busy = 0
            self.batches = 0
            self.blacklist.clear()
            self.names.clear()
            self.effects.clear()
        self.seed()

    def seed(self) -> None:
        """The blacklisted and known counterparts a fresh platform knows."""
        with self.lock:
            for entry in SEEDED_BLACKLIST:
                self.blacklist[entry.uscc] = entry
                self.names[entry.uscc] = entry.name
            self.names["91371002MA3C00001M"] = "威海海之味食品有限公司"

    def issue_token(self) -> tuple[str, int]:
        """A new access token and its lifetime in seconds."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl_s
        return token, int(self.token_ttl_s)

    def token_problem(self, header: str | None) -> str | None:
        """``None`` for a valid bearer token, else the platform's error code."""
        if not header or not header.startswith("Bearer "):
            return "TOKEN_INVALID"
        with self.lock:
            expires = self.tokens.get(header[len("Bearer ") :].strip())
        if expires is None:
            return "TOKEN_INVALID"
        if time.monotonic() >= expires:
            return "TOKEN_EXPIRED"
        return None

    def expire_tokens(self) -> None:
        """Every issued token is expired from now on."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def upload(self, items: list[Any]) -> list[dict[str, Any]]:
        """Answer each record of a batch; see the module docstring."""
        with self.lock:
            self.batches += 1
            seen: set[str] = set()
            return [self._one(item, seen) for item in items]

    def _one(self, item: Any, seen: set[str]) -> dict[str, Any]:
        if not isinstance(item, Mapping) or not isinstance(item.get("record_id"), str):
            return {"record_id": None, "status": "rejected", "reason": "缺少 record_id"}
        record_id = item["record_id"]
        if record_id in seen:
            return _rejected(record_id, "同一批次中 record_id 重复")
        seen.add(record_id)
        if record_id in self.answers:
            return {**self.answers[record_id], "duplicate": True}
        kind, fields = item.get("kind"), item.get("fields")
        reason = _check_record(kind, fields)
        if reason is None and isinstance(kind, str) and isinstance(fields, dict):
            reason = self.reject.get(fields[f"{kind}_WSH"])
        if reason is not None or not isinstance(kind, str) or not isinstance(fields, dict):
            # Not remembered: a rejected record sent again (a replay) is judged afresh.
            return _rejected(record_id, reason or "记录格式错误")
        subject = fields.get(f"{kind}_XDR_SHXYM") or fields.get(f"{kind}_XDR_ZJHM", "")
        key = (kind, fields[f"{kind}_WSH"], subject)
        stored = self.records.get(key)
        duplicate = False
        if stored is None:
            stored = StoredRecord(
                platform_id=f"{kind}{len(self.records) + 1:010d}",
                kind=kind,
                fields=dict(fields),
                record_ids=[record_id],
                received_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
            self.records[key] = stored
            self.effects.append({"kind": "publish", "key": f"{stored.platform_id}@1"})
            if fields.get(f"{kind}_XDR_SHXYM"):
                self.names.setdefault(fields[f"{kind}_XDR_SHXYM"], fields[f"{kind}_XDR_MC"])
        elif stored.fields == fields:
            duplicate = True
            stored.record_ids.append(record_id)
        else:
            stored.fields = dict(fields)
            stored.version += 1
            stored.record_ids.append(record_id)
            self.effects.append({"kind": "update", "key": f"{stored.platform_id}@{stored.version}"})
        answer = {
            "record_id": record_id,
            "status": "accepted",
            "platform_id": stored.platform_id,
            "version": stored.version,
            "duplicate": duplicate,
        }
        self.answers[record_id] = answer
        return answer

    def credit(self, uscc: str) -> dict[str, Any]:
        """The credit check of one code."""
        with self.lock:
            entry = self.blacklist.get(uscc)
            counts = {"XK": 0, "CF": 0}
            for (kind, _wsh, subject), stored in self.records.items():
                if subject == uscc and stored.fields.get(f"{kind}_ZT") != "1":
                    counts[kind] += 1
            return {
                "uscc": uscc,
                "found": uscc in self.names,
                "name": self.names.get(uscc),
                "blacklisted": entry is not None,
                "entries": [
                    {
                        "list": entry.list,
                        "reason": entry.reason,
                        "listed_on": entry.listed_on,
                    }
                ]
                if entry
                else [],
                "licenses": counts["XK"],
                "penalties": counts["CF"],
            }


SEEDED_BLACKLIST = (
    BlacklistEntry(
        uscc="91371002MA3C00098L",
        name="威海诚信缺失建材有限公司",
        list="严重失信主体名单",
        reason="拒不履行人民法院生效判决",
        listed_on="2025-06-30",
    ),
)


def _rejected(record_id: str, reason: str) -> dict[str, Any]:
    return {"record_id": record_id, "status": "rejected", "reason": reason}


def _check_record(kind: Any, fields: Any) -> str | None:
    """The platform's reason to refuse a record, or ``None``. Never echoes a value."""
    if kind not in _FIELDS:
        return "kind 必须为 XK 或 CF"
    if not isinstance(fields, Mapping):
        return "fields 必须为对象"
    required, optional = _FIELDS[kind]
    for name in sorted(fields):
        if name not in required and name not in optional:
            return f"未知字段 {name}"
        if not isinstance(fields[name], str):
            return f"{name} 必须为字符串"
    for name in sorted(required):
        if not fields.get(name, "").strip():
            return f"{name} 不能为空"
    category = fields[f"{kind}_XDR_LB"]
    if category not in _CATEGORIES:
        return f"{kind}_XDR_LB 不在代码表中"
    if category == "自然人":
        if not fields.get(f"{kind}_XDR_ZJHM"):
            return f"{kind}_XDR_ZJHM 自然人证件号码不能为空"
        try:
            check_resident_id(fields[f"{kind}_XDR_ZJHM"])
        except IdentifierError:
            return f"{kind}_XDR_ZJHM 身份证号码校验失败"
    elif not fields.get(f"{kind}_XDR_SHXYM"):
        return f"{kind}_XDR_SHXYM 统一社会信用代码不能为空"
    for suffix in _USCC_FIELDS[kind]:
        value = fields.get(f"{kind}_{suffix}")
        if value:
            try:
                check_uscc(value)
            except IdentifierError:
                return f"{kind}_{suffix} 统一社会信用代码校验失败"
    for suffix in _DATE_FIELDS[kind]:
        value = fields.get(f"{kind}_{suffix}")
        if value and not _is_date(value):
            return f"{kind}_{suffix} 日期格式应为 yyyy-MM-dd"
    if fields[f"{kind}_ZT"] not in _STATUSES:
        return f"{kind}_ZT 不在代码表中"
    if kind == "XK" and fields["XK_YXQJZ"] < fields["XK_YXQZ"]:
        return "XK_YXQJZ 有效期至早于有效期自"
    if kind == "CF":
        for suffix in ("NR_FK", "NR_WFFF"):
            value = fields.get(f"CF_{suffix}")
            if value and not _is_amount(value):
                return f"CF_{suffix} 金额应为万元，最多六位小数"
        if "罚款" in fields["CF_CFLB"].split(";") and not fields.get("CF_NR_FK"):
            return "CF_NR_FK 处罚类别含罚款时罚款金额不能为空"
    today = dt.datetime.now(HUB_TZ).date().isoformat()  # the platform keeps Beijing time
    if fields[f"{kind}_JDRQ"] > today:
        return f"{kind}_JDRQ 决定日期不能晚于今天"
    return None


def _is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_amount(value: str) -> bool:
    if not _AMOUNT.match(value):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


F = TypeVar("F", bound=Callable[..., Any])


def answer(code: str, message: str, data: Any = None, status: int = 200) -> tuple[Response, int]:
    """The platform's answer envelope."""
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return jsonify(body), status


def create_app(
    app_key: str = DEFAULT_APP_KEY,
    app_secret: str = DEFAULT_APP_SECRET,
    *,
    token_ttl_s: float = 7200.0,
) -> Flask:
    """The credit platform sandbox app.

    Args:
        app_key: The hub's app key on the platform.
        app_secret: Its secret.
        token_ttl_s: How long an access token lives.
    """
    state = CreditPlatformState(app_key=app_key, app_secret=app_secret, token_ttl_s=token_ttl_s)
    state.seed()
    app = Flask("govhub.sandbox.credit_platform")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["credit_platform"] = state

    def render_fault(kind: str) -> Response | None:
        # The platform reports its own trouble inside an HTTP 200, as its document says.
        if kind == "server":
            return answer("SYSTEM_ERROR", "系统内部错误，请稍后重试")[0]
        if kind == "client":
            return answer("PARAM_ERROR", "请求参数错误")[0]
        return None

    def effects() -> list[dict[str, Any]]:
        with state.lock:
            return list(state.effects)

    install_faults(app, state.reset, render_fault=render_fault, effects=effects)

    def authenticated(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            problem = state.token_problem(request.headers.get("Authorization"))
            if problem is not None:
                return answer(problem, "access token missing, unknown or expired", status=401)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    @app.post("/api/auth/token")
    def token() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        given_key, given_secret = str(body.get("app_key", "")), str(body.get("app_secret", ""))
        if not (
            secrets.compare_digest(given_key, state.app_key)
            and secrets.compare_digest(given_secret, state.app_secret)
        ):
            return answer("AUTH_FAILED", "app_key or app_secret is wrong", status=401)
        access_token, lifetime = state.issue_token()
        return answer("0", "ok", {"access_token": access_token, "expires_in": lifetime})

    @app.post("/api/v1/disclosures/batch")
    @authenticated
    def batch() -> tuple[Response, int]:
        body = request.get_json(silent=True)
        items = body.get("records") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return answer("BAD_REQUEST", "records must be a non-empty list", status=400)
        if len(items) > MAX_BATCH:
            return answer("BATCH_TOO_LARGE", f"at most {MAX_BATCH} records per batch", status=413)
        with state.lock:
            busy = state.busy > 0
            if busy:
                state.busy -= 1
        if busy:
            return answer("SYSTEM_BUSY", "系统繁忙，请稍后重试")
        results = state.upload(items)
        accepted = sum(1 for r in results if r["status"] == "accepted")
        return answer(
            "0",
            "ok",
            {"accepted": accepted, "rejected": len(results) - accepted, "results": results},
        )

    @app.get("/api/v1/credit/<uscc>")
    @authenticated
    def credit(uscc: str) -> tuple[Response, int]:
        try:
            check_uscc(uscc)
        except IdentifierError as error:
            return answer("INVALID_USCC", str(error), status=400)
        return answer("0", "ok", state.credit(uscc))

    @app.post("/_sandbox/rules")
    def rules() -> Response:
        body = request.get_json(force=True) or {}
        with state.lock:
            if body.get("clear"):
                state.reject.clear()
                state.busy = 0
            state.reject.update({str(k): str(v) for k, v in body.get("reject", {}).items()})
            state.busy = int(body.get("busy", state.busy))
            return jsonify({"reject": state.reject, "busy": state.busy})

    @app.post("/_sandbox/blacklist")
    def blacklist() -> tuple[Response, int]:
        body = request.get_json(force=True) or {}
        try:
            check_uscc(str(body.get("uscc", "")))
        except IdentifierError as error:
            return jsonify({"error": f"uscc {error}"}), 400
        entry = BlacklistEntry(
            uscc=body["uscc"],
            name=str(body.get("name", "")),
            list=str(body.get("list", "严重失信主体名单")),
            reason=str(body.get("reason", "")),
            listed_on=str(body.get("listed_on", dt.datetime.now(HUB_TZ).date().isoformat())),
        )
        with state.lock:
            state.blacklist[entry.uscc] = entry
            if entry.name:
                state.names[entry.uscc] = entry.name
        return jsonify({"listed": entry.uscc}), 200

    @app.post("/_sandbox/expire-tokens")
    def expire_tokens() -> Response:
        state.expire_tokens()
        return jsonify({"expired": True})

    @app.get("/_sandbox/records")
    def records() -> Response:
        with state.lock:
            return jsonify(
                {
                    "batches": state.batches,
                    "records": [
                        {
                            "platform_id": r.platform_id,
                            "kind": r.kind,
                            "version": r.version,
                            "record_ids": r.record_ids,
                            "fields": r.fields,
                        }
                        for r in state.records.values()
                    ],
                }
            )

    return app


SANDBOX = SandboxInfo(
    name="credit_platform",
    default_port=9921,
    create_app=create_app,
    description="the credit platform (信用平台): 双公示 batch upload, credit checks",
)
