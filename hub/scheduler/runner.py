"""Running due jobs on this node: claim, lease, worker thread, timeout, record.

The clock (APScheduler, see :mod:`hub.scheduler.scheduler`) calls :meth:`JobRunner.due`
with each due time. The runner claims it in the store, and starts the job's next queued
run if the job is free anywhere (its lease). Each run is a worker thread; one
housekeeping thread watches the runs' deadlines, renews the leases of live runs, beats
the node's heartbeat, frees the leases of dead nodes and starts queued runs (manual
requests from any node, due times that waited for a busy job).

A run that passes its timeout is recorded ``timed_out`` and cancelled (cooperatively:
see :mod:`hub.scheduler.context`). Its thread may still be going; until it ends, the
node keeps the job's lease, so the job is not started again, here or elsewhere, and its
next due time waits (misfire policy ``run_once``) or is skipped (``skip``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.core.clock import format_time, utcnow
from hub.core.identifiers import mask_text
from hub.events import RunEnded
from hub.scheduler.catalog import JobCatalog, ScheduledJob
from hub.scheduler.context import Cursor, JobCancelled, JobContext, JobServices, RunLog
from hub.scheduler.spec import Misfire
from hub.store.job_records import Started
from hub.store.jobs import node_id

__all__ = ["JobRunner"]

log = logging.getLogger("govhub.scheduler")

#: Due times kept for another claim attempt while the database is unreachable.
MAX_UNCLAIMED = 100


@dataclass
class _LiveRun:
    """A run whose thread this node started and that has not ended yet."""

    job: ScheduledJob
    run_id: str
    ctx: JobContext
    log: RunLog
    cancel: threading.Event
    deadline: float
    thread: threading.Thread | None = None
    # running → finished, or running → timed_out → finished, or → abandoned at shutdown
    state: str = "running"
    warned_overrun: bool = False
    began: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _CaptureHandler(logging.Handler):
    """Keeps log records emitted by a run's thread with that run."""

    def __init__(self, runner: JobRunner) -> None:
        super().__init__(logging.INFO)
        self._runner = runner
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        run_log = self._runner.log_of_thread(record.thread)
        if run_log is None:
            return
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self._formatter.formatException(record.exc_info)
        run_log.add(record.levelname, message)


