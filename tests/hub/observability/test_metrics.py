"""``/metrics``: Prometheus text that parses, and counters that agree with the store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from faces.app import create_app
from hub.events import RunEnded
from hub.runtime import Hub
from hub.store.tables import attempts, deliveries, messages
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    webhook_destination,
)


def scrape(url: str, **headers: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample by metric name and sorted labels, through prometheus_client's parser."""
    response = requests.get(url + "/metrics", headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _store_counts(running: RunningHub) -> dict[str, Any]:
    with running.hub.store.db.read() as connection:
        received = connection.execute(
            select(messages.c.type, messages.c.channel, func.count()).group_by(
                messages.c.type, messages.c.channel
            )
        ).all()
        outcomes = connection.execute(
            select(deliveries.c.destination, attempts.c.outcome, func.count())
            .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
            .group_by(deliveries.c.destination, attempts.c.outcome)
        ).all()
        dead = connection.execute(
            select(deliveries.c.destination, func.count())
            .where(deliveries.c.status == "dead")
            .group_by(deliveries.c.destination)
        ).all()
    return {
        "received": {(t, c): n for t, c, n in received},
        "outcomes": {(d, o): n for d, o, n in outcomes},
        "dead": dict(dead),
    }


def test_counters_match_the_store_after_a_burst(tmp_path: Path, make_receiver: Any) -> None:
    ok: Receiver = make_receiver()
    flaky: Receiver = make_receiver()
    # The flaky receiver refuses every third case outright and fails the first try of the
    # others, so the burst ends with deliveries, retries and dead letters.
    seen: Counter[str] = Counter()

    def decide(envelope: dict[str, Any]) -> int:
        case_no = envelope["correlation_id"]
        seen[case_no] += 1
        if int(case_no[-3:]) % 3 == 0:
            return 422
        return 503 if seen[case_no] == 1 else 200

    flaky.decide = decide
    config = hub_config(
        tmp_path,
        destinations=[
            webhook_destination("civil_affairs", ok),
            webhook_destination("archive", flaky),
        ],
        routes=[
            {"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs", "archive"]},
        ],
    )
    with running_hub(config) as running:
        key = running.client("dept")
        ids = []
        for n in range(12):
            message_type = "case.submitted" if n % 4 else "case.status_changed"
            payload = example(message_type, case_no=f"WH-2026-{n:06d}")
            response = running.post(key, {"type": message_type, "payload": payload})
            assert response.status_code == 202
            ids.append(response.json()["id"])
        for message_id in ids:
            running.wait_delivered(message_id)
        metrics = scrape(running.url)
        store = _store_counts(running)

    received = {
        (dict(labels)["type"], dict(labels)["channel"]): value
        for labels, value in metrics["govhub_messages_received_total"].items()
    }
    assert received == store["received"]
    assert sum(received.values()) == 12
    outcomes = {
        (dict(labels)["destination"], dict(labels)["outcome"]): value
        for labels, value in metrics["govhub_deliveries_total"].items()
        if value
    }
    assert outcomes == store["outcomes"]
    assert outcomes[("archive", "dead")] == 4
    assert outcomes[("archive", "retry")] == 8
    assert outcomes[("civil_affairs", "delivered")] == 12
    dead = {
        dict(labels)["destination"]: value
        for labels, value in metrics["govhub_dead_letters"].items()
    }
    assert dead == {"archive": 4, "civil_affairs": 0}
    assert set(metrics["govhub_backlog"].values()) == {0}
    latency = metrics["govhub_delivery_latency_seconds_count"]
    assert latency[(("destination", "civil_affairs"),)] == 12
    assert latency[(("destination", "archive"),)] == 8
    attempts_count = metrics["govhub_delivery_attempt_seconds_count"]
    assert attempts_count[(("destination", "archive"),)] == 4 + 8 + 8
    assert metrics["govhub_circuit_state"][(("destination", "civil_affairs"),)] == 0
    assert metrics["govhub_store_up"][()] == 1


