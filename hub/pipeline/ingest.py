"""The ingress pipeline every channel shares: check, validate, route, store, wake.

REST, SOAP, payment and courier notifications and sync jobs all end here, so the same
message gets the same answer whichever way it came in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span, SpanKind

from adapters.sdk import RetriableError
from hub.core.clock import new_id, utcnow
from hub.core.envelope import SCHEMA_VERSION_HEADER, Envelope
from hub.core.errors import FieldError
from hub.core.identifiers import mask_text
from hub.events import Events, MessageAccepted
from hub.observability.tracing import (
    TRACEPARENT,
    TRACESTATE,
    continued_from,
    current_ids,
    span,
    trace_headers,
)
from hub.pipeline.routing import Router
from hub.schemas import SchemaRegistry
from hub.store import Acceptance, Client, MessageBody, Store

#: Envelope header keeping the correlation id a sender gave for a case's message.
SENDER_KEY_HEADER = "sender_correlation_id"

__all__ = [
    "SENDER_KEY_HEADER",
    "Conflict",
    "Forbidden",
    "Ingest",
    "IngestError",
    "Invalid",
    "Submission",
    "Unavailable",
]

log = logging.getLogger("govhub.ingest")
#: Channels a message arrives on from outside, over HTTP: its ingest span is a server's.
_SERVED_CHANNELS = frozenset({"rest", "soap", "notify", "push"})

#: Looks at a message before it is accepted: reasons to refuse it (none: accept).
Screen = Callable[[Envelope], Sequence[FieldError]]
#: Looks at a valid message's type and payload: warnings to accept it with (none: nothing to say).
Note = Callable[[str, Mapping[str, Any]], Sequence[FieldError]]


class IngestError(Exception):
    """A submission was refused; ``status`` is the HTTP status it maps to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class Forbidden(IngestError):
    """The client may not send this type."""

    status = 403
    title = "Forbidden"


class Invalid(IngestError):
    """Unknown type, a schema violation or a failed identifier check."""

    status = 422
    title = "Unprocessable message"


class Conflict(IngestError):
    """The sender's id was used before for another message (an idempotency key reused).

    Attributes:
        client_ref: The reused id.
        first: The acceptance of the message that id names.
    """

    status = 409
    title = "Id used for another message"

    def __init__(self, client_ref: str, first: Acceptance) -> None:
        super().__init__(
            f"the id {mask_text(client_ref)!r} was used before for another message"
            f" ({first.message_id}); this one was not stored: send it with a new id",
            (FieldError("client_ref", "was used before for a message with another body"),),
        )
        self.client_ref = client_ref
        self.first = first


class Unavailable(IngestError):
    """A check the message needs cannot run now (its counterpart is down): retry later.

    Attributes:
        retry_after: Seconds the sender should wait, when known.
    """

    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Submission:
    """What a sender asks the hub to accept.

    Attributes:
        type: The message type.
        payload: The body, to be validated against the type's schema.
        client_ref: The sender's own id: sending it again returns the first answer.
        correlation_id: The business key. A message with ``payload.case_no`` is
            correlated by its case number, so that every message of a case is found by
            its number and delivered in order with the others; another key the sender
            gives is kept as a searchable key (``?key=``) and the answer warns of it.
            Without a case number, the sender's key (or none).
        headers: Metadata kept with the envelope. A ``traceparent`` in them is the
            parent of the message's trace when the channel gave none, and is replaced
            by the hub's own (see :mod:`hub.observability.tracing`).
        schema_version: The version of the type's schema the payload follows; ``None``
            (a sender that names none) is version 1, the one every sender wrote against
            before the type had versions.
    """

    type: str
    payload: Any
    client_ref: str | None = None
    correlation_id: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int | None = None


