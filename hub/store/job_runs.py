"""The scheduler's history and its nodes: runs as recorded, and which schedulers are alive.

What :mod:`hub.store.jobs` writes while it claims and runs due times, read back for the
API, the CLI and the console; old runs are forgotten here too (each job's newest kept).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from hub.store.database import Database
from hub.store.job_records import FINAL, NodeView, RunPage, RunView
from hub.store.job_tables import job_runs, scheduler_nodes

__all__ = ["Runs", "SchedulerNodes", "run_view"]


class Runs:
    """Every job's recorded runs.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_run(self, run_id: str) -> RunView | None:
        """One run with its log."""
        with self.db.read() as connection:
            row = connection.execute(select(job_runs).where(job_runs.c.id == run_id)).first()
        return run_view(row) if row is not None else None

    def list_runs(
        self,
        job_id: str,
        *,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> RunPage:
        """A job's runs, newest first; ``after`` is the last id of the previous page."""
        query = (
            select(job_runs)
            .where(job_runs.c.job_id == job_id)
            .order_by(job_runs.c.id.desc())
            .limit(limit + 1)
        )
        if status:
            query = query.where(job_runs.c.status == status)
        if after:
            query = query.where(job_runs.c.id < after)
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        items = [run_view(row) for row in rows[:limit]]
        return RunPage(items=items, next=items[-1].id if len(rows) > limit else None)

    def last_finished(self, job_ids: Iterable[str]) -> dict[str, RunView]:
        """The newest run with an outcome, per job."""
        found: dict[str, RunView] = {}
        with self.db.read() as connection:
            for job_id in job_ids:
                row = connection.execute(
                    select(job_runs)
                    .where(job_runs.c.job_id == job_id, job_runs.c.status.in_(FINAL))
                    .order_by(job_runs.c.id.desc())
                    .limit(1)
                ).first()
                if row is not None:
                    found[job_id] = run_view(row)
        return found

    def purge_runs(self, before: dt.datetime, *, batch: int = 500) -> int:
        """Delete finished runs that ended before ``before``, a batch per transaction.

        The newest finished run of each job is kept, so "last outcome" never goes blank.

        Returns:
            How many runs were deleted.
        """
        newest = (
            select(func.max(job_runs.c.id))
            .where(job_runs.c.status.in_(FINAL))
            .group_by(job_runs.c.job_id)
        )
        total = 0
        while True:
            with self.db.write() as connection:
                ids = list(
                    connection.execute(
                        select(job_runs.c.id)
                        .where(
                            job_runs.c.status.in_(FINAL),
                            job_runs.c.finished_at < before,
                            job_runs.c.id.not_in(newest.scalar_subquery()),
                        )
                        .limit(batch)
                    ).scalars()
                )
                if ids:
                    connection.execute(delete(job_runs).where(job_runs.c.id.in_(ids)))
            total += len(ids)
            if len(ids) < batch:
                return total


class SchedulerNodes:
    """The schedulers and dispatchers that beat recently, one row each (by ``kind``).

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def beat(self, node: str, now: dt.datetime, *, kind: str = "scheduler") -> None:
        """Record that this node's scheduler (or dispatcher: ``kind``) is alive."""
        with self.db.write() as connection:
            changed = connection.execute(
                update(scheduler_nodes).where(scheduler_nodes.c.node == node).values(beat_at=now)
            ).rowcount
            if not changed:
                parts = node.rsplit(":", 2)
                host = parts[0]
                pid = parts[1] if len(parts) == 3 else ""
                connection.execute(
                    insert(scheduler_nodes),
                    {
                        "node": node,
                        "host": host,
                        "pid": int(pid) if pid.isdigit() else 0,
                        "started_at": now,
                        "beat_at": now,
                        "kind": kind,
                    },
                )
            # Nodes that died without saying goodbye: forget them after a day.
            connection.execute(
                delete(scheduler_nodes).where(
                    scheduler_nodes.c.beat_at < now - dt.timedelta(days=1)
                )
            )

    def remove_node(self, node: str) -> None:
        """Forget a node that stops cleanly."""
        with self.db.write() as connection:
            connection.execute(delete(scheduler_nodes).where(scheduler_nodes.c.node == node))

    def nodes(self, *, since: dt.datetime, kind: str = "scheduler") -> list[NodeView]:
        """Nodes whose scheduler (or dispatcher: ``kind``) beat since ``since``."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(scheduler_nodes)
                .where(scheduler_nodes.c.beat_at >= since, scheduler_nodes.c.kind == kind)
                .order_by(scheduler_nodes.c.node)
            ).all()
        return [
            NodeView(
                node=row.node,
                host=row.host,
                pid=row.pid,
                started_at=row.started_at,
                beat_at=row.beat_at,
            )
            for row in rows
        ]


def run_view(row: Row[Any]) -> RunView:
    return RunView(
        id=row.id,
        job_id=row.job_id,
        due_at=row.due_at,
        trigger=row.trigger,
        status=row.status,
        created_at=row.created_at,
        node=row.node,
        requested_by=row.requested_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        read=row.read_count,
        published=row.published_count,
        failed=row.failed_count,
        error=row.error,
        log=tuple(row.log) if row.log is not None else None,
        cursor_before=row.cursor_before,
        cursor_after=row.cursor_after,
    )
