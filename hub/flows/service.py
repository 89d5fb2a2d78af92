"""The case orchestrator of modular approval: fold each project's events, then act on them.

:meth:`ApprovalFlows.advance` takes every project with events its record has not taken
in, folds its whole timeline (:mod:`hub.flows.progress`) and publishes what that state
asks for, each under a key of its own so that publishing twice stores once:

- ``flow.review_requested`` to every reviewing department of a running module that has
  not answered (scatter), key ``<project>/<module>/<department>/review/<round>``: the
  same request is never stored twice, so after any crash no department is asked twice
  (the dispatcher's ``Idempotency-Key`` covers a delivery sent twice);
- ``flow.module_completed`` when a module ends (approved or rejected), to its lead;
- ``license.issued`` for every approval document a module's approvals carried, to the
  flow's licence destination (the e-license library), so later modules reuse it.

Then the record is saved and the events marked taken in, in one transaction. A crash
between publishing and saving publishes nothing twice: the next run folds the same
events, asks for the same keys and finds them stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.cases.clock import local_day
from hub.core.clock import format_time
from hub.core.envelope import Envelope
from hub.core.errors import FieldError
from hub.flows.definition import REVIEW_TYPE, Flow, Module
from hub.flows.notices import late_departments
from hub.flows.progress import ModuleProgress, ProjectProgress, fold_project
from hub.flows.readings import module_snapshot, project_reading, worst_light
from hub.store import ProjectRecord, Store
from hub.store.flows import FLOW_EVENT_TYPES
from hub.workdays import WorkingCalendar

__all__ = ["Advance", "ApprovalFlows", "LicenceLookup", "Publish"]

log = logging.getLogger("govhub.flows")

#: Publishes ``(type, payload, key, destinations, correlation id)`` → whether it was new.
Publish = Callable[[str, dict[str, Any], str, Sequence[str], str], bool]
#: Finds a licence of the applicant in a flow's e-license library:
#: ``(flow, applicant, type code)`` → ``{license_id, name}`` or ``None``.
LicenceLookup = Callable[[Flow, Mapping[str, Any], str], Mapping[str, Any] | None]
#: Whether a key was published before (so nothing is looked up for it again).
Published = Callable[[str], bool]
COMPLETED_TYPE = "flow.module_completed"
LICENCE_TYPE = "license.issued"


@dataclass
class Advance:
    """What one :meth:`ApprovalFlows.advance` did."""

    projects: int = 0
    events: int = 0
    published: int = 0
    failed: int = 0

    def to_json(self) -> dict[str, int]:
        """For logs and the API."""
        return dataclasses.asdict(self)


class ApprovalFlows:
    """Runs the configured flows' projects on the message spine.

    Args:
        store: Where timelines and records live.
        flows: The checked flow definitions, by id.
        calendar: Working days.
        warn_ratio: The share of a limit that turns a clock yellow (``[supervision]``).
        lookup: Finds materials the e-license library holds (``None``: none is looked up).
        publish: Stores what the flows publish (the hub publishes as ``flows``, from
            whichever process advances them, so that a key is one message).
        published: Whether a key was published (nothing is prepared for it again).
        publish_warnings: Publish ``supervision.warning`` for a department turning
            yellow (``supervision.overdue`` is always published).
    """

    def __init__(
        self,
        store: Store,
        flows: Mapping[str, Flow],
        calendar: WorkingCalendar,
        warn_ratio: float,
        lookup: LicenceLookup | None = None,
        publish: Publish | None = None,
        published: Published | None = None,
        publish_warnings: bool = True,
    ) -> None:
        self.store = store
        self.flows = dict(flows)
        self.calendar = calendar
        self.warn_ratio = warn_ratio
        self.lookup = lookup
        self.publish = publish
        self.published = published or (lambda _key: False)
        self.publish_warnings = publish_warnings

    # ------------------------------------------------------------------ ingest

    def screen(self, envelope: Envelope) -> list[FieldError]:
        """Refuse a flow event naming a flow, module or department the hub does not run."""
        if envelope.type not in FLOW_EVENT_TYPES or not isinstance(envelope.payload, dict):
            return []
        payload = envelope.payload
        flow = self.flows.get(str(payload.get("flow")))
        if flow is None:
            known = ", ".join(sorted(self.flows)) or "none"
            return [FieldError("payload.flow", f"is not a flow this hub runs (known: {known})")]
        module = flow.module(str(payload.get("module")))
        if module is None:
            names = ", ".join(m.id for m in flow.modules)
            return [FieldError("payload.module", f"is not a module of {flow.id} ({names})")]
        department = payload.get("department")
        code = department.get("code") if isinstance(department, dict) else None
        if envelope.type == "flow.opinion":
            found = flow.department_by_code(str(code))
            if found is None or found.key not in module.reviewers:
                return [FieldError("payload.department.code", f"is not a reviewer of {module.id}")]
        else:  # an acceptance or supplied materials: the lead's
            found = flow.departments[module.lead]
            if code is not None and code != found.code:
                return [FieldError("payload.department.code", f"is not the lead of {module.id}")]
        if found.client is not None and envelope.source != found.client:
            return [
                FieldError(
                    "payload.department",
                    f"client {envelope.source!r} may not speak for {found.name}",
                )
            ]
        return []

    # ------------------------------------------------------------------ advancing

    def advance(
        self,
        now: dt.datetime,
        *,
        check: Callable[[], None] = lambda: None,
        batch: int = 200,
    ) -> Advance:
        """Fold every project with pending events and publish what its state asks for.

        Args:
            now: The moment the records' lights are read at (the job's due time; a
                simulated clock in tests and the demo).
            check: Called between projects (a job checks for cancellation there).
            batch: Projects looked up per round.
        """
        done = Advance()
        failed: set[str] = set()
        while True:
            project_nos = [
                p for p in self.store.flows.pending(batch + len(failed)) if p not in failed
            ]
            if not project_nos:
                return done
            for project_no in project_nos:
                check()
                try:
                    outcome = self._advance_one(project_no, now)
                except Exception:
                    # One project whose publication is refused (a screen, the store) must
                    # not hold the others back: its events stay pending for the next run.
                    log.exception("project %s could not advance; it is tried again", project_no)
                    outcome = None
                if outcome is None:
                    failed.add(project_no)
                    done.failed += 1
                    continue
                done.projects += 1
                done.events += outcome[0]
                done.published += outcome[1]

    def evaluate(self, now: dt.datetime) -> int:
        """Read every running project's clocks at ``now`` and store the lights.

        Returns:
            How many projects were evaluated.
        """
        running = self.store.flows.running()
        for project_no in running:
            try:
                self._advance_one(project_no, now)
            except Exception:
                log.exception("project %s could not be evaluated", project_no)
        return len(running)

    def _advance_one(self, project_no: str, now: dt.datetime) -> tuple[int, int] | None:
        """Fold one project and act; ``(events, published)``, or ``None``: no flow of ours."""
        publish = self.publish
        if publish is None:
            raise RuntimeError("these flows have nowhere to publish")
        events = self.store.flows.timeline(project_no)
        flow = self._flow_of(events)
        if flow is None:
            log.warning("project %s names no flow this hub runs; its events wait", project_no)
            return None
        progress = fold_project(project_no, flow, events)
        published = 0
        for message_type, payload, key, to in self._actions(progress):
            if publish(message_type, payload, key, to, project_no):
                published += 1
        notices = late_departments(
            progress,
            now,
            self.calendar.index,
            self.warn_ratio,
            publish_warnings=self.publish_warnings,
        )
        for message_type, payload, key in notices:
            if not self.published(key) and publish(message_type, payload, key, (), project_no):
                published += 1
        self.store.flows.save(self._record(progress, now), [e.message_id for e in events])
        return len(events), published

    def _flow_of(self, events: Sequence[Any]) -> Flow | None:
        for event in events:
            flow = self.flows.get(str(event.payload.get("flow")))
            if flow is not None:
                return flow
        return None

    # ------------------------------------------------------------------ actions

    def _actions(
        self, project: ProjectProgress
    ) -> list[tuple[str, dict[str, Any], str, tuple[str, ...]]]:
        actions: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = []
        flow = project.flow
        prefix = f"flow/{project.project_no}"
        for module in project.modules.values():
            definition = module.definition
            for code, licence in sorted(module.licences.items()):
                if module.status == "approved" and flow.licence_destination:
                    actions.append(
                        (
                            LICENCE_TYPE,
                            {**licence, "case_no": project.project_no},
                            f"{prefix}/{definition.id}/licence/{code}",
                            (flow.licence_destination,),
                        )
                    )
            if module.status in ("approved", "rejected"):
                lead = flow.departments[definition.lead]
                actions.append(
                    (
                        COMPLETED_TYPE,
                        self._completed(project, module),
                        f"{prefix}/{definition.id}/completed",
                        (lead.destination,),
                    )
                )
            if not module.running or project.state != "running" or module.stopped:
                continue
            materials: list[dict[str, Any]] | None = None
            for key in definition.reviewers:
                if key in module.answers or key in module.asking:
                    continue
                round_no = module.rounds.get(key, 1)
                request_key = f"{prefix}/{definition.id}/{key}/review/{round_no}"
                if self.published(request_key):
                    continue  # asked already: nothing is looked up for it again
                if materials is None:
                    materials = self._materials(project, definition)
                actions.append(
                    (
                        REVIEW_TYPE,
                        self._request(project, module, key, round_no, materials),
                        request_key,
                        (flow.departments[key].destination,),
                    )
                )
        return actions

    def _materials(self, project: ProjectProgress, module: Module) -> list[dict[str, Any]]:
        """What the module needs, each attached from where the project already holds it."""
        held = project.held_materials(module)
        own = project.modules[module.id].materials
        found: list[dict[str, Any]] = []
        for material in module.materials:
            entry: dict[str, Any] = {"code": material.code, "name": material.name}
            if material.code in own:
                entry.update(source="applicant", ref=own[material.code].get("ref"))
            elif material.code in held:
                shared = held[material.code]
                entry.update(source=shared["source"], ref=shared.get("license_id"))
                if shared["source"] == "applicant":
                    entry["ref"] = shared.get("ref")
            elif material.type_code and self.lookup is not None and project.applicant:
                licence = self._look_up(project.flow, project.applicant, material.type_code)
                if licence is not None:
                    entry.update(source="e_license", ref=licence.get("license_id"))
                else:
                    entry.update(source="missing", ref=None)
            else:
                entry.update(source="missing", ref=None)
            found.append({k: v for k, v in entry.items() if v is not None})
        return found

    def _look_up(
        self, flow: Flow, applicant: Mapping[str, Any], type_code: str
    ) -> Mapping[str, Any] | None:
        assert self.lookup is not None
        try:
            return self.lookup(flow, applicant, type_code)
        except Exception:  # the library being away must not stop the flow: ask instead
            log.warning("the e-license library could not be asked for %s", type_code)
            return None

    def _request(
        self,
        project: ProjectProgress,
        module: ModuleProgress,
        department: str,
        round_no: int,
        materials: list[dict[str, Any]],
    ) -> dict[str, Any]:
        flow, definition = project.flow, module.definition
        reading = self._module_due(module)
        dept = flow.departments[department]
        payload: dict[str, Any] = {
            "project_no": project.project_no,
            "flow": flow.id,
            "module": definition.id,
            "module_name": definition.name,
            "department": {"code": dept.code, "name": dept.name},
            "lead": department == definition.lead,
            "round": round_no,
            "requested_at": format_time(module.started_at),
            "limit_days": definition.limit_days,
            "due_on": reading,
            "materials": materials,
        }
        if project.name:
            payload["project_name"] = project.name
        return payload

    def _module_due(self, module: ModuleProgress) -> str:
        assert module.started_at is not None
        index = self.calendar.index
        stopped = sum(
            index.working_days_between(
                local_day(stop.started_at), local_day(stop.ended_at or stop.started_at)
            )
            for stop in module.stops
        )
        due = index.add_working_days(
            local_day(module.started_at), module.definition.limit_days + stopped
        )
        return due.isoformat()

    def _completed(self, project: ProjectProgress, module: ModuleProgress) -> dict[str, Any]:
        definition = module.definition
        snapshot = module_snapshot(
            module,
            module.finished_at or dt.datetime.now(dt.UTC),
            self.calendar.index,
            self.warn_ratio,
        )
        payload: dict[str, Any] = {
            "project_no": project.project_no,
            "flow": project.flow.id,
            "module": definition.id,
            "module_name": definition.name,
            "result": module.status,
            "started_at": format_time(module.started_at),
            "completed_at": format_time(module.finished_at),
            "due_on": snapshot["due_on"],
            "on_time": bool(snapshot["on_time"]),
            "licences": [
                {"material": code, "license_id": licence["license_id"]}
                for code, licence in sorted(module.licences.items())
                if "license_id" in licence
            ],
        }
        if module.reason:
            payload["reason"] = module.reason
        return payload

    # ------------------------------------------------------------------ records

    def _record(self, project: ProjectProgress, now: dt.datetime) -> ProjectRecord:
        index = self.calendar.index
        modules = [
            module_snapshot(m, now, index, self.warn_ratio) for m in project.modules.values()
        ]
        reading = project_reading(project, now, index, self.warn_ratio)
        if project.state == "running":
            light = worst_light([m["light"] for m in modules if m["status"] == "running"])
        else:
            light = "green" if reading.on_time else "red"
        working_days = None
        if project.started_at is not None and project.finished_at is not None:
            working_days = index.working_days_between(
                local_day(project.started_at), local_day(project.finished_at)
            )
        return ProjectRecord(
            project_no=project.project_no,
            flow=project.flow.id,
            name=project.name,
            state=project.state,
            light=light,
            started_at=project.started_at,
            finished_at=project.finished_at,
            due_on=reading.due_on,
            working_days=working_days,
            modules=modules,
            event_count=project.events,
            updated_at=now,
        )

    def view(self, project_no: str, now: dt.datetime) -> dict[str, Any] | None:
        """A project read now from its events: modules, departments, clocks, timeline."""
        events = self.store.flows.timeline(project_no)
        flow = self._flow_of(events)
        if flow is None:
            return None
        progress = fold_project(project_no, flow, events)
        record = self._record(progress, now)
        document = record.to_json()
        reading = project_reading(progress, now, self.calendar.index, self.warn_ratio)
        document.update(
            flow_name=flow.name,
            limit_days=flow.limit_days,
            clock=reading.to_json(),
            reason=progress.reason,
            departments={
                key: {"name": d.name, "code": d.code} for key, d in flow.departments.items()
            },
            timeline=[e.to_json() for e in sorted(events, key=lambda e: e.occurred_at)],
        )
        return document

    def on_time_rates(self, flow_id: str | None = None) -> list[dict[str, Any]]:
        """Per flow and module: modules finished, on time, and the on-time rate."""
        counts: dict[tuple[str, str], list[int]] = {}
        names: dict[tuple[str, str], str] = {}
        for flow in self.flows.values():
            for module in flow.modules:
                counts[(flow.id, module.id)] = [0, 0]
                names[(flow.id, module.id)] = module.name
        for record in self.store.flows.search(flow=flow_id, limit=100_000):
            for snapshot in record.modules:
                key = (record.flow, str(snapshot["id"]))
                if key not in counts or snapshot["status"] not in ("approved", "rejected"):
                    continue
                counts[key][0] += 1
                counts[key][1] += 1 if snapshot["on_time"] else 0
        return [
            {
                "flow": flow,
                "module": module,
                "name": names[(flow, module)],
                "finished": finished,
                "on_time": on_time,
                "on_time_rate": (on_time / finished) if finished else None,
            }
            for (flow, module), (finished, on_time) in counts.items()
            if flow_id is None or flow == flow_id
        ]
