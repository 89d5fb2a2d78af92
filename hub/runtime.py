"""The hub as one object: configuration, store, schemas, routes, destinations, dispatcher, jobs.

``govhub run`` builds one, starts its web server and dispatcher; tests build one on a
temporary database. Nothing here happens at import time.
"""

from __future__ import annotations

import getpass
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.sdk import Adapter
from hub.cases import CaseClocks, supervision_settings
from hub.cases.catalogue_check import UnknownItemNote
from hub.config import Config, ConfigError, with_routing
from hub.core import digests
from hub.core.envelope import Envelope
from hub.events import Events, MessageAccepted
from hub.flows import ApprovalFlows, Flow, flows_from_config
from hub.following import Follower, starting_generation
from hub.keyring import protector_for, vault_for
from hub.observability.metrics import HubMetrics
from hub.pipeline.credit_check import credit_check_from
from hub.pipeline.dispatcher import Dispatcher
from hub.pipeline.enrichment import submit_once_from
from hub.pipeline.ingest import Ingest, Submission
from hub.pipeline.lookups import lookups_from
from hub.pipeline.replay import MessageReplays
from hub.pipeline.routing import Router
from hub.pipeline.transforms import Transforms
from hub.pipeline.versions import DeliveryVersions
from hub.registry import build_destinations
from hub.scheduler.catalog import JobCatalog
from hub.scheduler.context import JobServices
from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry
from hub.store import Acceptance, Claim, Generation, MessageFilter, Store
from hub.store.database import Database
from hub.versioning import Conversions
from hub.workdays import WorkingCalendar

if TYPE_CHECKING:
    from hub.scheduler.scheduler import Scheduler
    from hub.scheduler.spec import JobSpec

__all__ = ["Hub"]

log = logging.getLogger("govhub")


