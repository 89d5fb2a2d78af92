"""People who sign in to the console: roles, argon2id password hashes, the users table."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from faces.console.tables import user_sessions, users
from hub.core.clock import format_time, utcnow
from hub.store import Store

__all__ = [
    "ADMIN",
    "OPERATOR",
    "ROLES",
    "VIEWER",
    "AccountError",
    "User",
    "UserStore",
    "check_password",
]

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
#: Each role may do what the roles before it may.
ROLES = (VIEWER, OPERATOR, ADMIN)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")

# argon2id with the library's defaults (RFC 9106's low-memory profile: 64 MiB, t=3, p=4).
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the name is unknown, so a wrong name costs as long as a wrong
    # password (made on first use: hashing is deliberately slow, not import-time work).
    return _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A name, role or password that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class User:
    """Someone who signs in to the console."""

    id: int
    name: str
    role: str
    created_at: dt.datetime
    last_login_at: dt.datetime | None = None
    disabled_at: dt.datetime | None = None

    def may(self, role: str) -> bool:
        """Whether this user has ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def to_json(self) -> dict[str, Any]:
        """For ``users list --json``."""
        return {
            "name": self.name,
            "role": self.role,
            "created_at": format_time(self.created_at),
            "last_login_at": format_time(self.last_login_at),
            "disabled": self.disabled_at is not None,
        }


def check_password(password: str) -> None:
    """Refuse passwords too short to resist guessing, or absurdly long.

    Raises:
        AccountError: With the reason.
    """
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password may have at most {MAX_PASSWORD} characters")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise AccountError(
            "a user name is 1-100 letters, digits, '.', '_', '@' or '-', starting with a"
            " letter or digit"
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")


class UserStore:
    """The users table.

    Args:
        store: The hub's store (its engine and audit trail).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, name: str, *, role: str, password: str, actor: str) -> User:
        """Create an account.

        Raises:
            AccountError: Bad name, role or password, or the name is taken.
        """
        _check_name(name)
        _check_role(role)
        check_password(password)
        now = utcnow()
        try:
            with self.store.db.write() as connection:
                user_id = connection.execute(
                    insert(users).returning(users.c.id),
                    {
                        "name": name,
                        "role": role,
                        "password_hash": _hasher.hash(password),
                        "created_at": now,
                        "password_changed_at": now,
                    },
                ).scalar_one()
        except IntegrityError as error:
            if self.store.db.dialect.is_unique_violation(error):
                raise AccountError(f"a user called {name!r} exists already") from None
            raise
        self.store.audit.record(actor, "user.add", name, {"role": role})
        return User(id=user_id, name=name, role=role, created_at=now)

    def get(self, name: str) -> User | None:
        """The user called ``name``, enabled or not."""
        with self.store.db.read() as connection:
            row = connection.execute(select(users).where(users.c.name == name)).first()
        return _user(row) if row else None

    def by_id(self, user_id: int) -> User | None:
        """The user with this id, enabled or not."""
        with self.store.db.read() as connection:
            row = connection.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def list(self) -> list[User]:
        """Every user, by name."""
        with self.store.db.read() as connection:
            rows = connection.execute(select(users).order_by(users.c.name)).all()
        return [_user(row) for row in rows]

    def verify(self, name: str, password: str) -> User | None:
        """The enabled user ``name`` if ``password`` is theirs, else ``None``.

        Takes as long for an unknown name as for a wrong password. A hash made with
        older parameters is replaced on success.
        """
        with self.store.db.read() as connection:
            row = connection.execute(select(users).where(users.c.name == name)).first()
        stored = row.password_hash if row is not None else _dummy_hash()
        try:
            _hasher.verify(stored, password[:MAX_PASSWORD])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled_at is not None:
            return None
        now = utcnow()
        values: dict[str, Any] = {"last_login_at": now}
        if _hasher.check_needs_rehash(stored):
            values["password_hash"] = _hasher.hash(password)
        with self.store.db.write() as connection:
            connection.execute(update(users).where(users.c.id == row.id).values(**values))
        return _user(row)

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        """Change a password; every session of the user ends.

        Raises:
            AccountError: Bad password or no such user.
        """
        check_password(password)
        self._change(
            name,
            actor,
            "user.password",
            None,
            password_hash=_hasher.hash(password),
            password_changed_at=utcnow(),
        )

    def set_role(self, name: str, role: str, *, actor: str) -> None:
        """Give a user another role (it applies from their next page).

        Raises:
            AccountError: Unknown role or user.
        """
        _check_role(role)
        self._change(name, actor, "user.role", {"role": role}, end_sessions=False, role=role)

    def disable(self, name: str, *, actor: str) -> None:
        """Stop a user from signing in; their sessions end at once.

        Raises:
            AccountError: No such user.
        """
        self._change(name, actor, "user.disable", None, disabled_at=utcnow())

    def enable(self, name: str, *, actor: str) -> None:
        """Let a disabled user sign in again.

        Raises:
            AccountError: No such user.
        """
        self._change(name, actor, "user.enable", None, end_sessions=False, disabled_at=None)

    def _change(
        self,
        name: str,
        actor: str,
        action: str,
        detail: dict[str, Any] | None,
        *,
        end_sessions: bool = True,
        **values: Any,
    ) -> None:
        with self.store.db.write() as connection:
            user_id = connection.execute(
                update(users).where(users.c.name == name).values(**values).returning(users.c.id)
            ).scalar_one_or_none()
            if user_id is None:
                raise AccountError(f"no user called {name!r}")
            if end_sessions:
                connection.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
        self.store.audit.record(actor, action, name, detail)


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
        disabled_at=row.disabled_at,
    )
