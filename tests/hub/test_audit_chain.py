"""The audit trail is a hash chain: an edited or deleted record is found by verify."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from faces.cli import main
from hub.config import load_config
from hub.runtime import Hub
from hub.store import Store


def _store_with_records(url: str) -> Store:
    store = Store(url)
    store.audit.record("wang", "dlq.replay", "d-1", {"reason": "hall back"})
    store.clients.add("dept", allow=["case.*"])
    store.audit.record("li", "job.pause", "hall.pull_applications", {"reason": "维护"})
    store.audit.record("li", "job.resume", "hall.pull_applications", None)
    return store


def _tamper(store: Store, sql: str) -> None:
    with store.db.write() as connection:
        connection.execute(text(sql))


def test_an_untouched_trail_verifies(db_url: str) -> None:
    store = _store_with_records(db_url)
    try:
        check = store.audit.verify()
        assert check.ok, check.problems
        assert check.records == 4
        assert check.head_seq == 4
    finally:
        store.close()


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("UPDATE audit SET actor = 'zhang' WHERE seq = 2", "record seq 2 (id 2, client.add) was"),
        ("UPDATE audit SET target = 'd-2' WHERE seq = 1", "record seq 1 (id 1, dlq.replay) was"),
        ("DELETE FROM audit WHERE seq = 2", "records seq 2 are missing (deleted)"),
        ("DELETE FROM audit WHERE seq >= 3", "the newest records were deleted"),
    ],
    ids=["edited actor", "edited target", "deleted", "newest deleted"],
)
def test_an_edited_or_deleted_record_is_found(db_url: str, sql: str, found: str) -> None:
    store = _store_with_records(db_url)
    try:
        _tamper(store, sql)
        check = store.audit.verify()
        assert not check.ok
        assert any(found in problem for problem in check.problems), check.problems
    finally:
        store.close()


def test_an_edited_detail_is_found_on_either_backend(db_url: str) -> None:
    store = _store_with_records(db_url)
    try:
        _tamper(store, """UPDATE audit SET detail = '{"reason": "nothing"}' WHERE seq = 3""")
        assert "record seq 3 (id 3, job.pause) was changed" in " ".join(
            store.audit.verify().problems
        )
    finally:
        store.close()


def test_concurrent_appends_chain_one_after_the_other(db_url: str) -> None:
    store = Store(db_url)
    try:

        def append(worker: int) -> None:
            for n in range(10):
                store.audit.record(f"w{worker}", "job.run", f"job-{n}", {"n": n})

        threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        check = store.audit.verify()
        assert check.ok, check.problems
        assert check.records == 40
    finally:
        store.close()


def test_govhub_audit_verify_exits_1_on_a_changed_record(tmp_path: Path) -> None:
    config = tmp_path / "govhub.toml"
    assert CliRunner().invoke(main, ["init", str(config)]).exit_code == 0
    runner = CliRunner()
    added = runner.invoke(
        main, ["--config", str(config), "clients", "add", "dept", "--allow", "case.*"]
    )
    assert added.exit_code == 0, added.output
    fine = runner.invoke(main, ["--config", str(config), "audit", "verify"])
    assert fine.exit_code == 0, fine.output
    assert "the audit trail holds: 1 records" in fine.output
    store = Store(load_config(config).database.url)
    try:
        _tamper(store, "UPDATE audit SET actor = 'someone else'")
    finally:
        store.close()
    broken = runner.invoke(main, ["--config", str(config), "audit", "verify"])
    assert broken.exit_code == 1
    assert "broken: record seq 1" in broken.output
    listed = runner.invoke(main, ["--config", str(config), "audit", "list", "--json"])
    assert listed.exit_code == 0
    assert '"client.add"' in listed.output


def test_loading_a_configuration_is_audited_once_per_version_of_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "govhub.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "govhub.db"}"\n[sandbox]\nenabled = false\n',
        encoding="utf-8",
    )
    for _ in range(2):
        Hub(load_config(path)).close()
    path.write_text(path.read_text(encoding="utf-8") + "[server]\nport = 8701\n", "utf-8")
    hub = Hub(load_config(path))
    try:
        loads = [r for r in hub.store.audit.trail() if r["action"] == "config.load"]
        assert len(loads) == 2
        assert loads[0]["target"] == str(path)
        assert loads[0]["actor"].startswith("os:")
        assert loads[0]["detail"]["sm3"] != loads[1]["detail"]["sm3"]
        assert hub.store.audit.verify().ok
    finally:
        hub.close()
