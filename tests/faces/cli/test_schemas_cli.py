"""``govhub schemas check`` refuses a breaking change to a version senders use, naming the field.

Each test edits a temporary copy of the repository's ``schemas/`` (its lock included) and
runs the real command on it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from faces.cli import main
from hub.schema_lock import check, lock_path, read_lock
from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    copy = tmp_path / "schemas"
    shutil.copytree(DEFAULT_SCHEMA_DIR, copy)
    return copy


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["schemas", *args])


def edit(schemas: Path, document: str, change: Edit) -> None:
    path = schemas / document
    content = json.loads(path.read_text(encoding="utf-8"))
    change(content)
    path.write_text(json.dumps(content, ensure_ascii=False, indent=2), encoding="utf-8")


def test_the_repository_schemas_pass_and_match_their_lock() -> None:
    registry = SchemaRegistry()
    report = check(registry, read_lock(lock_path(DEFAULT_SCHEMA_DIR)))
    assert report.problems == ()
    # every version is locked as it is: after an edit, `govhub schemas lock` records it
    assert {
        (v.message_type, v.version, v.status) for v in report.versions if v.status != "unchanged"
    } == set()
    result = run("check")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("document", "change", "refusal"),
    [
        (
            "common.json",
            lambda d: d["$defs"]["applicant"]["required"].append("mobile"),
            "case.submitted v1: payload.applicant.mobile: now required",
        ),
        (
            "common.json",
            lambda d: (
                d["$defs"]["applicant"]["properties"].update(nationality={"type": "string"})
                or d["$defs"]["applicant"]["required"].append("nationality")
            ),
            "case.submitted v1: payload.applicant.nationality: new required field",
        ),
        (
            "messages/case.submitted.json",
            lambda d: d["properties"].pop("delivery"),
            "case.submitted v1: payload.delivery: removed",
        ),
        (
            "messages/case.submitted.json",
            lambda d: d["properties"]["channel"]["enum"].remove("mobile"),
            'case.submitted v1: payload.channel: enum value removed: "mobile"',
        ),
        (
            "messages/case.submitted.json",
            lambda d: d["properties"]["channel"].update(type="integer"),
            "case.submitted v1: payload.channel: type changed string→integer",
        ),
        (
            "messages/case.completed.json",
            lambda d: d["properties"]["license_ids"].update(maxItems=1),
            "case.completed v1: payload.license_ids: maxItems lowered",
        ),
        (
            "messages/license.issued.json",
            lambda d: d["properties"]["surface"].update(additionalProperties=False),
            "license.issued v1: payload.surface: additionalProperties tightened",
        ),
    ],
    ids=["required", "new-required", "removed", "enum", "type", "bound", "closed"],
)
def test_breaking_edit_is_refused_naming_the_field(
    schemas: Path, document: str, change: Edit, refusal: str
) -> None:
    edit(schemas, document, change)
    result = run("check", "--schemas", str(schemas))
    assert result.exit_code == 1, result.output
    assert refusal in result.output
    assert "add it as a new version" in result.output


def test_compatible_edit_passes_and_lock_records_it(schemas: Path) -> None:
    def add_optional(d: dict[str, Any]) -> None:
        d["properties"]["remark"] = {"type": "string", "maxLength": 200}
        d["properties"]["channel"]["enum"].append("kiosk")
        d["properties"]["item_name"] = {"type": "string", "minLength": 1, "maxLength": 400}

    edit(schemas, "messages/case.submitted.json", add_optional)
    result = run("check", "--schemas", str(schemas), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [v1] = [v for v in report["versions"] if (v["type"], v["version"]) == ("case.submitted", 1)]
    assert v1["status"] == "compatible"
    assert {(c["path"], c["reason"]) for c in v1["changes"]} == {
        ("payload.remark", "new optional field"),
        ("payload.channel", 'enum value added: "kiosk"'),
        ("payload.item_name", "maxLength relaxed 200→400"),
    }
    locked = run("lock", "--schemas", str(schemas))
    assert locked.exit_code == 0, locked.output
    assert "1 changed compatibly" in locked.output
    assert json.loads(run("check", "--schemas", str(schemas), "--json").output)["ok"] is True


def test_new_version_passes_and_lock_refuses_a_breaking_change(schemas: Path) -> None:
    v2 = json.loads((schemas / "messages/case.submitted/v2.json").read_text(encoding="utf-8"))
    v2["$id"] = v2["$id"].replace("v2.json", "v3.json")
    v2["required"].append("consent")
    (schemas / "messages/case.submitted/v3.json").write_text(json.dumps(v2), encoding="utf-8")
    example = json.loads((schemas / "examples/case.submitted/v2.json").read_text(encoding="utf-8"))
    example["consent"] = {"licence_reuse": True}
    (schemas / "examples/case.submitted/v3.json").write_text(json.dumps(example), encoding="utf-8")
    steps = json.loads((schemas / "messages/case.submitted/transforms.json").read_text())
    steps["steps"].append(
        {"from": 2, "to": 3, "changes": [{"new": "consent", "default": {"licence_reuse": False}}]}
    )
    (schemas / "messages/case.submitted/transforms.json").write_text(json.dumps(steps))

    result = run("check", "--schemas", str(schemas))
    assert result.exit_code == 0, result.output
    assert "case.submitted v3: new (not locked yet: govhub schemas lock)" in result.output

    edit(schemas, "messages/case.submitted/v2.json", lambda d: d["required"].append("consent"))
    refused = run("lock", "--schemas", str(schemas))
    assert refused.exit_code == 1
    assert "case.submitted v2: payload.consent: now required" in refused.output


def test_transform_that_no_longer_fits_its_schemas_is_refused(schemas: Path) -> None:
    steps = {"type": "case.submitted", "steps": [{"from": 1, "to": 2, "changes": []}]}
    (schemas / "messages/case.submitted/transforms.json").write_text(json.dumps(steps))
    result = run("check", "--schemas", str(schemas))
    assert result.exit_code == 1
    assert "case.submitted v1→v2: the transform gives an invalid payload" in result.output
    assert "payload.intake: is required" in result.output


def test_check_against_another_folder_and_a_git_revision(schemas: Path, tmp_path: Path) -> None:
    before = tmp_path / "before"
    shutil.copytree(schemas, before)
    (schemas / "messages" / "versions.lock.json").unlink()
    edit(schemas, "messages/case.completed.json", lambda d: d["required"].append("description"))
    result = run("check", "--schemas", str(schemas), "--against", str(before))
    assert result.exit_code == 1
    assert "case.completed v1: payload.description: now required" in result.output

    repo = tmp_path / "repo"
    shutil.copytree(before, repo / "schemas")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "schemas"], check=True)
    edit(
        repo / "schemas",
        "messages/case.completed.json",
        lambda d: d["required"].append("description"),
    )
    result = run("check", "--schemas", str(repo / "schemas"), "--against", "HEAD")
    assert result.exit_code == 1
    assert "against git HEAD" in result.output
    assert "case.completed v1: payload.description: now required" in result.output


def test_list_shows_each_type_with_its_versions() -> None:
    result = run("list", "--json")
    assert result.exit_code == 0
    rows = {row["type"]: row["versions"] for row in json.loads(result.output)}
    assert rows["case.submitted"] == [1, 2]
    assert rows["case.completed"] == [1]
