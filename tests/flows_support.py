"""Test helpers for approval flows: a hub running Weihai's flow, and a project's departments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from faces.demo.licences import APPLICANT, approval_documents
from hub.config import Config, parse_config
from hub.core.clock import HUB_TZ, format_time
from hub.flows import BUILTIN_DIR, Flow
from hub.pipeline.ingest import Submission
from hub.runtime import Hub
from tests.support import SECRET

DEPARTMENT_DESTINATIONS = (
    "dept_development_reform",
    "dept_natural_resources",
    "dept_housing",
    "dept_ecology",
    "dept_civil_air_defense",
)


def flow_raw_config(
    tmp_path: Path,
    urls: Mapping[str, str] | None = None,
    secret: str = SECRET,
    flows_dir: Path = BUILTIN_DIR,
) -> dict[str, Any]:
    """The raw configuration of a hub with a webhook destination per department.

    ``urls`` maps destination names to receivers; with ``e_license`` there, the library is
    a webhook receiver too (else the real adapter, pointed nowhere).
    """
    urls = urls or {}
    destinations: list[dict[str, Any]] = [
        _webhook(name, urls.get(name, "http://127.0.0.1:9/unused"), secret)
        for name in DEPARTMENT_DESTINATIONS
    ]
    if "e_license" in urls:
        destinations.append(_webhook("e_license", urls["e_license"], secret))
    else:
        destinations.append(
            {
                "name": "e_license",
                "adapter": "e_license",
                "url": "http://127.0.0.1:9",
                "client_id": "govhub-sandbox",
                "client_secret": "sandbox-e-license-secret-0001",
            }
        )
    return {
        "server": {"host": "127.0.0.1", "port": 0, "threads": 8},
        "database": {"url": f"sqlite:///{tmp_path / 'govhub.db'}"},
        "sandbox": {"enabled": False},
        "dispatcher": {"workers": 4, "poll_interval_s": 0.05, "lease_s": 1},
        "destinations": destinations,
        "routes": [],
        "flows": {"dir": str(flows_dir)},
    }


def flow_config(
    tmp_path: Path,
    urls: Mapping[str, str] | None = None,
    secret: str = SECRET,
    flows_dir: Path = BUILTIN_DIR,
) -> Config:
    """A hub with a webhook destination per department and the e-license library."""
    return parse_config(
        flow_raw_config(tmp_path, urls, secret, flows_dir), tmp_path / "govhub.toml"
    )


def _webhook(name: str, url: str, secret: str) -> dict[str, Any]:
    return {
        "name": name,
        "adapter": "webhook",
        "url": url,
        "secret": secret,
        "timeout_s": 5,
        "retry": {"max_attempts": 20, "backoff_initial_s": 0.05, "backoff_max_s": 0.2},
        "circuit": {"failure_threshold": 50, "open_s": 1},
    }


def at(day: str, hour: int = 10) -> dt.datetime:
    """A moment of a day in Weihai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=HUB_TZ)


class Departments:
    """The departments of a project, speaking to the hub through its ingest."""

    def __init__(self, hub: Hub, project_no: str, flow_id: str = "weihai_construction") -> None:
        self.hub = hub
        self.project_no = project_no
        self.flow: Flow = hub.flows.flows[flow_id]
        #: The API client every department speaks as (``None``: each its own, ``dept-<key>``).
        self.source: str | None = None

    def department(self, key: str) -> dict[str, str]:
        found = self.flow.departments[key]
        return {"code": found.code, "name": found.name}

    def _publish(self, message_type: str, payload: dict[str, Any], key: str, speaker: str) -> Any:
        return self.hub.ingest.publish(
            self.source or f"dept-{speaker}",
            Submission(
                message_type,
                payload,
                client_ref=f"{self.project_no}/{key}",
                correlation_id=self.project_no,
            ),
            channel="rest",
        )

    def accept(self, module: str, when: dt.datetime, materials: list[dict[str, str]]) -> Any:
        definition = self.flow.module(module)
        assert definition is not None
        payload: dict[str, Any] = {
            "project_no": self.project_no,
            "flow": self.flow.id,
            "module": module,
            "department": self.department(definition.lead),
            "accepted_at": format_time(when),
            "materials": materials,
        }
        if module == self.flow.modules[0].id:
            payload["project"] = {"name": "海滨北路综合楼", "applicant": APPLICANT}
        return self._publish("flow.module_accepted", payload, f"{module}/accepted", definition.lead)

    def opinion(
        self,
        module: str,
        department: str,
        opinion: str,
        when: dt.datetime,
        *,
        reason: str | None = None,
        licences: list[dict[str, Any]] | None = None,
        key: str | None = None,
    ) -> Any:
        payload: dict[str, Any] = {
            "project_no": self.project_no,
            "flow": self.flow.id,
            "module": module,
            "department": self.department(department),
            "opinion": opinion,
            "opinion_at": format_time(when),
        }
        if reason:
            payload["reason"] = reason
        if licences:
            payload["licences"] = licences
        return self._publish(
            "flow.opinion",
            payload,
            key or f"{module}/{department}/{opinion}/{when.isoformat()}",
            department,
        )

    def approve_all(
        self, module: str, when: dt.datetime, *, except_for: tuple[str, ...] = ()
    ) -> None:
        """Every reviewer of ``module`` approves at ``when``; the lead with its licences."""
        definition = self.flow.module(module)
        assert definition is not None
        for department in definition.reviewers:
            if department in except_for:
                continue
            documents = (
                approval_documents(self.flow, module, self.project_no, when.date())
                if department == definition.lead
                else None
            )
            self.opinion(module, department, "approve", when, licences=documents)

    def supply(self, module: str, when: dt.datetime, materials: list[dict[str, str]]) -> Any:
        payload = {
            "project_no": self.project_no,
            "flow": self.flow.id,
            "module": module,
            "supplied_at": format_time(when),
            "materials": materials,
        }
        definition = self.flow.module(module)
        assert definition is not None
        return self._publish(
            "flow.materials_supplied", payload, f"{module}/supplied/{when}", definition.lead
        )
