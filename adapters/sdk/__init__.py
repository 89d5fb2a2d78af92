"""The adapter SDK: what every adapter is built from.

- :mod:`adapters.sdk.base`: the :class:`Adapter` class, :class:`Record`, :class:`Batch`,
  :class:`Receipt`, :class:`Attempt`.
- :mod:`adapters.sdk.errors`: the error taxonomy and :class:`ResultCodes`.
- :mod:`adapters.sdk.http`: :class:`~adapters.sdk.http.RestClient` and status mapping;
  :mod:`adapters.sdk.rest`: :class:`~adapters.sdk.rest.RestAdapter`.
- :mod:`adapters.sdk.soap`: :class:`~adapters.sdk.soap.SoapClient` over zeep;
  :mod:`adapters.sdk.soap_adapter`: :class:`~adapters.sdk.soap_adapter.SoapAdapter`.
- :mod:`adapters.sdk.budget`, :mod:`adapters.sdk.traffic`, :mod:`adapters.sdk.xml`,
  :mod:`adapters.sdk.settings`: call budgets, masked logging, safe XML, settings schemas.
- :mod:`adapters.sdk.sandbox`: what every sandbox shares; :mod:`adapters.sdk.testing`:
  the contract suite (imports pytest: tests only).
"""

from __future__ import annotations

from adapters.sdk.base import (
    Adapter,
    AdapterContext,
    Attempt,
    Batch,
    Published,
    Receipt,
    Record,
    Storage,
    TransformSpec,
    redact,
    secret_values,
)
from adapters.sdk.errors import (
    AdapterError,
    ConfigurationError,
    RejectedError,
    ResultCodes,
    RetriableError,
)

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterError",
    "Attempt",
    "Batch",
    "ConfigurationError",
    "Published",
    "Receipt",
    "Record",
    "RejectedError",
    "ResultCodes",
    "RetriableError",
    "Storage",
    "TransformSpec",
    "redact",
    "secret_values",
]
