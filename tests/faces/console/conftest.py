"""Console fixtures: a hub with a webhook destination, one user per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import faces.console.accounts
from tests.ops_support import RunningConsole, running_console
from tests.support import Receiver, hub_config, webhook_destination


@pytest.fixture
def real_password_hashing() -> None:
    """Ask for this to keep the production argon2id parameters."""


@pytest.fixture(autouse=True)
def _cheap_password_hashing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2id at its real cost takes ~0.4 s a hash here; these tests sign in often.

    The production parameters are pinned by ``test_accounts`` (``real_password_hashing``).
    """
    if "real_password_hashing" in request.fixturenames:
        return
    monkeypatch.setattr(
        faces.console.accounts,
        "_hasher",
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    faces.console.accounts._dummy_hash.cache_clear()


@pytest.fixture
def console(tmp_path: Path, receiver: Receiver) -> Iterator[RunningConsole]:
    """A running hub routing ``case.*`` to ``civil_affairs`` with users admin/operator/viewer.

    Deliveries get one attempt, so a refusal is a dead letter at once.
    """
    config = hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver, retry={"max_attempts": 1})],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    )
    with running_console(config, "admin", "operator", "viewer") as running:
        yield running
