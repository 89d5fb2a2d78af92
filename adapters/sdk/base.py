"""The adapter base class: a name, a settings schema, what it accepts, and a few verbs."""

from __future__ import annotations

import copy
import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from hub.core.envelope import Envelope
from hub.core.errors import FieldError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from flask import Blueprint
    from sqlalchemy import Connection
    from sqlalchemy.exc import IntegrityError

__all__ = [
    "Adapter",
    "AdapterContext",
    "Attempt",
    "Batch",
    "Published",
    "Receipt",
    "Record",
    "Storage",
    "TransformSpec",
    "redact",
    "secret_values",
]


class Published(Protocol):
    """What publishing a message answered."""

    @property
    def message_id(self) -> str:
        """The stored message's id (the first one's, for a repeated ``client_ref``)."""
        ...

    @property
    def created(self) -> bool:
        """False when the ``client_ref`` was published before (nothing new stored)."""
        ...


class Storage(Protocol):
    """The hub's database, for an adapter's own tables (orders, events...).

    An adapter that keeps tables defines them on a ``MetaData`` of its own
    (:func:`hub.core.columns.plugin_metadata`), ships an Alembic branch for them and names
    its folder in the entry-point group ``govhub.migrations``. It never touches the
    engine's tables: what it needs of them, :class:`AdapterContext` offers as verbs.
    """

    def read(self) -> AbstractContextManager[Connection]:
        """A read-only transaction."""
        ...

    def write(self) -> AbstractContextManager[Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        ...

    def is_unique_violation(self, error: IntegrityError) -> bool:
        """True when ``error`` is a unique-key violation (the idempotency record exists)."""
        ...


class AdapterContext(Protocol):
    """What the hub lends an adapter after building it (see :meth:`Adapter.bind`)."""

    def publish(
        self,
        message_type: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | None = None,
        client_ref: str | None = None,
        headers: dict[str, Any] | None = None,
        channel: str = "adapter",
    ) -> Published:
        """Validate, route and store a message as coming from this destination.

        ``client_ref`` makes it idempotent: publishing the same one twice stores one
        message. Raises ``hub.pipeline.ingest.Invalid`` when the payload does not fit its
        schema.
        """
        ...

    def latest(self, message_type: str, correlation_id: str) -> Envelope | None:
        """The newest stored message of ``message_type`` for a case (its correlation id)."""
        ...

    @property
    def storage(self) -> Storage:
        """The hub's database, for the adapter's own tables (see :class:`Storage`)."""
        ...


@dataclass(frozen=True, slots=True)
class TransformSpec:
    """A transform an adapter offers to routes (``transform = "<destination>.<name>"``).

    A route's transform rewrites each message on its way to the route's destinations,
    when the delivery is attempted, so it may call the counterpart and is retried like
    a delivery. See :meth:`Adapter.transform`.

    Attributes:
        accepts: Message types (globs allowed) it takes.
        produces: The type it returns; ``None`` when it keeps the input's type.
        description: One line for people.
    """

    accepts: tuple[str, ...]
    produces: str | None = None
    description: str = ""

    def takes(self, message_type: str) -> bool:
        """Whether ``message_type`` is among :attr:`accepts`."""
        return any(fnmatch.fnmatchcase(message_type, pattern) for pattern in self.accepts)


@dataclass(frozen=True, slots=True)
class Record:
    """One thing read from a counterpart, already in canonical form.

    Attributes:
        type: The canonical message type it becomes.
        payload: Valid against that type's schema.
        key: The counterpart's stable id for it: publishing uses it as ``client_ref``,
            so reading the same record twice publishes one message.
        correlation_id: The business key (usually the case number).
    """

    type: str
    payload: dict[str, Any]
    key: str
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """What one read returned, and where the next read continues.

    Attributes:
        records: In the counterpart's order.
        cursor: Opaque position after the last record; ``None`` means "nothing new,
            keep the cursor you had".
        more: True when the counterpart has more right away (read again now).
    """

    records: list[Record] = field(default_factory=list)
    cursor: str | None = None
    more: bool = False


@dataclass(frozen=True, slots=True)
class Attempt:
    """Which delivery is being tried, for idempotency keys and logs.

    Attributes:
        delivery_id: Stable across retries: counterparts deduplicate on it.
        destination: The configured destination's name.
        number: 1 for the first try of this round.
    """

    delivery_id: str
    destination: str
    number: int = 1


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a counterpart answered to a delivery that succeeded.

    Attributes:
        status_code: The HTTP status, when there was one.
        detail: A short human-readable note.
        data: Identifiers the counterpart gave back (its own id, a waybill number...).
    """

    status_code: int | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As stored with the delivery."""
        return {"status_code": self.status_code, "detail": self.detail, "data": self.data}


class Adapter(ABC):
    """One external system, configured as one destination.

    Subclasses set the class attributes and implement the verbs that apply.

    Attributes:
        name: The adapter's registered name (``adapter = "..."`` in a destination).
        version: The adapter's own version.
        settings_schema: JSON Schema of the destination's settings; properties marked
            ``"writeOnly": true`` are secrets and are never shown or logged.
        accepts: Message types (globs allowed) it can deliver.
        produces: Message types its reads yield for sync jobs.
        transforms: Transforms it offers to routes, by name (see :meth:`transform`).
        streams: What :meth:`read` can read: stream name → the message type its records
            become (every one of them is in :attr:`produces`).

    Args:
        destination: The destination's name.
        settings: The destination's settings, already valid against ``settings_schema``.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1.0"
    settings_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    accepts: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = ()
    transforms: ClassVar[Mapping[str, TransformSpec]] = {}
    streams: ClassVar[Mapping[str, str]] = {}

    def __init__(self, destination: str, settings: Mapping[str, Any]) -> None:
        self.destination = destination
        self.settings = dict(settings)

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """What the adapter is and takes, for ``govhub adapters list`` and docs."""
        doc = (cls.__doc__ or "").strip().splitlines()
        return {
            "name": cls.name,
            "version": cls.version,
            "description": doc[0] if doc else "",
            "accepts": list(cls.accepts),
            "produces": list(cls.produces),
            "streams": dict(cls.streams),
            "settings_schema": cls.settings_schema,
        }

    @classmethod
    def can_deliver(cls, message_type: str) -> bool:
        """Whether ``message_type`` is among :attr:`accepts`."""
        return any(fnmatch.fnmatchcase(message_type, pattern) for pattern in cls.accepts)

    def bind(self, context: AdapterContext) -> None:
        """Receive the hub's context (called once, after construction)."""
        self.context = context

    def read(self, stream: str, cursor: str | None, limit: int = 100) -> Batch:
        """Read records newer than ``cursor`` from one of the counterpart's streams.

        Sync jobs call this; the framework persists the returned cursor only after the
        records are published, so a crash re-reads rather than skips.

        Args:
            stream: Which feed (an adapter may have several, e.g. ``applications``).
            cursor: Where the previous read left off; ``None`` for the beginning.
            limit: At most this many records.

        Raises:
            NotImplementedError: The adapter has no such stream.
        """
        raise NotImplementedError(f"{self.name} has no stream {stream!r}")

    def inbound(self) -> Blueprint | None:
        """HTTP endpoints the counterpart calls (payment or courier notifications).

        The hub mounts the blueprint at ``/inbound/<destination>``; it publishes what
        it receives through :attr:`context`. ``None`` (the default): nothing to mount.
        """
        return None

    def inbound_paths(self) -> dict[str, dict[str, Any]]:
        """The OpenAPI description of :meth:`inbound`'s endpoints, by their full path
        (``/inbound/<destination>/...``); the hub puts them in its API document."""
        return {}

    def transform(self, name: str, message: Envelope) -> Envelope:
        """Rewrite a message for a route that names ``<destination>.<name>``.

        Called by the dispatcher just before the route's destination gets the message
        (the stored message is not changed). The result is validated against its type's
        schema before it is delivered.

        Args:
            name: One of :attr:`transforms`.
            message: The stored message.

        Returns:
            The message to deliver instead (same id).

        Raises:
            RetriableError: The transform needs a counterpart that is not answering.
            RejectedError: This message can never be transformed (dead letter).
        """
        raise NotImplementedError(f"{self.name} has no transform {name!r}")

    def screen(self, message: Envelope) -> list[FieldError]:
        """Look at every message the hub is about to accept; refuse it by returning reasons.

        Adapters that override this are asked for every message from every channel,
        after schema validation and before anything is stored, so it must be cheap for
        messages it does not care about. A non-empty list refuses the message (422 with
        those ``errors``).

        Raises:
            RetriableError: It cannot decide now (its counterpart is down): the sender is
                told to try again (503).
        """
        return []

    def check(self) -> None:  # noqa: B027 - optional verb: adapters with nothing to check keep it
        """Reach the counterpart and authenticate; raise an :class:`AdapterError` if not.

        Wrong credentials raise :class:`ConfigurationError` with a message that says so
        (never the secret). A check may warm what later calls re-use (a WSDL, a token).
        """

    @abstractmethod
    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """Hand one message to the counterpart.

        Raises:
            RetriableError: Try again later.
            RejectedError: Never succeeds; dead letter.
            ConfigurationError: Our settings are wrong.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def describe(self) -> dict[str, Any]:
        """The settings with secrets hidden, for ops."""
        return redact(self.settings, self.settings_schema)

    def secret_values(self) -> list[str]:
        """The values of every ``writeOnly`` setting: what logs and errors must never show."""
        return secret_values(self.settings, self.settings_schema)


def secret_values(settings: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every string value of a ``writeOnly`` property of ``settings``, nested ones too."""
    found: list[str] = []
    properties = schema.get("properties", {})
    for key, value in settings.items():
        spec = properties.get(key, {})
        if spec.get("writeOnly"):
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, Mapping):
                found.extend(str(v) for v in value.values() if isinstance(v, str))
        elif isinstance(value, Mapping):
            found.extend(secret_values(value, spec))
    return found


def redact(settings: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``settings`` with every ``writeOnly`` property replaced by ``"***"``."""
    result = copy.deepcopy(dict(settings))
    properties = schema.get("properties", {})
    for key, value in result.items():
        spec = properties.get(key, {})
        if spec.get("writeOnly"):
            result[key] = "***"
        elif isinstance(value, Mapping) and spec.get("type") == "object":
            result[key] = redact(value, spec)
    return result
