"""Flow definitions: Weihai's five modules load; a wrong file stops start-up, naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError
from hub.flows import BUILTIN_DIR, load_flow
from hub.runtime import Hub
from tests.flows_support import DEPARTMENT_DESTINATIONS, flow_config

WEIHAI = BUILTIN_DIR / "weihai_construction.toml"


def _destinations() -> dict[str, object]:
    return dict.fromkeys((*DEPARTMENT_DESTINATIONS, "e_license"), object())


def _write(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir(exist_ok=True)
    text = WEIHAI.read_text(encoding="utf-8")
    assert old in text
    path = folder / "weihai_construction.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def test_weihai_flow_has_five_modules_in_28_working_days() -> None:
    flow = load_flow(WEIHAI, _destinations())
    assert [(m.name, m.limit_days) for m in flow.modules] == [
        ("项目立项", 5),
        ("用地审批", 5),
        ("规划报建", 9),
        ("施工许可", 5),
        ("竣工验收", 4),
    ]
    assert flow.limit_days == 28
    assert [m.after for m in flow.modules][1:] == [
        ("project_approval",),
        ("land_approval",),
        ("planning",),
        ("construction_permit",),
    ]
    assert flow.provider_of("land_planning_permit") is flow.module("land_approval")


def test_parallel_modules_count_the_longest_chain(tmp_path: Path) -> None:
    folder = _write(tmp_path, 'after = ["land_approval"]', 'after = ["project_approval"]')
    flow = load_flow(folder / "weihai_construction.toml", _destinations())
    # 用地审批 (5) and 规划报建 (9) both follow 项目立项: 5 + 9 + 5 + 4 = 23
    assert flow.limit_days == 23


def test_a_module_naming_an_unknown_destination_stops_start_up(tmp_path: Path) -> None:
    folder = _write(tmp_path, 'destination = "dept_ecology"', 'destination = "dept_ecology_typo"')
    config = flow_config(tmp_path, flows_dir=folder)
    with pytest.raises(ConfigError) as raised:
        Hub(config)
    error = raised.value
    assert error.file == str(folder / "weihai_construction.toml")
    assert error.key == "departments.ecology.destination"
    assert "'dept_ecology_typo' is not a configured destination" in error.reason


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('lead = "housing"', 'lead = "fire"', "modules[3].lead", "'fire' is not one of"),
        ("limit_days = 9", "limit_days = 0", "modules[2].limit_days", "whole number"),
        ('after = ["planning"]', 'after = ["nowhere"]', "modules[3].after", "'nowhere'"),
        ('start = "auto" ', 'start = "later" ', "modules[1].start", "must be one of"),
        (
            'code = "11371000004336104E"',
            'code = "11371000004336104F"',
            "departments.ecology.code",
            "check character",
        ),
        ('id = "planning"', 'id = "planning"\ncolour = "red"', "modules[2].colour", "not a known"),
        (
            '{ code = "design_scheme", name = "建设工程设计方案" }',
            '{ code = "design_scheme" }',
            "modules[2].materials[2].name",
            "is required",
        ),
    ],
)
def test_a_wrong_definition_names_file_and_key(
    tmp_path: Path, old: str, new: str, key: str, reason: str
) -> None:
    folder = _write(tmp_path, old, new)
    with pytest.raises(ConfigError) as raised:
        load_flow(folder / "weihai_construction.toml", _destinations())
    assert raised.value.key == key
    assert reason in raised.value.reason
    assert raised.value.file.endswith("weihai_construction.toml")


def test_a_destination_that_does_not_take_review_requests_is_refused(tmp_path: Path) -> None:
    class LicenceOnly:
        def takes(self, message_type: str) -> bool:
            return message_type.startswith("license.")

    destinations = {**_destinations(), "dept_housing": LicenceOnly()}
    with pytest.raises(ConfigError) as raised:
        load_flow(WEIHAI, destinations)
    assert raised.value.key == "departments.housing.destination"
    assert "does not accept flow.review_requested" in raised.value.reason


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "broken.toml").write_text("id = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: cannot be read as TOML"):
        Hub(flow_config(tmp_path, flows_dir=folder))


def test_flows_section_with_an_unknown_field_is_refused(tmp_path: Path) -> None:
    config = flow_config(tmp_path)
    raw_sections = dict(config.sections)
    raw_sections["flows"] = {"dir": str(BUILTIN_DIR), "folder": "x"}
    from dataclasses import replace

    with pytest.raises(ConfigError, match=r"flows\.folder: is not a known field"):
        Hub(replace(config, sections=raw_sections))
