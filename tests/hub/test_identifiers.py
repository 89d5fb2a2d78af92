"""Check digits of Chinese government identifiers, and masking."""

from __future__ import annotations

import pytest

from hub.core.identifiers import (
    IdentifierError,
    check_e_license_id,
    check_resident_id,
    check_uscc,
    mask_resident_id,
    mask_text,
)


def test_valid_identifiers_from_the_standards_pass() -> None:
    check_resident_id("11010519491231002X")
    check_uscc("91110108551385082Q")
    check_uscc("11100000000013338W")
    check_e_license_id("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519491231003X", "check digit"),
        ("11010519491331002X", "not a real date"),
        ("1101051949123100", "18 characters"),
        ("11010520991231002X", "in the future"),
        ("11010519491231002x", "18 characters"),
    ],
)
def test_resident_id_failures_say_why_without_the_number(value: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        check_resident_id(value)
    assert reason in str(caught.value)
    assert value not in str(caught.value)


def test_credit_codes_may_start_with_letter_department_codes() -> None:
    # 登记管理部门代码 Y (others) and N (agriculture) are letters; the check still applies
    check_uscc("Y1371000MB2855005U")
    check_uscc("N2370100MA3C4D5E68")
    with pytest.raises(IdentifierError, match="check character"):
        check_uscc("Y1371000MB2855005T")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("91110108551385082A", "check character"),
        ("9111010855138508IQ", "without I, O, S, V, Z"),
        ("911101085513850", "18 characters"),
    ],
)
def test_credit_code_failures(value: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        check_uscc(value)


@pytest.mark.parametrize(
    "value",
    [
        "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.G",
        "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.002.F",
        "1.2.156.3005.11100000000013338W032.11220000013544541J.2430599.001.F",
    ],
)
def test_e_license_identifier_failures(value: str) -> None:
    with pytest.raises(IdentifierError):
        check_e_license_id(value)


def test_masking_keeps_region_and_last_four() -> None:
    assert mask_resident_id("11010519491231002X") == "110105********002X"
    assert mask_text("applicant 11010519491231002X, tel 13800138000") == (
        "applicant 110105********002X, tel 13800138000"
    )
