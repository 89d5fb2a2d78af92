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
    normalise_resident_id,
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
        ("11010519491231002Y", "18 characters"),
        ("1101051949123100", "15-digit"),
        ("110105491331002", "not a real date"),
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


def test_a_lower_case_check_character_is_accepted_and_raised() -> None:
    check_resident_id("11010519491231002x")
    assert normalise_resident_id("11010519491231002x") == "11010519491231002X"


def test_a_first_generation_number_is_accepted_as_its_18_character_form() -> None:
    check_resident_id("110105491231002")
    # 19 before the year, then the GB 11643-1999 check character of the 17 digits
    assert normalise_resident_id("110105491231002") == "11010519491231002X"


def test_first_generation_numbers_are_masked_in_text() -> None:
    assert mask_resident_id("110105491231002") == "110105******002"
    assert mask_text("holder 110105491231002 refused") == "holder 110105******002 refused"
    assert mask_text("amount 20.00, order 2026112712") == "amount 20.00, order 2026112712"


@pytest.mark.parametrize(
    ("value", "part"),
    [
        # the check character over the whole identifier is right; the embedded codes are not
        ("1.2.156.3005.2.11100000000013338A032.11220000013544541J.2430599.001.S", "type definer"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541K.2430599.001.7", "issuer"),
    ],
)
def test_e_license_identifiers_check_their_embedded_credit_codes(value: str, part: str) -> None:
    with pytest.raises(IdentifierError, match=f"the {part}'s credit code check character"):
        check_e_license_id(value)