class Hub:
    """Everything one process runs, wired together.

    Args:
        config: The checked configuration.
        schema_dir: Where the canonical schemas live.
        job_specs: The jobs to know; ``None`` finds the installed ones (entry points).
        adopt_routing: Run the newest recorded configuration generation rather than the
            routes and destinations of ``config`` (a process its master started, whose
            configuration may predate a reload; see :mod:`hub.reloads`).

    Raises:
        ConfigError: A destination's settings do not fit its adapter, or ``[jobs]``,
            ``[scheduler]``, ``[calendar]`` or ``[supervision]`` is wrong.
    """

    def __init__(
        self,
        config: Config,
        *,
        schema_dir: Path = DEFAULT_SCHEMA_DIR,
        job_specs: Iterable[JobSpec] | None = None,
        adopt_routing: bool = False,
    ) -> None:
        self.schemas = SchemaRegistry(schema_dir, uscc_check=config.validation.uscc_check)
        self.store = Store(
            config.database.url, vault=vault_for(config), protector=protector_for(config)
        )
        try:
            config, self.generation = starting_generation(self.store, config, adopt=adopt_routing)
            self.adapters: dict[str, Adapter] = build_destinations(
                config, known_types=self.schemas.types
            )
            flow_definitions = flows_from_config(config, self.adapters)
            self.transforms = Transforms(config, self.adapters, self.schemas)
            self.versions = DeliveryVersions(config, self.schemas, Conversions(self.schemas))
        except Exception:
            self.store.close()
            raise
        self.config = config
        self.calendar = WorkingCalendar.from_config(config)
        supervision = supervision_settings(config)
        self.cases = CaseClocks(self.store, self.calendar, supervision)
        self.flows = ApprovalFlows(
            self.store,
            flow_definitions,
            self.calendar,
            supervision.warn_ratio,
            publish=self._publish_for_flows,
            published=lambda key: self.store.messages.find_acceptance("flows", key) is not None,
            lookup=self._licence_in_library,
            publish_warnings=supervision.publish_warnings,
        )
        try:
            self.submit_once = submit_once_from(config, self.store, self.adapters)
            self.credit_check = credit_check_from(config, self.store, self.adapters)
            self.jobs = JobCatalog(config, self.store, specs=job_specs)
            _audit_configuration(self.store, config)
        except Exception:
            self.store.close()
            raise
        chosen = self.submit_once.settings if self.submit_once is not None else None
        #: Departments' licence and identity look-ups (REST, SOAP), audited.
        self.lookups = lookups_from(
            self.store,
            self.adapters,
            library=chosen.library if chosen else None,
            identity=chosen.identity if chosen else None,
        )
        self.scheduler: Scheduler | None = None
        self.events = Events()
        self.router = Router(config.routes)
        self.dispatcher = Dispatcher(
            self.store,
            self.adapters,
            {d.name: d for d in config.destinations},
            config.dispatcher,
            prepare=(
                self._prepare
                if self.transforms or self.versions or self.submit_once or self.credit_check
                else None
            ),
            events=self.events,
        )
        self.ingest = Ingest(self.store, self.schemas, self.router, events=self.events)
        #: Replays of stored messages, to destinations or where the current routes say.
        self.replays = MessageReplays(
            self.store,
            lambda: self.router,
            lambda: {name: type(adapter) for name, adapter in self.adapters.items()},
            wake=self.dispatcher.wake,
        )
        self.ingest.notes.append(UnknownItemNote(self.store.items))
        if flow_definitions:
            self.ingest.screens.append(self.flows.screen)
        self.events.subscribe(MessageAccepted, self._wake_dispatcher)
        for name, adapter in self.adapters.items():
            adapter.bind(_Context(self.ingest, name))
            if type(adapter).screen is not Adapter.screen:
                self.ingest.screens.append(adapter.screen)
        self.dispatching = False
        self.follower: Follower | None = None
        self._applying = threading.Lock()
        #: Set by a face whose deliveries another process of this machine works
        #: (``govhub run``'s web workers): readiness then asks the store for its beat.
        self.expects_delivery = False
        self.metrics = HubMetrics(
            self.store,
            [d.name for d in config.destinations],
            self.events,
            lambda: self.dispatcher.breakers if self.dispatching else {},
        )

    def apply(self, generation: Generation) -> None:
        """Run the routes and destinations of ``generation`` from now on (a reload).

        Everything is built beside what runs (a destination defined as before keeps its
        adapter), then swapped in: the dispatcher's destinations first, the router last,
        one reference each, so a message is routed by the old routes or by the new,
        never by both or neither. Deliveries under way keep the adapter they began with.

        Raises:
            ConfigError: The generation does not hold here (a ``${VAR}`` this process
                lacks); nothing changed.
        """
        with self._applying:
            config = with_routing(self.config, generation.document)
            running = {
                d.name: (d, self.adapters[d.name])
                for d in self.config.destinations
                if d.name in self.adapters
            }
            adapters = build_destinations(config, known_types=self.schemas.types, existing=running)
            fresh = {
                name: adapter
                for name, adapter in adapters.items()
                if name not in running or running[name][1] is not adapter
            }
            try:
                transforms = Transforms(config, adapters, self.schemas)
                versions = DeliveryVersions(config, self.schemas, Conversions(self.schemas))
            except ConfigError:
                for adapter in fresh.values():
                    adapter.close()
                raise
            for name, adapter in fresh.items():
                adapter.bind(_Context(self.ingest, name))
            router = Router(config.routes)
            self.dispatcher.use(adapters, {d.name: d for d in config.destinations})
            self.transforms = transforms
            self.versions = versions
            self.adapters = adapters
            self.config = config
            self.router = router
            self.ingest.router = router  # from here on, messages are routed the new way
            self.generation = generation.number
        log.info(
            "configuration generation %s applied: %d destinations, %d routes",
            generation.number,
            len(config.destinations),
            len(config.routes),
        )

    def follow_reloads(self, kind: str) -> Follower:
        """Follow the newest configuration generation in a thread (stopped by :meth:`close`).

        Args:
            kind: What this process is (``web``, ``delivery``, ``all``), for the reload
                that waits for it.
        """
        if self.follower is None:
            self.follower = Follower(self, kind)
            self.follower.start()
        return self.follower

    def _wake_dispatcher(self, accepted: MessageAccepted) -> None:
        if accepted.routed:
            self.dispatcher.wake()

    def _publish_for_flows(
        self,
        message_type: str,
        payload: dict[str, Any],
        key: str,
        to: Sequence[str],
        correlation_id: str,
    ) -> bool:
        submission = Submission(
            type=message_type, payload=payload, client_ref=key, correlation_id=correlation_id
        )
        acceptance = self.ingest.publish(
            "flows", submission, channel="flow", to=[(d, f"flow:{d}") for d in to]
        )
        return acceptance.created

    def _licence_in_library(
        self, flow: Flow, applicant: Mapping[str, Any], type_code: str
    ) -> Mapping[str, Any] | None:
        """Ask the flow's e-license library, if its adapter can say what a holder has."""
        adapter = self.adapters.get(flow.licence_destination or "")
        held = getattr(adapter, "licence_held", None)
        if held is None or flow.item_code is None:
            return None
        found: Mapping[str, Any] | None = held(
            applicant,
            type_code,
            reason=f"{flow.name}：材料共享，一次提交",
            item_code=flow.item_code,
        )
        return found

    def _prepare(self, claim: Claim) -> Envelope:
        message = claim.envelope
        if self.submit_once is not None and self.submit_once.applies(message, claim.destination):
            message = self.submit_once.prepare(message)  # never raises for a counterpart
        if self.credit_check is not None and self.credit_check.applies(message, claim.destination):
            message = self.credit_check.prepare(message)  # likewise
        message = self.transforms.apply(claim.route, message)
        return self.versions.apply(claim.destination, message)

    def start_dispatcher(self) -> None:
        """Start delivering (``govhub run`` and ``govhub worker``)."""
        self.dispatcher.start()
        self.dispatching = True

    def start_scheduler(self) -> None:
        """Start firing the jobs' due times (``govhub run`` and ``govhub worker``)."""
        from hub.scheduler.scheduler import Scheduler

        self.scheduler = Scheduler(
            self.jobs,
            JobServices(
                store=self.store,
                ingest=self.ingest,
                adapters=self.adapters,
                calendar=self.calendar,
                events=self.events,
                cases=self.cases,
                flows=self.flows,
                submit_once=self.submit_once,
            ),
        )
        self.scheduler.start()

    def close(self) -> None:
        """Stop the scheduler and delivering, and release the database."""
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        if self.scheduler is not None:
            self.scheduler.stop()  # first: running jobs still publish
            self.scheduler = None
        self.replays.close()  # after its current batch; `--resume` takes a replay up again
        self.metrics.close()
        if self.dispatching:
            self.dispatcher.stop()
            self.dispatching = False
        else:
            for adapter in self.adapters.values():
                adapter.close()
        self.store.close()


