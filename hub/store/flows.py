"""Modular approval flows: each project's timeline of events, and its record.

The timeline is written with the messages themselves: :func:`flow_event_row` turns an
accepted inbound ``flow.*`` message (a lead's acceptance, a department's opinion,
supplied materials) into a ``flow_events`` row, and :class:`~hub.store.messages.Messages`
inserts it in the transaction that stores the message. So an opinion that got its 202 is
on the project's timeline even if the hub is killed the next instant; the row is
*pending* until the project's record has taken it in (:meth:`Flows.save`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, func, insert, select, update

from hub.core.clock import format_time, parse_time
from hub.core.envelope import Envelope
from hub.store.database import Database
from hub.store.flow_tables import flow_events, flow_projects
from hub.store.protection import PayloadProtector
from hub.store.timelines import mark_applied, pending_keys

__all__ = [
    "FLOW_EVENT_TYPES",
    "FlowEventRow",
    "Flows",
    "ProjectRecord",
    "flow_event_row",
]

#: The inbound message types that make a project's timeline, and the field saying when.
FLOW_EVENT_TYPES = {
    "flow.module_accepted": "accepted_at",
    "flow.opinion": "opinion_at",
    "flow.materials_supplied": "supplied_at",
}


def flow_event_row(
    envelope: Envelope, protector: PayloadProtector | None = None
) -> dict[str, Any] | None:
    """The ``flow_events`` row of an accepted message, or ``None`` if it is no flow event.

    Args:
        envelope: The accepted message.
        protector: Seals the payload's personal fields as in ``messages`` (a copy of the
            payload is kept with the timeline, so it must not be the one clear copy).
    """
    when_field = FLOW_EVENT_TYPES.get(envelope.type)
    payload = envelope.payload
    if when_field is None or not isinstance(payload, dict):
        return None
    project_no, module = payload.get("project_no"), payload.get("module")
    if not isinstance(project_no, str) or not isinstance(module, str):
        return None
    try:
        occurred = parse_time(str(payload.get(when_field)))
    except ValueError:
        occurred = envelope.created_at  # the schema checked it; this is only a safety net
    department = payload.get("department") or {}
    return {
        "message_id": envelope.id,
        "project_no": project_no[:64],
        "type": envelope.type,
        "module": module[:64],
        "department_code": department.get("code") if isinstance(department, dict) else None,
        "occurred_at": occurred,
        "received_at": envelope.created_at,
        "source": envelope.source,
        "payload": payload if protector is None else protector.protect(payload),
        "applied": False,
    }


@dataclass(frozen=True, slots=True)
class FlowEventRow:
    """One event on a project's timeline."""

    message_id: str
    project_no: str
    type: str
    module: str
    department_code: str | None
    occurred_at: dt.datetime
    received_at: dt.datetime
    source: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """For the API."""
        return {
            "message_id": self.message_id,
            "type": self.type,
            "module": self.module,
            "department_code": self.department_code,
            "occurred_at": format_time(self.occurred_at),
            "received_at": format_time(self.received_at),
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A project as its last evaluation left it.

    Attributes:
        state: ``running``, ``approved`` (every module approved) or ``rejected``.
        light: The worst light of its running modules (``none`` when finished).
        modules: The folded modules (``hub.flows`` writes and reads their shape).
    """

    project_no: str
    flow: str
    state: str
    light: str
    updated_at: dt.datetime
    name: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    due_on: dt.date | None = None
    working_days: int | None = None
    modules: list[dict[str, Any]] = field(default_factory=list)
    event_count: int = 0

    def to_json(self) -> dict[str, Any]:
        """For the API and the console."""
        return {
            "project_no": self.project_no,
            "flow": self.flow,
            "name": self.name,
            "state": self.state,
            "light": self.light,
            "started_at": format_time(self.started_at),
            "finished_at": format_time(self.finished_at),
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "working_days": self.working_days,
            "modules": self.modules,
            "event_count": self.event_count,
            "updated_at": format_time(self.updated_at),
        }


class Flows:
    """Project timelines and records.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def pending(self, limit: int = 500) -> list[str]:
        """Projects with events their record has not taken in, oldest first."""
        return pending_keys(self.db, flow_events.c.project_no, limit)

    def timeline(self, project_no: str) -> list[FlowEventRow]:
        """A project's events in the order they were accepted (empty: no such project)."""
        with self.db.read() as connection:
            return [
                _event(row, self.db.protector)
                for row in connection.execute(
                    select(flow_events)
                    .where(flow_events.c.project_no == project_no)
                    .order_by(flow_events.c.received_at, flow_events.c.message_id)
                )
            ]

    def get(self, project_no: str) -> ProjectRecord | None:
        """A project's record, or ``None``."""
        with self.db.read() as connection:
            row = connection.execute(
                select(flow_projects).where(flow_projects.c.project_no == project_no)
            ).first()
        return _record(row) if row is not None else None

    def save(self, record: ProjectRecord, applied: Sequence[str]) -> None:
        """Write a project's record and mark the events it took in, in one transaction."""
        row = _row(record)
        with self.db.write() as connection:
            exists = connection.execute(
                select(flow_projects.c.project_no).where(
                    flow_projects.c.project_no == record.project_no
                )
            ).first()
            if exists is None:
                connection.execute(insert(flow_projects), [row])
            else:
                connection.execute(
                    update(flow_projects)
                    .where(flow_projects.c.project_no == record.project_no)
                    .values({k: v for k, v in row.items() if k != "project_no"})
                )
            mark_applied(connection, flow_events, applied)

    def search(
        self,
        *,
        state: str | None = None,
        light: str | None = None,
        flow: str | None = None,
        limit: int = 200,
    ) -> list[ProjectRecord]:
        """Projects by number, filtered by state, light and flow."""
        query = select(flow_projects).order_by(flow_projects.c.project_no).limit(limit)
        if state:
            query = query.where(flow_projects.c.state == state)
        if light:
            query = query.where(flow_projects.c.light == light)
        if flow:
            query = query.where(flow_projects.c.flow == flow)
        with self.db.read() as connection:
            return [_record(row) for row in connection.execute(query)]

    def running(self) -> list[str]:
        """Numbers of the projects still running."""
        with self.db.read() as connection:
            return list(
                connection.execute(
                    select(flow_projects.c.project_no)
                    .where(flow_projects.c.state == "running")
                    .order_by(flow_projects.c.project_no)
                ).scalars()
            )

    def by_state_and_light(self) -> dict[tuple[str, str], int]:
        """How many projects are in each (state, light)."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(flow_projects.c.state, flow_projects.c.light, func.count()).group_by(
                    flow_projects.c.state, flow_projects.c.light
                )
            ).all()
        return {(str(state), str(light)): int(count) for state, light, count in rows}


def _event(row: Row[Any], protector: PayloadProtector | None) -> FlowEventRow:
    payload = dict(row.payload)
    return FlowEventRow(
        message_id=row.message_id,
        project_no=row.project_no,
        type=row.type,
        module=row.module,
        department_code=row.department_code,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        source=row.source,
        payload=payload if protector is None else protector.reveal(payload),
    )


def _row(record: ProjectRecord) -> dict[str, Any]:
    return {
        "project_no": record.project_no,
        "flow": record.flow,
        "name": record.name,
        "state": record.state,
        "light": record.light,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "due_on": record.due_on,
        "working_days": record.working_days,
        "modules": record.modules,
        "event_count": record.event_count,
        "updated_at": record.updated_at,
    }


def _record(row: Row[Any]) -> ProjectRecord:
    return ProjectRecord(
        project_no=row.project_no,
        flow=row.flow,
        name=row.name,
        state=row.state,
        light=row.light,
        started_at=row.started_at,
        finished_at=row.finished_at,
        due_on=row.due_on,
        working_days=row.working_days,
        modules=list(row.modules),
        event_count=row.event_count,
        updated_at=row.updated_at,
    )
