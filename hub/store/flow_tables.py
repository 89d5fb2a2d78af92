"""The tables of modular approval flows (模块化审批), on the engine's metadata.

``flow_events`` is each project's timeline: one row per accepted inbound ``flow.*``
message (a lead's acceptance, a department's opinion, supplied materials), written in the
same transaction as the message, so an accepted opinion is never lost; ``applied`` says
whether the project's record has taken it in. ``flow_projects`` is one record per
project: its state, its light and the folded picture of its modules (for listing and the
console; a project's own page is read from its events).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Index, Integer, String, Table

from hub.core.columns import JSONType, UTCDateTime
from hub.store.tables import metadata

__all__ = ["flow_events", "flow_projects"]

flow_events = Table(
    "flow_events",
    metadata,
    Column("message_id", String(26), primary_key=True),
    Column("project_no", String(64), nullable=False),
    Column("type", String(100), nullable=False),
    Column("module", String(64), nullable=False),
    Column("department_code", String(18)),
    # When it happened, as the sender says (accepted_at / opinion_at / supplied_at)
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("source", String(100), nullable=False),
    Column("payload", JSONType, nullable=False),
    Column("applied", Boolean, nullable=False),
    Index(None, "project_no", "occurred_at"),
    Index(None, "applied", "received_at"),
)

flow_projects = Table(
    "flow_projects",
    metadata,
    Column("project_no", String(64), primary_key=True),
    Column("flow", String(64), nullable=False),
    Column("name", String(200)),
    # running | approved | rejected
    Column("state", String(20), nullable=False),
    # green | yellow | red | none: the worst light of its running modules, as last evaluated
    Column("light", String(10), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("due_on", Date),
    Column("working_days", Integer),  # working days from start to end, when finished
    Column("modules", JSONType, nullable=False),  # the folded modules, as last evaluated
    Column("event_count", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "state", "light"),
)
