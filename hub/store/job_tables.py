"""The scheduler's tables: runs (one per claimed due time), job state, scheduler nodes."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from hub.core.columns import JSONType, UTCDateTime
from hub.store.tables import metadata

__all__ = ["job_runs", "job_state", "scheduler_nodes"]

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("job_id", String(100), nullable=False),
    # The claim: one row per (job, due time), whichever process inserts it first runs it.
    Column("due_at", UTCDateTime(), nullable=False),
    # schedule | manual
    Column("trigger", String(20), nullable=False),
    # queued | running | ok | failed | timed_out | skipped
    Column("status", String(20), nullable=False),
    Column("node", String(100)),
    Column("requested_by", String(100)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("read_count", Integer, nullable=False, default=0),
    Column("published_count", Integer, nullable=False, default=0),
    Column("failed_count", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("log", JSONType),
    Column("cursor_before", JSONType),
    Column("cursor_after", JSONType),
    UniqueConstraint("job_id", "due_at"),
    Index(None, "job_id", "id"),
    Index(None, "status", "job_id"),
    Index(None, "finished_at"),
)

job_state = Table(
    "job_state",
    metadata,
    Column("job_id", String(100), primary_key=True),
    Column("paused", Boolean, nullable=False, default=False),
    Column("paused_at", UTCDateTime()),
    Column("paused_by", String(100)),
    Column("pause_reason", Text),
    Column("resumed_at", UTCDateTime()),
    # Where the job left off: a JSON value only the job interprets.
    Column("cursor", JSONType),
    Column("cursor_updated_at", UTCDateTime()),
    # The job's lease: held by the node running it, renewed while its thread lives,
    # so a job never overlaps itself, not even with a run that overran its timeout.
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UTCDateTime()),
    Column("lease_run_id", String(26)),
    Column("updated_at", UTCDateTime(), nullable=False),
)

scheduler_nodes = Table(
    "scheduler_nodes",
    metadata,
    Column("node", String(100), primary_key=True),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("beat_at", UTCDateTime(), nullable=False),
    # scheduler | dispatcher: which loop of the process beats (migration spine_0001)
    Column("kind", String(20), nullable=False, server_default="scheduler"),
)