def _audit_configuration(store: Store, config: Config) -> None:
    """Record a configuration the hub starts with, once per version of the file.

    Every process of a machine loads the same file: only a file whose SM3 differs from
    the last one recorded makes a record (``config.load``), naming the OS account that
    started the hub.
    """
    if config.path is None or not config.path.exists():
        return
    fingerprint = digests.digest("sm3", config.path.read_bytes())
    last = store.audit.last("config.load")
    if last is not None and (last.detail or {}).get("sm3") == fingerprint:
        return
    store.audit.record(
        f"os:{_os_user()}",
        "config.load",
        str(config.path)[:200],
        {
            "sm3": fingerprint,
            "destinations": len(config.destinations),
            "routes": len(config.routes),
        },
    )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return str(os.getuid())


class _Context:
    """An adapter's view of the hub: it publishes as its destination."""

    def __init__(self, ingest: Ingest, destination: str) -> None:
        self._ingest = ingest
        self._source = destination

    @property
    def storage(self) -> Database:
        """The hub's database, where adapters keep their own tables."""
        return self._ingest.store.db

    def latest(self, message_type: str, correlation_id: str) -> Envelope | None:
        """The newest stored message of ``message_type`` for the case ``correlation_id``."""
        page = self._ingest.store.messages.search(
            MessageFilter(type=message_type, correlation_id=correlation_id), limit=1
        )
        return page.items[0].envelope if page.items else None

    def publish(
        self,
        message_type: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | None = None,
        client_ref: str | None = None,
        headers: dict[str, Any] | None = None,
        channel: str = "adapter",
    ) -> Acceptance:
        submission = Submission(
            type=message_type,
            payload=payload,
            client_ref=client_ref,
            correlation_id=correlation_id,
            headers=headers or {},
        )
        return self._ingest.publish(self._source, submission, channel=channel)
