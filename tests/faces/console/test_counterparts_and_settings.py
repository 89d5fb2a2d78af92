"""Counterparts' health and connection checks; the ``[ops]`` section; own password changes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from faces.app import create_app
from faces.cli.common import setup_logging
from faces.console.views.counterparts import health_of, shown_settings
from faces.http.settings import ops_settings
from hub.config import ConfigError
from hub.observability.logs import JsonFormatter
from hub.runtime import Hub
from hub.store.stats import DestinationTraffic
from tests.ops_support import PASSWORD, OpsClient, RunningConsole, running_console, signed_in
from tests.support import Receiver, example, hub_config, webhook_destination


@pytest.mark.parametrize(
    ("circuit", "attempts", "health"),
    [
        ({"state": "closed", "consecutive_failures": 0}, {"delivered": 100}, "green"),
        (None, None, "green"),
        ({"state": "closed", "consecutive_failures": 2}, {"delivered": 100}, "amber"),
        ({"state": "half_open", "consecutive_failures": 5}, None, "amber"),
        ({"state": "closed", "consecutive_failures": 0}, {"delivered": 90, "retry": 10}, "amber"),
        ({"state": "open", "consecutive_failures": 5}, {"delivered": 100}, "red"),
        (None, {"delivered": 10, "dead": 10}, "red"),
    ],
)
def test_health_is_green_amber_or_red(
    circuit: dict[str, object] | None, attempts: dict[str, int] | None, health: str
) -> None:
    traffic = DestinationTraffic(attempts, 20.0) if attempts else None
    assert health_of(circuit, traffic) == health


def test_a_failed_connection_check_or_delivery_darkens_health() -> None:
    closed = {"state": "closed", "consecutive_failures": 0}
    good = DestinationTraffic({"delivered": 10}, 5.0)
    assert health_of(closed, good, "ok") == "green"
    assert health_of(closed, good, "degraded") == "amber"
    assert health_of(None, None, "down") == "red"
    assert health_of({"state": "half_open", "consecutive_failures": 5}, None, "down") == "amber"


def test_settings_shown_hide_secrets_by_name_and_url_credentials() -> None:
    shown = shown_settings(
        {
            "url": "https://user:pw@hall.example/ws",
            "token": "abc",
            "headers": {"Authorization": "Bearer x", "X-Trace": "on"},
            "timeout_s": 5,
            "app_secret": "",
        }
    )
    assert shown == {
        "url": "https://***@hall.example/ws",
        "token": "***",
        "headers": {"Authorization": "***", "X-Trace": "on"},
        "timeout_s": 5,
        "app_secret": "",
    }


def test_operator_checks_a_counterparts_connection(console: RunningConsole) -> None:
    operator = signed_in(console, "operator")
    response = operator.post(
        "/ops/counterparts/civil_affairs/check", token_from="/ops/counterparts"
    )
    assert response.status_code == 302
    page = operator.get("/ops/counterparts").text
    assert "civil_affairs 已应答" in page
    assert console.hub.store.checks.last_checks()["civil_affairs"]["by"] == "operator"
    assert operator.post("/ops/counterparts/nowhere/check").status_code == 404


def test_a_failed_check_says_why(tmp_path: Path) -> None:
    config = hub_config(
        tmp_path,
        destinations=[
            {
                "name": "gone",
                "adapter": "webhook",
                "url": "http://127.0.0.1:9/hook",
                "secret": "0123456789abcdef0123",
            }
        ],
    )
    with running_console(config, "operator") as console:
        operator = signed_in(console, "operator")
        operator.post("/ops/counterparts/gone/check", token_from="/ops/counterparts")
        page = operator.get("/ops/counterparts").text
    assert "gone：检查失败：cannot reach gone: ConnectionError" in page
    assert 'class="dot amber"' in page  # the failed check, with nothing delivered yet


def test_changing_ones_own_password_needs_the_current_one(console: RunningConsole) -> None:
    viewer = signed_in(console, "viewer")
    new = "another long passphrase"
    viewer.post(
        "/ops/account", {"current": "wrong password!", "password": new}, token_from="/ops/account"
    )
    assert OpsClient(console.url).sign_in("viewer", new).status_code == 401
    response = viewer.post(
        "/ops/account", {"current": PASSWORD, "password": new}, token_from="/ops/account"
    )
    assert response.headers["Location"] == "/ops/login"
    assert viewer.get("/ops/").status_code == 302  # every session ended
    assert OpsClient(console.url).sign_in("viewer", new).status_code == 302


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"session_idle_minutes": 0}, "ops.session_idle_minutes"),
        ({"login_max_failures": 2.5}, "ops.login_max_failures"),
        ({"secret_key": "short"}, "ops.secret_key"),
        ({"colour": "red"}, "ops.colour"),
    ],
)
def test_bad_ops_section_stops_the_web_app_naming_the_key(
    tmp_path: Path, section: dict[str, object], key: str
) -> None:
    config = hub_config(tmp_path, ops=section)
    with pytest.raises(ConfigError) as raised:
        ops_settings(config)
    assert raised.value.key == key
    hub = Hub(config)
    try:
        with pytest.raises(ConfigError):
            create_app(hub)
    finally:
        hub.close()


def test_govhub_run_logs_as_the_logging_section_says(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        setup_logging(hub_config(tmp_path, logging={"format": "json", "level": "WARNING"}))
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        assert root.level == logging.WARNING
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def test_each_counterpart_has_a_chart_of_attempts_errors_and_latency_and_its_title(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = hub_config(
        tmp_path,
        destinations=[
            webhook_destination(
                "civil_affairs", receiver, title="民政局", retry={"max_attempts": 1}
            )
        ],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    )
    with running_console(config, "viewer") as running:
        key = running.client("dept")
        receiver.respond_with(400)
        for n in range(2):
            payload = example("case.submitted", case_no=f"WH-CHART-{n}")
            running.wait_delivered(
                running.post(key, {"type": "case.submitted", "payload": payload}).json()["id"]
            )
        viewer = signed_in(running, "viewer")
        page = viewer.get("/ops/counterparts").text
        overview = viewer.get("/ops/").text
    assert "民政局" in page
    assert "民政局" in overview
    assert page.count('<figure class="chart traffic">') == 1
    assert "投递尝试 2 次，失败 1 次" in page
    assert 'class="latency"' in page  # the mean attempt time, drawn over the bars
    assert 'class="bad"' in page
    assert 'class="ok"' in page
