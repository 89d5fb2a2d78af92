"""The provincial online hall adapter: online applications in, process and results out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lxml import etree

from adapters.sdk import (
    AdapterError,
    Attempt,
    Batch,
    ConfigurationError,
    Receipt,
    Record,
    RejectedError,
    ResultCodes,
    RetriableError,
)
from adapters.sdk.settings import load_schema
from adapters.sdk.soap import as_plain
from adapters.sdk.soap_adapter import SoapAdapter
from adapters.sdk.xml import XmlError, parse_declared
from hub.core.clock import HUB_TZ, format_time, parse_time
from hub.core.envelope import Envelope

__all__ = ["ItemPage", "ProvincialHallAdapter", "to_case_submitted", "to_item"]

STREAM = "applications"
#: Pages read at most in one ``read`` before handing back what there is.
MAX_PAGES_PER_READ = 20
_BEGINNING = dt.datetime(1970, 1, 1, tzinfo=HUB_TZ)
#: 网办深度 (WBSD) → the catalogue's online depth.
ONLINE_DEPTHS = {"1": "published", "2": "pre_review", "3": "fully_online"}


#: Canonical pre-review outcome → the hall's 预审结果 code.
PRE_REVIEW_OUTCOMES = {"pass": "1", "supplement": "2"}


def to_case_submitted(application: Mapping[str, Any]) -> dict[str, Any]:
    """An online application (``ApplyInfo``) as a canonical ``case.submitted`` payload."""
    applicant: dict[str, Any] = {
        "type": application["SQRLX"],
        "name": application["SQRMC"],
        "id_type": application["SQRZJLX"],
        "id_no": application["SQRZJHM"],
    }
    if application.get("LXRSJ"):
        applicant["mobile"] = application["LXRSJ"]
    payload: dict[str, Any] = {
        "case_no": application["SBLSH"],
        "item_code": application["SXBM"],
        "item_name": application["SXMC"],
        "applicant": applicant,
        "submitted_at": format_time(_time(application["SBSJ"])),
        # 申报渠道 (SBQD): 1 the hall's website, 2 its mobile app.
        "channel": "mobile" if str(application.get("SBQD")) == "2" else "online",
    }
    materials = [m["CLMC"] for m in application.get("CLXX") or () if m.get("CLMC")]
    if materials:
        payload["materials"] = [{"name": name} for name in materials]
    if application.get("YJDZ"):
        payload["delivery"] = {"method": "courier", "address": application["YJDZ"]}
    return payload


def to_item(info: Mapping[str, Any]) -> dict[str, Any]:
    """A catalogue entry (``ItemInfo``) as the hub's item document (``ServiceItem``)."""
    updated = info.get("GXSJ")
    document: dict[str, Any] = {
        "code": info.get("SXBM"),
        "name": info.get("SXMC"),
        "department": {"code": info.get("SSZTBM"), "name": info.get("SSZTMC")},
        "item_type": info.get("SXLX"),
        "case_kind": info.get("BJLX"),
        "legal_limit_days": info.get("FDBJSX"),
        "committed_limit_days": info.get("CNBJSX"),
        "materials": [
            {"name": m.get("CLMC"), "required": bool(m.get("SFBX", True))}
            for m in info.get("SBCL") or ()
        ],
        "online_depth": ONLINE_DEPTHS.get(str(info.get("WBSD")), str(info.get("WBSD"))),
        "area_code": info.get("XZQHDM"),
        "status": "in_force" if str(info.get("ZT", "1")) == "1" else "withdrawn",
        "hall_version": info.get("BBH"),
        "hall_updated_at": format_time(_time(updated)) if updated is not None else None,
    }
    return document


@dataclass(frozen=True, slots=True)
class ItemPage:
    """One page of the hall's item catalogue.

    Attributes:
        items: Item documents (:func:`to_item`), in the order the hall changed them.
        cursor: Where the next page starts (give it back to ``items_after``).
        more: Whether more items follow now.
        left: Items after the previous cursor, this page included.
    """

    items: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None
    more: bool = False
    left: int = 0


def _time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(str(value).strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=HUB_TZ)


#: The hall's result codes (``CODE`` in every answer).
HALL_CODES = ResultCodes(
    code="CODE",
    message="MESSAGE",
    ok=("0",),
    errors={
        "1001": RejectedError,  # 办件不存在: the hall does not know the case
        "1002": RejectedError,  # 办件已办结: nothing may follow the result
        "2001": ConfigurationError,  # 无权限: the account does not cover the area
        "9*": RetriableError,  # 9001 系统繁忙 and the hall's other transient codes
    },
)


