"""``RestAdapter``: an adapter over one REST API, with its client built from the settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import requests

from adapters.sdk.base import Adapter, Receipt
from adapters.sdk.budget import CallBudget
from adapters.sdk.errors import ResultCodes
from adapters.sdk.http import Auth, RestClient

__all__ = ["RestAdapter", "budget_from"]


def budget_from(settings: Mapping[str, Any]) -> CallBudget:
    """The call budget the settings ``max_calls_per_s`` and ``burst`` describe."""
    rate = settings.get("max_calls_per_s")
    return CallBudget(float(rate) if rate else None, int(settings.get("burst", 5)))


class RestAdapter(Adapter):
    """Base of REST adapters: ``self.http`` is a :class:`RestClient` for ``settings["url"]``.

    Subclasses set :attr:`result_codes` when the counterpart puts error codes inside 200
    answers, and override :meth:`auth` to sign or authenticate requests.

    Attributes:
        result_codes: Error codes inside 200 answers (``None``: none).
        auth_is_configuration: 401/403 mean our credentials are wrong.
    """

    result_codes: ClassVar[ResultCodes | None] = None
    auth_is_configuration: ClassVar[bool] = True

    def __init__(self, destination: str, settings: Mapping[str, Any]) -> None:
        super().__init__(destination, settings)
        self.http = RestClient(
            self.settings["url"],
            counterpart=destination,
            timeout_s=float(self.settings.get("timeout_s", 10)),
            connect_timeout_s=float(self.settings.get("connect_timeout_s", 5)),
            auth=self.auth(),
            budget=budget_from(self.settings),
            result_codes=self.result_codes,
            auth_is_configuration=self.auth_is_configuration,
            secrets=self.secret_values(),
            logger=logging.getLogger(f"govhub.adapters.{self.name}"),
        )

    def auth(self) -> Auth | None:
        """The auth hook run on every request (none by default)."""
        return None

    def receipt_from(self, response: requests.Response, **data: Any) -> Receipt:
        """A receipt for a successful response, with identifiers the counterpart gave."""
        return Receipt(
            status_code=response.status_code, detail=f"HTTP {response.status_code}", data=data
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()
