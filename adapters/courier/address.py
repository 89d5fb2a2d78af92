"""Splitting a Chinese postal address into province, city, county and the rest.

Applicants write one line (``山东省威海市环翠区新威路1号``); the courier wants the parts.
Local addresses often start at the city or the county (``环翠区新威路1号``): the missing
parts come from the defaults (the centre's own province and city).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["AddressError", "PostalAddress", "split_address"]

MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
_PATTERN = re.compile(
    r"^(?P<province>.{2,7}?(?:省|自治区|特别行政区))?"
    r"(?P<city>.{2,9}?(?:市|自治州|地区|盟))?"
    r"(?P<county>.{1,9}?(?:区|县|市|旗))?"
    r"(?P<rest>.+)$"
)


class AddressError(ValueError):
    """The address lacks a part the courier needs (the message says which)."""


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """An address in the courier's parts."""

    province: str
    city: str
    county: str
    address: str


def split_address(
    text: str, *, default_province: str | None = None, default_city: str | None = None
) -> PostalAddress:
    """Split ``text``; missing province and city come from the defaults.

    Raises:
        AddressError: No county (区/县) can be found, or no province or city and no default.
    """
    compact = "".join(text.split())
    match = _PATTERN.match(compact)
    if match is None:
        raise AddressError("the address is empty")
    province, city, county, rest = (match[k] for k in ("province", "city", "county", "rest"))
    if province is None and city in MUNICIPALITIES:
        province = city
    province = province or default_province
    city = city or default_city
    if county is None:
        raise AddressError("no county or district (区/县) in the address")
    if province is None or city is None:
        raise AddressError("no province or city in the address, and no default configured")
    return PostalAddress(province=province, city=city, county=county, address=rest)
