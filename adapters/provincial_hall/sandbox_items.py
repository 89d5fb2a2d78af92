"""The sandbox hall's item catalogue as the hall serves it: pages after a cursor, changes.

Items are kept in the order of their last change (更新时间 ``GXSJ``, then the code); the
cursor names a place in that order, so a page asked for after it holds what changed
since. Changing an item moves it to the end with a new stamp and the next version
number (``BBH``), as the hall's own catalogue does when a guide is revised.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any

from lxml import etree

from adapters.provincial_hall.catalogue import DEFAULT_SIZE, PUBLISHED_AT, generate
from hub.core.clock import HUB_TZ

__all__ = ["ITEM_ORDER", "Catalogue", "CursorError", "item_element"]

#: The order of ``ItemInfo``'s elements (the WSDL's sequence).
ITEM_ORDER = (
    "SXBM",
    "SXMC",
    "SXLX",
    "BJLX",
    "SSZTBM",
    "SSZTMC",
    "FDBJSX",
    "CNBJSX",
    "WBSD",
    "XZQHDM",
    "ZT",
    "BBH",
    "GXSJ",
)
#: Fields a test or demo may change on an item.
CHANGEABLE = frozenset({"SXMC", "SXLX", "BJLX", "FDBJSX", "CNBJSX", "WBSD", "ZT", "SBCL"})


class CursorError(ValueError):
    """A cursor the hall did not write."""


def _encode(stamp: dt.datetime, code: str) -> str:
    text = json.dumps({"t": stamp.isoformat(), "k": code}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def _decode(cursor: str) -> tuple[dt.datetime, str]:
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return dt.datetime.fromisoformat(document["t"]), str(document["k"])
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        raise CursorError("CURSOR: not a cursor this hall returned") from None


class Catalogue:
    """The hall's items; every method takes the lock.

    Args:
        size: How many items to hold (see :func:`~adapters.provincial_hall.catalogue.generate`).
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, dict[str, Any]] = {}
        self.order: list[tuple[dt.datetime, str]] = []
        self.last_stamp = PUBLISHED_AT
        self.resize(size)

    def resize(self, size: int) -> None:
        """Hold exactly the first ``size`` items of the generated catalogue, as published."""
        made = generate(size)
        with self.lock:
            self.items = {str(item["SXBM"]): {**item, "GXSJ": PUBLISHED_AT} for item in made}
            self.order = sorted((PUBLISHED_AT, code) for code in self.items)
            self.last_stamp = PUBLISHED_AT

    def change(self, code: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Revise an item: the given fields, the next version, a new stamp; ``None`` if unknown.

        Raises:
            ValueError: A field that cannot be changed.
        """
        unknown = sorted(set(fields) - CHANGEABLE)
        if unknown:
            raise ValueError(f"{unknown[0]} cannot be changed ({', '.join(sorted(CHANGEABLE))})")
        with self.lock:
            item = self.items.get(code)
            if item is None:
                return None
            self.order.remove((item["GXSJ"], code))
            now = dt.datetime.now(HUB_TZ)
            stamp = now if now > self.last_stamp else self.last_stamp + dt.timedelta(microseconds=1)
            self.last_stamp = stamp
            item.update(fields)
            item["BBH"] = int(item["BBH"]) + 1
            item["GXSJ"] = stamp
            bisect.insort(self.order, (stamp, code))
            return dict(item)

    def page(
        self, cursor: str | None, size: int, area: str | None
    ) -> tuple[int, list[dict[str, Any]], str | None, bool]:
        """Items after ``cursor`` in change order: ``(left, page, next cursor, more)``.

        ``left`` counts the items after the cursor (this page included); the next cursor
        names the last item of the page (the same cursor when the page is empty).

        Raises:
            CursorError: The cursor was not written by this hall.
        """
        after = _decode(cursor) if cursor else None
        with self.lock:
            start = bisect.bisect_right(self.order, after) if after else 0
            chosen = [
                self.items[code]
                for _stamp, code in self.order[start:]
                if _in_area(self.items[code]["XZQHDM"], area)
            ]
        found = [dict(item) for item in chosen[:size]]
        next_cursor = _encode(found[-1]["GXSJ"], found[-1]["SXBM"]) if found else cursor
        return len(chosen), found, next_cursor, len(chosen) > size

    def get(self, code: str) -> dict[str, Any] | None:
        """One item as the hall holds it."""
        with self.lock:
            found = self.items.get(code)
            return dict(found) if found is not None else None


def _in_area(region: str, area: str | None) -> bool:
    if not area:
        return True
    if area.endswith("00"):  # a city covers its county-level areas
        return region[:4] == area[:4]
    return region == area


def item_element(item: dict[str, Any], tag: Callable[[str], str]) -> Any:
    """An ``ITEM`` element (``ItemInfo``) for the answer."""
    element = etree.Element(tag("ITEM"))
    for name in ITEM_ORDER:
        value = item.get(name)
        if value is None:
            continue
        if isinstance(value, dt.datetime):
            value = value.astimezone(HUB_TZ).isoformat(timespec="microseconds")
        etree.SubElement(element, tag(name)).text = str(value)
    for material in item.get("SBCL") or ():
        entry = etree.SubElement(element, tag("SBCL"))
        etree.SubElement(entry, tag("CLMC")).text = str(material["CLMC"])
        etree.SubElement(entry, tag("SFBX")).text = "true" if material.get("SFBX") else "false"
    return element
