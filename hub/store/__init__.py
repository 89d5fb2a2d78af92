"""The durable store (SQLite embedded, PostgreSQL for several nodes), split by subject.

:class:`Store` holds one :class:`~hub.store.database.Database` and a subject per table
group, each behind verbs: ``store.messages`` (accept, find, forget), ``store.deliveries``
(claim, finish, replay, discard), ``store.clients``, ``store.audit``, ``store.nonces``,
``store.checks``, ``store.stats``, the scheduler's ``store.jobs`` (claims, leases,
cursors), ``store.runs`` (their history) and ``store.nodes``, the service-item catalogue
``store.items`` the case clocks ``store.cases`` and the approval
flows' projects ``store.flows``, the configuration generations ``store.generations``
and replays of stored messages ``store.replays``. No module
outside this package touches the engine's tables; plugins keep tables of their own and
reach them through ``store.db``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.store.audit import AuditLog
from hub.store.case_records import (
    CaseEventRow,
    CaseFilter,
    CaseRecord,
    ItemFilter,
    ItemVersion,
    ItemView,
    ServiceItem,
    SyncCounts,
)
from hub.store.cases import Cases
from hub.store.checks import Checks
from hub.store.clients import KEY_PREFIX, Clients, DuplicateClientError
from hub.store.database import Database
from hub.store.deliveries import Deliveries
from hub.store.enrichments import Enrichment, Enrichments
from hub.store.flows import FlowEventRow, Flows, ProjectRecord
from hub.store.generations import Generation, GenerationConflict, Generations, ProcessGeneration
from hub.store.items import Items
from hub.store.job_runs import Runs, SchedulerNodes
from hub.store.jobs import JobStore
from hub.store.messages import Messages
from hub.store.nonces import Nonces
from hub.store.protection import PayloadProtector
from hub.store.records import (
    DELIVERY_STATUSES,
    MESSAGE_STATUSES,
    OPERATOR,
    ROLES,
    Acceptance,
    AttemptView,
    AuditRecord,
    CheckResult,
    Claim,
    Client,
    DeadLetterFilter,
    DeliveryView,
    MessageBody,
    MessageFilter,
    MessageView,
    Outcome,
    Page,
)
from hub.store.replays import ReplayPreview, ReplayRecord, Replays
from hub.store.stats import Stats

if TYPE_CHECKING:
    from hub.keyring import KeyVault

__all__ = [
    "DELIVERY_STATUSES",
    "KEY_PREFIX",
    "MESSAGE_STATUSES",
    "OPERATOR",
    "ROLES",
    "Acceptance",
    "AttemptView",
    "AuditRecord",
    "CaseEventRow",
    "CaseFilter",
    "CaseRecord",
    "CheckResult",
    "Claim",
    "Client",
    "DeadLetterFilter",
    "DeliveryView",
    "DuplicateClientError",
    "Enrichment",
    "Enrichments",
    "FlowEventRow",
    "Flows",
    "Generation",
    "GenerationConflict",
    "Generations",
    "ItemFilter",
    "ItemVersion",
    "ItemView",
    "MessageBody",
    "MessageFilter",
    "MessageView",
    "Outcome",
    "Page",
    "ProcessGeneration",
    "ProjectRecord",
    "ReplayPreview",
    "ReplayRecord",
    "ServiceItem",
    "Store",
    "SyncCounts",
]


class Store:
    """The hub's durable state.

    Args:
        url: SQLAlchemy database URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        migrate: Bring every branch of the schema up to date now (the default; tools that
            only read may skip).
        vault: Seals a copy of each new API key, for WS-Security ``PasswordDigest``
            (see :mod:`hub.keyring`); without one, keys are only stored hashed.
        protector: Seals the personal fields of stored payloads and indexes resident IDs
            blindly (:mod:`hub.store.protection`); without one, payloads are stored as sent.
    """

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        vault: KeyVault | None = None,
        protector: PayloadProtector | None = None,
    ) -> None:
        self.db = Database(url)
        self.db.protector = protector
        if migrate:
            self.db.migrate()
        self.messages = Messages(self.db)
        self.deliveries = Deliveries(self.db)
        self.clients = Clients(self.db, vault)
        self.audit = AuditLog(self.db)
        self.nonces = Nonces(self.db)
        self.checks = Checks(self.db)
        self.stats = Stats(self.db)
        self.jobs = JobStore(self.db, self.audit)
        self.runs = Runs(self.db)
        self.nodes = SchedulerNodes(self.db)
        self.items = Items(self.db)
        self.cases = Cases(self.db)
        self.flows = Flows(self.db)
        self.enrichments = Enrichments(self.db)
        self.generations = Generations(self.db)
        self.replays = Replays(self.db)

    @property
    def url(self) -> str:
        """The database URL."""
        return self.db.url

    def close(self) -> None:
        """Finish pending writes and release every pooled connection."""
        self.messages.close()
        self.deliveries.close()
        self.nonces.close()
        self.db.close()
