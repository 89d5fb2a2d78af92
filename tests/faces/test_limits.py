"""Limits: per-client rates, failed-authentication throttling, and size caps in each
channel's own error format, however large the body."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from faces.app import create_app
from faces.http.limits import Limits, LimitSettings, Rate
from faces.serving import serve_in_thread
from hub.config import Config
from hub.runtime import Hub
from tests.faces.soap.support import envelope, fault_code, post, submit_case
from tests.support import Receiver, RunningHub, example, hub_config, webhook_destination

HUB_CAP = 64 * 1024
SERVER_CAP = 256 * 1024  # waitress's own limit: far above the hub's, far below 20 MB


def _config(tmp_path: Path, receiver: Receiver, **limits: Any) -> Config:
    return hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver)],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
        server={"host": "127.0.0.1", "port": 0, "max_body_bytes": HUB_CAP},
        limits=limits,
    )


@contextmanager
def _running(config: Config) -> Iterator[RunningHub]:
    hub = Hub(config)
    server = serve_in_thread(create_app(hub), "127.0.0.1", 0, max_body_bytes=SERVER_CAP)
    try:
        yield RunningHub(hub=hub, server=server)
    finally:
        server.stop()
        hub.close()


def _stored(hub: RunningHub) -> int:
    return len(hub.hub.store.messages.search(limit=200).items)


def _case(ref: str) -> dict[str, Any]:
    return {"type": "case.submitted", "id": ref, "payload": example("case.submitted")}


# ---------------------------------------------------------------------- the buckets


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_through_then_refills_at_its_rate() -> None:
    clock = _Clock()
    limits = Limits(LimitSettings(rate=Rate(per_s=2, burst=3)), clock=clock)
    assert [limits.admit("dept") for _ in range(3)] == [None, None, None]
    assert limits.admit("dept") == pytest.approx(0.5)
    assert limits.admit("other") is None  # each client has its own bucket
    clock.now += 0.5
    assert limits.admit("dept") is None
    assert limits.admit("dept") == pytest.approx(0.5)


def test_a_named_client_has_its_own_rate() -> None:
    settings = LimitSettings(rate=Rate(per_s=1, burst=1), clients={"bulk": Rate(100, 100)})
    limits = Limits(settings, clock=_Clock())
    assert limits.admit("dept") is None
    assert limits.admit("dept") is not None
    assert all(limits.admit("bulk") is None for _ in range(100))


def test_failures_block_an_address_for_the_rest_of_the_window() -> None:
    clock = _Clock()
    limits = Limits(LimitSettings(auth_max_failures=3, auth_window_s=60), clock=clock)
    for _ in range(3):
        assert limits.throttled("10.0.0.1") is None
        limits.failed("10.0.0.1")
    assert limits.throttled("10.0.0.1") == pytest.approx(60)
    assert limits.throttled("10.0.0.2") is None
    clock.now += 60
    assert limits.throttled("10.0.0.1") is None


# ---------------------------------------------------------------------- REST


def test_a_client_over_its_rate_gets_429_with_retry_after_and_nothing_is_stored(
    tmp_path: Path, receiver: Receiver
) -> None:
    with _running(_config(tmp_path, receiver, rate_per_s=0.01, burst=2)) as hub:
        key = hub.client("dept")
        assert [hub.post(key, _case(f"r-{n}")).status_code for n in range(2)] == [202, 202]
        refused = hub.post(key, _case("r-3"))
        assert refused.status_code == 429
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) >= 1
        assert "over its rate" in refused.json()["detail"]
        assert _stored(hub) == 2
        # reads count too, and another client is not held back
        assert hub.get(key, "/api/v1/messages").status_code == 429
        assert hub.post(hub.client("other"), _case("o-1")).status_code == 202


def test_wrong_keys_from_one_address_are_throttled_even_with_a_good_key(
    tmp_path: Path, receiver: Receiver
) -> None:
    with _running(_config(tmp_path, receiver, auth_max_failures=3)) as hub:
        key = hub.client("dept")
        for _ in range(3):
            assert hub.post("wrong-key", _case("w")).status_code == 401
        refused = hub.post(key, _case("good"))
        assert refused.status_code == 429
        assert refused.json()["type"].endswith("too-many-failures")
        assert int(refused.headers["Retry-After"]) >= 1
        assert hub.get(key, "/api/v1/messages").status_code == 429
        assert _stored(hub) == 0


def _raw_oversize(hub: RunningHub, path: str, headers: dict[str, str], length: int) -> bytes:
    """Announce ``length`` bytes, send a little of them, read what the hub answers."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", hub.server.port), timeout=10) as connection:
        connection.sendall(head.encode() + b"{" + b" " * 4096)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def _split(answer: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}
    return status, headers, body


