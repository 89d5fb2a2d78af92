"""Errors by what the caller should do about them, and how counterparts' answers map onto them.

The dispatcher reads only the class: a :class:`RetriableError` is tried again later (not
before ``retry_after`` seconds when the counterpart said so), a :class:`RejectedError` goes
to the dead letters at once with its reason, and a :class:`ConfigurationError` means our
own settings are wrong, so the destination stops and ops are told. Messages are shown to
ops and stored with the attempt: they must never carry a secret or a whole identifier.

Why three and not more: the person reading a dead letter or an alert needs to know who
acts. *Retriable* is nobody (the hub waits), *rejected* is whoever sent the message (fix
it and replay), *configuration* is ops (fix the settings or the credentials). Anything
finer (rate-limited, unavailable, timed out) is in the message and the status code.

Counterparts say "no" in three ways, and each has one mapping here:

- an HTTP status: :func:`adapters.sdk.http.raise_for_status`;
- a SOAP fault: :func:`adapters.sdk.soap.error_from_fault`;
- an error code inside a successful answer (``{"code": "9001", "msg": "系统繁忙"}`` with
  HTTP 200): declare it once with :class:`ResultCodes` and let the client helpers apply it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.core.identifiers import mask_text

__all__ = [
    "AdapterError",
    "ConfigurationError",
    "RejectedError",
    "ResultCodes",
    "RetriableError",
    "dig",
]


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


_MISSING = object()


def dig(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` in nested dicts, lists or objects; ``None`` if absent.

    Works on parsed JSON and on zeep's response objects alike (``result.header.code``).
    """
    value = document
    for part in path.split(".") if path else ():
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list | tuple) and part.isdigit():
            index = int(part)
            value = value[index] if index < len(value) else None
        else:
            try:
                value = value[part]
            except (KeyError, TypeError, IndexError, AttributeError):
                value = getattr(value, part, None)
    return value


@dataclass(frozen=True)
class ResultCodes:
    """How a counterpart reports the outcome inside a successful (HTTP 200) answer.

    Declare it once on the adapter; the REST and SOAP helpers apply it to every answer::

        result_codes = ResultCodes(
            code="header.code", message="header.msg", ok=("0", "00000"),
            errors={"9001": RetriableError, "401*": ConfigurationError},
        )

    Attributes:
        code: Dotted path of the result code in the answer.
        message: Dotted path of the counterpart's explanation, if it gives one.
        ok: Codes that mean success.
        errors: Code (or glob, ``"9*"``) → the error class to raise.
        otherwise: The class for a code that is neither ok nor listed (a business refusal
            is the usual meaning, hence :class:`RejectedError`).
        required: An answer without a code is an error (retriable: the counterpart
            answered something it should not have).
    """

    code: str = "code"
    message: str | None = "message"
    ok: tuple[str, ...] = ("0",)
    errors: Mapping[str, type[AdapterError]] = field(default_factory=dict)
    otherwise: type[AdapterError] = RejectedError
    required: bool = True

    def error_class(self, code: str) -> type[AdapterError] | None:
        """The error class for ``code``, or ``None`` when it means success."""
        if code in self.ok:
            return None
        if code in self.errors:
            return self.errors[code]
        for pattern, cls in self.errors.items():
            if fnmatch.fnmatchcase(code, pattern):
                return cls
        return self.otherwise

    def check(self, answer: Any, counterpart: str, *, status_code: int | None = None) -> None:
        """Raise the mapped error when ``answer`` carries an error code.

        Args:
            answer: The parsed answer (JSON document or zeep object).
            counterpart: Who answered, for the message.
            status_code: The HTTP status, kept on the error.

        Raises:
            AdapterError: The subclass the code maps to.
        """
        raw = dig(answer, self.code)
        if raw is None or raw == "":
            if self.required:
                raise RetriableError(
                    f"{counterpart} answered without a result code ({self.code})",
                    status_code=status_code,
                )
            return
        code = str(raw).strip()
        cls = self.error_class(code)
        if cls is None:
            return
        said = dig(answer, self.message) if self.message else None
        reason = f"{counterpart} answered code {code}"
        if said:
            reason += f": {mask_text(' '.join(str(said).split()))[:300]}"
        raise cls(reason, status_code=status_code)
