"""``govhub demo --construction``: a project through five modules in 28 working days, every step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from faces.demo.construction import ConstructionStory, construction_stage

pytestmark = pytest.mark.slow

GOVHUB = str(Path(sys.executable).with_name("govhub"))


def test_govhub_demo_construction_plays_every_step_and_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(
        [GOVHUB, "demo", "--construction"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    steps = [line for line in lines if line.startswith("✓ ")]
    assert len(steps) == 18
    assert not [line for line in lines if line.startswith("✗ ")]
    assert "营业执照 (e_license)" in steps[2]  # shared from the library, not asked again
    assert "建设用地规划许可证 (module:land_approval)" in steps[8]
    assert steps[-1].endswith("approved in 28 working days (2026-11-02 → 2026-12-10)")
    assert lines[-1].startswith("all 18 steps happened")
    assert list(tmp_path.iterdir()) == []


def test_a_step_that_does_not_happen_stops_the_story_and_says_so() -> None:
    lines: list[str] = []
    with construction_stage() as stage:
        stage.keys["ecology"] = "gh_not-a-key"  # 生态环境局's system cannot answer
        story = ConstructionStory(stage, echo=lines.append, step_timeout_s=5)
        assert story.play() is False
    assert [step.ok for step in story.steps] == [True, True, True, False]
    assert lines[-1].startswith("✗  4. departments → hub: 项目立项 联审意见")
    assert "HTTP 401" in lines[-1]