@pytest.mark.parametrize("size", [SERVER_CAP * 2, 20 * 1024 * 1024])
def test_a_body_over_the_servers_own_limit_is_a_problem_document(
    tmp_path: Path, receiver: Receiver, size: int
) -> None:
    with _running(_config(tmp_path, receiver)) as hub:
        key = hub.client("dept")
        answer = _raw_oversize(
            hub,
            "/api/v1/messages",
            {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            size,
        )
        status, headers, body = _split(answer)
        assert status.startswith("HTTP/1.1 413")
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["detail"] == f"the limit is {HUB_CAP} bytes"
        assert _stored(hub) == 0
        assert hub.post(key, _case("after")).status_code == 202


def test_a_chunked_body_over_the_servers_limit_is_a_problem_document(
    tmp_path: Path, receiver: Receiver
) -> None:
    with _running(_config(tmp_path, receiver)) as hub:
        key = hub.client("dept")

        def chunks() -> Iterator[bytes]:
            yield b'{"type": "case.submitted", "payload": {"x": "'
            for _ in range(SERVER_CAP // 65536 + 2):
                yield b"x" * 65536

        response = requests.post(
            f"{hub.url}/api/v1/messages",
            data=chunks(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 413
        assert response.headers["Content-Type"] == "application/problem+json"
        assert _stored(hub) == 0


# ---------------------------------------------------------------------- SOAP


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_soap_body_over_the_servers_limit_is_a_soap_fault(
    tmp_path: Path, receiver: Receiver, version: str
) -> None:
    with _running(_config(tmp_path, receiver)) as hub:
        key = hub.client("dept")
        content_type = "text/xml" if version == "1.1" else "application/soap+xml"
        answer = _raw_oversize(
            hub,
            "/soap/GovHubService",
            {"Content-Type": f"{content_type}; charset=utf-8", "Authorization": f"Bearer {key}"},
            20 * 1024 * 1024,
        )
        status, headers, body = _split(answer)
        assert status.startswith("HTTP/1.1 500")
        assert headers["content-type"].startswith(content_type)
        root = etree.fromstring(body)
        assert "larger than" in "".join(root.itertext())
        assert _stored(hub) == 0


def test_soap_wrong_credentials_are_throttled_and_a_soap_client_over_its_rate_is_refused(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = _config(
        tmp_path, receiver, auth_max_failures=2, clients={"bulk": {"rate_per_s": 0.01, "burst": 1}}
    )
    with _running(config) as hub:
        bulk = hub.client("bulk")
        assert post(hub, envelope(submit_case("b-1")), key=bulk).status_code == 200
        limited = post(hub, envelope(submit_case("b-2", case_no="WH-2026-000901")), key=bulk)
        assert limited.status_code == 500
        assert int(limited.headers["Retry-After"]) >= 1
        assert "over its rate" in fault_code(limited)[1]
        for _ in range(2):
            assert "not valid" in fault_code(post(hub, envelope(submit_case("x")), key="bad"))[1]
        throttled = post(hub, envelope(submit_case("d-1")), key=hub.client("dept"))
        assert fault_code(throttled)[0] == "soap:Client"
        assert "too many wrong credentials" in fault_code(throttled)[1]
        assert _stored(hub) == 1
