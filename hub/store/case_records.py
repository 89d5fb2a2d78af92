"""What the item catalogue and the case clocks hand out: plain, immutable records."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.core.clock import format_time, parse_time
from hub.core.identifiers import IdentifierError, check_uscc

__all__ = [
    "CASE_KINDS",
    "ITEM_STATUSES",
    "ITEM_TYPES",
    "LIGHTS",
    "ONLINE_DEPTHS",
    "CaseEventRow",
    "CaseFilter",
    "CaseRecord",
    "ItemFilter",
    "ItemVersion",
    "ItemView",
    "Material",
    "ServiceItem",
    "SyncCounts",
]

#: 事项类型 (DOMAIN.md): code → English name.
ITEM_TYPES = {
    "01": "licensing",
    "02": "penalty",
    "03": "enforcement",
    "04": "levy",
    "05": "benefit",
    "06": "inspection",
    "07": "confirmation",
    "08": "award",
    "09": "adjudication",
    "10": "other power",
    "20": "public service",
}
#: 办件类型: 1 immediate (即办件), 2 committed (承诺件).
CASE_KINDS = {"1": "immediate", "2": "committed"}
#: 网办深度: published (事项公开), pre-reviewed online (在线预审), fully online (全程网办).
ONLINE_DEPTHS = ("published", "pre_review", "fully_online")
ITEM_STATUSES = ("in_force", "withdrawn")
#: A case's supervision light; ``none`` when no time limit is known (an unknown item).
LIGHTS = ("green", "yellow", "red", "none")

_CODE = re.compile(r"^[0-9A-Za-z-]{1,64}$")
MAX_LIMIT_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Material:
    """One material the item's guide lists (申请材料)."""

    name: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class ServiceItem:
    """A service item (事项) as its guide publishes it.

    Attributes:
        code: 实施编码, unique per implementing body.
        name: 事项名称.
        department_code: The implementing body's unified social credit code.
        department_name: Its name.
        item_type: 事项类型 code (``01`` licensing … ``20`` public service).
        case_kind: ``1`` immediate (即办件) or ``2`` committed (承诺件).
        legal_limit_days: 法定时限 in working days, when the law sets one.
        committed_limit_days: 承诺时限 in working days (0 for an immediate item).
        materials: What the applicant brings.
        online_depth: ``published``, ``pre_review`` or ``fully_online``.
        area_code: 行政区划代码 of the implementing body.
        status: ``in_force`` or ``withdrawn``.
        hall_version: The hall's own version number of the guide.
        hall_updated_at: When the hall last changed it.
    """

    code: str
    name: str
    department_code: str
    department_name: str
    item_type: str
    case_kind: str
    committed_limit_days: int
    legal_limit_days: int | None = None
    materials: tuple[Material, ...] = ()
    online_depth: str = "published"
    area_code: str | None = None
    status: str = "in_force"
    hall_version: int | None = None
    hall_updated_at: dt.datetime | None = None

    def document(self) -> dict[str, Any]:
        """The fields a version is made of (the hall's bookkeeping left out)."""
        return {
            "code": self.code,
            "name": self.name,
            "department": {"code": self.department_code, "name": self.department_name},
            "item_type": self.item_type,
            "case_kind": self.case_kind,
            "legal_limit_days": self.legal_limit_days,
            "committed_limit_days": self.committed_limit_days,
            "materials": [{"name": m.name, "required": m.required} for m in self.materials],
            "online_depth": self.online_depth,
            "area_code": self.area_code,
            "status": self.status,
        }

    def digest(self) -> str:
        """SHA-256 of :meth:`document`: equal for equal content, whatever the hall's stamps."""
        text = json.dumps(self.document(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ServiceItem:
        """An item from its JSON form (what adapters hand over), checked field by field.

        Raises:
            ValueError: A field is missing or malformed; the message names the field.
        """
        code = _text(document, "code", 64)
        if not _CODE.match(code):
            raise ValueError("code: only letters, digits and '-' (at most 64)")
        department = document.get("department")
        if not isinstance(department, Mapping):
            raise ValueError("department: must be an object with code and name")
        department_code = _text(department, "code", 18, where="department.code")
        try:
            check_uscc(department_code)
        except IdentifierError as error:
            raise ValueError(f"department.code: {error}") from None
        item_type = _text(document, "item_type", 2)
        if item_type not in ITEM_TYPES:
            raise ValueError(f"item_type: must be one of {', '.join(ITEM_TYPES)}")
        case_kind = _text(document, "case_kind", 1)
        if case_kind not in CASE_KINDS:
            raise ValueError("case_kind: must be 1 (immediate) or 2 (committed)")
        depth = document.get("online_depth", "published")
        if depth not in ONLINE_DEPTHS:
            raise ValueError(f"online_depth: must be one of {', '.join(ONLINE_DEPTHS)}")
        status = document.get("status", "in_force")
        if status not in ITEM_STATUSES:
            raise ValueError(f"status: must be one of {', '.join(ITEM_STATUSES)}")
        materials = document.get("materials") or []
        if not isinstance(materials, list) or len(materials) > 200:
            raise ValueError("materials: must be a list of at most 200")
        area = document.get("area_code")
        if area is not None and not (isinstance(area, str) and re.fullmatch(r"\d{6}", area)):
            raise ValueError("area_code: must be 6 digits")
        updated = document.get("hall_updated_at")
        hall_version = document.get("hall_version")
        if hall_version is not None and not isinstance(hall_version, int):
            raise ValueError("hall_version: must be an integer")
        return cls(
            code=code,
            name=_text(document, "name", 200),
            department_code=department_code,
            department_name=_text(department, "name", 200, where="department.name"),
            item_type=item_type,
            case_kind=case_kind,
            committed_limit_days=_days(document, "committed_limit_days", required=True),
            legal_limit_days=_days(document, "legal_limit_days", required=False),
            materials=tuple(_material(m, i) for i, m in enumerate(materials)),
            online_depth=depth,
            area_code=area,
            status=status,
            hall_version=hall_version,
            hall_updated_at=_time(updated) if updated is not None else None,
        )


def _text(document: Mapping[str, Any], key: str, most: int, *, where: str | None = None) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        raise ValueError(f"{where or key}: must be text of 1..{most} characters")
    return value.strip()


def _days(document: Mapping[str, Any], key: str, *, required: bool) -> Any:
    value = document.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMIT_DAYS:
        raise ValueError(f"{key}: must be a whole number of working days (0..{MAX_LIMIT_DAYS})")
    return value


def _material(value: Any, index: int) -> Material:
    if not isinstance(value, Mapping):
        raise ValueError(f"materials[{index}]: must be an object with a name")
    name = _text(value, "name", 200, where=f"materials[{index}].name")
    return Material(name=name, required=bool(value.get("required", True)))


def _time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("hall_updated_at: needs an offset")
        return value
    try:
        return parse_time(str(value))
    except ValueError:
        raise ValueError("hall_updated_at: must be an RFC 3339 time with an offset") from None


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item in the catalogue: its current content and where it stands."""

    item: ServiceItem
    version: int
    source: str
    synced_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            **self.item.document(),
            "item_type_name": ITEM_TYPES[self.item.item_type],
            "case_kind_name": CASE_KINDS[self.item.case_kind],
            "version": self.version,
            "hall_version": self.item.hall_version,
            "hall_updated_at": format_time(self.item.hall_updated_at),
            "source": self.source,
            "synced_at": format_time(self.synced_at),
        }


@dataclass(frozen=True, slots=True)
class ItemVersion:
    """One version of an item, as first seen."""

    code: str
    version: int
    document: dict[str, Any]
    recorded_at: dt.datetime
    hall_version: int | None = None
    hall_updated_at: dt.datetime | None = None
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "version": self.version,
            "recorded_at": format_time(self.recorded_at),
            "hall_version": self.hall_version,
            "hall_updated_at": format_time(self.hall_updated_at),
            "run_id": self.run_id,
            "item": self.document,
        }


@dataclass(frozen=True, slots=True)
class SyncCounts:
    """What storing a page of items did."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0

    def __add__(self, other: SyncCounts) -> SyncCounts:
        return SyncCounts(
            self.added + other.added,
            self.changed + other.changed,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which items: empty fields do not filter; ``text`` matches the name or the code."""

    department: str = ""
    item_type: str = ""
    case_kind: str = ""
    online_depth: str = ""
    status: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class CaseEventRow:
    """One event of a case's timeline."""

    message_id: str
    case_no: str
    type: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    source: str
    status: str | None = None
    result: str | None = None
    item_code: str | None = None
    item_name: str | None = None
    department_code: str | None = None
    department_name: str | None = None
    applied: bool = False


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case's record: what its events say, and its clock as last evaluated.

    Attributes:
        stops: ``[{"kind": "supplement" | "special", "from": RFC 3339, "to": RFC 3339 | None}]``.
        light: ``green``, ``yellow``, ``red``, or ``none`` while no limit is known.
    """

    case_no: str
    item_code: str | None = None
    item_name: str | None = None
    item_known: bool = False
    item_version: int | None = None
    department_code: str | None = None
    department_name: str | None = None
    case_kind: str | None = None
    limit_days: int | None = None
    status: str | None = None
    submitted_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    stops: tuple[dict[str, Any], ...] = ()
    stopped: bool = False
    finished_at: dt.datetime | None = None
    result: str | None = None
    open: bool = True
    light: str = "none"
    due_on: dt.date | None = None
    used_days: int | None = None
    on_time: bool | None = None
    warned_for: dt.date | None = None
    overdue_for: dt.date | None = None
    last_event_at: dt.datetime | None = None
    event_count: int = 0
    updated_at: dt.datetime | None = None

    @property
    def flags(self) -> list[str]:
        """What supervision should look at beyond the light (``unknown_item``)."""
        return [] if self.item_known else ["unknown_item"]

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "case_no": self.case_no,
            "item": {
                "code": self.item_code,
                "name": self.item_name,
                "known": self.item_known,
                "version": self.item_version,
            },
            "department": (
                {"code": self.department_code, "name": self.department_name}
                if self.department_code
                else None
            ),
            "case_kind": self.case_kind,
            "limit_working_days": self.limit_days,
            "status": self.status,
            "submitted_at": format_time(self.submitted_at),
            "accepted_at": format_time(self.accepted_at),
            "stopped": self.stopped,
            "finished_at": format_time(self.finished_at),
            "result": self.result,
            "open": self.open,
            "light": self.light,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "used_working_days": self.used_days,
            "on_time": self.on_time,
            "flags": self.flags,
            "last_event_at": format_time(self.last_event_at),
            "events": self.event_count,
            "updated_at": format_time(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which cases: empty fields do not filter.

    Attributes:
        light: ``green``, ``yellow``, ``red`` or ``none``.
        department: The implementing body's code.
        item_code: The item.
        open: Only open (``True``) or only closed (``False``) cases.
        unknown_item: Only cases whose item is not in the catalogue.
    """

    light: str = ""
    department: str = ""
    item_code: str = ""
    open: bool | None = None
    unknown_item: bool = False