class ProvincialHallAdapter(SoapAdapter):
    """省级网上政务大厅: reads online applications and pushes process and results back.

    Reads (stream ``applications``) page through ``QueryApplies`` since a watermark on the
    hall's own storage time (入库时间 ``RKSJ``, not the applicant's 申报时间, which can
    arrive late); the cursor is ``(RKSJ, SBLSH)`` of the last record, and the query is
    inclusive, so applications sharing a timestamp across a page boundary are neither
    lost nor repeated. With ``query_mode = "legacy_xml"`` it uses ``QueryAppliesXml``, the
    older halls' XML-in-a-string form, decoded by the encoding the answer declares.

    Deliveries: ``case.status_changed`` → ``PushProcess``, ``case.completed`` →
    ``PushResult``, ``case.pre_reviewed`` → ``PushPreReview`` (在线预审: passed, or needs
    supplement with the missing materials), each with the delivery id as the event
    number (``SJBH``), on which the hall deduplicates.
    """

    name = "provincial_hall"
    version = "1.0"
    settings_schema: ClassVar[dict[str, Any]] = load_schema(__file__)
    accepts = ("case.status_changed", "case.completed", "case.pre_reviewed")
    produces = ("case.submitted",)
    streams: ClassVar[Mapping[str, str]] = {STREAM: "case.submitted"}
    result_codes = HALL_CODES
    fault_codes: ClassVar[Mapping[str, type[AdapterError]]] = {"1000": RejectedError}

    def __init__(self, destination: str, settings: Mapping[str, Any]) -> None:
        super().__init__(destination, settings)
        self.page_size = int(self.settings.get("page_size", 50))
        self.area_code: str | None = self.settings.get("area_code")
        self.legacy = self.settings.get("query_mode", "typed") == "legacy_xml"
        start = self.settings.get("start_at")
        self.start_at = parse_time(start) if start else _BEGINNING

    # ------------------------------------------------------------------ check

    def check(self) -> None:
        """Ask for one application from now on: reaches the hall and authenticates."""
        self._query(dt.datetime.now(HUB_TZ), 1, 1)

    # ------------------------------------------------------------------ deliver

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """Push a case's process (``PushProcess``) or result (``PushResult``) to the hall."""
        payload = message.payload
        if message.type == "case.status_changed":
            department = payload["department"]
            operation = "PushProcess"
            arguments: dict[str, Any] = {
                "SBLSH": payload["case_no"],
                "SJBH": attempt.delivery_id,
                "BLZT": payload["status"],
                "BLBMBM": department["code"],
                "BLBMMC": department["name"],
                "BLSJ": parse_time(payload["occurred_at"]),
                "BLR": payload.get("handler"),
                "BLYJ": payload.get("opinion"),
            }
        elif message.type == "case.completed":
            operation = "PushResult"
            arguments = {
                "SBLSH": payload["case_no"],
                "SJBH": attempt.delivery_id,
                "BJJG": payload["result"],
                "BJSJ": parse_time(payload["completed_at"]),
                "BJMS": payload.get("description"),
                "ZZBS": list(payload.get("license_ids", [])),
                "SFKD": bool(payload["deliver_by_courier"]),
            }
        elif message.type == "case.pre_reviewed":
            operation = "PushPreReview"
            arguments = {
                "SBLSH": payload["case_no"],
                "SJBH": attempt.delivery_id,
                "YSJG": PRE_REVIEW_OUTCOMES[payload["outcome"]],
                "YSSJ": parse_time(payload["reviewed_at"]),
                "YSYJ": payload.get("opinion"),
                "BQCL": list(payload.get("missing_materials", [])),
            }
        else:
            raise RejectedError(f"{self.destination} does not take {message.type}")
        answer = self.soap.call(operation, **arguments)
        said = str(answer["MESSAGE"] or "")
        return Receipt(
            status_code=200,
            detail=f"{operation}: {said}".strip(": "),
            data={"code": str(answer["CODE"]), "event": attempt.delivery_id},
        )

    # ------------------------------------------------------------------ catalogue

    def items_after(self, cursor: str | None, page_size: int = 200) -> ItemPage:
        """The hall's service items changed after ``cursor`` (``None``: all), one page.

        The hall keeps its catalogue in the order items last changed (更新时间); its
        cursor names a place in that order, so the cursor of the last page read asks
        for what changed since.

        Raises:
            RejectedError: The hall does not know the cursor.
            RetriableError: The hall is busy or unreachable.
        """
        answer = as_plain(
            self.soap.call(
                "QueryItems",
                CURSOR=cursor,
                PAGESIZE=max(1, min(500, page_size)),
                XZQHDM=self.area_code,
            )
        )
        return ItemPage(
            items=[to_item(info) for info in answer.get("ITEM") or ()],
            cursor=answer.get("NEXTCURSOR") or cursor,
            more=bool(answer.get("HASMORE")),
            left=int(answer.get("TOTAL") or 0),
        )

    # ------------------------------------------------------------------ read

    def read(self, stream: str, cursor: str | None, limit: int = 100) -> Batch:
        """Online applications stored after ``cursor``, as ``case.submitted`` records.

        Raises:
            NotImplementedError: ``stream`` is not ``applications``.
            ConfigurationError: The cursor is not one this adapter wrote.
        """
        if stream != STREAM:
            raise NotImplementedError(f"{self.name} has no stream {stream!r}")
        after = _parse_cursor(cursor)
        since = after[0] if after else self.start_at
        page_size = min(self.page_size, max(1, limit))
        collected: list[dict[str, Any]] = []
        exhausted = False
        for page in range(1, MAX_PAGES_PER_READ + 1):
            total, items = self._query(since, page, page_size)
            collected.extend(
                item
                for item in items
                if after is None or (_time(item["RKSJ"]), item["SBLSH"]) > after
            )
            if not items or page * page_size >= total:
                exhausted = True
                break
            if len(collected) >= limit:
                break  # enough; the next read asks again from the new cursor
        chosen = collected[:limit]
        if not chosen:
            return Batch(records=[], cursor=None, more=not exhausted)
        records = [
            Record(
                type="case.submitted",
                payload=to_case_submitted(item),
                key=item["SBLSH"],
                correlation_id=item["SBLSH"],
            )
            for item in chosen
        ]
        last = chosen[-1]
        return Batch(
            records=records,
            cursor=_format_cursor(_time(last["RKSJ"]), last["SBLSH"]),
            more=len(collected) > limit or not exhausted,
        )

    def _query(
        self, since: dt.datetime, page: int, page_size: int
    ) -> tuple[int, list[dict[str, Any]]]:
        if self.legacy:
            return self._query_legacy(since, page, page_size)
        answer = self.soap.call(
            "QueryApplies",
            SINCE=since,
            PAGENO=page,
            PAGESIZE=page_size,
            XZQHDM=self.area_code,
        )
        document = as_plain(answer)
        return int(document.get("TOTAL") or 0), list(document.get("APPLY") or [])

    def _query_legacy(
        self, since: dt.datetime, page: int, page_size: int
    ) -> tuple[int, list[dict[str, Any]]]:
        query = etree.Element("QUERY")
        for name, value in (
            ("SINCE", since.isoformat()),
            ("PAGENO", page),
            ("PAGESIZE", page_size),
            ("XZQHDM", self.area_code),
        ):
            if value is not None:
                etree.SubElement(query, name).text = str(value)
        text = '<?xml version="1.0" encoding="GBK"?>' + etree.tostring(query, encoding="unicode")
        answer = self.soap.call("QueryAppliesXml", xmlParam=text)
        try:
            result = parse_declared(answer["return"] or b"")
        except XmlError as error:
            raise RetriableError(
                f"{self.destination} answered XML we cannot read: {error}"
            ) from None
        HALL_CODES.check(
            {"CODE": result.findtext("CODE"), "MESSAGE": result.findtext("MESSAGE")},
            self.destination,
            status_code=200,
        )
        items = []
        for apply in result.iterfind("APPLY"):
            item: dict[str, Any] = {
                child.tag: (child.text or "").strip()
                for child in apply
                if isinstance(child.tag, str) and child.tag != "CLXX"
            }
            item["CLXX"] = [{"CLMC": m.findtext("CLMC")} for m in apply.iterfind("CLXX")]
            items.append(item)
        return int(result.findtext("TOTAL") or 0), items


def _format_cursor(stamp: dt.datetime, sblsh: str) -> str:
    return json.dumps(
        {"t": stamp.astimezone(HUB_TZ).isoformat(timespec="microseconds"), "k": sblsh},
        separators=(",", ":"),
    )


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if cursor is None:
        return None
    try:
        document = json.loads(cursor)
        return parse_time(document["t"]), str(document["k"])
    except (ValueError, KeyError, TypeError):
        raise ConfigurationError(
            f"the cursor {cursor[:80]!r} was not written by {ProvincialHallAdapter.name}"
        ) from None
