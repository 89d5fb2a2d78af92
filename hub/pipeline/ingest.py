"""The ingress pipeline every channel shares: check, validate, route, store, wake.

REST, SOAP, payment and courier notifications and sync jobs all end here, so the same
message gets the same answer whichever way it came in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.sdk import RetriableError
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.core.errors import FieldError
from hub.events import Events, MessageAccepted
from hub.pipeline.routing import Router
from hub.schemas import SchemaRegistry
from hub.store import Acceptance, Client, Store

__all__ = ["Forbidden", "Ingest", "IngestError", "Invalid", "Submission", "Unavailable"]

log = logging.getLogger("govhub.ingest")

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
        correlation_id: The business key; defaults to ``payload.case_no``.
        headers: Metadata kept with the envelope.
    """

    type: str
    payload: Any
    client_ref: str | None = None
    correlation_id: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)


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
        if submission.type not in self.schemas:
            raise Invalid(
                "unknown message type",
                (
                    FieldError(
                        "type", f"unknown message type; known: {', '.join(self.schemas.types)}"
                    ),
                ),
            )
        if not client.may_send(submission.type):
            raise Forbidden(f"client {client.name!r} may not send {submission.type}")
        return self.publish(client.name, submission, channel=channel)

    def publish(self, source: str, submission: Submission, *, channel: str) -> Acceptance:
        """Accept a message from an internal producer (a job, an adapter's notification).

        Same validation, routing and idempotency as :meth:`submit`, without the ACL.

        Raises:
            Invalid: Unknown type, schema violation, identifier check.
        """
        validation = self.schemas.validate(submission.type, submission.payload)
        if not validation.ok:
            # A repeated client_ref gets the first answer whatever the body; looking it
            # up only here keeps the lookup off the path of valid messages, where the
            # store's unique key catches the repeat instead.
            if submission.client_ref is not None:
                first = self.store.messages.find_acceptance(source, submission.client_ref)
                if first is not None:
                    return first
            raise Invalid("the message does not match its schema", validation.errors)
        headers = dict(submission.headers)
        warnings = [*validation.warnings, *self._notes(submission)]
        if warnings:
            headers["warnings"] = [w.to_json() for w in warnings]
        payload: dict[str, Any] = submission.payload
        correlation_id = submission.correlation_id
        if correlation_id is None and isinstance(payload.get("case_no"), str):
            correlation_id = payload["case_no"]
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
        targets = self.router.targets(envelope)
        acceptance = self.store.messages.accept(envelope, channel=channel, targets=targets)
        if acceptance.created:
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
