"""``govhub items`` and ``govhub cases``: for people, with --json, and the report as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from faces.cli import main
from hub.cases import CaseClocks, SupervisionSettings
from hub.config import load_config
from hub.core.clock import HUB_TZ, utcnow
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from hub.workdays import WorkingCalendar
from tests.hub.test_case_store import item
from tests.support import example


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=HUB_TZ)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "govhub.db"}"\n\n[sandbox]\nenabled = false\n',
        encoding="utf-8",
    )
    hub = Hub(load_config(path), job_specs=[])
    try:
        hub.store.items.store([item()], source="hall", at=utcnow())
        for case_no, done in (("WH-A", "2026-10-14T09:00:00+08:00"), ("WH-B", None)):
            hub.ingest.publish(
                "d",
                Submission(
                    "case.submitted",
                    example(
                        "case.submitted",
                        case_no=case_no,
                        item_code="ITEM-5",
                        submitted_at="2026-10-12T09:00:00+08:00",
                    ),
                ),
                channel="rest",
            )
            if done:
                hub.ingest.publish(
                    "d",
                    Submission(
                        "case.completed",
                        example("case.completed", case_no=case_no, completed_at=done),
                    ),
                    channel="rest",
                )
        clocks = CaseClocks(hub.store, WorkingCalendar(), SupervisionSettings())
        clocks.catch_up(at("2026-10-30 09:00"))
        clocks.evaluate(at("2026-10-30 09:00"))
    finally:
        hub.close()
    return path


def _cli(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config_file), *args], catch_exceptions=False)


def test_items_list_and_show(config_file: Path) -> None:
    listed = _cli(config_file, "items", "list")
    assert listed.exit_code == 0, listed.output
    assert "ITEM-5" in listed.output
    assert "食品经营许可" in listed.output
    assert "1 item(s)" in listed.output
    shown = json.loads(_cli(config_file, "items", "show", "ITEM-5", "--json").output)
    assert shown["committed_limit_days"] == 5
    assert [v["version"] for v in shown["versions"]] == [1]
    missing = _cli(config_file, "items", "show", "NOPE")
    assert missing.exit_code == 1
    assert "hall.sync_items" in missing.output


def test_cases_list_by_light_and_show_the_timeline(config_file: Path) -> None:
    red = json.loads(_cli(config_file, "cases", "list", "--light", "red", "--json").output)
    assert [c["case_no"] for c in red["items"]] == ["WH-B"]
    closed = _cli(config_file, "cases", "list", "--closed")
    assert "WH-A" in closed.output
    assert "on time" in closed.output
    shown = _cli(config_file, "cases", "show", "WH-B")
    assert shown.exit_code == 0, shown.output
    assert "due 2026-10-19" in shown.output
    assert "case.submitted" in shown.output
    document = json.loads(_cli(config_file, "cases", "show", "WH-A", "--json").output)
    assert (document["open"], document["on_time"]) == (False, True)
    assert _cli(config_file, "cases", "show", "NOBODY").exit_code == 1


def test_the_monthly_report_as_csv(config_file: Path) -> None:
    result = _cli(config_file, "cases", "report", "--month", "2026-10", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0][:4] == ["编码", "名称", "受理件数", "办结件数"]
    department = next(row for row in rows if row[0] == "11371000004336447W")
    assert department[2:7] == ["2", "1", "1", "0", "100.0%"]
    assert rows[-1][1] == "合计"
    bad = _cli(config_file, "cases", "report", "--month", "October")
    assert bad.exit_code == 1
    assert "YYYY-MM" in bad.output
