"""The hub as one object: configuration, store, schemas, routes, destinations, dispatcher.

``govhub run`` builds one, starts its web server and dispatcher; tests build one on a
temporary database. Nothing here happens at import time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from adapters.sdk import Adapter
from hub.config import Config
from hub.dispatcher import Dispatcher
from hub.envelope import Envelope
from hub.ingest import Ingest, Submission
from hub.keyring import vault_for
from hub.observability.metrics import HubMetrics
from hub.registry import build_destinations
from hub.routing import Router
from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry
from hub.store import Acceptance, Claim, Store
from hub.transforms import Transforms

__all__ = ["Hub"]

log = logging.getLogger("govhub")


class Hub:
    """Everything one process runs, wired together.

    Args:
        config: The checked configuration.
        schema_dir: Where the canonical schemas live.

    Raises:
        ConfigError: A destination's settings do not fit its adapter.
    """

    def __init__(self, config: Config, *, schema_dir: Path = DEFAULT_SCHEMA_DIR) -> None:
        self.config = config
        self.schemas = SchemaRegistry(schema_dir, uscc_check=config.validation.uscc_check)
        self.adapters: dict[str, Adapter] = build_destinations(config)
        self.transforms = Transforms(config, self.adapters, self.schemas)
        self.store = Store(config.database.url, vault=vault_for(config))
        self.router = Router(config.routes)
        self.dispatcher = Dispatcher(
            self.store,
            self.adapters,
            {d.name: d for d in config.destinations},
            config.dispatcher,
            prepare=self._prepare if self.transforms else None,
        )
        self.ingest = Ingest(
            self.store, self.schemas, self.router, on_accepted=self.dispatcher.wake
        )
        for name, adapter in self.adapters.items():
            adapter.bind(_Context(self.ingest, name))
            if type(adapter).screen is not Adapter.screen:
                self.ingest.screens.append(adapter.screen)
        # Counts what ingest accepts and the dispatcher delivers; the scheduler reports
        # its runs through ``metrics.job_finished``.
        self.metrics = HubMetrics(self)
        self.dispatching = False

    def _prepare(self, claim: Claim) -> Envelope:
        return self.transforms.apply(claim.route, claim.envelope)

    def start_dispatcher(self) -> None:
        """Start delivering (``govhub run`` and ``govhub worker``)."""
        self.dispatcher.start()
        self.dispatching = True

    def close(self) -> None:
        """Stop delivering and release the database."""
        self.metrics.close()
        if self.dispatching:
            self.dispatcher.stop()
            self.dispatching = False
        else:
            for adapter in self.adapters.values():
                adapter.close()
        self.store.close()


class _Context:
    """An adapter's view of the hub: it publishes as its destination."""

    def __init__(self, ingest: Ingest, destination: str) -> None:
        self._ingest = ingest
        self._source = destination

    @property
    def store(self) -> Store:
        """The hub's store (adapters keep their own tables in it)."""
        return self._ingest.store

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
