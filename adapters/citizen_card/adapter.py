"""The citizen card adapter: holder look-ups, card status, and the status-change feed."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from adapters.citizen_card.signing import HmacSigner
from adapters.sdk import (
    Attempt,
    Batch,
    ConfigurationError,
    Receipt,
    Record,
    RejectedError,
    ResultCodes,
    RetriableError,
)
from adapters.sdk.errors import dig
from adapters.sdk.http import Auth
from adapters.sdk.rest import RestAdapter
from adapters.sdk.settings import load_schema
from hub.core.clock import HUB_TZ
from hub.core.envelope import Envelope
from hub.core.identifiers import check_resident_id, mask_resident_id

__all__ = ["CardStatus", "CitizenCard", "Holder"]

log = logging.getLogger("govhub.adapters.citizen_card")

STATUS_CHANGES = "status_changes"
#: The platform gives at most this many changes a page.
MAX_PAGE = 500
_LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class Holder:
    """A card holder as the platform knows them.

    Attributes:
        name: The holder's name.
        card_no: Their citizen card number.
        card_status: Canonical status: active, lost, frozen or cancelled.
        issued_on: When the card was issued (``YYYY-MM-DD``).
        mobile: The mobile number, masked by the platform.
    """

    name: str
    card_no: str
    card_status: str
    issued_on: str
    mobile: str


@dataclass(frozen=True, slots=True)
class CardStatus:
    """A card's current status.

    Attributes:
        card_no: The card.
        status: Canonical status: active, lost, frozen or cancelled.
        holder_name: Whose card it is.
        updated_at: When it last changed (RFC 3339), if the platform says.
    """

    card_no: str
    status: str
    holder_name: str
    updated_at: str | None


class CitizenCard(RestAdapter):
    """市民卡: looks holders up by resident ID and reads the feed of card status changes.

    Every request is signed (``adapters.citizen_card.signing``). The feed's records become
    ``citizen_card.status_changed`` messages, keyed by the platform's change id and
    correlated by card number, so one card's changes stay in order. Resident ID numbers
    travel only in request bodies (never in URLs) and are masked in every log line.
    """

    name = "citizen_card"
    version = "1.0"
    settings_schema: ClassVar[dict[str, Any]] = load_schema(__file__)
    produces = ("citizen_card.status_changed",)
    streams: ClassVar[dict[str, str]] = {STATUS_CHANGES: "citizen_card.status_changed"}
    result_codes = ResultCodes(
        code="code",
        message="message",
        ok=("0",),
        errors={
            "SYSTEM_*": RetriableError,
            "RATE_LIMITED": RetriableError,
            "APP_UNKNOWN": ConfigurationError,
            "SIGNATURE_INVALID": ConfigurationError,
            "TIMESTAMP_EXPIRED": ConfigurationError,
        },
        otherwise=RejectedError,
    )

    def __init__(self, destination: str, settings: dict[str, Any]) -> None:
        super().__init__(destination, settings)
        self.status_codes: dict[str, str] = dict(
            self.settings.get("status_codes")
            or {"1": "active", "2": "lost", "3": "frozen", "4": "cancelled"}
        )

    def auth(self) -> Auth:
        """Sign every request with the app secret."""
        return HmacSigner(self.settings["app_id"], self.settings["app_secret"])

    def check(self) -> None:
        """A signed ping: the platform is reachable and accepts our signature."""
        self.http.json("GET", "/api/v1/ping")

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """The citizen card platform takes nothing from the hub.

        Raises:
            RejectedError: Always; no route should send messages here.
        """
        raise RejectedError(f"{self.destination} (citizen card) accepts no messages")

    def holder(self, id_no: str) -> Holder | None:
        """Look a holder up by resident ID number.

        Returns:
            The holder, or ``None`` when the platform has no card holder with that number.

        Raises:
            IdentifierError: ``id_no`` is not a valid resident ID (nothing is sent).
            AdapterError: The platform could not answer.
        """
        check_resident_id(id_no)
        try:
            answer = self.http.json("POST", "/api/v1/holders/query", json={"id_no": id_no})
        except RejectedError as error:
            if error.status_code == 404:
                log.info("%s: no holder %s", self.destination, mask_resident_id(id_no))
                return None
            raise
        data = dig(answer, "data") or {}
        return Holder(
            name=str(data.get("name", "")),
            card_no=str(data.get("card_no", "")),
            card_status=self._status(str(data.get("card_status"))),
            issued_on=str(data.get("issued_on", "")),
            mobile=str(data.get("mobile", "")),
        )

    def card_status(self, card_no: str) -> CardStatus | None:
        """A card's status; ``None`` when the platform has no such card.

        Raises:
            AdapterError: The platform could not answer.
        """
        try:
            answer = self.http.json("GET", f"/api/v1/cards/{card_no}")
        except RejectedError as error:
            if error.status_code == 404:
                return None
            raise
        data = dig(answer, "data") or {}
        updated = data.get("updated_at")
        return CardStatus(
            card_no=str(data.get("card_no", card_no)),
            status=self._status(str(data.get("status"))),
            holder_name=str(data.get("holder_name", "")),
            updated_at=self._time(updated, "updated_at") if updated else None,
        )

    def read(self, stream: str, cursor: str | None, limit: int = 100) -> Batch:
        """Card status changes after ``cursor`` (the platform's change sequence).

        Raises:
            NotImplementedError: ``stream`` is not ``status_changes``.
            AdapterError: The platform could not answer, or answered a change the hub
                cannot read (an unknown status code is a :class:`ConfigurationError`).
        """
        if stream != STATUS_CHANGES:
            raise NotImplementedError(f"{self.name} has no stream {stream!r}")
        answer = self.http.json(
            "GET",
            "/api/v1/card-status-changes",
            params={"cursor": cursor or "0", "limit": max(1, min(limit, MAX_PAGE))},
        )
        items = dig(answer, "data.items")
        if not isinstance(items, list):
            raise RetriableError(f"{self.destination} answered the feed without items")
        records = [self._record(item) for item in items]
        next_cursor = dig(answer, "data.next_cursor")
        return Batch(
            records=records,
            cursor=str(next_cursor) if records and next_cursor is not None else None,
            more=bool(dig(answer, "data.has_more")) and bool(records),
        )

    def _record(self, item: dict[str, Any]) -> Record:
        change_id = str(item.get("change_id", ""))
        if not change_id:
            raise RejectedError(f"{self.destination} answered a change without change_id")
        card_no = str(item.get("card_no", ""))
        payload: dict[str, Any] = {
            "card_no": card_no,
            "holder_id_no": str(item.get("id_no", "")),
            "status": self._status(str(item.get("status"))),
            "changed_at": self._time(item.get("changed_at"), f"change {change_id} changed_at"),
        }
        if item.get("previous_status"):
            payload["previous_status"] = self._status(str(item["previous_status"]))
        return Record(
            type="citizen_card.status_changed",
            payload=payload,
            key=change_id,
            correlation_id=card_no or None,
        )

    def _status(self, code: str) -> str:
        try:
            return self.status_codes[code]
        except KeyError:
            raise ConfigurationError(
                f"{self.destination} answered card status code {code!r}, which status_codes"
                " does not map; add it to the destination's settings"
            ) from None

    def _time(self, value: Any, what: str) -> str:
        """The platform's local ``yyyy-MM-dd HH:mm:ss`` as RFC 3339 with +08:00."""
        try:
            moment = dt.datetime.strptime(str(value), _LOCAL_FORMAT).replace(tzinfo=HUB_TZ)
        except ValueError:
            raise RejectedError(
                f"{self.destination} answered {what} not as yyyy-MM-dd HH:mm:ss"
            ) from None
        return moment.isoformat()
