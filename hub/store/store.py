"""The message store: messages, their deliveries and attempts, clients, the audit trail.

One message is stored with all its deliveries in one transaction; a delivery is claimed
with a lease, and its outcome is written only by the worker that still holds the lease.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Connection,
    Row,
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.store.dialects import WRITE_OPTION, dialect_for
from hub.store.group_commit import GroupCommitter
from hub.store.records import (
    ROLES,
    Acceptance,
    AttemptView,
    Claim,
    Client,
    DeliveryView,
    MessageView,
    Outcome,
    Page,
)
from hub.store.tables import attempts, audit, clients, deliveries, messages, wsse_nonces

if TYPE_CHECKING:
    from hub.keyring import KeyVault

__all__ = ["DuplicateClientError", "Store"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
KEY_PREFIX = "ghk_"
#: Seconds a successful API-key look-up is remembered.
AUTH_CACHE_S = 5.0
_OPEN = ("pending", "inflight")
_NONCE_SWEEP_EVERY = dt.timedelta(seconds=60)


class _PendingMessage:
    """A message on its way into the store, with the rows that represent it."""

    __slots__ = ("channel", "delivery_rows", "envelope")

    def __init__(
        self, envelope: Envelope, channel: str, targets: tuple[tuple[str, str], ...]
    ) -> None:
        self.envelope = envelope
        self.channel = channel
        now = envelope.created_at
        self.delivery_rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "message_id": envelope.id,
                "destination": destination,
                "route": route,
                "correlation_id": envelope.correlation_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for destination, route in targets
        ]

    def message_row(self) -> dict[str, Any]:
        envelope = self.envelope
        return {
            "id": envelope.id,
            "type": envelope.type,
            "source": envelope.source,
            "client_ref": envelope.client_ref,
            "correlation_id": envelope.correlation_id,
            "channel": self.channel,
            "status": "pending" if self.delivery_rows else "unrouted",
            "created_at": envelope.created_at,
            "updated_at": envelope.created_at,
            "payload": envelope.payload,
            "headers": envelope.headers,
        }

    def acceptance(self) -> Acceptance:
        return Acceptance(
            message_id=self.envelope.id,
            correlation_id=self.envelope.correlation_id,
            deliveries=tuple((row["id"], row["destination"]) for row in self.delivery_rows),
            created=True,
            warnings=tuple(self.envelope.headers.get("warnings", ())),
        )


class DuplicateClientError(ValueError):
    """A client with that name exists already."""


class Store:
    """The hub's durable state behind one SQLAlchemy engine.

    Args:
        url: SQLAlchemy database URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        migrate: Bring the schema up to date now (the default; tools that only read may skip).
        vault: Seals a copy of each new API key, for WS-Security ``PasswordDigest``
            (see :mod:`hub.keyring`); without one, keys are only stored hashed.
    """

    def __init__(self, url: str, *, migrate: bool = True, vault: KeyVault | None = None) -> None:
        self.url = url
        self.vault = vault
        self.dialect = dialect_for(url)
        self.engine = self.dialect.create_engine(url)
        self._auth_cache: dict[str, tuple[Client, float]] = {}
        self._committer: GroupCommitter[_PendingMessage, Acceptance | None] = GroupCommitter(
            self._write_messages
        )
        self._next_nonce_sweep = utcnow()
        self._nonce_committer: GroupCommitter[tuple[str, str, dt.datetime], bool] = GroupCommitter(
            self._write_nonces
        )
        if migrate:
            self.migrate()

    # ------------------------------------------------------------------ plumbing

    def migrate(self) -> None:
        """Apply every Alembic migration not yet applied (safe to run from two processes)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.write() as connection:
            self.dialect.lock_migrations(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        with self.dialect.write_guard(), self.engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.read() as connection:
            connection.execute(text("SELECT 1"))

    def close(self) -> None:
        """Finish pending writes and release every pooled connection."""
        self._committer.close()
        self._nonce_committer.close()
        self.engine.dispose()

    # ------------------------------------------------------------------ accepting

    def accept(
        self,
        envelope: Envelope,
        *,
        channel: str,
        targets: Sequence[tuple[str, str]],
    ) -> Acceptance:
        """Store a message and one delivery per target, in one transaction.

        Concurrent calls share transactions (group commit); each returns once its own
        rows are committed.

        Args:
            envelope: The validated message.
            channel: How it came in (``rest``, ``soap``, ``job``, ``notify``...).
            targets: ``(destination, route name)`` pairs from routing.

        Returns:
            The acceptance; for a ``client_ref`` already stored from the same source, the
            first acceptance with ``created`` false (and nothing written).
        """
        pending = _PendingMessage(envelope, channel, tuple(targets))
        acceptance = self._committer.submit(pending)
        if acceptance is not None:
            return acceptance
        assert envelope.client_ref is not None  # only a client_ref can collide
        first = self.find_acceptance(envelope.source, envelope.client_ref)
        if first is None:  # pragma: no cover - the unique key said it exists
            raise RuntimeError("duplicate client_ref vanished")
        return first

    def _write_messages(self, batch: Sequence[_PendingMessage]) -> list[Acceptance | None]:
        """Insert a batch of messages with their deliveries; ``None`` for a duplicate."""
        message_rows = [pending.message_row() for pending in batch]
        delivery_rows = [row for pending in batch for row in pending.delivery_rows]
        with self.write() as connection:
            inserted = self.dialect.insert_accepted(
                connection, messages, deliveries, message_rows, delivery_rows
            )
        return [p.acceptance() if p.envelope.id in inserted else None for p in batch]

    def find_acceptance(self, source: str, client_ref: str) -> Acceptance | None:
        """The acceptance of the message ``source`` sent as ``client_ref``, if any."""
        with self.read() as connection:
            row = connection.execute(
                select(messages.c.id, messages.c.correlation_id, messages.c.headers).where(
                    messages.c.source == source, messages.c.client_ref == client_ref
                )
            ).first()
            if row is None:
                return None
            targets = connection.execute(
                select(deliveries.c.id, deliveries.c.destination)
                .where(deliveries.c.message_id == row.id)
                .order_by(deliveries.c.seq)
            ).all()
        return Acceptance(
            message_id=row.id,
            correlation_id=row.correlation_id,
            deliveries=tuple((t.id, t.destination) for t in targets),
            created=False,
            warnings=tuple((row.headers or {}).get("warnings", ())),
        )

    # ------------------------------------------------------------------ reading messages

    def get_message(self, message_id: str) -> MessageView | None:
        """A message with every delivery and every attempt, or ``None``."""
        with self.read() as connection:
            row = connection.execute(select(messages).where(messages.c.id == message_id)).first()
            if row is None:
                return None
            delivery_rows = connection.execute(
                select(deliveries)
                .where(deliveries.c.message_id == message_id)
                .order_by(deliveries.c.seq)
            ).all()
            attempt_rows = connection.execute(
                select(attempts)
                .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
                .where(deliveries.c.message_id == message_id)
                .order_by(attempts.c.delivery_id, attempts.c.number)
            ).all()
        history: dict[str, list[AttemptView]] = {}
        for attempt in attempt_rows:
            history.setdefault(attempt.delivery_id, []).append(_attempt(attempt))
        return MessageView(
            envelope=_envelope(row),
            channel=row.channel,
            status=row.status,
            updated_at=row.updated_at,
            deliveries=tuple(_delivery(d, tuple(history.get(d.id, ()))) for d in delivery_rows),
        )

    def list_messages(
        self,
        *,
        source: str | None = None,
        type: str | None = None,
        correlation_id: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Messages, newest first, filtered; ``after`` is the last id of the previous page.

        ``type`` takes an exact type or a prefix glob such as ``case.*``.
        """
        query = select(messages).order_by(messages.c.id.desc()).limit(limit + 1)
        if source is not None:
            query = query.where(messages.c.source == source)
        if type:
            if type.endswith("*"):
                prefix = type[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                query = query.where(messages.c.type.like(prefix + "%", escape="\\"))
            else:
                query = query.where(messages.c.type == type)
        if correlation_id:
            query = query.where(messages.c.correlation_id == correlation_id)
        if status:
            query = query.where(messages.c.status == status)
        if after:
            query = query.where(messages.c.id < after)
        with self.read() as connection:
            rows = connection.execute(query).all()
        items = [
            MessageView(
                envelope=_envelope(row),
                channel=row.channel,
                status=row.status,
                updated_at=row.updated_at,
            )
            for row in rows[:limit]
        ]
        return Page(items=items, next=items[-1].envelope.id if len(rows) > limit else None)

    # ------------------------------------------------------------------ dispatching

    def claim(
        self,
        owner: str,
        *,
        capacity: Mapping[str, int],
        lease_s: float,
        limit: int,
    ) -> list[Claim]:
        """Lease due deliveries, in acceptance order, keeping order per case.

        A delivery is due when it is pending and its time has come, or in flight with an
        expired lease (its worker died). It is held back while an earlier delivery of the
        same destination and correlation id is still open.

        Args:
            owner: This worker's id; outcomes are only accepted from the lease owner.
            capacity: Free slots per destination; destinations absent or at 0 are skipped
                (circuit open, or busy).
            lease_s: How long the lease lasts unless renewed.
            limit: At most this many claims.

        Returns:
            The claimed deliveries with their messages.
        """
        open_destinations = [name for name, free in capacity.items() if free > 0]
        if not open_destinations or limit <= 0:
            return []
        now = utcnow()
        d = deliveries.alias("d")
        claimable = _claimable(d, now)
        ranked = (
            select(
                d.c.seq,
                d.c.destination,
                func.row_number()
                .over(partition_by=d.c.destination, order_by=d.c.seq)
                .label("rank"),
            )
            .where(claimable, d.c.destination.in_(open_destinations))
            .subquery()
        )
        most = max(capacity[name] for name in open_destinations)
        with self.write() as connection:
            candidates = connection.execute(
                select(ranked.c.seq, ranked.c.destination)
                .where(ranked.c.rank <= most)
                .order_by(ranked.c.seq)
                .limit(limit * 4)
            ).all()
            free = dict(capacity)
            chosen: list[int] = []
            for seq, destination in candidates:
                if free.get(destination, 0) > 0 and len(chosen) < limit:
                    free[destination] -= 1
                    chosen.append(seq)
            if not chosen:
                return []
            lockable = (
                select(d.c.seq)
                .where(d.c.seq.in_(chosen), claimable)
                .with_for_update(skip_locked=True)
            )
            claimed = (
                connection.execute(
                    update(deliveries)
                    .where(deliveries.c.seq.in_(lockable.scalar_subquery()))
                    .values(
                        status="inflight",
                        lease_owner=owner,
                        lease_expires_at=now + dt.timedelta(seconds=lease_s),
                        updated_at=now,
                    )
                    .returning(deliveries.c.id)
                )
                .scalars()
                .all()
            )
            if not claimed:
                return []
            rows = connection.execute(
                select(
                    deliveries.c.id.label("delivery_id"),
                    deliveries.c.destination,
                    deliveries.c.attempts,
                    deliveries.c.seq,
                    deliveries.c.route.label("delivery_route"),
                    messages,
                )
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(deliveries.c.id.in_(claimed))
                .order_by(deliveries.c.seq)
            ).all()
        return [
            Claim(
                delivery_id=row.delivery_id,
                destination=row.destination,
                attempts=row.attempts,
                envelope=_envelope(row),
                route=row.delivery_route,
            )
            for row in rows
        ]

    def renew_leases(self, owner: str, delivery_ids: Iterable[str], lease_s: float) -> None:
        """Extend this worker's leases on deliveries it is still working."""
        ids = list(delivery_ids)
        if not ids:
            return
        now = utcnow()
        with self.write() as connection:
            connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.id.in_(ids),
                    deliveries.c.lease_owner == owner,
                    deliveries.c.status == "inflight",
                )
                .values(lease_expires_at=now + dt.timedelta(seconds=lease_s))
            )

    def release(self, owner: str, delivery_ids: Iterable[str] | None = None) -> int:
        """Give leases back without an attempt (shutting down, or a circuit opened)."""
        now = utcnow()
        condition = and_(deliveries.c.lease_owner == owner, deliveries.c.status == "inflight")
        if delivery_ids is not None:
            condition = and_(condition, deliveries.c.id.in_(list(delivery_ids)))
        with self.write() as connection:
            result = connection.execute(
                update(deliveries)
                .where(condition)
                .values(status="pending", lease_owner=None, lease_expires_at=None, updated_at=now)
            )
        return result.rowcount

    def finish(self, claim: Claim, owner: str, worker: str, outcome: Outcome) -> bool:
        """Record an attempt and the delivery's new state.

        Returns:
            False when the lease was lost (another worker took the delivery over); then
            nothing is written, because that worker's outcome counts.
        """
        values: dict[str, Any] = {
            "status": "pending" if outcome.status == "retry" else outcome.status,
            "attempts": deliveries.c.attempts + 1,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": outcome.finished_at,
            "last_error": outcome.error,
        }
        if outcome.status == "retry":
            values["next_attempt_at"] = outcome.next_attempt_at or outcome.finished_at
        if outcome.status == "delivered":
            values["delivered_at"] = outcome.finished_at
            values["receipt"] = outcome.receipt
        with self.write() as connection:
            changed = connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == claim.delivery_id,
                    deliveries.c.lease_owner == owner,
                    deliveries.c.status == "inflight",
                )
                .values(**values)
            ).rowcount
            if not changed:
                return False
            number = connection.execute(
                select(func.count())
                .select_from(attempts)
                .where(attempts.c.delivery_id == claim.delivery_id)
            ).scalar_one()
            connection.execute(
                insert(attempts),
                {
                    "delivery_id": claim.delivery_id,
                    "number": number + 1,
                    "worker": worker,
                    "started_at": outcome.started_at,
                    "finished_at": outcome.finished_at,
                    "duration_ms": int(
                        (outcome.finished_at - outcome.started_at).total_seconds() * 1000
                    ),
                    "outcome": outcome.status,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                },
            )
            if outcome.status != "retry":
                _refresh_message_status(connection, claim.envelope.id, outcome.finished_at)
        return True

    def next_due(self) -> dt.datetime | None:
        """When the earliest pending delivery falls due (for the dispatcher's sleep)."""
        with self.read() as connection:
            value: dt.datetime | None = connection.execute(
                select(func.min(deliveries.c.next_attempt_at)).where(
                    deliveries.c.status == "pending"
                )
            ).scalar_one()
        return value

    def backlog(self) -> dict[str, int]:
        """Open (pending or in-flight) deliveries per destination."""
        with self.read() as connection:
            rows = connection.execute(
                select(deliveries.c.destination, func.count())
                .where(deliveries.c.status.in_(_OPEN))
                .group_by(deliveries.c.destination)
            ).all()
        return dict(rows)

    # ------------------------------------------------------------------ dead letters

    def list_deliveries(
        self,
        *,
        status: str | None = None,
        destination: str | None = None,
        source: str | None = None,
        message_type: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Deliveries, newest first (dead letters are ``status="dead"``)."""
        query = (
            select(deliveries, messages.c.type.label("message_type"), messages.c.source)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .order_by(deliveries.c.id.desc())
            .limit(limit + 1)
        )
        if status:
            query = query.where(deliveries.c.status == status)
        if destination:
            query = query.where(deliveries.c.destination == destination)
        if source:
            query = query.where(messages.c.source == source)
        if message_type:
            query = query.where(messages.c.type == message_type)
        if after:
            query = query.where(deliveries.c.id < after)
        with self.read() as connection:
            rows = connection.execute(query).all()
        items = [_delivery(row, (), message_type=row.message_type) for row in rows[:limit]]
        return Page(items=items, next=items[-1].id if len(rows) > limit else None)

    def get_delivery(self, delivery_id: str) -> tuple[DeliveryView, str] | None:
        """A delivery and the source of its message, or ``None``."""
        with self.read() as connection:
            row = connection.execute(
                select(deliveries, messages.c.type.label("message_type"), messages.c.source)
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(deliveries.c.id == delivery_id)
            ).first()
        if row is None:
            return None
        return _delivery(row, (), message_type=row.message_type), row.source

    def replay(
        self, delivery_ids: Sequence[str], *, actor: str, reason: str | None = None
    ) -> list[str]:
        """Send dead letters again: back to pending, due now, with a fresh attempt budget.

        Returns:
            The ids that were dead and are now pending (others are left alone).
        """
        if not delivery_ids:
            return []
        now = utcnow()
        with self.write() as connection:
            replayed = connection.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(list(delivery_ids)), deliveries.c.status == "dead")
                .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
                .returning(deliveries.c.id, deliveries.c.message_id)
            ).all()
            for message_id in {row.message_id for row in replayed}:
                _refresh_message_status(connection, message_id, now)
            for row in replayed:
                _audit(
                    connection,
                    actor,
                    "dlq.replay",
                    row.id,
                    {"reason": reason} if reason else None,
                    now,
                )
        return [row.id for row in replayed]

    def discard(self, delivery_ids: Sequence[str], *, actor: str, reason: str) -> list[str]:
        """Give up on dead letters for good: ``discarded`` is terminal and never replayed.

        The reason goes to the audit trail, with who decided.

        Returns:
            The ids that were dead and are now discarded (others are left alone).

        Raises:
            ValueError: The reason is empty.
        """
        if not reason.strip():
            raise ValueError("discarding needs a reason")
        if not delivery_ids:
            return []
        now = utcnow()
        with self.write() as connection:
            discarded = connection.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(list(delivery_ids)), deliveries.c.status == "dead")
                .values(status="discarded", next_attempt_at=None, updated_at=now)
                .returning(deliveries.c.id, deliveries.c.message_id)
            ).all()
            for message_id in {row.message_id for row in discarded}:
                _refresh_message_status(connection, message_id, now)
            for row in discarded:
                _audit(connection, actor, "dlq.discard", row.id, {"reason": reason}, now)
        return [row.id for row in discarded]

    def dead_letter_ids(
        self,
        *,
        destination: str | None = None,
        message_type: str | None = None,
        source: str | None = None,
        limit: int = 10_000,
    ) -> list[str]:
        """Ids of dead letters matching a filter (for replay in bulk)."""
        query = (
            select(deliveries.c.id)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.status == "dead")
            .order_by(deliveries.c.seq)
            .limit(limit)
        )
        if destination:
            query = query.where(deliveries.c.destination == destination)
        if message_type:
            query = query.where(messages.c.type == message_type)
        if source:
            query = query.where(messages.c.source == source)
        with self.read() as connection:
            return list(connection.execute(query).scalars())

    # ------------------------------------------------------------------ clients

    def add_client(
        self, name: str, *, allow: Sequence[str], role: str = "client", actor: str = "cli"
    ) -> tuple[Client, str]:
        """Register a client and return it with its API key (shown once, stored hashed).

        Raises:
            DuplicateClientError: The name is taken.
            ValueError: The role is unknown.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        try:
            with self.write() as connection:
                client_id = connection.execute(
                    insert(clients).returning(clients.c.id),
                    {
                        "name": name,
                        "key_id": key_id,
                        "key_hash": _hash_secret(secret),
                        "key_sealed": (
                            self.vault.seal(f"{KEY_PREFIX}{key_id}_{secret}")
                            if self.vault is not None
                            else None
                        ),
                        "allow": list(allow),
                        "role": role,
                        "created_at": now,
                    },
                ).scalar_one()
                _audit(
                    connection, actor, "client.add", name, {"allow": list(allow), "role": role}, now
                )
        except IntegrityError as error:
            if self.dialect.is_unique_violation(error):
                raise DuplicateClientError(f"a client called {name!r} exists already") from None
            raise
        client = Client(id=client_id, name=name, allow=tuple(allow), role=role, created_at=now)
        return client, f"{KEY_PREFIX}{key_id}_{secret}"

    def authenticate(self, api_key: str) -> Client | None:
        """The active client owning ``api_key``, or ``None``.

        Successful look-ups are remembered for :data:`AUTH_CACHE_S` seconds, so a busy
        client costs no query per request; a revocation made in this process takes effect
        at once, one made by another process (the CLI) within that time.
        """
        now = time.monotonic()
        cached = self._auth_cache.get(api_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        if not api_key.startswith(KEY_PREFIX) or len(api_key) < len(KEY_PREFIX) + 14:
            return None
        key_id, separator, secret = api_key[len(KEY_PREFIX) :].partition("_")
        if not separator:
            return None
        with self.read() as connection:
            row = connection.execute(
                select(clients).where(clients.c.key_id == key_id, clients.c.revoked_at.is_(None))
            ).first()
        if row is None or not hmac.compare_digest(row.key_hash, _hash_secret(secret)):
            return None
        client = _client(row)
        if len(self._auth_cache) > 1024:
            self._auth_cache.clear()
        self._auth_cache[api_key] = (client, now + AUTH_CACHE_S)
        return client

    def client_key(self, name: str) -> tuple[Client, str] | None:
        """An active client and its API key in plaintext, for checking a password digest.

        Returns:
            ``None`` when there is no such active client, no vault, or the key was
            issued before keys were sealed (such a client can use ``PasswordText``).

        Raises:
            hub.keyring.VaultError: The server key does not open the sealed key.
        """
        if self.vault is None:
            return None
        with self.read() as connection:
            row = connection.execute(
                select(clients).where(clients.c.name == name, clients.c.revoked_at.is_(None))
            ).first()
        if row is None or not row.key_sealed:
            return None
        return _client(row), self.vault.open(row.key_sealed)

    def remember_nonce(self, digest: str, username: str, expires_at: dt.datetime) -> bool:
        """Record a WS-Security nonce; False if it was seen before (a replay).

        The primary key decides, so two nodes seeing the same nonce at once cannot both
        accept it. Expired nonces are swept out on the way.
        """
        now = utcnow()
        # Concurrent requests share one transaction (and one fsync), as messages do.
        fresh = self._nonce_committer.submit((digest, username, expires_at))
        if not fresh:
            return False
        if now >= self._next_nonce_sweep:
            self._next_nonce_sweep = now + _NONCE_SWEEP_EVERY
            with self.write() as connection:
                connection.execute(wsse_nonces.delete().where(wsse_nonces.c.expires_at < now))
        return True

    def _write_nonces(self, batch: Sequence[tuple[str, str, dt.datetime]]) -> list[bool]:
        rows = [{"digest": d, "username": u, "expires_at": e} for d, u, e in batch]
        with self.write() as connection:
            inserted = set(
                connection.execute(
                    self.dialect.insert_ignoring_duplicates(wsse_nonces).returning(
                        wsse_nonces.c.digest
                    ),
                    rows,
                ).scalars()
            )
        fresh: list[bool] = []
        seen: set[str] = set()
        for digest, _username, _expires in batch:  # the same nonce twice in one batch: once
            fresh.append(digest in inserted and digest not in seen)
            seen.add(digest)
        return fresh

    def get_client(self, name: str) -> Client | None:
        """The client called ``name`` (revoked or not), or ``None``."""
        with self.read() as connection:
            row = connection.execute(select(clients).where(clients.c.name == name)).first()
        return _client(row) if row else None

    def list_clients(self) -> list[Client]:
        """Every client, active and revoked, by name."""
        with self.read() as connection:
            rows = connection.execute(select(clients).order_by(clients.c.name)).all()
        return [_client(row) for row in rows]

    def revoke_client(self, name: str, *, actor: str = "cli") -> bool:
        """Revoke a client's key at once. Returns False if there is no such active client."""
        now = utcnow()
        with self.write() as connection:
            changed = connection.execute(
                update(clients)
                .where(clients.c.name == name, clients.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            if changed:
                _audit(connection, actor, "client.revoke", name, None, now)
        self._auth_cache.clear()
        return bool(changed)

    # ------------------------------------------------------------------ audit

    def audit(
        self, actor: str, action: str, target: str | None, detail: Mapping[str, Any] | None = None
    ) -> None:
        """Record who did what to what."""
        with self.write() as connection:
            _audit(connection, actor, action, target, detail, utcnow())

    def audit_trail(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit records."""
        with self.read() as connection:
            rows = connection.execute(select(audit).order_by(audit.c.id.desc()).limit(limit)).all()
        return [dict(row._mapping) for row in rows]


def _claimable(d: Any, now: dt.datetime) -> ColumnElement[bool]:
    earlier = deliveries.alias("earlier")
    held_back = exists().where(
        earlier.c.destination == d.c.destination,
        earlier.c.correlation_id == d.c.correlation_id,
        earlier.c.seq < d.c.seq,
        earlier.c.status.in_(_OPEN),
    )
    due = or_(
        and_(d.c.status == "pending", d.c.next_attempt_at <= now),
        and_(d.c.status == "inflight", d.c.lease_expires_at < now),
    )
    return and_(due, ~held_back)


def _refresh_message_status(connection: Connection, message_id: str, now: dt.datetime) -> None:
    def having(*statuses: str) -> ColumnElement[bool]:
        return exists().where(
            deliveries.c.message_id == message_id, deliveries.c.status.in_(statuses)
        )

    connection.execute(
        update(messages)
        .where(messages.c.id == message_id)
        .values(
            status=case(
                (having(*_OPEN), "pending"),
                (having("dead"), "dead"),
                # every delivery ended, none delivered: ops gave up on all of them
                (~having("delivered"), "discarded"),
                else_="delivered",
            ),
            updated_at=now,
        )
    )


def _audit(
    connection: Connection,
    actor: str,
    action: str,
    target: str | None,
    detail: Mapping[str, Any] | None,
    now: dt.datetime,
) -> None:
    connection.execute(
        insert(audit),
        {
            "at": now,
            "actor": actor,
            "action": action,
            "target": target,
            "detail": dict(detail) if detail else None,
        },
    )


def _hash_secret(secret: str) -> str:
    # API keys carry 256 random bits: a fast hash is enough, no stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def _envelope(row: Row[Any]) -> Envelope:
    return Envelope(
        id=row.id,
        type=row.type,
        source=row.source,
        payload=row.payload,
        created_at=row.created_at,
        client_ref=row.client_ref,
        correlation_id=row.correlation_id,
        headers=row.headers or {},
    )


def _attempt(row: Row[Any]) -> AttemptView:
    return AttemptView(
        number=row.number,
        worker=row.worker,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        outcome=row.outcome,
        status_code=row.status_code,
        error=row.error,
    )


def _delivery(
    row: Row[Any], history: tuple[AttemptView, ...], *, message_type: str | None = None
) -> DeliveryView:
    return DeliveryView.from_row(row, history, message_type=message_type)


def _client(row: Row[Any]) -> Client:
    return Client(
        id=row.id,
        name=row.name,
        allow=tuple(row.allow),
        role=row.role,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
