"""``govhub demo --construction``: a project through Weihai's five modules in 28 working days.

The stage is this process: a hub on a temporary database with its web server and
dispatcher, five sandbox departments (the department sandbox: each checks the webhook
signature and keeps what it received) and the e-license library sandbox. The story plays
every department on a *simulated clock*: each acceptance and opinion says when it
happened, and the flows are advanced at those moments, so 28 working days take seconds.
Every message goes the real way: REST in, stored, fanned out, delivered as signed
webhooks, licences archived in the library through its adapter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import requests

from faces.demo.licences import APPLICANT, approval_documents, licence_id
from hub.config import parse_config
from hub.core.clock import HUB_TZ, format_time
from hub.flows import BUILTIN_DIR, Flow, Module
from hub.runtime import Hub

__all__ = ["ConstructionStage", "ConstructionStory", "construction_stage", "play_construction"]

PROJECT_NO = "WH-GC-DEMO-0001"
FLOW_ID = "weihai_construction"
#: Monday 2 November 2026, 09:00 in Weihai: the project is accepted.
START = dt.datetime(2026, 11, 2, 9, tzinfo=HUB_TZ)
DEPARTMENT_SECRET = "sandbox-department-secret-0001"  # noqa: S105 - the sandbox's public value
E_LICENSE_CLIENT = ("govhub-sandbox", "sandbox-e-license-secret-0001")
BUSINESS_LICENCE_TYPE = "11100000000013338W001"
MARKET_SUPERVISION = "11371000004336447W"


@dataclass
class ConstructionStage:
    """The hub, its address, the departments' sandboxes and their API keys."""

    hub: Hub
    url: str
    department_urls: dict[str, str]  # destination → sandbox base URL
    e_license_url: str
    keys: dict[str, str]  # department key → API key


@contextmanager
def construction_stage() -> Iterator[ConstructionStage]:
    """A hub, five department sandboxes and the library, on free ports, gone afterwards."""
    from adapters.sdk.sandbox import installed_sandboxes
    from faces.app import create_app
    from faces.serving import serve_in_thread

    folder = Path(tempfile.mkdtemp(prefix="govhub-construction-"))
    servers: list[Any] = []
    hub: Hub | None = None
    saved = os.environ.get("GOVHUB_DEPARTMENT_SECRET")
    os.environ["GOVHUB_DEPARTMENT_SECRET"] = DEPARTMENT_SECRET
    try:
        found = installed_sandboxes()
        for name in ("department", "e_license"):
            if name not in found:
                raise RuntimeError(f"the {name} sandbox is not installed")
        from hub.flows import load_flow

        names = {
            d.destination
            for d in load_flow(BUILTIN_DIR / f"{FLOW_ID}.toml", _Any()).departments.values()
        }
        department_urls: dict[str, str] = {}
        for destination in sorted(names):
            server = serve_in_thread(found["department"].create_app(), "127.0.0.1", 0)
            servers.append(server)
            department_urls[destination] = server.url
        library = serve_in_thread(found["e_license"].create_app(), "127.0.0.1", 0)
        servers.append(library)
        hub = Hub(_config(folder, department_urls, library.url), job_specs=[])
        web = serve_in_thread(create_app(hub), "127.0.0.1", 0, threads=8)
        servers.append(web)
        hub.start_dispatcher()
        flow = hub.flows.flows[FLOW_ID]
        keys = {
            key: hub.store.clients.add(f"dept-{key}", allow=["flow.*"])[1]
            for key in flow.departments
        }
        keys["market_supervision"] = hub.store.clients.add(
            "dept-market-supervision", allow=["license.*"]
        )[1]
        yield ConstructionStage(hub, web.url, department_urls, library.url, keys)
    finally:
        if hub is not None:
            hub.close()
        for running in reversed(servers):
            with contextlib.suppress(Exception):
                running.stop()
        if saved is None:
            os.environ.pop("GOVHUB_DEPARTMENT_SECRET", None)
        else:
            os.environ["GOVHUB_DEPARTMENT_SECRET"] = saved
        shutil.rmtree(folder, ignore_errors=True)


