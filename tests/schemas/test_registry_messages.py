"""The canonical schemas of the credit, citizen-card and e-license messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hub.schemas import SchemaRegistry
from tests.support import example

TYPES = (
    "credit.license_disclosed",
    "credit.penalty_disclosed",
    "citizen_card.status_changed",
    "license.issued",
    "license.revoked",
)
SOAP = {
    "credit.license_disclosed": ("PublishLicenseDisclosure", "LicenseDisclosure"),
    "credit.penalty_disclosed": ("PublishPenaltyDisclosure", "PenaltyDisclosure"),
    "citizen_card.status_changed": ("ReportCitizenCardStatus", "CitizenCardStatusChanged"),
    "license.issued": ("IssueLicense", "LicenseIssued"),
    "license.revoked": ("RevokeLicense", "LicenseRevoked"),
}
RESIDENT_ID = "371002198506123010"


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry()


def errors(registry: SchemaRegistry, message_type: str, payload: Any) -> dict[str, str]:
    return {e.path: e.message for e in registry.validate(message_type, payload).errors}


@pytest.mark.parametrize("message_type", TYPES)
def test_example_is_valid(registry: SchemaRegistry, message_type: str) -> None:
    assert errors(registry, message_type, example(message_type)) == {}


@pytest.mark.parametrize("message_type", TYPES)
def test_unknown_field_is_refused(registry: SchemaRegistry, message_type: str) -> None:
    assert errors(registry, message_type, example(message_type, remark="typo")) == {
        "payload.remark": "is not a known field"
    }


@pytest.mark.parametrize("message_type", TYPES)
def test_schema_names_its_soap_operation_and_element(
    registry: SchemaRegistry, message_type: str
) -> None:
    operation, element = SOAP[message_type]
    assert registry.schema(message_type)["x-soap"] == {"operation": operation, "element": element}


@pytest.mark.parametrize("message_type", ["license.issued", "license.revoked"])
def test_license_id_with_a_wrong_check_character_is_refused(
    registry: SchemaRegistry, message_type: str
) -> None:
    good = example(message_type)["license_id"]
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    found = errors(registry, message_type, example(message_type, license_id=bad))
    assert found == {
        "payload.license_id": "check character does not match (ISO/IEC 7064 MOD 37,36)"
    }


def test_holder_code_is_checked_by_its_code_type(registry: SchemaRegistry) -> None:
    person = {"name": "王秀英", "code": RESIDENT_ID, "code_type": "111"}
    assert errors(registry, "license.issued", example("license.issued", holder=person)) == {}

    uscc_as_person = {**person, "code": "91371002MA3C00001M"}
    found = errors(registry, "license.issued", example("license.issued", holder=uscc_as_person))
    assert list(found) == ["payload.holder.code"]

    person_as_company = {**person, "code_type": "001"}
    found = errors(registry, "license.issued", example("license.issued", holder=person_as_company))
    assert list(found) == ["payload.holder.code"]
    assert RESIDENT_ID not in found["payload.holder.code"]  # never echoes the identifier


def test_natural_person_counterpart_needs_a_resident_id_and_no_credit_code(
    registry: SchemaRegistry,
) -> None:
    person = {"name": "李娜", "category": "2", "id_no": RESIDENT_ID}
    payload = example("credit.penalty_disclosed", counterpart=person)
    assert errors(registry, "credit.penalty_disclosed", payload) == {}

    without_id = {"name": "李娜", "category": "2"}
    found = errors(
        registry,
        "credit.penalty_disclosed",
        example("credit.penalty_disclosed", counterpart=without_id),
    )
    assert found == {"payload.counterpart.id_no": "is required"}

    with_uscc = {**person, "uscc": "91371002MA3C00001M"}
    found = errors(
        registry,
        "credit.penalty_disclosed",
        example("credit.penalty_disclosed", counterpart=with_uscc),
    )
    assert list(found) == ["payload.counterpart"]


def test_organisation_counterpart_needs_a_valid_credit_code(registry: SchemaRegistry) -> None:
    company = {"name": "威海海之味食品有限公司", "category": "1"}
    found = errors(
        registry,
        "credit.license_disclosed",
        example("credit.license_disclosed", counterpart=company),
    )
    assert found == {"payload.counterpart.uscc": "is required"}

    wrong = {**company, "uscc": "91371002MA3C00001A"}
    found = errors(
        registry, "credit.license_disclosed", example("credit.license_disclosed", counterpart=wrong)
    )
    assert "check character" in found["payload.counterpart.uscc"]


@pytest.mark.parametrize("fine", [5000.5, "500000", -1])
def test_fine_must_be_a_non_negative_integer_in_fen(registry: SchemaRegistry, fine: Any) -> None:
    found = errors(
        registry, "credit.penalty_disclosed", example("credit.penalty_disclosed", fine_fen=fine)
    )
    assert list(found) == ["payload.fine_fen"]


def test_a_fine_category_needs_the_amount(registry: SchemaRegistry) -> None:
    payload = example("credit.penalty_disclosed")
    del payload["fine_fen"]
    assert errors(registry, "credit.penalty_disclosed", payload) == {
        "payload.fine_fen": "is required"
    }
    payload["category"] = ["1"]  # a warning alone has no amount
    assert errors(registry, "credit.penalty_disclosed", payload) == {}


@pytest.mark.parametrize(
    ("message_type", "field", "value"),
    [
        ("credit.license_disclosed", "status", 0),
        ("credit.license_disclosed", "category", 1),
        ("citizen_card.status_changed", "status", "stolen"),
        ("credit.penalty_disclosed", "category", "3"),
    ],
)
def test_codes_are_strings_from_their_list(
    registry: SchemaRegistry, message_type: str, field: str, value: Any
) -> None:
    found = errors(registry, message_type, example(message_type, **{field: value}))
    assert list(found) == [f"payload.{field}"]


@pytest.mark.parametrize(("value", "ok"), [("长期", True), ("2031-11-19", True), ("永久", False)])
def test_valid_until_is_a_date_or_long_term(registry: SchemaRegistry, value: str, ok: bool) -> None:
    for message_type in ("license.issued", "credit.license_disclosed"):
        found = errors(registry, message_type, example(message_type, valid_until=value))
        assert (found == {}) is ok


def test_file_hash_must_be_sha256_hex(registry: SchemaRegistry) -> None:
    payload = copy.deepcopy(example("license.issued"))
    payload["file"]["sha256"] = "ABC"
    assert list(errors(registry, "license.issued", payload)) == ["payload.file.sha256"]


def test_citizen_card_holder_id_is_checked_and_never_echoed(registry: SchemaRegistry) -> None:
    wrong = RESIDENT_ID[:-1] + "9"
    found = errors(
        registry,
        "citizen_card.status_changed",
        example("citizen_card.status_changed", holder_id_no=wrong),
    )
    assert list(found) == ["payload.holder_id_no"]
    assert wrong not in found["payload.holder_id_no"]
