"""Following the configuration generations: every process runs the newest one.

Each process (web worker, delivery process, on every node) runs one generation of the
routes and destinations (see :mod:`hub.reloads`). A :class:`Follower` looks for a newer one
twice a second, has the process apply it, and reports the number it runs, so that whoever
reloaded can wait until every live process runs it (:func:`wait_for_rollout`). A process
that starts runs the newest generation, or records its own file's as the next one
(:func:`starting_generation`).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.config import Config, ConfigError, with_routing
from hub.core import digests
from hub.core.clock import new_id, utcnow
from hub.store import Generation, GenerationConflict, ProcessGeneration, Store

__all__ = [
    "Follower",
    "Follows",
    "Rollout",
    "document_digest",
    "os_actor",
    "rollout",
    "starting_generation",
    "wait_for_rollout",
]

log = logging.getLogger("govhub.reload")

#: How often a process looks for a newer generation (one indexed read).
POLL_S = 0.5
#: How often a process says it is alive even when nothing changes.
BEAT_S = 5.0
#: A process silent for this long is not waited for (it was killed; it adopts the
#: newest generation when it starts again).
STALE_S = 3 * BEAT_S


def document_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of the routing document's canonical JSON (keys sorted)."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return digests.digest("sha256", text.encode())


def os_actor() -> str:
    """``os:<user>`` of this process, as the audit names a person at the machine."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        return f"os:{os.getuid()}"


@dataclass(frozen=True, slots=True)
class Rollout:
    """Which running processes run a generation.

    Attributes:
        generation: The generation waited for.
        applied: Processes that run it (or a newer one).
        waiting: Processes that have not yet said so.
        failed: Processes that could not apply it (they run the one they had).
    """

    generation: int
    applied: tuple[ProcessGeneration, ...] = ()
    waiting: tuple[ProcessGeneration, ...] = ()
    failed: tuple[ProcessGeneration, ...] = ()

    @property
    def complete(self) -> bool:
        """Every live process runs it."""
        return not self.waiting and not self.failed

    def to_json(self) -> dict[str, Any]:
        """For the API and ``--json``."""
        return {
            "generation": self.generation,
            "complete": self.complete,
            "applied": [p.to_json() for p in self.applied],
            "waiting": [p.to_json() for p in self.waiting],
            "failed": [p.to_json() for p in self.failed],
        }


def rollout(store: Store, generation: int) -> Rollout:
    """Where ``generation`` stands now among the live processes."""
    since = utcnow() - dt.timedelta(seconds=STALE_S)
    applied: list[ProcessGeneration] = []
    waiting: list[ProcessGeneration] = []
    failed: list[ProcessGeneration] = []
    for process in store.generations.processes(since=since):
        if process.generation >= generation:
            applied.append(process)
        elif process.error is not None:
            failed.append(process)
        else:
            waiting.append(process)
    return Rollout(generation, tuple(applied), tuple(waiting), tuple(failed))


def wait_for_rollout(
    store: Store,
    generation: int,
    timeout_s: float,
    *,
    progress: Callable[[Rollout], None] = lambda _rollout: None,
) -> Rollout:
    """Wait until every live process runs ``generation``, one fails, or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: tuple[int, int] | None = None
    while True:
        state = rollout(store, generation)
        counts = (len(state.applied), len(state.waiting))
        if counts != last:
            progress(state)
            last = counts
        if not state.waiting or time.monotonic() >= deadline:
            return state
        time.sleep(0.05)


def starting_generation(store: Store, config: Config, *, adopt: bool) -> tuple[Config, int]:
    """The configuration a starting process runs, and its generation.

    A process that reads its own file (``govhub run``, ``serve``, ``worker``) runs the
    file: when its routes and destinations differ from the newest generation, it records
    them as the next one (``source = start``), which every other process then follows.
    A process its master started (a web worker, ``govhub run``'s delivery process)
    *adopts* the newest generation instead: its master's configuration may predate a
    reload.

    Raises:
        ConfigError: The newest generation does not hold in this process (``adopt``).
    """
    digest = document_digest(config.routing_source)
    for _ in range(3):
        latest = store.generations.latest()
        if latest is not None and latest.sha256 == digest:
            return config, latest.number
        if adopt and latest is not None:
            return with_routing(config, latest.document), latest.number
        try:
            recorded = store.generations.record(
                config.routing_source,
                digest,
                source="start",
                actor=os_actor(),
                file=str(config.path) if config.path else None,
            )
        except GenerationConflict:
            continue  # another node started at the same moment: look again
        return config, recorded.number
    raise ConfigError(str(config.path or "<config>"), "", "cannot record its routes; retry")


class Follows(Protocol):
    """What a :class:`Follower` keeps up to date (:class:`hub.runtime.Hub`)."""

    store: Store
    generation: int

    def apply(self, generation: Generation) -> None:
        """Run ``generation`` from now on; ConfigError leaves everything as it was."""


@dataclass
class Follower:
    """Keeps one process on the newest generation and says which one it runs.

    Args:
        hub: The process's hub.
        kind: ``web``, ``delivery`` or ``all`` (shown to whoever waits for a reload).
    """

    hub: Follows
    kind: str
    poll_s: float = POLL_S
    beat_s: float = BEAT_S
    node: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"
    )
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _failed: int = 0
    _error: str | None = None

    def start(self) -> None:
        """Report the generation this process runs and follow from now on."""
        self.hub.store.generations.report(self.node, self.kind, self.hub.generation)
        self._thread = threading.Thread(target=self._run, name="govhub-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following and be no longer waited for."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        try:
            self.hub.store.generations.forget(self.node)
        except Exception:  # stopping: the row ages out by itself
            log.debug("could not forget node %s", self.node, exc_info=True)

    def check(self) -> None:
        """Apply the newest generation if this process runs an older one."""
        store = self.hub.store
        newest = store.generations.latest_number()
        if newest <= self.hub.generation or newest == self._failed:
            return
        generation = store.generations.latest()
        if generation is None:
            return
        try:
            self.hub.apply(generation)
        except Exception as error:
            # e.g. a ${VAR} this node's environment lacks: keep running what runs, say why
            # (once: it is tried again when a newer generation comes)
            self._failed, self._error = generation.number, str(error) or type(error).__name__
            log.error(
                "cannot apply configuration generation %s: %s",
                generation.number,
                self._error,
                exc_info=not isinstance(error, ConfigError),
            )
            store.generations.report(self.node, self.kind, self.hub.generation, str(error))
            return
        self._failed, self._error = 0, None
        store.generations.report(self.node, self.kind, self.hub.generation)

    def _run(self) -> None:
        last_beat = time.monotonic()
        while not self._stopping.wait(self.poll_s):
            try:
                before = self.hub.generation
                self.check()
                if self.hub.generation == before and time.monotonic() - last_beat > self.beat_s:
                    self.hub.store.generations.report(
                        self.node, self.kind, self.hub.generation, self._error
                    )
                    last_beat = time.monotonic()
            except Exception:  # the follower must survive a database hiccup
                log.exception("following the configuration failed; retrying")
