"""A simulated citizen card platform (市民卡), as the hub meets it.

Like the real one:

- every call is signed (``adapters.citizen_card.signing``): 401 with code
  ``APP_UNKNOWN``, ``SIGNATURE_INVALID``, ``TIMESTAMP_EXPIRED`` or ``NONCE_REUSED``;
- ``POST /api/v1/holders/query`` ``{"id_no"}`` looks a holder up by resident ID (in the
  body, never in a URL, so it stays out of access logs): name, card number, card status;
  404 ``HOLDER_NOT_FOUND``;
- ``GET /api/v1/ping`` answers a signed call (how a client checks its credentials);
- ``GET /api/v1/cards/<card_no>`` a card's status;
- ``GET /api/v1/card-status-changes?cursor=&limit=`` the feed of status changes after a
  cursor, oldest first, at most ``limit`` (≤ 500) a page, with ``next_cursor`` and
  ``has_more``;
- card statuses are the platform's codes: 1 正常, 2 挂失, 3 冻结, 4 注销; times are local
  (Asia/Shanghai) ``yyyy-MM-dd HH:mm:ss`` without an offset;
- answers carry ``{"code", "message", "data"}``, ``code`` ``"0"`` on success.

Controls (besides ``/_sandbox/faults``, ``/_sandbox/reset``, and ``/_sandbox/seed`` with
stream ``status_changes``, which toggles existing cards between active and lost):

- ``POST /_sandbox/cards/<card_no>/status`` ``{"status": "2"}`` changes a card's status
  (a new entry in the feed);
- ``POST /_sandbox/holders`` ``{"id_no", "name"}`` issues a new card to a new holder.
"""

from __future__ import annotations

import datetime as dt
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request

from adapters.citizen_card.signing import TOLERANCE_S, canonical_query, signature
from adapters.sdk.sandbox import SandboxInfo, install_faults
from hub.core.clock import HUB_TZ
from hub.core.identifiers import IdentifierError, check_resident_id

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_APP_SECRET",
    "SANDBOX",
    "STATUS_NAMES",
    "CitizenCardState",
    "create_app",
]

DEFAULT_APP_ID = "govhub-sandbox"
#: The sandbox's secret when none is set; the default configuration uses the same one.
DEFAULT_APP_SECRET = "sandbox-citizen-card-secret-0001"  # noqa: S105 - a public test value
MAX_PAGE = 500
#: The platform's card status codes.
STATUS_NAMES = {"1": "正常", "2": "挂失", "3": "冻结", "4": "注销"}
_NAME_CODES = {"active": "1", "lost": "2", "frozen": "3", "cancelled": "4"}
_LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
_NONCES_KEPT = 10_000


@dataclass
class Holder:
    """A card holder and their card."""

    id_no: str
    name: str
    card_no: str
    status: str
    issued_on: str
    mobile: str


@dataclass
class Change:
    """One entry of the status-change feed."""

    seq: int
    card_no: str
    id_no: str
    status: str
    previous_status: str | None
    changed_at: str

    def to_json(self) -> dict[str, Any]:
        """As the feed shows it."""
        return {
            "change_id": str(self.seq),
            "card_no": self.card_no,
            "id_no": self.id_no,
            "status": self.status,
            "previous_status": self.previous_status,
            "changed_at": self.changed_at,
        }


SEEDED_HOLDERS = (
    ("371002198506123010", "张海涛", "13906311234"),
    ("371002199001012029", "王秀英", "13863156789"),
    ("371002197811200014", "刘建国", "15963101122"),
    ("371002200103154525", "陈思雨", "18706313344"),
    ("371002196508080035", "赵德明", "13356315566"),
)


def local_now() -> str:
    """The platform's clock: local time without an offset."""
    return dt.datetime.now(HUB_TZ).strftime(_LOCAL_FORMAT)


