"""The sandbox hall's service-item catalogue (事项目录): Weihai-like, generated the same every time.

About seventy items of the city's departments (licensing, benefits, public services,
penalties…, immediate and committed, with their legal and committed limits in working
days, the materials their guides list and how far they are online), each implemented by
the city and by its four county-level areas: a few hundred items. Asked for more (up to
5,000 and beyond), the same items are implemented by towns and streets too. Department
codes are real-shaped unified social credit codes (the check character is right).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BASE_ITEMS", "DEFAULT_SIZE", "DEPARTMENTS", "EXAMPLE_ITEM_CODE", "generate"]

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

#: The item of the canonical examples (schemas/examples/case.submitted.json).
EXAMPLE_ITEM_CODE = "11371000004336447K4370220001000"

DATA = Path(__file__).resolve().parent / "catalogue.json"


@dataclass(frozen=True, slots=True)
class BaseItem:
    """An item as the guide template defines it, before an area implements it."""

    serial: str  # 10 digits: the item's part of the 实施编码
    name: str
    department: str
    item_type: str
    case_kind: str
    legal: int | None
    committed: int
    materials: tuple[str, ...]
    depth: str  # 1 published, 2 pre-review, 3 fully online


def _load() -> tuple[
    dict[str, str], tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], tuple[BaseItem, ...]
]:
    document = json.loads(DATA.read_text(encoding="utf-8"))
    items = tuple(
        BaseItem(row[0], row[1], row[2], row[3], row[4], row[5], row[6], tuple(row[7]), row[8])
        for row in document["items"]
    )
    return (
        dict(document["departments"]),
        tuple((region, name) for region, name in document["areas"]),
        tuple((region, name) for region, name in document["towns"]),
        items,
    )


#: Department key → name suffix (after the area's name); (region code, name) of the city
#: and its county-level areas; the towns and streets (镇街) under them; the item templates.
DEPARTMENTS, AREAS, TOWNS, BASE_ITEMS = _load()

#: Items the sandbox holds unless asked for another number: every item in every area.
DEFAULT_SIZE = len(BASE_ITEMS) * len(AREAS)
#: The hall's stamp of the catalogue as it is first published.
PUBLISHED_AT = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def uscc(region: str, organisation: str) -> str:
    """A government body's unified social credit code (``11`` + region + 9 + check)."""
    body = "11" + region + organisation
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


def _bodies() -> list[tuple[str, str, int]]:
    """Implementing places, in order: ``(region, name, number)``; areas first, then towns."""
    found = [(region, name, index) for index, (region, name) in enumerate(AREAS)]
    found += [
        (region, f"{dict(AREAS)[region]}{town}", len(AREAS) + index)
        for index, (region, town) in enumerate(TOWNS)
    ]
    return found


def generate(count: int = DEFAULT_SIZE) -> list[dict[str, Any]]:
    """``count`` items (``ItemInfo`` fields), the same for the same ``count``.

    Raises:
        ValueError: More items than the places and items can make.
    """
    bodies = _bodies()
    if count > len(bodies) * len(BASE_ITEMS) * 10:
        raise ValueError(f"the sandbox catalogue has at most {len(bodies) * len(BASE_ITEMS) * 10}")
    departments = list(DEPARTMENTS)
    made: list[dict[str, Any]] = []
    for number in range(count):
        base = BASE_ITEMS[number % len(BASE_ITEMS)]
        place = number // len(BASE_ITEMS)
        region, place_name, body_no = bodies[place % len(bodies)]
        batch = place // len(bodies)  # beyond every place: further sub-items (情形)
        town = body_no >= len(AREAS)
        # A town or street implements its items through one service centre (便民服务中心).
        dept_no = 99 if town else departments.index(base.department)
        department_code = uscc(region, f"00433{dept_no:02d}{body_no:02d}")
        department_name = (
            f"{place_name}便民服务中心" if town else f"{place_name}{DEPARTMENTS[base.department]}"
        )
        suffix = f"{base.serial}{body_no:02d}{batch}"
        code = department_code + suffix
        if number == 0:
            code = EXAMPLE_ITEM_CODE
        name = base.name if batch == 0 else f"{base.name}（情形{batch}）"
        made.append(
            {
                "SXBM": code,
                "SXMC": name,
                "SXLX": base.item_type,
                "BJLX": base.case_kind,
                "SSZTBM": department_code,
                "SSZTMC": department_name,
                "FDBJSX": base.legal,
                "CNBJSX": base.committed,
                "WBSD": base.depth,
                "XZQHDM": region,
                "ZT": "1",
                "BBH": 1,
                "SBCL": [
                    {"CLMC": material, "SFBX": index == 0 or "证明" not in material}
                    for index, material in enumerate(base.materials)
                ],
            }
        )
    return made
