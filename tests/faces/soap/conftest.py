"""A hub with the SOAP endpoint and a webhook receiver, shared by a module's tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support import (
    Receiver,
    RunningHub,
    hub_config,
    running_hub,
    start_receiver,
    webhook_destination,
)

_names = itertools.count(1)


@pytest.fixture(scope="module")
def soap_receiver() -> Iterator[Receiver]:
    """The departmental system the hub delivers case messages to."""
    running = start_receiver()
    yield running
    running.gate.set()
    running.server.stop()


@pytest.fixture(scope="module")
def soap_hub(
    tmp_path_factory: pytest.TempPathFactory, soap_receiver: Receiver
) -> Iterator[RunningHub]:
    """A running hub routing ``case.*`` to :func:`soap_receiver`."""
    config = hub_config(
        tmp_path_factory.mktemp("soap"),
        destinations=[webhook_destination("civil_affairs", soap_receiver)],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    )
    with running_hub(config) as running:
        yield running


@pytest.fixture
def client_name() -> str:
    """A client name no other test of the module uses."""
    return f"dept-{next(_names)}"
