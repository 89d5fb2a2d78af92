"""The hub as one object: configuration, store, schemas, routes, destinations, dispatcher, jobs.

``govhub run`` builds one, starts its web server and dispatcher; tests build one on a
temporary database. Nothing here happens at import time.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.sdk import Adapter
from hub.cases import CaseClocks, supervision_settings
from hub.cases.catalogue_check import UnknownItemNote
from hub.config import Config
from hub.core import digests
from hub.core.envelope import Envelope
from hub.events import Events, MessageAccepted
from hub.flows import ApprovalFlows, Flow, flows_from_config
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
from hub.registry import build_destinations
from hub.scheduler.catalog import JobCatalog
from hub.scheduler.context import JobServices
from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry
from hub.store import Acceptance, Claim, MessageFilter, Store
from hub.store.database import Database
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
    ) -> None:
        self.config = config
        self.schemas = SchemaRegistry(schema_dir, uscc_check=config.validation.uscc_check)
        self.adapters: dict[str, Adapter] = build_destinations(
            config, known_types=self.schemas.types
        )
        flow_definitions = flows_from_config(config, self.adapters)
        self.transforms = Transforms(config, self.adapters, self.schemas)
        self.calendar = WorkingCalendar.from_config(config)
        supervision = supervision_settings(config)
        self.store = Store(
            config.database.url, vault=vault_for(config), protector=protector_for(config)
        )
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
                self._prepare if self.transforms or self.submit_once or self.credit_check else None
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
        #: Set by a face whose deliveries another process of this machine works
        #: (``govhub run``'s web workers): readiness then asks the store for its beat.
        self.expects_delivery = False
        self.metrics = HubMetrics(
            self.store,
            [d.name for d in config.destinations],
            self.events,
            lambda: self.dispatcher.breakers if self.dispatching else {},
        )

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
        return self.transforms.apply(claim.route, message)

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
