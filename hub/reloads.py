"""Reloading routes and destinations without a restart: checked whole, recorded, followed.

A reload reads the configuration file again and checks its ``[[destinations]]`` and
``[[routes]]`` as a start would (adapters and their settings, routes against what each
destination accepts, transforms, flows, jobs). Only if all of it holds is it recorded as
the next *generation* in the store, with its ``config.reload`` audit record in the same
transaction; otherwise nothing changes anywhere and the error names the file and the key.

Every process (each web worker, each delivery process, on every node) follows the newest
generation (:class:`hub.following.Follower`): it builds the new router and destinations beside the
running ones and swaps them in at once (:meth:`hub.runtime.Hub.apply`), then reports the
number it runs, so that the reload can tell when every process runs it
(:mod:`hub.following`). A message is routed when it is accepted, by the one
generation its process runs then: never by two, never by none. The deliveries made
before keep going: an attempt under way finishes with the adapter it began with, and a
removed destination's open deliveries are still delivered with its old settings (it
*drains*, see :meth:`hub.pipeline.dispatcher.Dispatcher.use`).

Destinations that other parts of the hub hold beyond delivery (the look-ups, submit
once, the credit check, a job's counterpart, a screen of incoming messages, an inbound
notification endpoint) are built
once at start: a reload that changes or removes one is refused, naming it; restart for
that. Sections other than ``[[destinations]]`` and ``[[routes]]`` are read at start only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.sdk import Adapter
from adapters.sdk.lookups import CreditRegister, IdentityDirectory, LicenceFinder
from hub.config import Config, ConfigError, load_config
from hub.flows import flows_from_config
from hub.following import Rollout, document_digest, wait_for_rollout
from hub.pipeline.credit_check import credit_check_settings
from hub.pipeline.enrichment import submit_once_settings
from hub.pipeline.transforms import Transforms
from hub.registry import adapter_classes, build_destinations
from hub.scheduler.catalog import JobCatalog
from hub.schemas import SchemaRegistry
from hub.store import Generation, GenerationConflict, Store

__all__ = [
    "ACTION",
    "Changes",
    "ReloadPlan",
    "ReloadResult",
    "plan_reload",
    "record_reload",
    "reload_configuration",
]

log = logging.getLogger("govhub.reload")

#: The audit action of a reload.
ACTION = "config.reload"


@dataclass(frozen=True, slots=True)
class Changes:
    """What a generation changes, by name (never a setting's value: they hold secrets)."""

    destinations_added: tuple[str, ...] = ()
    destinations_removed: tuple[str, ...] = ()
    destinations_changed: tuple[str, ...] = ()
    routes_added: tuple[str, ...] = ()
    routes_removed: tuple[str, ...] = ()
    routes_changed: tuple[str, ...] = ()

    @classmethod
    def between(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Changes:
        """The changes from the routing document ``old`` to ``new``."""
        found: dict[str, tuple[str, ...]] = {}
        for key in ("destinations", "routes"):
            before = {str(t.get("name")): t for t in old.get(key, []) if isinstance(t, Mapping)}
            after = {str(t.get("name")): t for t in new.get(key, []) if isinstance(t, Mapping)}
            found[f"{key}_added"] = tuple(n for n in after if n not in before)
            found[f"{key}_removed"] = tuple(n for n in before if n not in after)
            found[f"{key}_changed"] = tuple(
                n for n in after if n in before and before[n] != after[n]
            )
        return cls(**found)

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__slots__)

    def to_json(self) -> dict[str, list[str]]:
        """Only the kinds of change there are."""
        return {name: list(getattr(self, name)) for name in self.__slots__ if getattr(self, name)}

    def summary(self) -> str:
        """One line for people: ``destinations +second; routes ~cases``."""
        parts = []
        for key in ("destinations", "routes"):
            marks = [
                *(f"+{n}" for n in getattr(self, f"{key}_added")),
                *(f"-{n}" for n in getattr(self, f"{key}_removed")),
                *(f"~{n}" for n in getattr(self, f"{key}_changed")),
            ]
            if marks:
                parts.append(f"{key} {' '.join(marks)}")
        return "; ".join(parts) or "no change"


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """A checked reload, not yet recorded.

    Attributes:
        config: The file's configuration.
        document: Its ``[[destinations]]`` and ``[[routes]]`` as written.
        sha256: The document's digest.
        previous: The generation it follows (0: none was recorded).
        changes: What it changes against that generation.
        warnings: What ops should know (a removed destination's open deliveries).
    """

    config: Config
    document: Mapping[str, Any]
    sha256: str
    previous: int
    changes: Changes
    warnings: tuple[str, ...] = ()


def plan_reload(
    path: str | os.PathLike[str] | None,
    store: Store,
    schemas: SchemaRegistry,
    *,
    classes: Mapping[str, type[Adapter]] | None = None,
) -> ReloadPlan:
    """Read the configuration file and check its routes and destinations whole.

    Args:
        path: The file (``None``: ``$GOVHUB_CONFIG`` or ``./govhub.toml``).
        store: The hub's store (the newest generation, the outbox, the jobs).
        schemas: The canonical types (routes are checked against them).
        classes: The adapter classes (default: the installed ones).

    Returns:
        The checked plan; its ``changes`` are empty when the file runs already.

    Raises:
        ConfigError: Anything wrong, the first error found; nothing was changed.
    """
    classes = adapter_classes() if classes is None else classes
    config = load_config(path)
    file = str(config.path or "<config>")
    latest = store.generations.latest()
    old: Mapping[str, Any] = latest.document if latest is not None else {}
    adapters = build_destinations(config, classes, known_types=schemas.types)
    try:
        Transforms(config, adapters, schemas)
        flows_from_config(config, adapters)
        catalog = JobCatalog(config, store)
        held = _held(config, old, classes, catalog)
    finally:
        for adapter in adapters.values():
            adapter.close()
    document = config.routing_source
    changes = Changes.between(old, document)
    new_tables = {d.name: d for d in config.destinations}
    for index, destination in enumerate(config.destinations):
        if latest is None or destination.name not in changes.destinations_added:
            continue  # (no hub has run on this database: whatever starts builds it all)
        adapter = adapters[destination.name]
        if type(adapter).screen is not Adapter.screen:
            what = "screens incoming messages"
        elif adapter.inbound() is not None:
            what = f"takes notifications at /inbound/{destination.name}"
        else:
            continue
        raise ConfigError(
            file,
            f"destinations[{index}]",
            f"{destination.name!r} {what}, which a reload cannot add; restart the hub to add it",
        )
    for name in (*changes.destinations_changed, *changes.destinations_removed):
        if name in held:
            where = (
                f"destinations[{list(new_tables).index(name)}]"
                if name in new_tables
                else "destinations"
            )
            what = "changed" if name in new_tables else "removed"
            raise ConfigError(
                file,
                where,
                f"{name!r} is used by {held[name]}, which a reload does not rebuild: it cannot"
                f" be {what} by a reload; restart the hub for that",
            )
    warnings: list[str] = []
    if changes.destinations_removed:
        backlog = store.deliveries.backlog()
        for name in changes.destinations_removed:
            if backlog.get(name):
                warnings.append(
                    f"{name} is removed with {backlog[name]} open deliveries: they are still"
                    " delivered with its old settings until they end (a delivery process"
                    " that restarts meanwhile leaves them pending)"
                )
    return ReloadPlan(
        config=config,
        document=document,
        sha256=document_digest(document),
        previous=latest.number if latest is not None else 0,
        changes=changes,
        warnings=tuple(warnings),
    )


def _held(
    config: Config,
    running: Mapping[str, Any],
    classes: Mapping[str, type[Adapter]],
    catalog: JobCatalog,
) -> dict[str, str]:
    """The destinations held beyond delivery, with what holds each."""
    held: dict[str, str] = {}
    submit_once = submit_once_settings(config)
    if submit_once is not None:
        held[submit_once.library] = "[submit_once]"
        if submit_once.identity is not None:
            held[submit_once.identity] = "[submit_once]"
    credit_check = credit_check_settings(config)
    if credit_check is not None:
        held[credit_check.credit] = "[credit_check]"
    for job in catalog.active():
        if job.destination is not None:
            held.setdefault(job.destination, f"the job {job.id}")
    for table in running.get("destinations", []):
        cls = classes.get(str(table.get("adapter")))
        name = str(table.get("name"))
        if cls is None:
            continue
        if any(
            issubclass(cls, kind) for kind in (LicenceFinder, IdentityDirectory, CreditRegister)
        ):
            held.setdefault(name, "the look-ups")
        elif cls.screen is not Adapter.screen:
            held.setdefault(name, "the screening of incoming messages")
        elif cls.inbound is not Adapter.inbound:
            held.setdefault(name, f"its notification endpoint /inbound/{name}")
    return held


def record_reload(store: Store, plan: ReloadPlan, actor: str, via: str = "cli") -> Generation:
    """Record the plan as the next generation, audited (``config.reload``) with it.

    Args:
        store: The hub's store.
        plan: The checked reload.
        actor: Who reloads.
        via: How they asked (``cli``, ``api``, ``SIGHUP``), kept in the audit record.

    Raises:
        GenerationConflict: Another reload was recorded since the plan was made.
    """
    if store.generations.latest_number() != plan.previous:
        raise GenerationConflict("another reload was recorded meanwhile; reload again")
    return store.generations.record(
        plan.document,
        plan.sha256,
        source="reload",
        actor=actor,
        file=str(plan.config.path) if plan.config.path else None,
        audit={"previous": plan.previous, "via": via, "changes": plan.changes.to_json()},
    )


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What a reload did.

    Attributes:
        plan: The checked file.
        generation: The generation recorded (``None``: only checked, or nothing changed).
        rollout: Which processes run it, once waited for.
    """

    plan: ReloadPlan
    generation: Generation | None = None
    rollout: Rollout | None = None

    def to_json(self) -> dict[str, Any]:
        """For the API and ``--json``."""
        return {
            "file": str(self.plan.config.path) if self.plan.config.path else None,
            "previous": self.plan.previous,
            "generation": self.generation.number if self.generation else self.plan.previous,
            "recorded": self.generation is not None,
            "sha256": self.plan.sha256,
            "changes": self.plan.changes.to_json(),
            "summary": self.plan.changes.summary(),
            "warnings": list(self.plan.warnings),
            "rollout": self.rollout.to_json() if self.rollout is not None else None,
        }


def reload_configuration(
    path: str | os.PathLike[str] | None,
    store: Store,
    schemas: SchemaRegistry,
    *,
    actor: str,
    via: str = "cli",
    wait_s: float = 0.0,
    check_only: bool = False,
    progress: Callable[[Rollout], None] = lambda _rollout: None,
) -> ReloadResult:
    """Check the file, record it as the next generation, and wait for every process.

    A file whose routes and destinations run already records nothing (and waits for
    nothing).

    Args:
        path: The configuration file.
        store: The hub's store.
        schemas: The canonical types.
        actor: Who reloads (audited).
        via: How they asked (``cli``, ``api``, ``SIGHUP``), audited.
        wait_s: How long to wait for every live process to apply it (0: do not wait).
        check_only: Check, record nothing.
        progress: Told how the rollout stands whenever it moves.

    Raises:
        ConfigError: The file is wrong; nothing was recorded, everything runs as it did.
        GenerationConflict: Another reload was recorded at the same moment.
    """
    plan = plan_reload(path, store, schemas)
    same = store.generations.latest()
    if check_only or (same is not None and same.sha256 == plan.sha256):
        return ReloadResult(plan)
    generation = record_reload(store, plan, actor, via)
    log.info(
        "configuration generation %s recorded by %s: %s",
        generation.number,
        actor,
        plan.changes.summary(),
    )
    state = (
        wait_for_rollout(store, generation.number, wait_s, progress=progress) if wait_s else None
    )
    return ReloadResult(plan, generation, state)