def test_backlog_and_its_age_are_read_from_the_store(tmp_path: Path, receiver: Receiver) -> None:
    config = hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver)],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    )
    # No dispatcher: what is accepted waits.
    with running_hub(config, dispatch=False) as running:
        key = running.client("dept")
        for n in range(3):
            running.post(
                key,
                {"type": "case.submitted", "payload": example("case.submitted", case_no=f"C{n}")},
            )
        metrics = scrape(running.url)
    assert metrics["govhub_backlog"] == {(("destination", "civil_affairs"),): 3}
    assert metrics["govhub_backlog_oldest_seconds"][(("destination", "civil_affairs"),)] >= 0
    assert "govhub_circuit_state" in metrics


def test_open_cases_by_light_pending_events_and_notices_are_exposed(tmp_path: Path) -> None:
    import datetime as dt

    from hub.core.clock import HUB_TZ, utcnow
    from hub.pipeline.ingest import Submission
    from tests.hub.test_case_store import item

    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        hub = running.hub
        hub.store.items.store([item()], source="hall", at=utcnow())
        for n, day in enumerate(("2026-09-25", "2026-10-08", "2026-10-12")):
            hub.ingest.publish(
                "hall",
                Submission(
                    "case.submitted",
                    example(
                        "case.submitted",
                        case_no=f"M{n}",
                        item_code="ITEM-5",
                        submitted_at=f"{day}T10:00:00+08:00",
                    ),
                ),
                channel="job",
            )
        waiting = scrape(running.url)
        moment = dt.datetime(2026, 10, 14, 9, tzinfo=HUB_TZ)
        hub.cases.catch_up(moment)

        def notify(kind: str, payload: dict[str, Any], key: str) -> bool:
            hub.ingest.publish("supervision.evaluate", Submission(kind, payload, client_ref=key),
                               channel="job")  # fmt: skip
            return True

        hub.cases.evaluate(moment, notify)
        evaluated = scrape(running.url)
    assert waiting["govhub_case_events_pending"] == {(): 3}
    assert waiting["govhub_cases_open"][(("light", "red"),)] == 0
    assert evaluated["govhub_case_events_pending"] == {(): 0}
    lights = {labels[0][1]: value for labels, value in evaluated["govhub_cases_open"].items()}
    assert lights == {"green": 1, "yellow": 1, "red": 1, "none": 0}
    notices = evaluated["govhub_supervision_notices_total"]
    assert notices[(("type", "supervision.overdue"),)] == 1
    assert notices[(("type", "supervision.warning"),)] == 1


def test_job_runs_are_counted_through_the_scheduler_hook(tmp_path: Path) -> None:
    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        running.hub.events.emit(RunEnded("hall.pull_applications", "ok", 1.5))
        running.hub.events.emit(RunEnded("hall.pull_applications", "failed", 0.2))
        running.hub.events.emit(RunEnded("hall.pull_applications", "ok", 2.5))
        metrics = scrape(running.url)
    runs = metrics["govhub_job_runs_total"]
    assert runs[(("job", "hall.pull_applications"), ("outcome", "ok"))] == 2
    assert runs[(("job", "hall.pull_applications"), ("outcome", "failed"))] == 1
    assert metrics["govhub_job_run_seconds_sum"][(("job", "hall.pull_applications"),)] == 4.2


def test_openmetrics_is_served_when_asked_for(tmp_path: Path) -> None:
    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        running.hub.events.emit(RunEnded("sync", "ok", 1.0))
        response = requests.get(
            running.url + "/metrics",
            headers={"Accept": "application/openmetrics-text; version=1.0.0"},
            timeout=10,
        )
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(response.text)}
    assert families["govhub_job_runs"].samples[0].value == 1