@dataclass
class CitizenCardState:
    """Everything the sandbox remembers (in memory, behind one lock)."""

    app_id: str
    app_secret: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    holders: dict[str, Holder] = field(default_factory=dict)
    cards: dict[str, Holder] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    nonces: OrderedDict[str, float] = field(default_factory=OrderedDict)
    generated: int = 0

    def reset(self) -> None:
        """Back to the seeded holders and their history."""
        with self.lock:
            self.holders.clear()
            self.cards.clear()
            self.changes.clear()
            self.nonces.clear()
            self.generated = 0
        self.seed()

    def seed(self) -> None:
        """Five holders with their cards; one card was lost and found again."""
        for id_no, name, mobile in SEEDED_HOLDERS:
            self.add_holder(id_no, name, mobile, changed_at="2026-01-05 09:00:00")
        card = self.holders[SEEDED_HOLDERS[1][0]].card_no
        self.change_status(card, "2", changed_at="2026-03-18 14:20:31")
        self.change_status(card, "1", changed_at="2026-03-20 10:02:07")

    def add_holder(
        self, id_no: str, name: str, mobile: str = "", *, changed_at: str | None = None
    ) -> Holder:
        """Issue a card to a new holder (an "active" entry in the feed)."""
        with self.lock:
            if id_no in self.holders:
                return self.holders[id_no]
            card_no = f"3710001{len(self.holders) + 1:08d}"
            holder = Holder(
                id_no=id_no,
                name=name,
                card_no=card_no,
                status="1",
                issued_on=(changed_at or local_now())[:10],
                mobile=mobile,
            )
            self.holders[id_no] = holder
            self.cards[card_no] = holder
            self._record(holder, "1", None, changed_at)
            return holder

    def change_status(self, card_no: str, status: str, *, changed_at: str | None = None) -> Change:
        """Move a card to ``status`` (a platform code); an entry in the feed.

        Raises:
            KeyError: No such card.
            ValueError: Not a status code.
        """
        if status not in STATUS_NAMES:
            raise ValueError(f"status must be one of {', '.join(STATUS_NAMES)}")
        with self.lock:
            holder = self.cards[card_no]
            previous = holder.status
            holder.status = status
            return self._record(holder, status, previous, changed_at)

    def _record(
        self, holder: Holder, status: str, previous: str | None, changed_at: str | None
    ) -> Change:
        change = Change(
            seq=len(self.changes) + 1,
            card_no=holder.card_no,
            id_no=holder.id_no,
            status=status,
            previous_status=previous,
            changed_at=changed_at or local_now(),
        )
        self.changes.append(change)
        return change

    def seed_changes(self, stream: str, count: int) -> list[str]:
        """``count`` new feed entries (lost ↔ active on the existing cards); their ids.

        Raises:
            KeyError: ``stream`` is not ``status_changes``.
        """
        if stream != "status_changes":
            raise KeyError(stream)
        made = []
        for _ in range(count):
            with self.lock:
                cards = sorted(self.cards)
                card_no = cards[self.generated % len(cards)]
                self.generated += 1
                status = "2" if self.cards[card_no].status == "1" else "1"
            made.append(str(self.change_status(card_no, status).seq))
        return made

    def page(self, after: int, limit: int) -> tuple[list[Change], bool]:
        """Feed entries after sequence ``after``; and whether more follow."""
        with self.lock:
            newer = self.changes[after:]  # seq n sits at index n - 1
        return newer[:limit], len(newer) > limit

    def signature_problem(self) -> str | None:
        """``None`` when the current request is signed right, else the platform's code."""
        headers = request.headers
        app_id = headers.get("X-App-Id", "")
        timestamp = headers.get("X-Timestamp", "")
        nonce = headers.get("X-Nonce", "")
        given = headers.get("X-Signature", "")
        if not hmac.compare_digest(app_id, self.app_id):
            return "APP_UNKNOWN"
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_S:
            return "TIMESTAMP_EXPIRED"
        expected = signature(
            self.app_secret,
            request.method,
            request.path,
            canonical_query(request.args.items(multi=True)),
            timestamp,
            nonce,
            request.get_data(),
        )
        if not nonce or not hmac.compare_digest(expected, given):
            return "SIGNATURE_INVALID"
        with self.lock:
            if nonce in self.nonces:
                return "NONCE_REUSED"
            self.nonces[nonce] = time.time()
            while len(self.nonces) > _NONCES_KEPT:
                self.nonces.popitem(last=False)
        return None


def answer(code: str, message: str, data: Any = None, status: int = 200) -> tuple[Response, int]:
    """The platform's answer envelope."""
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return jsonify(body), status


