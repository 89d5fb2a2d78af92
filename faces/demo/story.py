"""The fully online story (全程网办), played over HTTP against a running hub and its sandboxes.

An elderly resident, 王秀英, applies online at the provincial hall for an old-age card
(老年人优待证). The hall job pulls the application into the hub, which hands it to the
civil affairs system; civil affairs (played here: it reads what the hub delivered to its
sandbox and answers over the hub's REST API, as a departmental system does) accepts the
case, asks for the fee, and once it is paid issues the card as an e-licence, signed and
archived in the e-license library, and completes the case with delivery by courier. The
courier picks the card up and delivers it; she signs for it.

Everything goes through public interfaces only: the hub's REST API and each sandbox's
HTTP controls. Each step waits (with a deadline) until its effect is visible where it
should be, and reports who sent what to whom and how long it took.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from stdnum.iso7064 import mod_37_36
from wcwidth import wcswidth

from hub.core.clock import HUB_TZ, format_time

__all__ = ["Endpoints", "Step", "Story", "StoryFailed"]

T = TypeVar("T")

#: The applicant: an elderly resident of 环翠区, Weihai (a made-up, check-valid number).
APPLICANT = {"name": "王秀英", "id_no": "371002194912310024", "mobile": "13863150288"}
ADDRESS = "山东省威海市环翠区文化西路88号3单元201室"
ITEM = {"code": "11371000004336447K4370220001000", "name": "老年人优待证办理"}
CIVIL_AFFAIRS = {"code": "11371000MB2855005R", "name": "威海市民政局"}
#: The definer of the old-age card licence type (e-licence type code = definer + 3 digits).
LICENCE_TYPE = "11100000000013338W045"
FEE_FEN = 1000


class StoryFailed(Exception):
    """A step did not happen (in time); the message says what was missing."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the hub and each sandbox listen (``http://host:port``)."""

    hub: str
    department: str
    provincial_hall: str
    citizen_card: str
    payment: str
    courier: str
    e_license: str


@dataclass
class Step:
    """One step of the story, as reported."""

    number: int
    sender: str
    receiver: str
    what: str
    seconds: float = 0.0
    ok: bool = False
    detail: str = ""


