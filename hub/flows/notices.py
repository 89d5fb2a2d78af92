"""Electronic supervision of the flows: a department late in a module is reported once per due day.

A reviewing department that has not answered a running module turns yellow when the
module has used the warning share of its limit and red past its due day (its clock is the
module's: :mod:`hub.flows.readings`). Each is reported as the supervision office already
reads cases: ``supervision.warning`` / ``supervision.overdue``, for the "case"
``<project>/<module>`` and the late department, keyed by project, module, department, due
day and kind, so however many runs see it, it is published once per due day (a
supplement that moves the due day reports again if the department is late again).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.core.clock import format_time
from hub.flows.progress import ProjectProgress
from hub.flows.readings import department_reading
from hub.workdays import WorkdayIndex

__all__ = ["OVERDUE", "WARNING", "late_departments"]

WARNING = "supervision.warning"
OVERDUE = "supervision.overdue"


def late_departments(
    project: ProjectProgress,
    now: dt.datetime,
    index: WorkdayIndex,
    warn_ratio: float,
    *,
    publish_warnings: bool = True,
) -> list[tuple[str, dict[str, Any], str]]:
    """``(type, payload, key)`` of every notice a project's late departments call for now."""
    if project.state != "running":
        return []
    notices: list[tuple[str, dict[str, Any], str]] = []
    for module in project.modules.values():
        if not module.running or module.started_at is None:
            continue
        definition = module.definition
        for key in definition.reviewers:
            if key in module.answers:
                continue
            reading = department_reading(module, key, now, index, warn_ratio)
            if reading.light not in ("yellow", "red") or reading.due_on is None:
                continue
            if reading.light == "yellow" and not publish_warnings:
                continue
            department = project.flow.departments[key]
            kind = WARNING if reading.light == "yellow" else OVERDUE
            payload: dict[str, Any] = {
                "case_no": f"{project.project_no}/{definition.id}",
                "item_name": f"{project.flow.name}·{definition.name}",
                "department": {"code": department.code, "name": department.name},
                "light": reading.light,
                "limit_working_days": definition.limit_days,
                "used_working_days": reading.used_days or 0,
                "accepted_at": format_time(module.started_at),
                "due_on": reading.due_on.isoformat(),
                "evaluated_at": format_time(now),
                "stopped": reading.stopped,
            }
            if kind == WARNING:
                payload["remaining_working_days"] = reading.remaining_days or 0
            else:
                payload["overdue_working_days"] = reading.overdue_days
            due = reading.due_on.isoformat()
            notices.append(
                (kind, payload, f"flow/{project.project_no}/{definition.id}/{key}/{due}/{kind}")
            )
    return notices
