"""Reloading routes and destinations without a restart: checked whole, audited, applied."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from faces.cli import main
from hub.config import ConfigError, load_config
from hub.core.clock import utcnow
from hub.following import wait_for_rollout
from hub.reloads import ACTION, reload_configuration
from hub.store import Store
from tests.support import Receiver, RunningHub, example, running_hub, wait_for

DEPARTMENT = "dept"


def _destination(name: str, receiver: Receiver, **extra: str) -> str:
    lines = [
        "[[destinations]]",
        f'name = "{name}"',
        'adapter = "webhook"',
        f'url = "{receiver.url}"',
        f'secret = "{receiver.secret}"',
        "timeout_s = 5",
        "retry = { max_attempts = 5, backoff_initial_s = 0.05, backoff_max_s = 0.2 }",
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def _route(name: str, *to: str, type_: str = "case.*") -> str:
    targets = ", ".join(f'"{t}"' for t in to)
    return f'[[routes]]\nname = "{name}"\nwhen = {{ type = "{type_}" }}\nto = [{targets}]\n'


def _write(path: Path, *tables: str) -> None:
    database = path.parent / "govhub.db"
    head = (
        f'[database]\nurl = "sqlite:///{database}"\n\n[sandbox]\nenabled = false\n\n'
        "[dispatcher]\nworkers = 4\npoll_interval_s = 0.2\nlease_s = 5\n\n"
    )
    path.write_text(head + "\n".join(tables), encoding="utf-8")


@pytest.fixture
def config_file(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "govhub.toml"
    _write(path, _destination("civil_affairs", receiver), _route("cases", "civil_affairs"))
    return path


@pytest.fixture
def running(config_file: Path) -> Iterator[RunningHub]:
    with running_hub(load_config(config_file)) as hub:
        hub.hub.follow_reloads("all")
        yield hub


def _post(running: RunningHub, key: str, ref: str, case_no: str | None = None) -> str:
    payload = example("case.submitted", case_no=case_no or ref)
    response = running.post(key, {"type": "case.submitted", "id": ref, "payload": payload})
    assert response.status_code == 202, response.text
    message_id: str = response.json()["id"]
    return message_id


def _ids(receiver: Receiver) -> list[str]:
    return [r.envelope["id"] for r in receiver.accepted()]


def _reload(running: RunningHub, path: Path) -> None:
    hub = running.hub
    result = reload_configuration(path, hub.store, hub.schemas, actor="os:test", wait_s=10)
    assert result.rollout is not None
    assert result.rollout.complete, result.to_json()


def test_a_route_added_by_reload_takes_every_message_accepted_after_it(
    running: RunningHub, config_file: Path, receiver: Receiver, make_receiver: type
) -> None:
    second = make_receiver()
    key = running.client(DEPARTMENT)
    before = _post(running, key, "WH-1")
    wait_for(lambda: before in _ids(receiver), 10, "the first message at civil affairs")

    _write(
        config_file,
        _destination("civil_affairs", receiver),
        _destination("archive", second),
        _route("cases", "civil_affairs"),
        _route("cases to the archive", "archive"),
    )
    _reload(running, config_file)
    after = _post(running, key, "WH-2")

    wait_for(lambda: after in _ids(second) and after in _ids(receiver), 10, "both deliveries")
    assert _ids(second) == [after]  # the message accepted before is not routed again
    assert sorted(_ids(receiver)) == sorted([before, after])
    audit = running.hub.store.audit.last(ACTION)
    assert audit is not None
    assert audit.actor == "os:test"
    assert audit.detail is not None
    assert audit.detail["changes"] == {
        "destinations_added": ["archive"],
        "routes_added": ["cases to the archive"],
    }
    assert audit.detail["generation"] == running.hub.generation


@pytest.mark.parametrize(
    ("broken", "key", "reason"),
    [
        (
            '[[destinations]]\nname = "x"\nadapter = "no_such_adapter"\n',
            "destinations[1].adapter",
            "unknown adapter",
        ),
        ("BAD_SETTING", "destinations[1].colour", ""),
        (_route("to nowhere", "nowhere"), "routes[2].to[0]", "no destination is called 'nowhere'"),
        ("[[routes]\nname = 1\n", "", "is not valid TOML"),
    ],
    ids=["unknown adapter", "bad settings key", "route to unknown destination", "TOML syntax"],
)
def test_an_invalid_reload_is_refused_whole_and_the_old_routes_keep_running(
    running: RunningHub,
    config_file: Path,
    receiver: Receiver,
    make_receiver: type,
    broken: str,
    key: str,
    reason: str,
) -> None:
    second = make_receiver()
    if broken == "BAD_SETTING":
        broken = _destination("archive", second, colour='"blue"')
    hub = running.hub
    generation = hub.generation
    audited = hub.store.audit.last(ACTION)
    _write(
        config_file,
        _destination("civil_affairs", receiver),
        # a valid change besides the broken one: refused with it
        _route("cases", "civil_affairs"),
        _route("more cases", "civil_affairs", type_="case.completed"),
        broken,
    )

    with pytest.raises(ConfigError) as refused:
        reload_configuration(config_file, hub.store, hub.schemas, actor="os:test", wait_s=1)

    assert refused.value.file == str(config_file)
    assert refused.value.key == key
    assert reason in refused.value.reason
    assert hub.store.generations.latest_number() == generation  # nothing recorded
    assert hub.store.audit.last(ACTION) == audited
    message = _post(running, running.client(DEPARTMENT), "WH-3")
    wait_for(lambda: message in _ids(receiver), 10, "delivery by the old routes")
    assert running.message(message)["deliveries"][0]["destination"] == "civil_affairs"


def test_a_delivery_under_way_finishes_with_the_settings_it_began_with(
    running: RunningHub, config_file: Path, receiver: Receiver, make_receiver: type
) -> None:
    moved = make_receiver()
    key = running.client(DEPARTMENT)
    receiver.gate.clear()  # civil affairs holds the first delivery
    under_way = _post(running, key, "WH-4")
    wait_for(lambda: receiver.holding == 1, 10, "the delivery to be under way")

    _write(config_file, _destination("civil_affairs", moved), _route("cases", "civil_affairs"))
    _reload(running, config_file)
    after = _post(running, key, "WH-5")
    wait_for(lambda: after in _ids(moved), 10, "the new settings for the next message")
    receiver.gate.set()

    wait_for(lambda: under_way in _ids(receiver), 10, "the delivery under way to finish")
    assert _ids(receiver) == [under_way]
    assert _ids(moved) == [after]
    assert running.hub.store.messages.get(under_way).status == "delivered"  # type: ignore[union-attr]


def test_a_removed_destination_still_delivers_what_was_routed_to_it(
    running: RunningHub, config_file: Path, receiver: Receiver, make_receiver: type
) -> None:
    other = make_receiver()
    key = running.client(DEPARTMENT)
    receiver.gate.clear()
    # one case: the first is under way, the two behind it wait their turn
    held = [_post(running, key, f"m-{n}", case_no="WH-6") for n in (6, 7, 8)]
    wait_for(lambda: receiver.holding == 1, 10, "the case's first delivery under way")

    _write(config_file, _destination("other", other), _route("cases", "other"))
    _reload(running, config_file)
    after = _post(running, key, "WH-9")
    receiver.gate.set()

    wait_for(lambda: _ids(receiver) == held, 10, "the removed destination to drain, in order")
    wait_for(lambda: _ids(other) == [after], 10, "the new route")


def test_a_destination_the_look_ups_hold_cannot_be_removed_by_reload(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = tmp_path / "govhub.toml"
    library = (
        '[[destinations]]\nname = "e_license"\nadapter = "e_license"\n'
        'url = "http://127.0.0.1:9"\nclient_id = "hub"\nclient_secret = "secret-0123"\n'
    )
    _write(path, _destination("civil_affairs", receiver), library, _route("cases", "civil_affairs"))
    with running_hub(load_config(path), dispatch=False) as running:
        _write(path, _destination("civil_affairs", receiver), _route("cases", "civil_affairs"))
        with pytest.raises(ConfigError) as refused:
            reload_configuration(path, running.hub.store, running.hub.schemas, actor="os:test")
    assert refused.value.key == "destinations"
    assert "'e_license' is used by the look-ups" in refused.value.reason
    assert "restart" in refused.value.reason


def test_admin_reload_is_for_operators_and_refusals_are_problem_documents(
    running: RunningHub, config_file: Path, receiver: Receiver, make_receiver: type
) -> None:
    url = f"{running.url}/api/v1/admin/reload"
    client_key = running.client("plain")
    operator_key = running.client("ops", role="operator")
    forbidden = running.session.post(url, headers={"Authorization": f"Bearer {client_key}"})
    assert forbidden.status_code == 403

    _write(config_file, _destination("civil_affairs", receiver), _route("cases", "nowhere"))
    refused = running.session.post(url, headers={"Authorization": f"Bearer {operator_key}"})
    assert refused.status_code == 409
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["errors"][0]["path"] == "routes[0].to[0]"
    assert str(config_file) in problem["detail"]

    second = make_receiver()
    _write(
        config_file,
        _destination("civil_affairs", receiver),
        _destination("archive", second),
        _route("cases", "civil_affairs", "archive"),
    )
    applied = running.session.post(
        url, json={"wait_s": 10}, headers={"Authorization": f"Bearer {operator_key}"}
    )
    assert applied.status_code == 200, applied.text
    answer = applied.json()
    assert answer["recorded"] is True
    assert answer["rollout"]["complete"] is True
    assert answer["changes"] == {"destinations_added": ["archive"], "routes_changed": ["cases"]}
    audit = running.hub.store.audit.last(ACTION)
    assert audit is not None
    assert audit.actor == "ops"
    assert audit.detail is not None
    assert audit.detail["via"] == "api"
    again = running.session.post(url, headers={"Authorization": f"Bearer {operator_key}"})
    assert again.json()["recorded"] is False  # nothing changed: nothing recorded


def test_govhub_reload_says_why_it_refuses_and_exits_non_zero(
    config_file: Path, receiver: Receiver, make_receiver: type
) -> None:
    runner = CliRunner()
    _write(config_file, _destination("civil_affairs", receiver), _route("cases", "nowhere"))
    refused = runner.invoke(main, ["--config", str(config_file), "reload", "--wait", "0"])
    assert refused.exit_code == 1
    assert f"reload refused: {config_file}: routes[0].to[0]" in refused.output
    assert "nothing was changed" in refused.output

    second = make_receiver()
    _write(
        config_file,
        _destination("civil_affairs", receiver),
        _destination("archive", second),
        _route("cases", "civil_affairs", "archive"),
    )
    applied = runner.invoke(main, ["--config", str(config_file), "reload", "--wait", "0"])
    assert applied.exit_code == 0, applied.output
    # no hub ran on this database: everything is new to it
    assert "destinations +civil_affairs +archive; routes +cases" in applied.output
    assert "generation 1 recorded" in applied.output


def test_a_process_that_cannot_apply_a_generation_keeps_its_routes_and_says_why(
    running: RunningHub, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = running.hub
    follower = hub.follow_reloads("all")
    running_now = hub.generation
    # recorded elsewhere (another node, whose environment has the variable)
    document = {
        "destinations": [
            {
                "name": "civil_affairs",
                "adapter": "webhook",
                "url": receiver.url,
                "secret": "${SECRET_ONLY_ELSEWHERE}",
            }
        ],
        "routes": [{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    }
    monkeypatch.delenv("SECRET_ONLY_ELSEWHERE", raising=False)
    recorded = hub.store.generations.record(
        document, "0" * 64, source="reload", actor="os:test", file=None
    )

    state = wait_for_rollout(hub.store, recorded.number, 10)

    assert hub.generation == running_now
    assert [p.node for p in state.failed] == [follower.node]
    assert "SECRET_ONLY_ELSEWHERE is not set" in (state.failed[0].error or "")
    message = _post(running, running.client(DEPARTMENT), "WH-10")
    wait_for(lambda: message in _ids(receiver), 10, "delivery by the routes it had")


def test_generations_are_numbered_audited_and_followed_on_either_backend(db_url: str) -> None:
    store = Store(db_url)
    try:
        document = {"destinations": [], "routes": []}
        first = store.generations.record(
            document, "a" * 64, source="start", actor="os:test", file=None
        )
        second = store.generations.record(
            document, "b" * 64, source="reload", actor="ops", file="/etc/govhub.toml", audit={}
        )
        assert (first.number, second.number) == (1, 2)
        assert store.generations.latest_number() == 2
        latest = store.generations.latest()
        assert latest is not None
        assert latest.sha256 == "b" * 64
        audited = store.audit.last(ACTION)
        assert audited is not None
        assert audited.detail == {"generation": 2, "sha256": "b" * 64}
        assert store.audit.verify().ok

        store.generations.report("node-a", "web", 1)
        store.generations.report("node-b", "delivery", 2)
        store.generations.report("node-a", "web", 2)
        seen = store.generations.processes(since=utcnow() - dt.timedelta(minutes=1))
        assert [(p.node, p.generation) for p in seen] == [("node-a", 2), ("node-b", 2)]
        store.generations.forget("node-a")
        seen = store.generations.processes(since=utcnow() - dt.timedelta(minutes=1))
        assert [p.node for p in seen] == ["node-b"]
    finally:
        store.close()
