"""API clients: departmental systems and operators' tools, with their keys (stored hashed)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.core.clock import utcnow
from hub.store.audit import write_audit
from hub.store.database import Database
from hub.store.records import ROLES, Client
from hub.store.tables import clients

if TYPE_CHECKING:
    from hub.keyring import KeyVault

__all__ = ["KEY_PREFIX", "Clients", "DuplicateClientError"]

KEY_PREFIX = "ghk_"
#: Seconds a successful API-key look-up is remembered.
AUTH_CACHE_S = 5.0


class DuplicateClientError(ValueError):
    """A client with that name exists already."""


class Clients:
    """The registered clients.

    Args:
        db: The database.
        vault: Seals a copy of each new API key, for WS-Security ``PasswordDigest``
            (see :mod:`hub.keyring`); without one, keys are only stored hashed.
    """

    def __init__(self, db: Database, vault: KeyVault | None = None) -> None:
        self.db = db
        self.vault = vault
        self._cache: dict[str, tuple[Client, float]] = {}

    def add(
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
        key = f"{KEY_PREFIX}{key_id}_{secret}"
        now = utcnow()
        try:
            with self.db.write() as connection:
                client_id = connection.execute(
                    insert(clients).returning(clients.c.id),
                    {
                        "name": name,
                        "key_id": key_id,
                        "key_hash": _hash_secret(secret),
                        "key_sealed": self.vault.seal(key) if self.vault is not None else None,
                        "allow": list(allow),
                        "role": role,
                        "created_at": now,
                    },
                ).scalar_one()
                write_audit(
                    connection, actor, "client.add", name, {"allow": list(allow), "role": role}, now
                )
        except IntegrityError as error:
            if self.db.is_unique_violation(error):
                raise DuplicateClientError(f"a client called {name!r} exists already") from None
            raise
        client = Client(id=client_id, name=name, allow=tuple(allow), role=role, created_at=now)
        return client, key

    def replace(
        self, name: str, *, allow: Sequence[str], role: str = "client", actor: str = "cli"
    ) -> tuple[Client, str]:
        """Give the client called ``name`` a new key, allow list and role, active again
        (revoked or not); register it if there is none. The old key stops working.

        Returns:
            The client and its new API key (shown once, stored hashed).

        Raises:
            ValueError: The role is unknown.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        key = f"{KEY_PREFIX}{key_id}_{secret}"
        now = utcnow()
        with self.db.write() as connection:
            row = connection.execute(
                update(clients)
                .where(clients.c.name == name)
                .values(
                    key_id=key_id,
                    key_hash=_hash_secret(secret),
                    key_sealed=self.vault.seal(key) if self.vault is not None else None,
                    allow=list(allow),
                    role=role,
                    created_at=now,
                    revoked_at=None,
                )
                .returning(clients.c.id)
            ).first()
            if row is not None:
                write_audit(
                    connection,
                    actor,
                    "client.replace",
                    name,
                    {"allow": list(allow), "role": role},
                    now,
                )
        self._cache.clear()
        if row is None:
            return self.add(name, allow=allow, role=role, actor=actor)
        client = Client(id=row.id, name=name, allow=tuple(allow), role=role, created_at=now)
        return client, key

    def authenticate(self, api_key: str) -> Client | None:
        """The active client owning ``api_key``, or ``None``.

        Successful look-ups are remembered for :data:`AUTH_CACHE_S` seconds, so a busy
        client costs no query per request; a revocation made in this process takes effect
        at once, one made by another process (the CLI) within that time.
        """
        now = time.monotonic()
        cached = self._cache.get(api_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        if not api_key.startswith(KEY_PREFIX) or len(api_key) < len(KEY_PREFIX) + 14:
            return None
        key_id, separator, secret = api_key[len(KEY_PREFIX) :].partition("_")
        if not separator:
            return None
        with self.db.read() as connection:
            row = connection.execute(
                select(clients).where(clients.c.key_id == key_id, clients.c.revoked_at.is_(None))
            ).first()
        if row is None or not hmac.compare_digest(row.key_hash, _hash_secret(secret)):
            return None
        client = _client(row)
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[api_key] = (client, now + AUTH_CACHE_S)
        return client

    def key(self, name: str) -> tuple[Client, str] | None:
        """An active client and its API key in plaintext, for checking a password digest.

        Returns:
            ``None`` when there is no such active client, no vault, or the key was
            issued before keys were sealed (such a client can use ``PasswordText``).

        Raises:
            hub.keyring.VaultError: The server key does not open the sealed key.
        """
        if self.vault is None:
            return None
        with self.db.read() as connection:
            row = connection.execute(
                select(clients).where(clients.c.name == name, clients.c.revoked_at.is_(None))
            ).first()
        if row is None or not row.key_sealed:
            return None
        return _client(row), self.vault.open(row.key_sealed)

    def get(self, name: str) -> Client | None:
        """The client called ``name`` (revoked or not), or ``None``."""
        with self.db.read() as connection:
            row = connection.execute(select(clients).where(clients.c.name == name)).first()
        return _client(row) if row else None

    def all(self) -> list[Client]:
        """Every client, active and revoked, by name."""
        with self.db.read() as connection:
            rows = connection.execute(select(clients).order_by(clients.c.name)).all()
        return [_client(row) for row in rows]

    def revoke(self, name: str, *, actor: str = "cli") -> bool:
        """Revoke a client's key at once. Returns False if there is no such active client."""
        now = utcnow()
        with self.db.write() as connection:
            changed = connection.execute(
                update(clients)
                .where(clients.c.name == name, clients.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            if changed:
                write_audit(connection, actor, "client.revoke", name, None, now)
        self._cache.clear()
        return bool(changed)


def _hash_secret(secret: str) -> str:
    # API keys carry 256 random bits: a fast hash is enough, no stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def _client(row: Row[Any]) -> Client:
    return Client(
        id=row.id,
        name=row.name,
        allow=tuple(row.allow),
        role=row.role,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