class _Any(dict[str, object]):
    """Every destination name, for reading the flow before the hub exists."""

    def get(self, key: object, default: object = None) -> object:
        return object()


def _config(folder: Path, departments: dict[str, str], library: str) -> Any:
    fast = {"max_attempts": 8, "backoff_initial_s": 0.05, "backoff_max_s": 0.5}
    destinations: list[dict[str, Any]] = [
        {
            "name": name,
            "adapter": "webhook",
            "url": f"{url}/govhub",
            "secret": DEPARTMENT_SECRET,
            "timeout_s": 5,
            "retry": fast,
        }
        for name, url in departments.items()
    ]
    destinations.append(
        {
            "name": "e_license",
            "adapter": "e_license",
            "url": library,
            "client_id": E_LICENSE_CLIENT[0],
            "client_secret": E_LICENSE_CLIENT[1],
            "timeout_s": 5,
            "retry": fast,
        }
    )
    raw = {
        "server": {"host": "127.0.0.1", "port": 0, "threads": 8},
        "database": {"url": f"sqlite:///{folder / 'govhub.db'}"},
        "sandbox": {"enabled": False},
        "dispatcher": {"workers": 8, "poll_interval_s": 0.05, "lease_s": 10},
        "destinations": destinations,
        "routes": [
            {
                "name": "licences to the library",
                "when": {"type": "license.issued"},
                "to": ["e_license"],
            }
        ],
        "flows": {"dir": str(BUILTIN_DIR)},
    }
    return parse_config(raw, folder / "govhub.toml")


@dataclass
class Step:
    """One thing the story checks happened."""

    number: int
    actor: str
    what: str
    ok: bool = False
    detail: str = ""