@dataclass
class Story:
    """Plays the story once.

    Args:
        endpoints: Where everything listens.
        operator_key: An operator's API key (runs the hall job, reads every message).
        department_key: Civil affairs' API key (sends case, payment and licence messages).
        echo: Where progress lines go.
        step_timeout_s: How long one step may take.
    """

    endpoints: Endpoints
    operator_key: str
    department_key: str
    echo: Callable[[str], None] = print
    step_timeout_s: float = 20.0
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = requests.Session()
        now = dt.datetime.now(HUB_TZ)
        self.case_no = f"SD{now:%Y%m%d%H%M%S}{secrets.randbelow(100):02d}"
        self.order_no = f"PAY-{self.case_no}"
        serial = self.case_no[2:]
        body = f"{LICENCE_TYPE}{CIVIL_AFFAIRS['code']}{serial}001"
        self.license_id = (
            f"1.2.156.3005.2.{LICENCE_TYPE}.{CIVIL_AFFAIRS['code']}.{serial}.001."
            f"{mod_37_36.calc_check_digit(body)}"
        )

    # ------------------------------------------------------------------ playing

    def play(self) -> bool:
        """Play every step in order; False at the first one that does not happen."""
        plan: list[tuple[str, str, str, Callable[[], str]]] = [
            ("王秀英", "provincial_hall", "applies online for an old-age card", self._apply),
            ("provincial_hall", "hub", "case.submitted, pulled by the hall job", self._pull),
            ("hub", "civil_affairs", "case.submitted delivered", self._to_department),
            ("civil_affairs", "provincial_hall", "case.status_changed: accepted", self._accept),
            ("civil_affairs", "payment", "payment.requested: the card fee", self._request_fee),
            ("王秀英 → payment", "civil_affairs", "pays online: payment.confirmed", self._pay),
            ("civil_affairs", "e_license", "license.issued, signed and archived", self._license),
            ("civil_affairs", "provincial_hall, courier", "case.completed", self._complete),
            ("courier", "civil_affairs", "shipment.status: signed for", self._delivered),
        ]
        self.echo(f"case {self.case_no}: {APPLICANT['name']} applies for {ITEM['name']}")
        for number, (sender, receiver, what, action) in enumerate(plan, start=1):
            step = Step(number, sender, receiver, what)
            self.steps.append(step)
            started = time.monotonic()
            try:
                step.detail = action()
                step.ok = True
            except (StoryFailed, requests.RequestException) as error:
                step.detail = str(error)
            step.seconds = time.monotonic() - started
            self.echo(_line(step))
            if not step.ok:
                return False
        return True

    # ------------------------------------------------------------------ the steps

    def _apply(self) -> str:
        self._post(
            f"{self.endpoints.citizen_card}/_sandbox/holders",
            {"id_no": APPLICANT["id_no"], "name": APPLICANT["name"], "mobile": APPLICANT["mobile"]},
        )
        self._post(
            f"{self.endpoints.provincial_hall}/_sandbox/applications",
            {
                "SBLSH": self.case_no,
                "SXBM": ITEM["code"],
                "SXMC": ITEM["name"],
                "SQRLX": "1",
                "SQRMC": APPLICANT["name"],
                "SQRZJLX": "111",
                "SQRZJHM": APPLICANT["id_no"],
                "LXRSJ": APPLICANT["mobile"],
                "SBQD": "1",
                "YJDZ": ADDRESS,
                "CLXX": ["居民身份证", "近期免冠照片"],
            },
        )
        return f"{ITEM['name']}, results by courier to {ADDRESS}"

    def _pull(self) -> str:
        queued = self._post(
            f"{self.endpoints.hub}/api/v1/jobs/hall.pull_applications/run", {}, self.operator_key
        )
        run_id = queued["id"]

        def finished() -> dict[str, Any] | None:
            run = self._get(
                f"{self.endpoints.hub}/api/v1/jobs/hall.pull_applications/runs/{run_id}",
                self.operator_key,
            )
            return run if run["status"] not in ("queued", "running") else None

        run = self._wait(finished, "the hall job to run")
        if run["status"] != "ok":
            raise StoryFailed(f"the hall job ended {run['status']}: {run['error']}")
        message = self._wait(
            lambda: self._message("case.submitted", self.case_no), "the application in the hub"
        )
        card = message["payload"].get("citizen_card")
        if card is None:
            raise StoryFailed("the application came without the applicant's citizen card")
        return f"message {message['id']}, citizen card {card['card_no']} ({card['status']})"

    def _to_department(self) -> str:
        got = self._wait(
            lambda: self._received("case.submitted"), "civil affairs to receive the application"
        )
        return f"signed webhook, Idempotency-Key {got['idempotency_key']}"

    def _accept(self) -> str:
        message_id = self._send(
            "case.status_changed",
            {
                "case_no": self.case_no,
                "status": "3",
                "department": CIVIL_AFFAIRS,
                "occurred_at": _now(),
                "handler": "李娜",
                "opinion": "材料齐全，予以受理",
            },
        )
        self._delivered_to(message_id, "provincial_hall")
        self._wait(
            lambda: self._hall_case()["state"] == "processing", "the hall to show it accepted"
        )
        return "the hall shows the case as being processed"

    def _request_fee(self) -> str:
        message_id = self._send(
            "payment.requested",
            {
                "order_no": self.order_no,
                "case_no": self.case_no,
                "payer": {"name": APPLICANT["name"], "id_type": "111", "id_no": APPLICANT["id_no"]},
                "amount_fen": FEE_FEN,
                "item": "老年人优待证工本费",
                "expires_at": format_time(dt.datetime.now(HUB_TZ) + dt.timedelta(days=1)),
            },
        )
        self._delivered_to(message_id, "payment")
        return f"order {self.order_no} for {FEE_FEN / 100:.2f} yuan opened at the platform"

    def _pay(self) -> str:
        self._post(f"{self.endpoints.payment}/_sandbox/orders/{self.order_no}/pay", {})
        message = self._wait(
            lambda: self._message("payment.confirmed", self.case_no), "the payment to be confirmed"
        )
        self._wait(lambda: self._received("payment.confirmed"), "civil affairs to hear of it")
        return f"signed notification verified; trade {message['payload']['channel_trade_no']}"

    def _license(self) -> str:
        today = dt.datetime.now(HUB_TZ).date().isoformat()
        card = f"old-age card of {APPLICANT['id_no']} ({self.case_no})".encode()
        message_id = self._send(
            "license.issued",
            {
                "license_id": self.license_id,
                "name": "老年人优待证",
                "type_code": LICENCE_TYPE,
                "number": f"YD{self.case_no[2:]}",
                "issuer": CIVIL_AFFAIRS,
                "issued_on": today,
                "holder": {
                    "name": APPLICANT["name"],
                    "code": APPLICANT["id_no"],
                    "code_type": "111",
                },
                "valid_from": today,
                "valid_until": "长期",
                "area_code": "371002",
                "case_no": self.case_no,
                "file": {
                    "media_type": "application/ofd",
                    "sha256": hashlib.sha256(card).hexdigest(),
                    "url": f"https://files.weihai.example.gov.cn/licenses/{self.case_no}.ofd",
                },
            },
        )
        self._delivered_to(message_id, "e_license")

        def archived() -> bool:
            items = self._get(f"{self.endpoints.e_license}/_sandbox/licenses")["items"]
            return any(i["metadata"].get("ZZBS") == self.license_id for i in items)

        self._wait(archived, "the library to hold the licence")
        return f"e-licence {self.license_id}"

    def _complete(self) -> str:
        message_id = self._send(
            "case.completed",
            {
                "case_no": self.case_no,
                "result": "0",
                "completed_at": _now(),
                "description": "准予办理，优待证邮寄送达",
                "license_ids": [self.license_id],
                "deliver_by_courier": True,
            },
        )
        self._delivered_to(message_id, "provincial_hall")
        self._delivered_to(message_id, "courier")
        self._wait(lambda: self._hall_case()["state"] == "completed", "the hall to close the case")
        return "the hall shows it completed; the courier took the delivery order"

    def _delivered(self) -> str:
        def signed_for() -> dict[str, Any] | None:
            for item in self._received_all("shipment.status"):
                if item["envelope"]["payload"]["code"] == "50":
                    return item
            return None

        got = self._wait(signed_for, "the parcel to be signed for", timeout=self.step_timeout_s * 2)
        events = len(self._received_all("shipment.status"))
        payload = got["envelope"]["payload"]
        return f"waybill {payload['waybill_no']}, {events} route events: {payload['description']}"

    # ------------------------------------------------------------------ plumbing

    def _send(self, message_type: str, payload: dict[str, Any]) -> str:
        # No correlation id: the hub takes the case number (payload.case_no), so every
        # message of the case is found by its number.
        document: dict[str, Any] = {"type": message_type, "payload": payload}
        answer = self._post(f"{self.endpoints.hub}/api/v1/messages", document, self.department_key)
        return str(answer["id"])

    def _delivered_to(self, message_id: str, destination: str) -> dict[str, Any]:
        def delivery() -> dict[str, Any] | None:
            message = self._get(
                f"{self.endpoints.hub}/api/v1/messages/{message_id}", self.operator_key
            )
            for item in message["deliveries"]:
                if item["destination"] != destination:
                    continue
                if item["status"] == "dead":
                    raise StoryFailed(f"{destination} refused it: {item['last_error']}")
                if item["status"] == "delivered":
                    found: dict[str, Any] = item
                    return found
            return None

        return self._wait(delivery, f"{destination} to take message {message_id}")

    def _message(self, message_type: str, case_no: str) -> dict[str, Any] | None:
        page = self._get(
            f"{self.endpoints.hub}/api/v1/messages",
            self.operator_key,
            params={"type": message_type, "correlation_id": case_no},
        )
        if not page["items"]:
            return None
        return self._get(
            f"{self.endpoints.hub}/api/v1/messages/{page['items'][0]['id']}", self.operator_key
        )

    def _received_all(self, message_type: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._get(
            f"{self.endpoints.department}/received",
            params={"type": message_type, "case_no": self.case_no},
        )["items"]
        return items

    def _received(self, message_type: str) -> dict[str, Any] | None:
        items = self._received_all(message_type)
        return items[0] if items else None

    def _hall_case(self) -> dict[str, Any]:
        return self._get(f"{self.endpoints.provincial_hall}/_sandbox/cases/{self.case_no}")

    def _wait(
        self, condition: Callable[[], T | None], what: str, timeout: float | None = None
    ) -> T:
        deadline = time.monotonic() + (timeout or self.step_timeout_s)
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise StoryFailed(f"timed out waiting for {what}")
            time.sleep(0.05)

    def _post(self, url: str, document: Any, key: str | None = None) -> dict[str, Any]:
        response = self.http.post(url, json=document, headers=_auth(key), timeout=10)
        if response.status_code >= 300:
            raise StoryFailed(f"POST {url} answered {response.status_code}: {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer

    def _get(
        self, url: str, key: str | None = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = self.http.get(url, headers=_auth(key), params=params, timeout=10)
        if response.status_code >= 300:
            raise StoryFailed(f"GET {url} answered {response.status_code}: {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer


def _auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _now() -> str:
    return format_time(dt.datetime.now(HUB_TZ)) or ""


def _line(step: Step) -> str:
    mark = "✓" if step.ok else "✗"
    route = f"{step.sender} → {step.receiver}"
    return (
        f"{mark} {step.number}. {_pad(route, 40)} {_pad(step.what, 42)}"
        f" {step.seconds:6.2f} s  {step.detail}"
    )


def _pad(text: str, width: int) -> str:
    """``text`` filled with spaces to ``width`` terminal columns (a Chinese character takes
    two), so the columns line up whatever the names."""
    columns = wcswidth(text)
    return text + " " * max(0, width - (columns if columns >= 0 else len(text)))
