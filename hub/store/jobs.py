"""The scheduler's durable state: claimed due times, runs, leases, cursors, pauses.

The guarantees live in the database, so they hold across processes and nodes:

- **A due time runs once.** Each due time is claimed by inserting its run row; the unique
  key ``(job_id, due_at)`` lets exactly one process succeed.
- **A job never overlaps itself.** Starting a run takes the job's lease (a compare-and-set
  on its ``job_state`` row); the node renews it while the run's thread lives, even past
  the timeout, and gives it back when the thread ends. A node that dies stops renewing;
  its lease expires and its run is recorded as interrupted.
- **The cursor belongs to the lease holder.** Advancing it is fenced by the lease, so a
  run that lost its lease cannot move it.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from hub.core.clock import new_id
from hub.store.audit import AuditLog
from hub.store.database import Database
from hub.store.job_records import FINAL, JobState, Started
from hub.store.job_tables import job_runs, job_state

__all__ = ["JobStore", "node_id", "owner_is_dead"]

#: Longest error text kept with a run.
MAX_ERROR_CHARS = 2000


def node_id() -> str:
    """A name for this scheduler: ``host:pid:random``, unique per process and instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process on this host that no longer exists.

    A node killed with ``kill -9`` cannot give its leases back; when it ran on this
    machine we know at once that it is gone, instead of waiting for its lease to
    expire (a restarted ``govhub run`` picks its jobs up immediately).
    """
    parts = owner.rsplit(":", 2)
    if len(parts) != 3:
        return False
    host, pid_text = parts[0], parts[1]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


class JobStore:
    """Job runs and state on the hub's store (same database, same transactions).

    Args:
        db: The database.
        audit: Where pauses and resumes are recorded.
    """

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit

    # ------------------------------------------------------------------ job state

    def ensure(self, job_ids: Iterable[str], now: dt.datetime) -> None:
        """Create the state row of every job that has none yet."""
        wanted = set(job_ids)
        for _ in range(3):  # another node may insert the same rows at the same time
            with self.db.read() as connection:
                have = set(
                    connection.execute(
                        select(job_state.c.job_id).where(job_state.c.job_id.in_(wanted))
                    ).scalars()
                )
            missing = sorted(wanted - have)
            if not missing:
                return
            try:
                with self.db.write() as connection:
                    connection.execute(
                        insert(job_state),
                        [
                            {"job_id": job_id, "paused": False, "updated_at": now}
                            for job_id in missing
                        ],
                    )
                return
            except IntegrityError as error:
                if not self.db.is_unique_violation(error):
                    raise

    def state(self, job_id: str) -> JobState:
        """The stored state of a job (a blank one if it has never run)."""
        with self.db.read() as connection:
            row = connection.execute(select(job_state).where(job_state.c.job_id == job_id)).first()
        return _state(row) if row is not None else JobState(job_id=job_id)

    def states(self) -> dict[str, JobState]:
        """Every job's stored state."""
        with self.db.read() as connection:
            rows = connection.execute(select(job_state)).all()
        return {row.job_id: _state(row) for row in rows}

    def set_paused(
        self,
        job_id: str,
        paused: bool,
        *,
        actor: str,
        now: dt.datetime,
        reason: str | None = None,
        audit: bool = True,
    ) -> JobState:
        """Pause or resume a job; stored, so it survives a restart. Audited unless told not."""
        self.ensure([job_id], now)
        values: dict[str, Any] = {"paused": paused, "updated_at": now}
        if paused:
            values.update(paused_at=now, paused_by=actor, pause_reason=reason)
        else:
            values.update(paused_at=None, paused_by=None, pause_reason=None, resumed_at=now)
        with self.db.write() as connection:
            connection.execute(update(job_state).where(job_state.c.job_id == job_id).values(values))
        if audit:
            self.audit.record(
                actor,
                "job.pause" if paused else "job.resume",
                job_id,
                {"reason": reason} if reason else None,
            )
        return self.state(job_id)

    # ------------------------------------------------------------------ claiming due times

    def claim(
        self,
        job_id: str,
        due_at: dt.datetime,
        *,
        node: str | None,
        now: dt.datetime,
        trigger: str = "schedule",
        status: str = "queued",
        error: str | None = None,
        requested_by: str | None = None,
    ) -> str | None:
        """Claim a due time by inserting its run row.

        Scheduled due times of a paused job are not claimed (nothing is recorded); a
        manual request is claimed even then.

        Returns:
            The new run's id, or ``None`` when another process claimed this due time
            first, or the job is paused.
        """
        run_id = new_id()
        try:
            with self.db.write() as connection:
                if trigger == "schedule":
                    paused = connection.execute(
                        select(job_state.c.paused).where(job_state.c.job_id == job_id)
                    ).scalar()
                    if paused:
                        return None
                connection.execute(
                    insert(job_runs),
                    {
                        "id": run_id,
                        "job_id": job_id,
                        "due_at": due_at,
                        "trigger": trigger,
                        "status": status,
                        "node": node,
                        "requested_by": requested_by,
                        "created_at": now,
                        "finished_at": now if status in FINAL else None,
                        "read_count": 0,
                        "published_count": 0,
                        "failed_count": 0,
                        "error": _clip(error),
                    },
                )
        except IntegrityError as error_:
            if self.db.is_unique_violation(error_):
                return None
            raise
        return run_id

    def start_next(
        self,
        job_id: str,
        *,
        node: str,
        now: dt.datetime,
        lease_s: float,
        skip_when_busy: bool,
        late_after_s: float | None,
    ) -> Started | None:
        """Start the job's next queued run here, if the job is free.

        In one transaction: look at the queued runs; when another run holds the job's
        lease, leave them queued (or, with ``skip_when_busy``, record the scheduled ones
        skipped); otherwise take the lease (compare-and-set, so two nodes cannot both
        win), record a run interrupted by a dead node as failed, collapse several
        queued scheduled due times into the latest, and mark the chosen run running.

        Args:
            job_id: The job.
            node: This scheduler's name (the lease owner).
            now: The current time.
            lease_s: How long the lease lasts unless renewed.
            skip_when_busy: Misfire policy ``skip``: due times that find the job busy
                are recorded skipped instead of waiting.
            late_after_s: Misfire policy ``skip``: scheduled due times older than this
                are recorded skipped instead of run; ``None`` runs them however late.

        Returns:
            The run started, or ``None`` (nothing queued, or the job is busy).
        """
        with self.db.write() as connection:
            queued = connection.execute(
                select(job_runs.c.id, job_runs.c.due_at, job_runs.c.trigger)
                .where(job_runs.c.job_id == job_id, job_runs.c.status == "queued")
                .order_by(job_runs.c.due_at)
            ).all()
            if not queued:
                return None
            state = connection.execute(
                select(job_state).where(job_state.c.job_id == job_id)
            ).first()
            if state is None:
                connection.execute(
                    insert(job_state), {"job_id": job_id, "paused": False, "updated_at": now}
                )
                state = connection.execute(
                    select(job_state).where(job_state.c.job_id == job_id)
                ).one()
            holder = state.lease_owner
            busy = holder is not None and not (
                state.lease_expires_at < now or owner_is_dead(holder)
            )
            if busy:
                if skip_when_busy:
                    _skip(
                        connection,
                        [r.id for r in queued if r.trigger == "schedule"],
                        f"the previous run {state.lease_run_id} was still running"
                        " (misfire policy: skip)",
                        now,
                    )
                return None

            runnable = []
            for row in queued:
                if row.trigger != "schedule":
                    runnable.append(row)
                elif state.paused:
                    _skip(connection, [row.id], "the job was paused", now)
                elif late_after_s is not None and (now - row.due_at).total_seconds() > late_after_s:
                    late = int((now - row.due_at).total_seconds())
                    _skip(
                        connection,
                        [row.id],
                        f"missed: could not start within {late_after_s:g} s of its due time"
                        f" (late by {late} s; misfire policy: skip)",
                        now,
                    )
                else:
                    runnable.append(row)
            scheduled = [r for r in runnable if r.trigger == "schedule"]
            manual = [r for r in runnable if r.trigger != "schedule"]
            candidates = manual + scheduled[-1:]
            if not candidates:
                return None
            chosen = min(candidates, key=lambda r: r.due_at)
            acquired = connection.execute(
                update(job_state)
                .where(
                    job_state.c.job_id == job_id,
                    _same(job_state.c.lease_owner, holder),
                    _same(job_state.c.lease_run_id, state.lease_run_id),
                    # a lease renewed since it was read is not taken over
                    _same(job_state.c.lease_expires_at, state.lease_expires_at),
                )
                .values(
                    lease_owner=node,
                    lease_expires_at=now + dt.timedelta(seconds=lease_s),
                    lease_run_id=chosen.id,
                    updated_at=now,
                )
            ).rowcount
            if not acquired:
                return None
            if holder is not None and state.lease_run_id is not None:
                _interrupt(connection, state.lease_run_id, holder, now)
            if chosen in scheduled:
                _skip(
                    connection,
                    [r.id for r in scheduled[:-1]],
                    f"collapsed into run {chosen.id} (misfire policy: run once)",
                    now,
                )
            connection.execute(
                update(job_runs)
                .where(job_runs.c.id == chosen.id, job_runs.c.status == "queued")
                .values(status="running", node=node, started_at=now, cursor_before=state.cursor)
            )
        return Started(
            run_id=chosen.id,
            job_id=job_id,
            due_at=chosen.due_at,
            trigger=chosen.trigger,
            cursor=state.cursor,
        )

    def renew(
        self, node: str, job_ids: Sequence[str], *, now: dt.datetime, lease_s: float
    ) -> set[str]:
        """Extend this node's leases; returns the jobs whose lease it still holds."""
        if not job_ids:
            return set()
        with self.db.write() as connection:
            renewed = connection.execute(
                update(job_state)
                .where(job_state.c.job_id.in_(list(job_ids)), job_state.c.lease_owner == node)
                .values(lease_expires_at=now + dt.timedelta(seconds=lease_s))
                .returning(job_state.c.job_id)
            ).scalars()
            return set(renewed)

    def release(self, job_id: str, node: str, run_id: str) -> None:
        """Give the job's lease back (its run's thread has ended)."""
        with self.db.write() as connection:
            connection.execute(
                update(job_state)
                .where(
                    job_state.c.job_id == job_id,
                    job_state.c.lease_owner == node,
                    job_state.c.lease_run_id == run_id,
                )
                .values(lease_owner=None, lease_expires_at=None, lease_run_id=None)
            )

    def reap(self, now: dt.datetime) -> list[str]:
        """Free the leases of nodes that died, recording their runs as interrupted.

        Returns:
            The ids of the runs recorded as interrupted.
        """
        with self.db.read() as connection:
            held = connection.execute(
                select(
                    job_state.c.job_id,
                    job_state.c.lease_owner,
                    job_state.c.lease_run_id,
                    job_state.c.lease_expires_at,
                ).where(job_state.c.lease_owner.is_not(None))
            ).all()
        interrupted: list[str] = []
        for row in held:
            if row.lease_expires_at >= now and not owner_is_dead(row.lease_owner):
                continue
            with self.db.write() as connection:
                # Compare-and-set on what was read: a lease renewed meanwhile stays.
                freed = connection.execute(
                    update(job_state)
                    .where(
                        job_state.c.job_id == row.job_id,
                        job_state.c.lease_owner == row.lease_owner,
                        job_state.c.lease_expires_at == row.lease_expires_at,
                        _same(job_state.c.lease_run_id, row.lease_run_id),
                    )
                    .values(lease_owner=None, lease_expires_at=None, lease_run_id=None)
                ).rowcount
                if (
                    freed
                    and row.lease_run_id is not None
                    and _interrupt(connection, row.lease_run_id, row.lease_owner, now)
                ):
                    interrupted.append(row.lease_run_id)
        return interrupted

    def finish(
        self,
        run_id: str,
        status: str,
        *,
        now: dt.datetime,
        counts: tuple[int, int, int],
        error: str | None,
        log: list[dict[str, Any]],
        cursor_after: Any,
    ) -> bool:
        """Record a run's outcome; False if it already had one (first writer wins)."""
        read, published, failed = counts
        with self.db.write() as connection:
            return bool(
                connection.execute(
                    update(job_runs)
                    .where(job_runs.c.id == run_id, job_runs.c.status == "running")
                    .values(
                        status=status,
                        finished_at=now,
                        read_count=read,
                        published_count=published,
                        failed_count=failed,
                        error=_clip(error),
                        log=log,
                        cursor_after=cursor_after,
                    )
                ).rowcount
            )

    def amend_overrun(
        self,
        run_id: str,
        *,
        counts: tuple[int, int, int],
        log: list[dict[str, Any]],
        cursor_after: Any,
    ) -> None:
        """Add what a timed-out run did after its timeout, once its thread has ended."""
        read, published, failed = counts
        with self.db.write() as connection:
            connection.execute(
                update(job_runs)
                .where(job_runs.c.id == run_id, job_runs.c.status == "timed_out")
                .values(
                    read_count=read,
                    published_count=published,
                    failed_count=failed,
                    log=log,
                    cursor_after=cursor_after,
                )
            )

    def advance_cursor(
        self, job_id: str, *, node: str, run_id: str, value: Any, now: dt.datetime
    ) -> bool:
        """Store the job's cursor, if this node's run still holds the lease."""
        with self.db.write() as connection:
            return bool(
                connection.execute(
                    update(job_state)
                    .where(
                        job_state.c.job_id == job_id,
                        job_state.c.lease_owner == node,
                        job_state.c.lease_run_id == run_id,
                    )
                    .values(cursor=value, cursor_updated_at=now)
                ).rowcount
            )

    def queued_job_ids(self) -> set[str]:
        """Jobs with runs waiting to start."""
        with self.db.read() as connection:
            return set(
                connection.execute(
                    select(job_runs.c.job_id).where(job_runs.c.status == "queued").distinct()
                ).scalars()
            )

    def last_scheduled_due(self, job_id: str) -> dt.datetime | None:
        """The latest claimed scheduled due time of a job."""
        with self.db.read() as connection:
            value: dt.datetime | None = connection.execute(
                select(func.max(job_runs.c.due_at)).where(
                    job_runs.c.job_id == job_id, job_runs.c.trigger == "schedule"
                )
            ).scalar_one()
        return value


