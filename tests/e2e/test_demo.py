"""``govhub demo``: the fully online story plays end to end, and says so when a step fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from wcwidth import wcswidth

from faces.demo.stage import live_stage, own_stage
from faces.demo.story import Step, Story, _line
from hub.store import Store

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


def test_a_live_story_revokes_its_clients_and_every_message_of_the_case_has_its_number() -> None:
    with own_stage() as running:  # stands in for `govhub run`
        with live_stage(running.config) as live:
            story = Story(
                live.endpoints, live.operator_key, live.department_key, echo=lambda _line: None
            )
            assert story.play(), [step.detail for step in story.steps if not step.ok]
        store = Store(running.database)
        try:
            active = sorted(c.name for c in store.clients.all() if c.revoked_at is None)
        finally:
            store.close()
        assert active == ["civil-affairs", "demo-operator"]  # the stage's own, not the live ones

        def types(**query: str) -> set[str]:
            answer = requests.get(
                f"{running.endpoints.hub}/api/v1/messages",
                params={**query, "limit": "100"},
                headers={"Authorization": f"Bearer {running.operator_key}"},
                timeout=10,
            )
            answer.raise_for_status()
            return {item["type"] for item in answer.json()["items"]}

        assert types(correlation_id=story.case_no) >= {
            "case.submitted",
            "case.status_changed",
            "payment.requested",
            "payment.confirmed",
            "license.issued",
            "case.completed",
            "shipment.status",
        }
        assert types(key=story.license_id) == {"license.issued", "case.completed"}


def test_demo_lines_align_whatever_the_width_of_the_names() -> None:
    lines = [
        _line(Step(1, "王秀英", "provincial_hall", "applies online", 0.1, True)),
        _line(Step(2, "provincial_hall", "hub", "case.submitted", 0.2, True)),
        _line(Step(6, "王秀英 → payment", "civil_affairs", "pays online", 0.3, True)),
    ]
    starts = [
        wcswidth(line[: line.index(word)])
        for line, word in zip(lines, ("applies", "case.", "pays"), strict=True)
    ]
    assert len(set(starts)) == 1, lines
    ends = [wcswidth(line[: line.index(" s  ")]) for line in lines]
    assert len(set(ends)) == 1, lines
