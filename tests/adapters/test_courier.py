"""The courier adapter: the contract suite, EMS signing and addresses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask, Response, jsonify, request

from adapters.courier import ems
from adapters.courier.adapter import CourierAdapter
from adapters.courier.address import AddressError, split_address
from adapters.courier.sandbox import DEFAULT_PARTNER_ID, DEFAULT_SECRET, create_app
from adapters.sdk.base import Adapter, Attempt
from adapters.sdk.testing import AdapterContract, SandboxClient
from faces.serving import RunningServer, serve_in_thread
from hub.core.clock import new_id
from tests import netguard
from tests.fullonline import CENTRE
from tests.support import wait_for


@dataclass
class PushSink:
    """The hub's ``/inbound/courier/routes`` as this test module sees it: it records pushes."""

    server: RunningServer
    pushes: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.server.url}/inbound/courier/routes"


@pytest.fixture(scope="module")
def push_sink() -> Iterator[PushSink]:
    app = Flask("test-courier-push-sink")
    holder: dict[str, PushSink] = {}

    @app.post("/inbound/courier/routes")
    def routes() -> Response:
        with holder["sink"].lock:
            holder["sink"].pushes.append(dict(request.form))
        return jsonify({"success": "true"})

    holder["sink"] = sink = PushSink(serve_in_thread(app, "127.0.0.1", 0))
    yield sink
    sink.server.stop()


class TestCourierContract(AdapterContract):
    adapter = CourierAdapter
    sandbox = staticmethod(create_app)
    examples = ("shipment.requested",)

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox_server(cls, push_sink: PushSink) -> Iterator[RunningServer]:
        """The sandbox pushes its route events to this module's sink, never to a live hub."""
        app = create_app(push_url=push_sink.url)
        server = serve_in_thread(app, "127.0.0.1", 0, threads=16)
        yield server
        server.stop()
        app.extensions["courier_sandbox"].stop()

    def settings(self, url: str) -> dict[str, Any]:
        return {
            "url": url,
            "partner_id": DEFAULT_PARTNER_ID,
            "secret": DEFAULT_SECRET,
            "centre": dict(CENTRE),
        }

    def test_route_events_are_pushed_to_a_server_of_this_run(
        self,
        make_adapter: Callable[..., Adapter],
        sandbox_client: SandboxClient,
        push_sink: PushSink,
    ) -> None:
        adapter = make_adapter()
        adapter.deliver(self._message("shipment.requested"), Attempt(new_id(), "contract", 1))
        (order,) = sandbox_client.effects()
        requests.post(
            f"{sandbox_client.url}/_sandbox/parcels/{order['waybill_no']}/advance", timeout=5
        ).raise_for_status()

        def pushed() -> bool:
            with push_sink.lock:
                return any(order["waybill_no"] in p.get("traces", "") for p in push_sink.pushes)

        wait_for(pushed, 10, "the route event at the test's own push sink")
        assert netguard.stray_connections() == []


def test_ems_sign_is_base64_md5_of_sorted_keys_and_values_plus_secret() -> None:
    import base64
    import hashlib

    params = {"b": "2", "a": "1", "empty": "", "sign": "ignored"}
    expected = base64.b64encode(hashlib.md5(b"a1b2secret").digest()).decode()  # noqa: S324
    assert ems.sign(params, "secret") == expected
    assert ems.verify({**params, "sign": expected}, "secret")
    assert not ems.verify({**params, "b": "3", "sign": expected}, "secret")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("山东省威海市环翠区新威路1号", ("山东省", "威海市", "环翠区", "新威路1号")),
        ("北京市朝阳区建国路88号", ("北京市", "北京市", "朝阳区", "建国路88号")),
        ("环翠区文化西路2号", ("山东省", "威海市", "环翠区", "文化西路2号")),
        ("威海市 文登区 米山路 3 号", ("山东省", "威海市", "文登区", "米山路3号")),
    ],
)
def test_addresses_split_into_the_couriers_parts(text: str, parts: tuple[str, ...]) -> None:
    address = split_address(text, default_province="山东省", default_city="威海市")
    assert (address.province, address.city, address.county, address.address) == parts


def test_address_without_a_county_is_refused() -> None:
    with pytest.raises(AddressError, match="county"):
        split_address("新威路1号", default_province="山东省", default_city="威海市")