class Ingest:
    """Accepts submissions on behalf of clients and internal producers.

    Args:
        store: Where accepted messages are written.
        schemas: The canonical types.
        router: Where messages go.
        events: Told of every message accepted (:class:`~hub.events.MessageAccepted`).
    """

    def __init__(
        self,
        store: Store,
        schemas: SchemaRegistry,
        router: Router,
        events: Events | None = None,
    ) -> None:
        self.store = store
        self.schemas = schemas
        self.router = router
        self.events = events if events is not None else Events()
        #: Called for every valid message before it is stored (signature checks...).
        self.screens: list[Screen] = []
        #: Also called for every valid message; what they say is kept as its warnings
        #: (an item not in the catalogue...), and the message is accepted all the same.
        self.notes: list[Note] = []

    def submit(self, client: Client, submission: Submission, *, channel: str) -> Acceptance:
        """Accept a client's message, or refuse it with a reason.

        Returns:
            The acceptance; ``created`` is false when ``client_ref`` was seen before.

        Raises:
            Invalid: Unknown type, schema violation, identifier check (422).
            Forbidden: The client may not send the type (403).
        """
        with self._traced(client.name, submission, channel) as current:
            if submission.type not in self.schemas:
                raise Invalid(
                    "unknown message type",
                    (
                        FieldError(
                            "type",
                            f"unknown message type; known: {', '.join(self.schemas.types)}",
                        ),
                    ),
                )
            if not client.may_send(submission.type):
                raise Forbidden(f"client {client.name!r} may not send {submission.type}")
            acceptance = self._accept(client.name, submission, channel=channel)
            _record(current, acceptance)
            if acceptance.differs:
                assert submission.client_ref is not None  # only a client_ref repeats
                raise Conflict(submission.client_ref, acceptance)
            return acceptance

    def publish(
        self,
        source: str,
        submission: Submission,
        *,
        channel: str,
        to: Sequence[tuple[str, str]] = (),
    ) -> Acceptance:
        """Accept a message from an internal producer (a job, an adapter's notification).

        Same validation, routing and idempotency as :meth:`submit`, without the ACL. A key
        (``client_ref``) published before with another body is not refused: an internal
        producer's key names a counterpart's record, which may have changed since; the
        first message stands, the acceptance says ``differs``, and a warning is logged.

        Args:
            source: The producer.
            submission: The message.
            channel: How it came in.
            to: ``(destination, route name)`` pairs it goes to besides the routes' (the
                approval flows address each reviewing department's system).

        Raises:
            Invalid: Unknown type, schema violation, identifier check.
        """
        with self._traced(source, submission, channel) as current:
            acceptance = self._accept(source, submission, channel=channel, to=to)
            _record(current, acceptance)
        if acceptance.differs:
            log.warning(
                "%s published %s again under the key %s with another body; the first"
                " message %s stands",
                source,
                submission.type,
                mask_text(submission.client_ref or ""),
                acceptance.message_id,
            )
        return acceptance

    @contextmanager
    def _traced(self, source: str, submission: Submission, channel: str) -> Iterator[Span]:
        """The ingest span: a child of the channel's trace context (made current by the
        face), else of a ``traceparent`` among the submission's headers, else a root."""
        parent = (
            continued_from(submission.headers)
            if submission.headers and current_ids() is None
            else None
        )
        with span(
            "ingest",
            kind=SpanKind.SERVER if channel in _SERVED_CHANNELS else SpanKind.INTERNAL,
            parent=parent,
            attributes={
                "govhub.channel": channel,
                "govhub.client": source,
                "govhub.message.type": submission.type,
            },
            expected=(IngestError,),
        ) as current:
            try:
                yield current
            except IngestError as error:
                current.set_attribute("govhub.refused", error.status)
                raise

    def _accept(
        self,
        source: str,
        submission: Submission,
        *,
        channel: str,
        to: Sequence[tuple[str, str]] = (),
    ) -> Acceptance:
        if _holds_nul(submission):
            raise Invalid(
                "the message contains the character U+0000, which the hub does not store",
                tuple(
                    FieldError(path, "must not contain U+0000") for path in _nul_paths(submission)
                ),
            )
        version = submission.schema_version or 1
        validation = self.schemas.validate(submission.type, submission.payload, version=version)
        # resident IDs are stored in one form (18 characters, upper-case X), so a search
        # and a repeat find the same person however the sender wrote the number
        payload: Any = (
            submission.payload if validation.normalised is None else validation.normalised
        )
        correlation_id = (
            _correlation_id(submission.correlation_id, payload)
            if isinstance(payload, dict)
            else submission.correlation_id
        )
        if not validation.ok:
            # The same body sent again gets the first answer, even if the schema has
            # changed since. Looking the id up only here keeps the lookup off the path of
            # valid messages, where the store's unique key catches the repeat instead.
            if submission.client_ref is not None:
                first = self.store.messages.find_acceptance(
                    source,
                    submission.client_ref,
                    compared_to=MessageBody(submission.type, correlation_id, payload),
                )
                if first is not None and not first.differs:
                    return first
            raise Invalid("the message does not match its schema", validation.errors)
        headers = dict(submission.headers)
        # the hub says which version it validated against: a sender's header cannot
        headers.pop(SCHEMA_VERSION_HEADER, None)
        if len(self.schemas.versions(submission.type)) > 1:
            headers[SCHEMA_VERSION_HEADER] = version
        # The message keeps its trace: every attempt to deliver it, in whichever process
        # and however much later, continues from the ingest span.
        headers.pop(TRACESTATE, None)
        headers.pop(TRACEPARENT, None)
        headers.update(trace_headers())
        warnings = [*validation.warnings, *self._notes(submission)]
        given = submission.correlation_id
        if given is not None and correlation_id is not None and given != correlation_id:
            headers[SENDER_KEY_HEADER] = given
            warnings.append(
                FieldError(
                    "correlation_id",
                    "a case's messages are correlated by payload.case_no; the id given is"
                    " kept as a key (GET /api/v1/messages?key=...)",
                )
            )
        if warnings:
            headers["warnings"] = [w.to_json() for w in warnings]
        envelope = Envelope(
            id=new_id(),
            type=submission.type,
            source=source,
            payload=payload,
            created_at=utcnow(),
            client_ref=submission.client_ref,
            correlation_id=correlation_id,
            headers=headers,
        )
        self._screen(envelope)
        with span("route") as routing:
            targets = self.router.targets(envelope)
            if to:
                routed = {destination for destination, _route in targets}
                targets = [*targets, *((d, r) for d, r in to if d not in routed)]
            routing.set_attribute("govhub.route.targets", len(targets))
        acceptance = self.store.messages.accept(envelope, channel=channel, targets=targets)
        if acceptance.created:
            log.debug(
                "accepted %s %s from %s for %d destination(s)",
                envelope.type,
                envelope.id,
                source,
                len(targets),
                extra={"message_id": envelope.id, "correlation_id": envelope.correlation_id},
            )
            self.events.emit(MessageAccepted(envelope, channel, routed=bool(targets)))
        return acceptance

    def _notes(self, submission: Submission) -> list[FieldError]:
        found: list[FieldError] = []
        for note in self.notes:
            try:
                found.extend(note(submission.type, submission.payload))
            except Exception:  # a note is advice: it never stops a message
                log.exception("a note on %s failed; accepted without it", submission.type)
        return found

    def _screen(self, envelope: Envelope) -> None:
        reasons: list[FieldError] = []
        for screen in self.screens:
            try:
                reasons.extend(screen(envelope))
            except RetriableError as error:
                raise Unavailable(str(error), error.retry_after) from None
        if reasons:
            raise Invalid("the message was refused by a check", tuple(reasons))


