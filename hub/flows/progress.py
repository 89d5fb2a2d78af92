"""A project's progress through its flow: what its events say, folded in the order they happened.

Like the case clock (:mod:`hub.cases.clock`), a project is a function of its events taken
in the order they *happened* (``occurred_at``, then the order the hub accepted them). So
the same events always give the same project, whichever order they arrived in and however
often the fold runs: after a crash, the fold of the stored events is the whole truth.

Rules of joint review (联审联批):

- a module starts at its lead's acceptance (``start = "acceptance"``, once the modules it
  follows are approved) or the moment those modules are approved (``start = "auto"``);
- it is approved when every reviewing department has approved; one ``reject`` ends it
  (and the project) with the reason;
- a ``supplement`` stops the module's clock until ``flow.materials_supplied``; the
  department that asked reviews again with the new materials;
- a department's first ``approve`` or ``reject`` is its answer: the same opinion again
  (another message) is a duplicate, and an opinion for a module that has ended, or that
  has not started, is recorded and not acted on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.cases.clock import Stop
from hub.core.clock import format_time
from hub.flows.definition import Flow, Module
from hub.store.flows import FlowEventRow

__all__ = ["ModuleProgress", "OpinionRecord", "ProjectProgress", "fold_project"]

ACCEPTED = "flow.module_accepted"
OPINION = "flow.opinion"
SUPPLIED = "flow.materials_supplied"


@dataclass(slots=True)
class OpinionRecord:
    """An opinion as the project keeps it.

    Attributes:
        effect: ``answer`` (it decided the department's review), ``supplement`` (it
            stopped the clock), or why it was not acted on: ``duplicate``, ``late`` (the
            module had ended), ``early`` (it had not started), ``unknown_department``.
    """

    message_id: str
    department: str | None
    department_code: str | None
    opinion: str
    at: dt.datetime
    reason: str | None
    effect: str

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "message_id": self.message_id,
            "department": self.department,
            "department_code": self.department_code,
            "opinion": self.opinion,
            "at": format_time(self.at),
            "reason": self.reason,
            "effect": self.effect,
        }


@dataclass(slots=True)
class ModuleProgress:
    """Where one module of a project stands."""

    definition: Module
    status: str = "waiting"  # waiting | running | approved | rejected | cancelled
    accepted_at: dt.datetime | None = None  # the lead's acceptance, if it came
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    reason: str | None = None
    stops: list[Stop] = field(default_factory=list)
    answers: dict[str, OpinionRecord] = field(default_factory=dict)
    opinions: list[OpinionRecord] = field(default_factory=list)
    #: Review round of each department: a department that asked for a supplement
    #: reviews again (round 2...) once the materials came.
    rounds: dict[str, int] = field(default_factory=dict)
    asking: set[str] = field(default_factory=set)
    #: Materials the applicant handed in for this module, by code.
    materials: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Licences its approvals carried: material code → ``license.issued`` payload.
    licences: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        """Whether it has started and not ended."""
        return self.status == "running"

    @property
    def stopped(self) -> bool:
        """Whether a supplement is running."""
        return any(stop.ended_at is None for stop in self.stops)

    def answered_at(self, department: str) -> dt.datetime | None:
        """When ``department`` gave its answer (approve or reject), if it did."""
        answer = self.answers.get(department)
        return answer.at if answer is not None else None


@dataclass(slots=True)
class ProjectProgress:
    """A project through its flow."""

    project_no: str
    flow: Flow
    name: str | None = None
    applicant: dict[str, Any] | None = None
    modules: dict[str, ModuleProgress] = field(default_factory=dict)
    state: str = "running"  # running | approved | rejected
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    reason: str | None = None
    events: int = 0

    def held_materials(self, before: Module) -> dict[str, dict[str, Any]]:
        """What the project already holds for ``before``: handed-in materials and licences.

        A licence of an approved module is held as ``{source: "module:<id>", ...}``;
        a material the applicant handed in for any module as ``{source: "applicant"}``.
        """
        held: dict[str, dict[str, Any]] = {}
        for progress in self.modules.values():
            for code, material in progress.materials.items():
                held.setdefault(code, {**material, "source": "applicant"})
        for module_id, progress in self.modules.items():
            if progress.status != "approved" or progress.definition is before:
                continue
            for code, licence in progress.licences.items():
                held[code] = {
                    "code": code,
                    "name": licence.get("name"),
                    "source": f"module:{module_id}",
                    "license_id": licence.get("license_id"),
                }
        return held


def fold_project(project_no: str, flow: Flow, events: Sequence[FlowEventRow]) -> ProjectProgress:
    """The progress of a project from its events (in any order: the result is the same)."""
    project = ProjectProgress(
        project_no=project_no,
        flow=flow,
        modules={m.id: ModuleProgress(m) for m in flow.modules},
        events=len(events),
    )
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.received_at, e.message_id))
    for event in ordered:
        module = project.modules.get(event.module)
        if module is None:
            continue  # the ingest screen refuses unknown modules; a retired one is ignored
        if event.type == ACCEPTED:
            _accept(project, module, event)
        elif event.type == OPINION:
            _opinion(project, module, event)
        elif event.type == SUPPLIED:
            _supplied(module, event)
    return project


def _accept(project: ProjectProgress, module: ModuleProgress, event: FlowEventRow) -> None:
    payload = event.payload
    about = payload.get("project") or {}
    project.name = project.name or about.get("name")
    project.applicant = project.applicant or about.get("applicant")
    for material in payload.get("materials", []):
        module.materials.setdefault(str(material["code"]), dict(material))
    if module.accepted_at is None:
        module.accepted_at = event.occurred_at
    if project.started_at is None:
        project.started_at = event.occurred_at
    _start_ready(project, event.occurred_at)


def _opinion(project: ProjectProgress, module: ModuleProgress, event: FlowEventRow) -> None:
    payload = event.payload
    department = project.flow.department_by_code(event.department_code or "")
    key = department.key if department is not None else None
    opinion = str(payload.get("opinion"))
    record = OpinionRecord(
        message_id=event.message_id,
        department=key,
        department_code=event.department_code,
        opinion=opinion,
        at=event.occurred_at,
        reason=payload.get("reason"),
        effect="answer",
    )
    module.opinions.append(record)
    if key is None or key not in module.definition.reviewers:
        record.effect = "unknown_department"
    elif module.status == "waiting":
        record.effect = "early"
    elif not module.running or project.state != "running":
        record.effect = "late"
    elif key in module.answers:
        record.effect = "duplicate"
    elif opinion == "supplement":
        if key in module.asking:
            record.effect = "duplicate"
            return
        record.effect = "supplement"
        module.asking.add(key)
        if not module.stopped:
            module.stops.append(Stop("supplement", event.occurred_at))
    else:
        module.answers[key] = record
        module.asking.discard(key)
        for issued in payload.get("licences", []):
            code = str(issued["material"])
            if any(lic.code == code for lic in module.definition.licences):
                module.licences.setdefault(code, dict(issued["licence"]))
        if opinion == "reject":
            _finish(project, module, "rejected", event.occurred_at, record.reason)
        elif all(d in module.answers for d in module.definition.reviewers):
            _finish(project, module, "approved", event.occurred_at, None)


def _supplied(module: ModuleProgress, event: FlowEventRow) -> None:
    for material in event.payload.get("materials", []):
        module.materials[str(material["code"])] = dict(material)
    if not module.running or not module.stopped:
        return
    running = module.stops[-1]
    module.stops[-1] = Stop(running.kind, running.started_at, event.occurred_at)
    for key in module.asking:
        module.rounds[key] = module.rounds.get(key, 1) + 1
    module.asking.clear()


def _finish(
    project: ProjectProgress,
    module: ModuleProgress,
    status: str,
    at: dt.datetime,
    reason: str | None,
) -> None:
    module.status, module.finished_at, module.reason = status, at, reason
    if module.stopped:  # the end of a module ends its supplement
        running = module.stops[-1]
        module.stops[-1] = Stop(running.kind, running.started_at, at)
    if status == "rejected":
        project.state, project.finished_at, project.reason = "rejected", at, reason
        for other in project.modules.values():
            if other.running:
                other.status, other.finished_at = "cancelled", at
        return
    if all(m.status == "approved" for m in project.modules.values()):
        project.state, project.finished_at = "approved", at
        return
    _start_ready(project, at)


def _start_ready(project: ProjectProgress, at: dt.datetime) -> None:
    """Start every waiting module whose predecessors are approved and whose start came."""
    if project.state != "running":
        return
    for module in project.modules.values():
        definition = module.definition
        if module.status != "waiting":
            continue
        if not all(project.modules[a].status == "approved" for a in definition.after):
            continue
        if definition.start == "acceptance" and module.accepted_at is None:
            continue
        module.status = "running"
        module.started_at = at
        module.rounds = dict.fromkeys(definition.reviewers, 1)