def create_app(app_id: str = DEFAULT_APP_ID, app_secret: str = DEFAULT_APP_SECRET) -> Flask:
    """The citizen card sandbox app.

    Args:
        app_id: The hub's app id on the platform.
        app_secret: Its signing secret.
    """
    state = CitizenCardState(app_id=app_id, app_secret=app_secret)
    state.seed()
    app = Flask("govhub.sandbox.citizen_card")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["citizen_card"] = state

    def render_fault(kind: str) -> Response | None:
        # The platform reports its own trouble inside an HTTP 200, as its document says.
        if kind == "server":
            return answer("SYSTEM_ERROR", "系统内部错误")[0]
        if kind == "client":
            return answer("PARAM_ERROR", "请求参数错误")[0]
        return None

    install_faults(app, state.reset, render_fault=render_fault, seed=state.seed_changes)

    @app.before_request
    def _authenticate() -> tuple[Response, int] | None:
        if not request.path.startswith("/api/"):
            return None
        problem = state.signature_problem()
        if problem is not None:
            return answer(problem, "request signature refused", status=401)
        return None

    @app.get("/api/v1/ping")
    def ping() -> tuple[Response, int]:
        return answer("0", "ok", {"time": local_now()})

    @app.post("/api/v1/holders/query")
    def holder() -> tuple[Response, int]:
        body = request.get_json(silent=True)
        id_no = body.get("id_no") if isinstance(body, dict) else None
        if not isinstance(id_no, str):
            return answer("INVALID_REQUEST", "id_no is required", status=400)
        try:
            check_resident_id(id_no)
        except IdentifierError as error:
            return answer("INVALID_ID_NO", f"id_no {error}", status=400)
        with state.lock:
            found = state.holders.get(id_no)
        if found is None:
            return answer("HOLDER_NOT_FOUND", "no card holder with this id_no", status=404)
        return answer(
            "0",
            "ok",
            {
                "name": found.name,
                "card_no": found.card_no,
                "card_status": found.status,
                "issued_on": found.issued_on,
                "mobile": found.mobile[:3] + "****" + found.mobile[-4:] if found.mobile else "",
            },
        )

    @app.get("/api/v1/cards/<card_no>")
    def card(card_no: str) -> tuple[Response, int]:
        with state.lock:
            found = state.cards.get(card_no)
            last = next((c for c in reversed(state.changes) if c.card_no == card_no), None)
        if found is None:
            return answer("CARD_NOT_FOUND", "no such card", status=404)
        return answer(
            "0",
            "ok",
            {
                "card_no": found.card_no,
                "status": found.status,
                "holder_name": found.name,
                "updated_at": last.changed_at if last else None,
            },
        )

    @app.get("/api/v1/card-status-changes")
    def changes() -> tuple[Response, int]:
        cursor = request.args.get("cursor", "0") or "0"
        limit_text = request.args.get("limit", "100")
        if not cursor.isdigit():
            return answer("INVALID_CURSOR", "cursor is not one this platform gave", status=400)
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            return answer("INVALID_LIMIT", f"limit must be 1..{MAX_PAGE}", status=400)
        items, more = state.page(int(cursor), int(limit_text))
        return answer(
            "0",
            "ok",
            {
                "items": [c.to_json() for c in items],
                "next_cursor": str(items[-1].seq) if items else cursor,
                "has_more": more,
            },
        )

    @app.post("/_sandbox/cards/<card_no>/status")
    def set_status(card_no: str) -> tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        status = str(body.get("status", ""))
        status = _NAME_CODES.get(status, status)
        try:
            change = state.change_status(card_no, status)
        except KeyError:
            return jsonify({"error": "no such card"}), 404
        except ValueError as error:
            return jsonify({"error": str(error)}), 400
        return jsonify(change.to_json()), 200

    @app.post("/_sandbox/holders")
    def add_holder() -> tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        try:
            check_resident_id(str(body.get("id_no", "")))
        except IdentifierError as error:
            return jsonify({"error": f"id_no {error}"}), 400
        made = state.add_holder(
            body["id_no"], str(body.get("name", "")), str(body.get("mobile", ""))
        )
        return jsonify({"card_no": made.card_no}), 201

    return app


SANDBOX = SandboxInfo(
    name="citizen_card",
    default_port=9931,
    create_app=create_app,
    description="the citizen card platform (市民卡): holders, card status, change feed",
)
