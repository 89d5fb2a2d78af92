"""The courier adapter: the contract suite, EMS signing and addresses."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.courier import ems
from adapters.courier.adapter import CourierAdapter
from adapters.courier.address import AddressError, split_address
from adapters.courier.sandbox import DEFAULT_PARTNER_ID, DEFAULT_SECRET, create_app
from adapters.sdk.testing import AdapterContract
from tests.fullonline import CENTRE


class TestCourierContract(AdapterContract):
    adapter = CourierAdapter
    sandbox = staticmethod(create_app)
    examples = ("shipment.requested",)

    def settings(self, url: str) -> dict[str, Any]:
        return {
            "url": url,
            "partner_id": DEFAULT_PARTNER_ID,
            "secret": DEFAULT_SECRET,
            "centre": dict(CENTRE),
        }


def test_ems_sign_is_base64_md5_of_sorted_keys_and_values_plus_secret() -> None:
    import base64
    import hashlib

    params = {"b": "2", "a": "1", "empty": "", "sign": "ignored"}
    expected = base64.b64encode(hashlib.md5(b"a1b2secret").digest()).decode()  # noqa: S324
    assert ems.sign(params, "secret") == expected
    assert ems.verify({**params, "sign": expected}, "secret")
    assert not ems.verify({**params, "b": "3", "sign": expected}, "secret")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("山东省威海市环翠区新威路1号", ("山东省", "威海市", "环翠区", "新威路1号")),
        ("北京市朝阳区建国路88号", ("北京市", "北京市", "朝阳区", "建国路88号")),
        ("环翠区文化西路2号", ("山东省", "威海市", "环翠区", "文化西路2号")),
        ("威海市 文登区 米山路 3 号", ("山东省", "威海市", "文登区", "米山路3号")),
    ],
)
def test_addresses_split_into_the_couriers_parts(text: str, parts: tuple[str, ...]) -> None:
    address = split_address(text, default_province="山东省", default_city="威海市")
    assert (address.province, address.city, address.county, address.address) == parts


def test_address_without_a_county_is_refused() -> None:
    with pytest.raises(AddressError, match="county"):
        split_address("新威路1号", default_province="山东省", default_city="威海市")