def _record(current: Span, acceptance: Acceptance) -> None:
    """What the ingest span says of the answer: the message's id, and whether it is new."""
    if current.is_recording():
        current.set_attribute("govhub.message.id", acceptance.message_id)
        current.set_attribute("govhub.created", acceptance.created)


def _correlation_id(given: str | None, payload: Mapping[str, Any]) -> str | None:
    """The case number of a case's message; the sender's key for any other message."""
    case_no = payload.get("case_no")
    if not isinstance(case_no, str) or not case_no:
        return given
    return case_no


def _holds_nul(submission: Submission) -> bool:
    """Whether any text of the submission holds U+0000.

    JSON may carry it (``\\u0000``), PostgreSQL cannot store it in text or JSONB, and a
    message must be storable on either backend: it is refused on both.
    """
    pending: list[Any] = [
        submission.type,
        submission.client_ref,
        submission.correlation_id,
        submission.payload,
        submission.headers,
    ]
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is str:
            if "\x00" in node:
                return True
        elif kind is dict:
            for key, value in node.items():
                if "\x00" in key:
                    return True
                pending.append(value)
        elif kind is list:
            pending.extend(node)
        elif isinstance(node, Mapping):
            pending.extend([*node.keys(), *node.values()])
    return False


def _nul_paths(submission: Submission) -> list[str]:
    """Where U+0000 occurs (only asked once :func:`_holds_nul` said it does)."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, str):
            if "\x00" in node:
                found.append(path)
        elif isinstance(node, Mapping):
            for key, value in node.items():
                if "\x00" in str(key):
                    found.append(path)
                walk(value, f"{path}.{key}".replace("\x00", "?"))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(submission.type, "type")
    walk(submission.client_ref, "client_ref")
    walk(submission.correlation_id, "correlation_id")
    walk(submission.payload, "payload")
    walk(submission.headers, "headers")
    return sorted(set(found))[:20]
