"""Console sessions kept in the store, and sign-in throttling.

The browser holds a random token inside Flask's signed cookie; the store holds only its
SHA-256 with the user and the expiry. Signing out, disabling a user or changing a password
deletes the rows, which ends those sessions on every node at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from faces.console.accounts import User, UserStore
from faces.console.tables import hub_settings, login_failures, user_sessions
from faces.http.settings import OpsSettings
from hub.core.clock import utcnow
from hub.store import Store

__all__ = ["LoginThrottle", "SessionStore", "secret_key"]

# Writing last_seen on every request would make every page a write; a minute is precise
# enough for an idle limit counted in tens of minutes.
_TOUCH_EVERY = dt.timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionStore:
    """Opens, resolves and ends console sessions."""

    store: Store
    users: UserStore
    settings: OpsSettings

    def open(self, user: User, remote_addr: str | None) -> str:
        """Start a session for ``user``; the token to put in the cookie."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.store.db.write() as connection:
            connection.execute(
                insert(user_sessions),
                {
                    "token_hash": _digest(token),
                    "user_id": user.id,
                    "created_at": now,
                    "last_seen_at": now,
                    "expires_at": now + self.settings.lifetime,
                    "remote_addr": (remote_addr or "")[:64],
                },
            )
            # Expired rows are cleaned up here rather than by a timer.
            connection.execute(delete(user_sessions).where(user_sessions.c.expires_at < now))
        return token

    def resolve(self, token: str) -> User | None:
        """The enabled user of a live session, or ``None`` (expired, ended, disabled)."""
        now = utcnow()
        digest = _digest(token)
        with self.store.db.read() as connection:
            row = connection.execute(
                select(user_sessions).where(user_sessions.c.token_hash == digest)
            ).first()
        if row is None:
            return None
        if row.expires_at <= now or now - row.last_seen_at > self.settings.idle:
            self.close(token)
            return None
        user = self.users.by_id(row.user_id)
        if user is None or user.disabled_at is not None:
            return None
        if now - row.last_seen_at > _TOUCH_EVERY:
            with self.store.db.write() as connection:
                connection.execute(
                    update(user_sessions)
                    .where(user_sessions.c.token_hash == digest)
                    .values(last_seen_at=now)
                )
        return user

    def close(self, token: str) -> None:
        """End one session (signing out)."""
        with self.store.db.write() as connection:
            connection.execute(
                delete(user_sessions).where(user_sessions.c.token_hash == _digest(token))
            )


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """Refuses sign-in after too many failures for a name or from an address.

    Both are counted because guessing one account's password and spraying one password
    over many accounts are different attacks.
    """

    store: Store
    settings: OpsSettings

    def blocked(self, name: str, remote_addr: str) -> bool:
        """Whether sign-in is refused now for this name or address."""
        since = utcnow() - self.settings.login_window
        limit = self.settings.login_max_failures
        with self.store.db.read() as connection:
            by_name = connection.execute(
                select(func.count())
                .select_from(login_failures)
                .where(login_failures.c.name == name[:100], login_failures.c.at >= since)
            ).scalar_one()
            # An address gets more room: an office behind one NAT shares it.
            by_address = connection.execute(
                select(func.count())
                .select_from(login_failures)
                .where(
                    login_failures.c.remote_addr == remote_addr[:64],
                    login_failures.c.at >= since,
                )
            ).scalar_one()
        return int(by_name) >= limit or int(by_address) >= 4 * limit

    def failed(self, name: str, remote_addr: str) -> None:
        """Count a failed sign-in."""
        now = utcnow()
        with self.store.db.write() as connection:
            connection.execute(
                insert(login_failures),
                {"name": name[:100], "remote_addr": remote_addr[:64], "at": now},
            )
            connection.execute(
                delete(login_failures).where(login_failures.c.at < now - self.settings.login_window)
            )

    def succeeded(self, name: str) -> None:
        """Forget the name's failures after a good sign-in."""
        with self.store.db.write() as connection:
            connection.execute(delete(login_failures).where(login_failures.c.name == name[:100]))


def secret_key(store: Store, configured: str | None) -> str:
    """The key that signs console cookies: the configured one, else one kept in the store.

    The first node to ask generates it; the unique key makes every other node read the
    same one.
    """
    if configured:
        return configured
    with store.db.read() as connection:
        value = connection.execute(
            select(hub_settings.c.value).where(hub_settings.c.name == "ops.secret_key")
        ).scalar_one_or_none()
    if value is not None:
        return str(value)
    try:
        with store.db.write() as connection:
            connection.execute(
                insert(hub_settings),
                {"name": "ops.secret_key", "value": secrets.token_urlsafe(48)},
            )
    except IntegrityError:
        pass  # another node was first; read what it wrote
    with store.db.read() as connection:
        return str(
            connection.execute(
                select(hub_settings.c.value).where(hub_settings.c.name == "ops.secret_key")
            ).scalar_one()
        )
