"""The transforms between versions of a type: each kind of change, up and down."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry
from hub.versioning import Conversions, NotConvertible, Step


@pytest.fixture(scope="module")
def conversions() -> Conversions:
    return Conversions(SchemaRegistry())


def step(*changes: dict[str, Any]) -> Step:
    return Step("x.y", 1, tuple(changes))


def test_registry_knows_both_versions_of_case_submitted() -> None:
    registry = SchemaRegistry()
    assert registry.versions("case.submitted") == (1, 2)
    assert registry.latest("case.submitted") == 2
    assert registry.versions("case.completed") == (1,)
    assert "channel" in registry.schema("case.submitted")["properties"]
    assert "intake" in registry.schema("case.submitted", 2)["properties"]


def test_v1_example_goes_up_to_a_valid_v2(conversions: Conversions) -> None:
    registry = conversions.schemas
    v1 = registry.example("case.submitted")
    v2 = conversions.convert("case.submitted", v1, 1, 2)
    assert v2["intake"] == {"channel": v1["channel"]}
    assert "channel" not in v2
    assert registry.validate("case.submitted", v2, version=2).ok
    assert v1["channel"] == "online"  # the stored payload is not touched


def test_v2_goes_down_dropping_the_place_as_declared(conversions: Conversions) -> None:
    v2 = conversions.schemas.example("case.submitted", 2)
    v1 = conversions.convert("case.submitted", v2, 2, 1)
    assert v1["channel"] == "window"
    assert "intake" not in v1
    assert conversions.schemas.validate("case.submitted", v1).ok


def test_v2_value_v1_cannot_carry_is_refused_naming_the_field(conversions: Conversions) -> None:
    v2 = conversions.schemas.example("case.submitted", 2)
    v2["intake"]["channel"] = "self_service"
    with pytest.raises(NotConvertible) as refused:
        conversions.convert("case.submitted", v2, 2, 1)
    assert refused.value.path == "payload.intake.channel"
    assert "version 1 cannot carry it" in refused.value.reason


def test_move_within_list_items_goes_both_ways() -> None:
    rename = step({"move": "materials[].name", "to": "materials[].title"})
    payload: dict[str, Any] = {"materials": [{"name": "身份证"}, {"license_id": "x"}]}
    rename.up(payload)
    assert payload == {"materials": [{"title": "身份证"}, {"license_id": "x"}]}
    rename.down(payload)
    assert payload == {"materials": [{"name": "身份证"}, {"license_id": "x"}]}


def test_new_field_gets_its_default_up_and_is_refused_down_unless_default() -> None:
    added = step({"new": "applicant.nationality", "default": "CHN"})
    payload: dict[str, Any] = {"applicant": {"name": "王秀英"}}
    added.up(payload)
    assert payload["applicant"]["nationality"] == "CHN"
    added.down(payload)
    assert payload == {"applicant": {"name": "王秀英"}}
    payload["applicant"]["nationality"] = "HKG"
    with pytest.raises(NotConvertible, match=r"payload\.applicant\.nationality: version 1 has"):
        added.down(payload)


def test_removed_field_is_refused_up_or_dropped_as_declared() -> None:
    refused = step({"removed": "fax"})
    with pytest.raises(NotConvertible, match=r"x\.y v1→v2: payload\.fax: version 2 has no such"):
        refused.up({"fax": "0631"})
    dropped = step({"removed": "fax", "up": "drop"})
    payload = {"fax": "0631", "case_no": "A"}
    dropped.up(payload)
    assert payload == {"case_no": "A"}


def test_missing_step_between_versions_is_refused_naming_the_file(tmp_path: Path) -> None:
    copy = tmp_path / "schemas"
    shutil.copytree(DEFAULT_SCHEMA_DIR, copy)
    (copy / "messages" / "case.submitted" / "transforms.json").write_text(
        json.dumps({"type": "case.submitted", "steps": []}), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="no step between them"):
        Conversions(SchemaRegistry(copy))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rename": "a", "to": "b"}, "a change is one of"),
        ({"move": "a[]", "to": "b"}, "ends in a list"),
        ({"move": "a[].b", "to": "c"}, "same list items"),
        ({"new": "a", "down": "ignore"}, "down is refuse or drop"),
    ],
)
def test_malformed_change_is_refused_at_load(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    copy = tmp_path / "schemas"
    shutil.copytree(DEFAULT_SCHEMA_DIR, copy)
    steps = {"type": "case.submitted", "steps": [{"from": 1, "to": 2, "changes": [change]}]}
    (copy / "messages" / "case.submitted" / "transforms.json").write_text(
        json.dumps(steps), encoding="utf-8"
    )
    with pytest.raises(ValueError, match=message):
        Conversions(SchemaRegistry(copy))