def _same(column: Any, value: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = column.is_(None) if value is None else column == value
    return result


def _skip(connection: Connection, run_ids: list[str], reason: str, now: dt.datetime) -> None:
    if run_ids:
        connection.execute(
            update(job_runs)
            .where(job_runs.c.id.in_(run_ids), job_runs.c.status == "queued")
            .values(status="skipped", finished_at=now, error=_clip(reason))
        )


def _interrupt(connection: Connection, run_id: str, owner: str, now: dt.datetime) -> bool:
    return bool(
        connection.execute(
            update(job_runs)
            .where(job_runs.c.id == run_id, job_runs.c.status == "running")
            .values(
                status="failed",
                finished_at=now,
                error=f"interrupted: the node running it ({owner}) stopped"
                " (killed, crashed or lost the database) before it finished",
            )
        ).rowcount
    )


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_ERROR_CHARS:
        return text
    return text[: MAX_ERROR_CHARS - 1] + "…"


def _state(row: Row[Any]) -> JobState:
    return JobState(
        job_id=row.job_id,
        paused=bool(row.paused),
        paused_at=row.paused_at,
        paused_by=row.paused_by,
        pause_reason=row.pause_reason,
        resumed_at=row.resumed_at,
        cursor=row.cursor,
        cursor_updated_at=row.cursor_updated_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        lease_run_id=row.lease_run_id,
    )
