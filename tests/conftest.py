"""Fixtures shared by every test: the network guard, receivers, databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests import netguard
from tests.support import Receiver, start_receiver

POSTGRES_ADMIN = os.environ.get(
    "GOVHUB_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_configure(config: pytest.Config) -> None:
    """Guard the network for the whole session, before collection (see tests/netguard.py)."""
    netguard.install(known_ports=(make_url(POSTGRES_ADMIN).port or 5432,))


def pytest_unconfigure(config: pytest.Config) -> None:
    netguard.uninstall()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if anything tried a loopback port no test of this run opened.

    The guard refuses such a connection at once, but a background pusher or a retrying
    client may swallow the error: each one is listed here so that none goes unseen.
    """
    strays = netguard.stray_connections()
    if not strays:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        f"{len(strays)} connection(s) to loopback ports no test of this run opened"
        " (a live `govhub run`? another engineer's server?) were refused:",
        *(f"  {stray}" for stray in sorted(set(strays))),
    ]
    if reporter is not None:
        reporter.write_line("\n".join(lines), red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1."""
    running = start_receiver()
    yield running
    running.gate.set()
    running.server.stop()


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    """A factory for more receivers, all stopped at the end."""
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(start_receiver())
        return made[-1]

    yield make
    for running in made:
        running.gate.set()
        running.server.stop()


@contextmanager
def _postgres_database() -> Iterator[str]:
    name = f"govhub_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend: an SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'govhub.db'}"
        return
    with _postgres_database() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (for what only PostgreSQL does: several nodes)."""
    with _postgres_database() as url:
        yield url