@dataclass
class ConstructionStory:
    """The project's way through the five modules, every step checked."""

    stage: ConstructionStage
    echo: Callable[[str], None] = print
    step_timeout_s: float = 20.0
    steps: list[Step] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def flow(self) -> Flow:
        return self.stage.hub.flows.flows[FLOW_ID]

    def play(self) -> bool:
        """Play it; True when every step happened."""
        try:
            now = START
            self._step("营业执照 (market supervision) → 电子证照库", self._business_licence)
            for module in self.flow.modules:
                now = self._module(module, now)
            self._step("项目 → 办结", lambda: self._finished())
        except _StepFailed:
            return False
        return True

    # ------------------------------------------------------------------ the modules

    def _module(self, module: Module, started: dt.datetime) -> dt.datetime:
        flow = self.flow
        lead = flow.departments[module.lead]
        if module.start == "acceptance":
            self._step(
                f"{lead.name} → hub: {module.name} 一门受理",
                lambda: self._accept(module, started),
            )
        self.stage.hub.flows.advance(started)
        asked = self._step(
            f"hub → {len(module.reviewers)} departments: {module.name} 联审请求",
            lambda: self._asked(module),
        )
        due = dt.date.fromisoformat(asked["due_on"])
        answered = dt.datetime.combine(due, dt.time(16), tzinfo=HUB_TZ)
        self._step(
            f"departments → hub: {module.name} 联审意见 ({due.isoformat()})",
            lambda: self._approve(module, answered),
        )
        self.stage.hub.flows.advance(answered)
        self._step(f"hub → {lead.name}: {module.name} 办结", lambda: self._completed(module))
        return answered

    def _accept(self, module: Module, when: dt.datetime) -> str:
        lead = self.flow.departments[module.lead]
        payload = {
            "project_no": PROJECT_NO,
            "flow": FLOW_ID,
            "module": module.id,
            "department": {"code": lead.code, "name": lead.name},
            "accepted_at": format_time(when),
            "project": {"name": "威海市环翠区海滨北路综合楼项目", "applicant": APPLICANT},
            "materials": [
                {"code": "project_proposal", "name": "项目申请书", "ref": "sha256:demo-proposal"},
                {"code": "land_application", "name": "用地申请表", "ref": "sha256:demo-land"},
                {"code": "design_scheme", "name": "建设工程设计方案", "ref": "sha256:demo-design"},
                {
                    "code": "drawing_review",
                    "name": "施工图审查合格书",
                    "ref": "sha256:demo-drawings",
                },
                {
                    "code": "construction_contract",
                    "name": "施工合同",
                    "ref": "sha256:demo-contract",
                },
                {"code": "completion_report", "name": "竣工验收报告", "ref": "sha256:demo-report"},
            ],
        }
        answer = self._post(module.lead, "flow.module_accepted", payload, f"{module.id}/accepted")
        return f"accepted ({answer['id']}), every material handed in once"

    def _asked(self, module: Module) -> dict[str, Any]:
        requests_seen: dict[str, dict[str, Any]] = {}
        for key in module.reviewers:
            department = self.flow.departments[key]
            destination = department.destination
            found = self._wait(
                partial(self._received, destination, "flow.review_requested", module.id),
                f"{department.name} to receive its request",
            )
            if len(found) != 1:
                raise _Failure(f"{department.name} was asked {len(found)} times")
            requests_seen[key] = found[0]
        sample = next(iter(requests_seen.values()))
        sources = ", ".join(f"{m['name']} ({m['source']})" for m in sample["materials"])
        missing = [m["name"] for m in sample["materials"] if m["source"] == "missing"]
        if missing:
            raise _Failure(f"materials asked for again: {', '.join(missing)}")
        sample["detail"] = f"due {sample['due_on']}; materials: {sources}"
        return sample

    def _approve(self, module: Module, when: dt.datetime) -> str:
        for key in module.reviewers:
            department = self.flow.departments[key]
            payload: dict[str, Any] = {
                "project_no": PROJECT_NO,
                "flow": FLOW_ID,
                "module": module.id,
                "department": {"code": department.code, "name": department.name},
                "opinion": "approve",
                "opinion_at": format_time(when),
                "reason": "同意",
            }
            if key == module.lead:
                payload["licences"] = approval_documents(
                    self.flow, module.id, PROJECT_NO, when.date()
                )
            self._post(key, "flow.opinion", payload, f"{module.id}/{key}/approve")
        return f"{len(module.reviewers)} approvals"

    def _completed(self, module: Module) -> str:
        lead = self.flow.departments[module.lead]
        found = self._wait(
            lambda: self._received(lead.destination, "flow.module_completed", module.id),
            f"{lead.name} to receive the result",
        )
        result = found[0]
        if result["result"] != "approved" or not result["on_time"]:
            raise _Failure(f"{module.name} ended {result['result']}, on time {result['on_time']}")
        ids = [licence["license_id"] for licence in result["licences"]]
        self._wait(lambda: set(ids) <= self._library_ids(), "the library to archive the licences")
        names = ", ".join(lic.name for lic in module.licences)
        return f"approved on time; {names} archived in the e-license library"

    def _finished(self) -> str:
        record = self.stage.hub.store.flows.get(PROJECT_NO)
        if record is None or record.state != "approved":
            raise _Failure(f"the project is {record.state if record else 'unknown'}")
        if record.working_days != self.flow.limit_days:
            raise _Failure(
                f"it took {record.working_days} working days, not {self.flow.limit_days}"
            )
        assert record.started_at is not None
        assert record.finished_at is not None
        return (
            f"approved in {record.working_days} working days "
            f"({record.started_at.date().isoformat()} → {record.finished_at.date().isoformat()})"
        )

    def _business_licence(self) -> str:
        """The applicant's business licence, issued long ago, is in the library already."""
        issuer = {"name": "威海市市场监督管理局", "code": MARKET_SUPERVISION}
        license_id = licence_id(BUSINESS_LICENCE_TYPE, MARKET_SUPERVISION, "3710022020000077")
        payload = {
            "license_id": license_id,
            "name": "营业执照",
            "type_code": BUSINESS_LICENCE_TYPE,
            "number": "91371002MA3C00001M",
            "issuer": issuer,
            "issued_on": "2020-05-18",
            "holder": APPLICANT,
            "valid_from": "2020-05-18",
            "valid_until": "长期",
            "area_code": "371002",
            "surface": {"名称": APPLICANT["name"], "类型": "有限责任公司"},
            "file": {
                "media_type": "application/ofd",
                "sha256": "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988",
                "url": "https://files.weihai.example.gov.cn/licenses/3710022020000077.ofd",
                "size_bytes": 30211,
            },
        }
        self._post("market_supervision", "license.issued", payload, "business-licence")
        self._wait(lambda: license_id in self._library_ids(), "the library to archive it")
        return f"archived as {license_id}"

    # ------------------------------------------------------------------ plumbing

    def _post(
        self, department: str, message_type: str, payload: dict[str, Any], ref: str
    ) -> dict[str, Any]:
        response = self.session.post(
            f"{self.stage.url}/api/v1/messages",
            json={"type": message_type, "payload": payload, "id": f"{PROJECT_NO}/{ref}"},
            headers={"Authorization": f"Bearer {self.stage.keys[department]}"},
            timeout=10,
        )
        if response.status_code not in (200, 202):
            raise _Failure(f"{message_type}: HTTP {response.status_code} {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer

    def _received(self, destination: str, message_type: str, module: str) -> list[dict[str, Any]]:
        base = self.stage.department_urls[destination]
        items = self.session.get(
            f"{base}/received", params={"type": message_type}, timeout=5
        ).json()["items"]
        return [
            item["envelope"]["payload"]
            for item in items
            if item["envelope"]["payload"].get("module") == module
            and item["envelope"]["payload"].get("project_no") == PROJECT_NO
        ]

    def _library_ids(self) -> set[str]:
        items = self.session.get(f"{self.stage.e_license_url}/_sandbox/licenses", timeout=5).json()[
            "items"
        ]
        return {
            str(item.get("ZZBS") or item.get("license_id") or item.get("metadata", {}).get("ZZBS"))
            for item in items
        }

    def _wait(self, condition: Callable[[], Any], what: str) -> Any:
        deadline = time.monotonic() + self.step_timeout_s
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise _Failure(f"timed out waiting for {what}")
            time.sleep(0.02)

    def _step(self, what: str, action: Callable[[], Any]) -> Any:
        step = Step(len(self.steps) + 1, "", what)
        self.steps.append(step)
        try:
            result = action()
        except _Failure as failure:
            step.detail = str(failure)
            self.echo(f"✗ {step.number:2d}. {what}: {step.detail}")
            raise _StepFailed from None
        step.ok = True
        step.detail = result.pop("detail", "") if isinstance(result, dict) else str(result)
        self.echo(f"✓ {step.number:2d}. {what}: {step.detail}")
        return result


class _Failure(Exception):
    """A step did not happen; the message says what was seen instead."""


class _StepFailed(Exception):
    """The story stops at the first step that did not happen."""


def play_construction(*, echo: Callable[[str], None] = print, step_timeout_s: float = 20.0) -> bool:
    """Play the construction-permit story on a stage of its own; True when every step happened."""
    started = time.monotonic()
    with construction_stage() as stage:
        echo(
            f"hub {stage.url}; project {PROJECT_NO}, flow {FLOW_ID};"
            f" simulated clock from {START.date()}"
        )
        story = ConstructionStory(stage, echo=echo, step_timeout_s=step_timeout_s)
        ok = story.play()
    took = time.monotonic() - started
    done = sum(step.ok for step in story.steps)
    echo("")
    if ok:
        echo(
            f"all {done} steps happened in {took:.1f} s: project {PROJECT_NO} went through 5"
            f" modules and {len(story.flow.departments)} departments in"
            f" {story.flow.limit_days} working days."
        )
    else:
        echo(f"{done} of {len(story.steps)} steps happened in {took:.1f} s; the last did not.")
    return ok