class JobRunner:
    """Runs this node's share of the jobs.

    Args:
        catalog: The configured jobs and their store.
        services: What jobs get from the hub.
        clock: The current time (tests inject one).
        node: This scheduler's name (default ``host:pid:random``).
    """

    def __init__(
        self,
        catalog: JobCatalog,
        services: JobServices,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        node: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = catalog.store
        self.settings = catalog.settings
        self.services = services
        self.clock = clock
        self.node = node or node_id()
        self.heartbeat = 0.0
        self._lock = threading.Lock()
        self._live: dict[str, _LiveRun] = {}
        self._logs: dict[int, RunLog] = {}
        self._unclaimed: list[tuple[str, dt.datetime]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._handler = _CaptureHandler(self)
        self._last_renewal = 0.0
        self._last_reap = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Register this node, free dead nodes' leases, and start housekeeping."""
        now = self.clock()
        self.store.ensure([job.id for job in self.catalog.active()], now)
        self.catalog.scheduler_nodes.beat(self.node, now)
        for run_id in self.store.reap(now):
            log.warning("run %s was interrupted by a node that stopped; recorded failed", run_id)
        self._last_renewal = self._last_reap = time.monotonic()
        jobs_logger = logging.getLogger("govhub.jobs")
        if jobs_logger.level == logging.NOTSET:
            jobs_logger.setLevel(logging.INFO)  # a job's info lines belong in its run log
        logging.getLogger().addHandler(self._handler)
        self.heartbeat = time.monotonic()
        self._thread = threading.Thread(
            target=self._housekeep, name="govhub-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop: cancel running jobs, wait ``shutdown_grace_s`` for them, record the rest."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        with self._lock:
            live = list(self._live.values())
        for run in live:
            run.ctx.cancel_reason = "the hub is stopping"
            run.cancel.set()
        deadline = time.monotonic() + self.settings.shutdown_grace_s
        for run in live:
            if run.thread is not None:
                run.thread.join(max(0.0, deadline - time.monotonic()))
        for run in live:
            if run.thread is None or not run.thread.is_alive():
                continue
            with run.lock:
                previous, run.state = run.state, "abandoned"
            log.error("job %s run %s did not stop in time; abandoning it", run.job.id, run.run_id)
            try:
                if previous == "running":
                    self.store.finish(
                        run.run_id,
                        "failed",
                        now=self.clock(),
                        counts=run.ctx.counts.as_tuple(),
                        error="still running when the hub stopped; abandoned",
                        log=run.log.lines(),
                        cursor_after=run.ctx.cursor.get(),
                    )
                self.store.release(run.job.id, self.node, run.run_id)
            except Exception:
                log.exception("could not record the abandoned run %s", run.run_id)
        try:
            self.catalog.scheduler_nodes.remove_node(self.node)
        except Exception:
            log.exception("could not unregister scheduler node %s", self.node)
        logging.getLogger().removeHandler(self._handler)

    def wake(self) -> None:
        """Look for queued runs now (after a manual request in this process)."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        """True while housekeeping runs and has turned over recently."""
        fresh = time.monotonic() - self.heartbeat < max(10.0, 5 * self.settings.poll_interval_s)
        return self._thread is not None and self._thread.is_alive() and fresh

    def live_runs(self) -> dict[str, str]:
        """Job id → run id of the runs whose threads run here."""
        with self._lock:
            return {job_id: run.run_id for job_id, run in self._live.items()}

    def log_of_thread(self, thread_id: int | None) -> RunLog | None:
        """The run log of the run executing in a thread, if any."""
        if thread_id is None:
            return None
        return self._logs.get(thread_id)

    # ------------------------------------------------------------------ due times

    def due(self, job_id: str, due_at: dt.datetime) -> str | None:
        """A due time of a job has come: claim it, and run it if the job is free.

        Args:
            job_id: The job.
            due_at: The due time (rounded to whole seconds: every node computes the same).

        Returns:
            The run id if this node claimed the due time; ``None`` if another node had
            it, the job is paused or not active, or the store could not be reached (then
            the claim is tried again by housekeeping).
        """
        job = self.catalog.jobs.get(job_id)
        if job is None or not job.active:
            return None
        due_at = _whole_seconds(due_at.astimezone(dt.UTC))
        now = self.clock()
        late = (now - due_at).total_seconds()
        try:
            if job.settings.misfire is Misfire.SKIP and late > job.settings.misfire_grace_s:
                run_id = self.store.claim(
                    job_id,
                    due_at,
                    node=self.node,
                    now=now,
                    status="skipped",
                    error=f"missed: due at {format_time(due_at)}, noticed {late:.0f} s late"
                    " (misfire policy: skip)",
                )
                if run_id:
                    log.warning("job %s missed its due time %s; skipped", job_id, due_at)
                return run_id
            run_id = self.store.claim(job_id, due_at, node=self.node, now=now)
        except Exception:
            log.exception("could not claim job %s due %s; trying again", job_id, due_at)
            with self._lock:
                self._unclaimed = [*self._unclaimed, (job_id, due_at)][-MAX_UNCLAIMED:]
            return None
        if run_id is not None:
            self._start_queued(job_id)
        return run_id

    def poll(self) -> None:
        """One round of housekeeping (the housekeeping thread calls it; tests may too)."""
        self._check_deadlines()
        now = self.clock()
        moment = time.monotonic()
        if moment - self._last_renewal >= self.settings.lease_s / 3:
            self._renew(now)
            self.catalog.scheduler_nodes.beat(self.node, now)
            self._last_renewal = moment
        if moment - self._last_reap >= self.settings.lease_s / 3:
            for run_id in self.store.reap(now):
                log.warning(
                    "run %s was interrupted by a node that stopped; recorded failed", run_id
                )
            self._last_reap = moment
        with self._lock:
            retry, self._unclaimed = self._unclaimed, []
        for job_id, due_at in retry:
            self.due(job_id, due_at)
        active = {job.id for job in self.catalog.active()}
        for job_id in sorted(self.store.queued_job_ids() & active):
            self._start_queued(job_id)

    # ------------------------------------------------------------------ starting runs

    def _start_queued(self, job_id: str) -> None:
        job = self.catalog.jobs[job_id]
        if self._stopping.is_set() or not job.active:
            return
        skip = job.settings.misfire is Misfire.SKIP
        with self._lock:
            busy_here = job_id in self._live
        if busy_here and not skip:
            return  # it waits; the run ending here starts it
        try:
            started = self.store.start_next(
                job_id,
                node=self.node,
                now=self.clock(),
                lease_s=self.settings.lease_s,
                skip_when_busy=skip,
                late_after_s=job.settings.misfire_grace_s if skip else None,
            )
        except Exception:
            log.exception("could not start job %s; housekeeping tries again", job_id)
            return
        if started is not None:
            self._launch(job, started)

    def _launch(self, job: ScheduledJob, started: Started) -> None:
        cancel = threading.Event()
        run_log = RunLog(self.settings.max_log_lines, self.clock)
        deadline = time.monotonic() + job.settings.timeout_s
        holder: list[JobContext] = []

        def persist(value: object) -> bool:
            return self.store.advance_cursor(
                job.id, node=self.node, run_id=started.run_id, value=value, now=self.clock()
            )

        cursor = Cursor(started.cursor, persist, lambda: holder[0].check())
        ctx = JobContext(
            job_id=job.id,
            run_id=started.run_id,
            due_at=started.due_at,
            trigger=started.trigger,
            timezone=job.settings.zone,
            settings=job.settings.options,
            destination=job.destination,
            services=self.services,
            cursor=cursor,
            cancel=cancel,
            deadline=deadline,
            clock=self.clock,
        )
        holder.append(ctx)
        now = self.clock()
        run_log.add(
            "INFO",
            f"started on {self.node} ({started.trigger}, due {format_time(started.due_at)},"
            f" timeout {job.settings.timeout_s:g} s, cursor {started.cursor!r})",
        )
        late = (now - started.due_at).total_seconds()
        if started.trigger == "schedule" and late > job.settings.misfire_grace_s:
            run_log.add(
                "INFO", f"started {late:.0f} s after its due time (misfire policy: run once)"
            )
        run = _LiveRun(job, started.run_id, ctx, run_log, cancel, deadline)
        thread = threading.Thread(
            target=self._execute, args=(run,), name=f"govhub-job-{job.id}", daemon=True
        )
        run.thread = thread
        with self._lock:
            # Under the lock: stop() sees either no run, or a run whose thread has started.
            launching = not self._stopping.is_set()
            if launching:
                self._live[job.id] = run
                thread.start()
        if not launching:
            self._abandon_unstarted(run)
            return
        self._wake.set()  # housekeeping now watches this run's deadline

    def _abandon_unstarted(self, run: _LiveRun) -> None:
        try:
            self.store.finish(
                run.run_id,
                "failed",
                now=self.clock(),
                counts=(0, 0, 0),
                error="not started: the hub was stopping",
                log=run.log.lines(),
                cursor_after=run.ctx.cursor.get(),
            )
            self.store.release(run.job.id, self.node, run.run_id)
        except Exception:
            log.exception("could not record run %s as not started", run.run_id)

    # ------------------------------------------------------------------ one run

    def _execute(self, run: _LiveRun) -> None:
        ident = threading.get_ident()
        with self._lock:
            self._logs[ident] = run.log
        status, error = "ok", None
        try:
            run.job.spec.function(run.ctx)
        except JobCancelled as cancelled:
            status, error = "failed", f"cancelled: {cancelled}"
        except Exception as failure:
            status = "failed"
            error = f"{type(failure).__name__}: {mask_text(str(failure))}"
            run.ctx.log.error("the run failed: %s", error, exc_info=True)
        finally:
            with self._lock:
                self._logs.pop(ident, None)
        self._record_end(run, status, error)

    def _record_end(self, run: _LiveRun, status: str, error: str | None) -> None:
        with run.lock:
            previous, run.state = run.state, "finished"
        try:
            if previous == "running":
                self.store.finish(
                    run.run_id,
                    status,
                    now=self.clock(),
                    counts=run.ctx.counts.as_tuple(),
                    error=error,
                    log=run.log.lines(),
                    cursor_after=run.ctx.cursor.get(),
                )
                self._notify(run, status)
            elif previous == "timed_out":
                overrun = time.monotonic() - run.deadline
                run.log.add("WARNING", f"the run's thread ended {overrun:.1f} s after its timeout")
                self.store.amend_overrun(
                    run.run_id,
                    counts=run.ctx.counts.as_tuple(),
                    log=run.log.lines(),
                    cursor_after=run.ctx.cursor.get(),
                )
        except Exception:
            log.exception("could not record the end of run %s", run.run_id)
        finally:
            if previous != "abandoned":
                try:
                    self.store.release(run.job.id, self.node, run.run_id)
                except Exception:
                    log.exception("could not release job %s; its lease will expire", run.job.id)
            with self._lock:
                if self._live.get(run.job.id) is run:
                    del self._live[run.job.id]
        if not self._stopping.is_set():
            self._start_queued(run.job.id)  # a due time that waited for this run

    # ------------------------------------------------------------------ housekeeping

    def _housekeep(self) -> None:
        while not self._stopping.is_set():
            self.heartbeat = time.monotonic()
            try:
                self.poll()
            except Exception:  # the scheduler must survive a database hiccup
                log.exception("scheduler housekeeping failed; retrying")
            self._wake.wait(self._sleep_for())
            self._wake.clear()

    def _sleep_for(self) -> float:
        poll = self.settings.poll_interval_s
        with self._lock:
            deadlines = [run.deadline for run in self._live.values() if run.state == "running"]
        if not deadlines:
            return poll
        return max(0.005, min(poll, min(deadlines) - time.monotonic()))

    def _check_deadlines(self) -> None:
        moment = time.monotonic()
        with self._lock:
            live = list(self._live.values())
        for run in live:
            with run.lock:
                if run.state == "timed_out" and not run.warned_overrun:
                    if moment - run.deadline > self.settings.lease_s:
                        run.warned_overrun = True
                        log.warning(
                            "job %s run %s is still running %.0f s after its timeout and"
                            " ignores cancellation; the job is not started again until it ends",
                            run.job.id,
                            run.run_id,
                            moment - run.deadline,
                        )
                    continue
                if run.state != "running" or moment < run.deadline:
                    continue
                run.state = "timed_out"
            timeout = run.job.settings.timeout_s
            run.ctx.cancel_reason = f"timed out after {timeout:g} s"
            run.cancel.set()
            run.log.add("ERROR", f"timed out after {timeout:g} s; cancelling")
            log.warning("job %s run %s timed out after %g s", run.job.id, run.run_id, timeout)
            try:
                self.store.finish(
                    run.run_id,
                    "timed_out",
                    now=self.clock(),
                    counts=run.ctx.counts.as_tuple(),
                    error=f"exceeded its timeout of {timeout:g} s and was cancelled",
                    log=run.log.lines(),
                    cursor_after=run.ctx.cursor.get(),
                )
            except Exception:
                with run.lock:
                    run.state = "running"  # try again on the next round
                raise
            self._notify(run, "timed_out")

    def _notify(self, run: _LiveRun, outcome: str) -> None:
        duration = time.monotonic() - run.began
        self.services.events.emit(RunEnded(run.job.id, outcome, duration))

    def _renew(self, now: dt.datetime) -> None:
        with self._lock:
            held = dict(self._live)
        if not held:
            return
        kept = self.store.renew(self.node, list(held), now=now, lease_s=self.settings.lease_s)
        for job_id, run in held.items():
            if job_id not in kept and run.thread is not None and run.thread.is_alive():
                log.error("job %s lost its lease; cancelling run %s", job_id, run.run_id)
                run.ctx.cancel_reason = "the job's lease was lost"
                run.cancel.set()


def _whole_seconds(moment: dt.datetime) -> dt.datetime:
    return (moment + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
