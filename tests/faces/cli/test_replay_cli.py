"""``govhub messages replay`` and ``govhub messages replays``, run as ops run them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from faces.cli import main
from hub.core.clock import HUB_TZ, new_id
from hub.core.envelope import Envelope
from hub.store import MessageFilter, Store
from hub.store.tables import deliveries

NOV = dt.datetime(2026, 11, 1, 9, tzinfo=HUB_TZ)
MORE_DESTINATIONS = """
[[destinations]]
name = "archive"
adapter = "webhook"
url = "http://127.0.0.1:9/archive"
secret = "archive-secret-0123456789"

[[destinations]]
name = "express"
adapter = "courier"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "govhub.toml"
    result = CliRunner().invoke(main, ["init", str(path)])
    assert result.exit_code == 0, result.output
    path.write_text(path.read_text(encoding="utf-8") + MORE_DESTINATIONS, encoding="utf-8")
    return path


@pytest.fixture
def store(config: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{config.parent / 'var' / 'govhub.db'}")
    yield opened
    opened.close()


def _seed(store: Store, count: int, case_of: str = "WH-{n}", at: dt.datetime = NOV) -> list[str]:
    ids = []
    for n in range(count):
        case = case_of.format(n=n)
        envelope = Envelope(
            id=new_id(),
            type="case.submitted",
            source="dept",
            payload={"case_no": case},
            created_at=at,
            correlation_id=case,
        )
        store.messages.accept(envelope, channel="rest", targets=[("civil_affairs", "cases")])
        ids.append(envelope.id)
    return ids


def _run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "messages", *args])


def _replayed(store: Store) -> int:
    with store.db.read() as connection:
        return int(
            connection.execute(
                select(func.count()).where(deliveries.c.replay_id.is_not(None))
            ).scalar_one()
        )


def test_replay_to_a_destination_shows_its_progress_and_can_be_looked_up(
    config: Path, store: Store
) -> None:
    ids = _seed(store, 5)
    _seed(store, 1, at=NOV - dt.timedelta(days=1))  # October: left out

    result = _run(
        config,
        "replay",
        "--type",
        "case.submitted",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-30",
        "--to",
        "archive",
        "--reason",
        "the archive went live",
        "--batch",
        "2",
    )

    assert result.exit_code == 0, result.output
    assert [line.strip() for line in result.stderr.splitlines()] == [
        "2/5 message(s), 2 delivery(ies)",
        "4/5 message(s), 4 delivery(ies)",
        "5/5 message(s), 5 delivery(ies)",
    ]
    [begun, done] = result.stdout.splitlines()
    replay_id = begun.split()[1].rstrip(":")
    assert begun == f"replay {replay_id}: 5 message(s) match"
    assert done == f"replay {replay_id} done: 5/5 message(s), 5 new delivery(ies) to archive"
    assert _replayed(store) == 5
    shown = _run(config, "show", ids[0])
    assert f"→ archive: pending after 0 attempt(s) (replay {replay_id})" in shown.stdout

    shown = _run(config, "replays", replay_id, "--json")
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document["target"] == {"to": ["archive"]}
    assert document["filter"]["since"] == "2026-11-01T00:00:00.000+08:00"
    assert document["filter"]["until"] == "2026-12-01T00:00:00.000+08:00"
    assert (document["total"], document["created"], document["actor"]) == (5, 5, "cli")
    listed = _run(config, "replays")
    assert replay_id in listed.stdout
    assert "the archive went live" in listed.stdout


def test_dry_run_shows_what_would_go_where_and_changes_nothing(config: Path, store: Store) -> None:
    _seed(store, 3)
    before = store.audit.trail(limit=100)

    result = _run(config, "replay", "--type", "case.*", "--routes", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "dry run: 3 message(s) match; nothing was changed" in result.stdout
    [row] = [line.split() for line in result.stdout.splitlines() if line.startswith("civil")]
    assert row == ["civil_affairs", "3", "3"]  # the starter route, which had them all
    as_json = _run(config, "replay", "--type", "case.*", "--to", "archive", "--dry-run", "--json")
    assert json.loads(as_json.stdout)["by_destination"] == [
        {"destination": "archive", "deliveries": 3, "had_before": 0}
    ]
    assert _replayed(store) == 0
    assert store.replays.recent() == []
    assert store.audit.trail(limit=100) == before


def test_replay_with_json_prints_the_finished_replay(config: Path, store: Store) -> None:
    _seed(store, 2, case_of="WH-1")
    result = _run(
        config, "replay", "--correlation-id", "WH-1", "--to", "archive", "--reason", "r", "--json"
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["status"], document["created"]) == ("done", 2)
    assert result.stderr == ""


def test_a_stopped_replay_goes_on_with_resume(config: Path, store: Store) -> None:
    _seed(store, 3)
    record = store.replays.begin(
        MessageFilter(type="case.submitted"),
        to=["archive"],
        missing_only=False,
        actor="ops",
        reason="r",
    )
    running = store.replays.run(record.id, lambda _e: [("archive", None)], batch=2)
    next(running)
    running.close()  # stopped after the first batch

    result = _run(config, "replay", "--resume", record.id, "--reason", "after the restart")

    assert result.exit_code == 0, result.output
    assert f"replay {record.id}: going on from 2/3" in result.stdout
    assert f"replay {record.id} done: 3/3" in result.stdout
    assert _replayed(store) == 3
    actions = [e["action"] for e in store.audit.trail(limit=10)]
    assert "messages.replay_resume" in actions
    assert _run(config, "replay", "--resume", "01NOPE").exit_code == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--to", "archive", "--reason", "r"), "the filter: name the messages with --type"),
        (("--type", "case.*", "--to", "archiv", "--reason", "r"), "no destination 'archiv'"),
        (
            ("--type", "case.*", "--to", "express", "--reason", "r"),
            "'express' (courier) does not accept case.submitted",
        ),
        (("--type", "case.*", "--since", "01/11/2026", "--to", "archive"), "--since '01/11/2026'"),
        (
            ("--since", "2026-11-30", "--until", "2026-11-01", "--to", "archive", "--reason", "r"),
            "--until: must be after since",
        ),
        (("--type", "case.*", "--reason", "r"), "give --to DESTINATION"),
        (("--type", "case.*", "--to", "archive", "--routes", "--reason", "r"), "not both"),
        (("--type", "case.*", "--to", "archive"), "--reason: say why"),
    ],
    ids=[
        "no filter",
        "unknown destination",
        "type not accepted",
        "bad date",
        "empty period",
        "nowhere",
        "two targets",
        "no reason",
    ],
)
def test_a_replay_that_cannot_be_done_fails_saying_why_and_stores_nothing(
    config: Path, store: Store, args: tuple[str, ...], words: str
) -> None:
    _seed(store, 1)
    before = store.audit.trail(limit=100)
    result = _run(config, "replay", *args)
    assert result.exit_code == 1, result.output
    assert words in result.stderr
    assert _replayed(store) == 0
    assert store.replays.recent() == []
    assert store.audit.trail(limit=100) == before
