"""Helpers for console tests: signed-in HTTP sessions, a scheduler stand-in."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import requests
from flask import Flask

from faces.app import create_app
from faces.console.accounts import UserStore
from faces.console.jobs import JOBS_EXTENSION, JobLogLine, JobRunView, JobsView, JobView
from faces.serving import serve_in_thread
from hub.config import Config
from hub.core.clock import utcnow
from hub.runtime import Hub
from tests.support import RunningHub

PASSWORD = "correct horse battery staple"
RESIDENT_ID = "11010519491231002X"
OTHER_RESIDENT_ID = "110105194912310048"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found[1]


@dataclass
class OpsClient:
    """A browser-like HTTP session on the console (cookies, CSRF tokens, no redirects)."""

    base: str
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, allow_redirects=False, timeout=10, **kwargs)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, token_from: str | None = None
    ) -> requests.Response:
        """POST a form with the CSRF token of the page at ``token_from`` (default: overview)."""
        page = self.get(token_from or "/ops/")
        form = dict(data or {})
        form["csrf_token"] = csrf_token(page.text)
        return self.session.post(self.base + path, data=form, allow_redirects=False, timeout=10)

    def sign_in(self, name: str, password: str = PASSWORD) -> requests.Response:
        page = self.get("/ops/login")
        return self.session.post(
            self.base + "/ops/login",
            data={"name": name, "password": password, "csrf_token": csrf_token(page.text)},
            allow_redirects=False,
            timeout=10,
        )


def add_users(hub: Hub, *roles: str) -> None:
    """One user per role, named after it, with :data:`PASSWORD`."""
    users = UserStore(hub.store)
    for role in roles:
        users.add(role, role=role, password=PASSWORD, actor="test")


@dataclass
class RunningConsole(RunningHub):
    """A running hub whose Flask app the test can reach (to plug in a scheduler)."""

    app: Flask = field(default_factory=lambda: Flask("unused"))

    def use_jobs(self, jobs: JobsView) -> None:
        self.app.extensions[JOBS_EXTENSION] = jobs


@contextmanager
def running_console(config: Config, *roles: str) -> Iterator[RunningConsole]:
    """Like :func:`tests.support.running_hub`, with one console user per role."""
    hub = Hub(config)
    app = create_app(hub)
    server = serve_in_thread(app, "127.0.0.1", 0, threads=8)
    hub.start_dispatcher()
    add_users(hub, *roles)
    try:
        yield RunningConsole(hub=hub, server=server, app=app)
    finally:
        server.stop()
        hub.close()


def signed_in(running: RunningHub, name: str) -> OpsClient:
    client = OpsClient(running.url)
    response = client.sign_in(name)
    assert response.status_code == 302, response.text
    return client


@dataclass
class FakeJobs:
    """A scheduler stand-in implementing :class:`faces.console.jobs.JobsView`."""

    heartbeat_limit_s: float = 30.0
    heartbeat: float | None = 1.0
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        now = utcnow()
        failed = JobRunView(
            id="run-2",
            job_id="hall.pull_applications",
            started_at=now - dt.timedelta(minutes=1),
            finished_at=now - dt.timedelta(seconds=50),
            outcome="failed",
            counts={"read": 3, "published": 2},
            error=f"hall answered 500 for applicant {RESIDENT_ID}",
            log=(
                JobLogLine(now - dt.timedelta(minutes=1), "INFO", "reading since cursor 42"),
                JobLogLine(
                    now - dt.timedelta(seconds=55),
                    "ERROR",
                    f"record of {RESIDENT_ID} refused by schema",
                ),
            ),
        )
        ok = JobRunView(
            id="run-1",
            job_id="hall.pull_applications",
            started_at=now - dt.timedelta(minutes=2),
            finished_at=now - dt.timedelta(minutes=2) + dt.timedelta(seconds=3),
            outcome="ok",
            counts={"read": 10, "published": 10},
        )
        self._runs = {"run-1": ok, "run-2": failed}
        self._jobs = {
            "hall.pull_applications": JobView(
                id="hall.pull_applications",
                description="Pull new online applications from the provincial hall",
                schedule="every 1 min",
                timezone="Asia/Shanghai",
                paused=False,
                next_due=now + dt.timedelta(seconds=30),
                last_run=replace(failed, log=()),
            ),
            "credit.publish": JobView(
                id="credit.publish",
                description="Publish licensing decisions to the credit platform",
                schedule="0 2 * * *",
                timezone="Asia/Shanghai",
                paused=True,
                next_due=None,
                late=True,
            ),
        }

    def jobs(self) -> Sequence[JobView]:
        return list(self._jobs.values())

    def job(self, job_id: str) -> JobView | None:
        return self._jobs.get(job_id)

    def runs(self, job_id: str, *, limit: int = 20) -> Sequence[JobRunView]:
        return [r for r in self._runs.values() if r.job_id == job_id][::-1][:limit]

    def run(self, run_id: str) -> JobRunView | None:
        return self._runs.get(run_id)

    def run_now(self, job_id: str, *, actor: str) -> str | None:
        self._record("run", job_id, actor)
        return "run-3"

    def pause(self, job_id: str, *, actor: str) -> None:
        self._record("pause", job_id, actor)
        self._jobs[job_id] = replace(self._jobs[job_id], paused=True)

    def resume(self, job_id: str, *, actor: str) -> None:
        self._record("resume", job_id, actor)
        self._jobs[job_id] = replace(self._jobs[job_id], paused=False)

    def heartbeat_age_s(self) -> float | None:
        return self.heartbeat

    def _record(self, action: str, job_id: str, actor: str) -> None:
        if job_id not in self._jobs:
            raise KeyError(job_id)
        with self.lock:
            self.calls.append((action, job_id, actor))
