"""The adapter SDK: what every adapter is built from."""

from __future__ import annotations

from adapters.sdk.base import (
    Adapter,
    AdapterContext,
    Attempt,
    Batch,
    Receipt,
    Record,
    TransformSpec,
    redact,
)
from adapters.sdk.errors import AdapterError, ConfigurationError, RejectedError, RetriableError

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterError",
    "Attempt",
    "Batch",
    "ConfigurationError",
    "Receipt",
    "Record",
    "RejectedError",
    "RetriableError",
    "TransformSpec",
    "redact",
]
