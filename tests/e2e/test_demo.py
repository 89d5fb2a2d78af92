"""``govhub demo``: the fully online story plays end to end, and says so when a step fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from faces.demo.stage import own_stage
from faces.demo.story import Story

pytestmark = pytest.mark.slow

GOVHUB = str(Path(sys.executable).with_name("govhub"))


def test_govhub_demo_plays_every_step_and_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(
        [GOVHUB, "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # a fresh directory: nothing of the checkout's state is used
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    steps = [line for line in lines if line.startswith("✓ ")]
    assert len(steps) == 9
    assert "provincial_hall → hub" in steps[1]
    assert "citizen card" in steps[1]
    assert "signed for" in steps[8]
    assert lines[-1].startswith("all 9 steps happened")
    assert list(tmp_path.iterdir()) == []  # its keys and database went to a temporary folder


def test_a_step_that_does_not_happen_fails_the_story_and_names_the_step() -> None:
    with own_stage() as stage:
        requests.post(
            f"{stage.endpoints.e_license}/_sandbox/faults", json={"down": True}, timeout=5
        ).raise_for_status()
        heard: list[str] = []
        story = Story(
            stage.endpoints,
            stage.operator_key,
            stage.department_key,
            echo=heard.append,
            step_timeout_s=1.5,
        )
        assert story.play() is False
    failed = story.steps[-1]
    assert failed.number == 7
    assert not failed.ok
    assert "e_license" in failed.detail
    assert heard[-1].startswith("✗ 7.")
    assert all(step.ok for step in story.steps[:-1])