def test_metrics_token_is_required_when_configured(tmp_path: Path) -> None:
    token = "metrics-token-0123456789"
    config = hub_config(tmp_path, ops={"metrics_token": token})
    with running_hub(config, dispatch=False) as running:
        refused = requests.get(running.url + "/metrics", timeout=10)
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert scrape(running.url, Authorization=f"Bearer {token}")["govhub_store_up"]


@pytest.mark.parametrize(
    ("peer", "status"),
    [
        ("127.0.0.1", 200),
        ("127.8.9.10", 200),
        ("::1", 200),
        ("::ffff:127.0.0.1", 200),
        ("203.0.113.7", 403),
        ("10.0.0.8", 403),
        ("::ffff:203.0.113.7", 403),
        ("2001:db8::1", 403),
    ],
)
def test_without_a_token_metrics_answer_only_this_machine(
    tmp_path: Path, peer: str, status: int
) -> None:
    # The peer address as the server hands it to the app: no packet leaves the machine.
    hub = Hub(hub_config(tmp_path))
    try:
        client = create_app(hub).test_client()
        response = client.get("/metrics", environ_base={"REMOTE_ADDR": peer})
        assert response.status_code == status
        if status == 403:
            assert response.headers["Content-Type"] == "application/problem+json"
            assert "metrics_token" in response.get_json()["detail"]
            assert "govhub_" not in response.get_data(as_text=True)
    finally:
        hub.close()


def test_with_a_token_metrics_answer_any_machine_that_sends_it(tmp_path: Path) -> None:
    token = "metrics-token-0123456789"
    hub = Hub(hub_config(tmp_path, ops={"metrics_token": token}))
    try:
        client = create_app(hub).test_client()
        remote = {"REMOTE_ADDR": "203.0.113.7"}
        assert client.get("/metrics", environ_base=remote).status_code == 401
        local = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert local.status_code == 401  # a configured token is wanted from here too
        sent = client.get(
            "/metrics", environ_base=remote, headers={"Authorization": f"Bearer {token}"}
        )
        assert sent.status_code == 200
        assert "govhub_store_up" in sent.get_data(as_text=True)
    finally:
        hub.close()


def test_metrics_is_in_the_openapi_document(tmp_path: Path) -> None:
    with running_hub(hub_config(tmp_path), dispatch=False) as running:
        spec = requests.get(running.url + "/api/v1/openapi.json", timeout=10).json()
    assert "get" in spec["paths"]["/metrics"]


_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from hub.events import RunEnded
    from hub.runtime import Hub
    from tests.support import hub_config
    hub = Hub(hub_config(Path(sys.argv[1])))
    for _ in range(int(sys.argv[2])):
        hub.events.emit(RunEnded("sync", "ok", 0.1))
    if len(sys.argv) > 3:
        sys.stdout.write(hub.metrics.render()[0].decode())
    hub.close()
    """
)


def test_processes_sharing_a_multiprocess_dir_expose_their_sum(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    root = Path(__file__).resolve().parents[3]

    def worker(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _WORKER, str(tmp_path), *args],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    worker("2")
    worker("3")
    text = worker("1", "render")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("govhub_job_runs_total", (("job", "sync"), ("outcome", "ok")))] == 6
    assert samples[("govhub_store_up", ())] == 1


def test_projects_of_the_approval_flows_are_counted_by_state_and_light(tmp_path: Path) -> None:
    from tests.flows_support import Departments, at, flow_config

    with running_hub(flow_config(tmp_path), dispatch=False) as running:
        for number, (answered, evaluated) in enumerate(
            (("2026-11-03", "2026-11-04"), (None, "2026-11-10"))
        ):
            project = Departments(running.hub, f"WH-M-{number}")
            project.accept("project_approval", at("2026-11-02", 9), [])
            if answered:
                project.approve_all("project_approval", at(answered))
            running.hub.flows.advance(at(evaluated))
        metrics = scrape(running.url)
    assert metrics["govhub_projects"] == {
        (("light", "green"), ("state", "running")): 1,
        (("light", "red"), ("state", "running")): 1,
    }
