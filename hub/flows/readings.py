"""Where a project's time stands: module, department and project clocks (限时办结).

The clocks are the case clock's (:func:`hub.cases.clock.read_clock`): a module's limit
starts the working day after it started, a supplement stops it and moves its due day by
the working days it ran, and it is red from the first moment after its due day. A
department's clock is its module's, ended by its own answer; the project's is the flow's
whole limit (28 working days for Weihai) from its first acceptance, with every stop.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.cases.clock import Reading, local_day, read_clock
from hub.core.clock import format_time
from hub.flows.progress import ModuleProgress, ProjectProgress
from hub.workdays import WorkdayIndex

__all__ = ["LIGHT_ORDER", "module_snapshot", "project_reading", "worst_light"]

#: Lights from best to worst (``none``: no clock yet).
LIGHT_ORDER = ("none", "green", "yellow", "red")


def worst_light(lights: list[str]) -> str:
    """The worst of some lights (``none`` when there are none)."""
    return max(lights, key=LIGHT_ORDER.index, default="none")


def module_reading(
    module: ModuleProgress, now: dt.datetime, index: WorkdayIndex, warn_ratio: float
) -> Reading:
    """A module's clock at ``now``."""
    return read_clock(
        started_at=module.started_at,
        limit_days=module.definition.limit_days,
        stops=module.stops,
        finished_at=module.finished_at,
        now=now,
        index=index,
        warn_ratio=warn_ratio,
    )


def department_reading(
    module: ModuleProgress,
    department: str,
    now: dt.datetime,
    index: WorkdayIndex,
    warn_ratio: float,
) -> Reading:
    """A reviewing department's clock in a module: the module's, ended by its answer."""
    return read_clock(
        started_at=module.started_at,
        limit_days=module.definition.limit_days,
        stops=module.stops,
        finished_at=module.answered_at(department) or module.finished_at,
        now=now,
        index=index,
        warn_ratio=warn_ratio,
    )


def project_reading(
    project: ProjectProgress, now: dt.datetime, index: WorkdayIndex, warn_ratio: float
) -> Reading:
    """The whole project's clock: the flow's limit from the first acceptance."""
    stops = sorted(
        (stop for module in project.modules.values() for stop in module.stops),
        key=lambda s: s.started_at,
    )
    return read_clock(
        started_at=project.started_at,
        limit_days=project.flow.limit_days,
        stops=stops,
        finished_at=project.finished_at,
        now=now,
        index=index,
        warn_ratio=warn_ratio,
    )


def _light(reading: Reading) -> str:
    """A running clock's light; an ended one is green when on time, red when late."""
    if reading.finished:
        return "green" if reading.on_time else "red"
    return reading.light


def module_snapshot(
    module: ModuleProgress, now: dt.datetime, index: WorkdayIndex, warn_ratio: float
) -> dict[str, Any]:
    """A module with its clock and its departments' clocks, as records and pages show it."""
    reading = module_reading(module, now, index, warn_ratio)
    definition = module.definition
    departments = []
    for key in definition.reviewers:
        answer = module.answers.get(key)
        if module.started_at is None:
            dept_light, dept_due, dept_on_time = "none", None, None
        else:
            dept = department_reading(module, key, now, index, warn_ratio)
            dept_light, dept_due, dept_on_time = _light(dept), dept.due_on, dept.on_time
        departments.append(
            {
                "department": key,
                "lead": key == definition.lead,
                "opinion": answer.opinion if answer else None,
                "answered_at": format_time(answer.at) if answer else None,
                "asking_supplement": key in module.asking,
                "round": module.rounds.get(key, 0),
                "light": dept_light,
                "due_on": dept_due.isoformat() if dept_due else None,
                "on_time": dept_on_time,
            }
        )
    return {
        "id": definition.id,
        "name": definition.name,
        "lead": definition.lead,
        "limit_days": definition.limit_days,
        "status": module.status,
        "started_at": format_time(module.started_at),
        "finished_at": format_time(module.finished_at),
        "start_day": local_day(module.started_at).isoformat() if module.started_at else None,
        "end_day": local_day(module.finished_at).isoformat() if module.finished_at else None,
        "reason": module.reason,
        "light": _light(reading) if module.started_at else "none",
        "due_on": reading.due_on.isoformat() if reading.due_on else None,
        "used_working_days": reading.used_days,
        "stopped_working_days": reading.stopped_days,
        "stopped": reading.stopped,
        "on_time": reading.on_time,
        "stops": [stop.to_json() for stop in module.stops],
        "departments": departments,
        "opinions": [opinion.to_json() for opinion in module.opinions],
        "licences": {
            code: licence.get("license_id") for code, licence in sorted(module.licences.items())
        },
    }
