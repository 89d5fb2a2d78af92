"""Errors by what the caller should do about them.

The dispatcher reads only the class: a :class:`RetriableError` is tried again later (not
before ``retry_after`` seconds when the counterpart said so), a :class:`RejectedError` goes
to the dead letters at once with its reason, and a :class:`ConfigurationError` means our
own settings are wrong, so the destination stops and ops are told. Messages are shown to
ops and stored with the attempt: they must never carry a secret or a whole identifier.
"""

from __future__ import annotations

__all__ = ["AdapterError", "ConfigurationError", "RejectedError", "RetriableError"]


class AdapterError(Exception):
    """Base of every adapter error; carries a message safe to show ops.

    Args:
        message: What happened, for people.
        status_code: The counterpart's HTTP status, when there was one.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetriableError(AdapterError):
    """Try again later; the counterpart is down, busy or slow.

    Args:
        message: What happened.
        status_code: The counterpart's HTTP status, if any.
        retry_after: Seconds the counterpart asked us to wait (``Retry-After``), if any.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class RejectedError(AdapterError):
    """This message can never succeed here: dead letter it, with the reason."""


class ConfigurationError(AdapterError):
    """Our settings for the counterpart are wrong (credentials, URL): stop and tell ops."""
