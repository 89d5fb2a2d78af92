"""The credit platform adapter: 双公示 disclosures in batches, and credit checks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from adapters.credit_platform.batching import Batcher
from adapters.credit_platform.records import kind_of, to_record
from adapters.sdk import (
    AdapterError,
    Attempt,
    ConfigurationError,
    Receipt,
    RejectedError,
    ResultCodes,
    RetriableError,
)
from adapters.sdk.errors import dig
from adapters.sdk.http import Auth, BearerTokenAuth, RestClient
from adapters.sdk.rest import RestAdapter
from adapters.sdk.settings import load_schema
from hub.core.envelope import Envelope
from hub.core.identifiers import check_uscc, mask_text

__all__ = ["BlacklistEntry", "CreditPlatform", "CreditStatus"]

log = logging.getLogger("govhub.adapters.credit_platform")

#: The platform takes at most this many records in one upload.
MAX_BATCH = 100
BATCH_PATH = "/api/v1/disclosures/batch"
TOKEN_PATH = "/api/auth/token"  # noqa: S105 - a URL path, not a secret

Delivery = tuple[Envelope, Attempt]


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    """One list a counterpart is on (严重失信主体名单 …)."""

    list: str
    reason: str
    listed_on: str


@dataclass(frozen=True, slots=True)
class CreditStatus:
    """What the platform knows of a unified social credit code.

    Attributes:
        uscc: The code asked about.
        found: Whether the platform knows the code at all.
        name: The registered name, when known.
        blacklisted: On at least one list: check before approving (审批前信用核查).
        entries: The lists it is on.
        licenses: Licensing disclosures in force.
        penalties: Penalty disclosures in force.
    """

    uscc: str
    found: bool
    name: str | None
    blacklisted: bool
    entries: tuple[BlacklistEntry, ...]
    licenses: int
    penalties: int


class CreditPlatform(RestAdapter):
    """信用平台: publishes 双公示 licensing and penalty records in batches; credit checks.

    Deliveries running at once are uploaded together (see
    :mod:`adapters.credit_platform.batching`); each gets its own record's result, so a
    record the platform rejects is a dead letter with the platform's reason while the
    others of its batch are delivered. The record id is the delivery id, stable across
    retries, and the platform is idempotent per record id: a retried batch publishes
    nothing twice.
    """

    name = "credit_platform"
    version = "1.0"
    settings_schema: ClassVar[dict[str, Any]] = load_schema(__file__)
    accepts = ("credit.license_disclosed", "credit.penalty_disclosed")
    result_codes = ResultCodes(
        code="code",
        message="message",
        ok=("0",),
        errors={
            "SYSTEM_*": RetriableError,
            "RATE_LIMITED": RetriableError,
            "AUTH_FAILED": ConfigurationError,
            "TOKEN_*": ConfigurationError,
            "BATCH_TOO_LARGE": ConfigurationError,
        },
        otherwise=RejectedError,
    )

    def __init__(self, destination: str, settings: dict[str, Any]) -> None:
        super().__init__(destination, settings)
        # Tokens are bought without a token: a client of its own, same limits and logging.
        self._token_http = RestClient(
            self.settings["url"],
            counterpart=destination,
            timeout_s=self.http.timeout_s,
            connect_timeout_s=float(self.settings.get("connect_timeout_s", 5)),
            budget=self.http.budget,
            result_codes=self.result_codes,
            secrets=self.secret_values(),
            logger=log,
        )
        self.batcher: Batcher[Delivery, Receipt] = Batcher(
            self.deliver_many,
            max_size=min(int(self.settings.get("batch_size", 50)), MAX_BATCH),
            linger_s=float(self.settings.get("batch_linger_s", 0.2)),
        )

    def auth(self) -> Auth:
        """A bearer token bought with the app key and secret, renewed when refused."""
        self._tokens = BearerTokenAuth(self._fetch_token)
        return self._tokens

    def _fetch_token(self) -> tuple[str, float]:
        answer = self._token_http.json(
            "POST",
            TOKEN_PATH,
            json={"app_key": self.settings["app_key"], "app_secret": self.settings["app_secret"]},
        )
        token = dig(answer, "data.access_token")
        if not isinstance(token, str) or not token:
            raise RetriableError(f"{self.destination} answered a token request without a token")
        return token, float(dig(answer, "data.expires_in") or 600)

    def check(self) -> None:
        """Buy a fresh access token: the platform is reachable and takes our credentials."""
        self._tokens.invalidate()
        self._tokens.token()

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """Publish one disclosure, in a batch with the deliveries running beside it.

        Raises:
            RejectedError: The platform rejected this record (its reason is the message).
            RetriableError: The upload failed or the platform was busy.
            ConfigurationError: The credentials or the batch size are wrong.
        """
        return self.batcher.submit((message, attempt))

    def deliver_many(self, deliveries: Sequence[Delivery]) -> list[Receipt | AdapterError]:
        """Publish several disclosures in as few uploads as the platform allows.

        A batch-shaped verb the dispatcher can call directly; :meth:`deliver` uses it.

        Returns:
            One result per delivery, in order: its receipt, or the error to record for it.
        """
        results: list[Receipt | AdapterError | None] = [None] * len(deliveries)
        pending: dict[str, list[int]] = {}  # record id → positions (a delivery given twice)
        records: list[dict[str, Any]] = []
        for position, (message, attempt) in enumerate(deliveries):
            record_id = attempt.delivery_id
            if record_id in pending:
                pending[record_id].append(position)
                continue
            try:
                record = {
                    "record_id": record_id,
                    "kind": kind_of(message.type),
                    "fields": to_record(message.type, message.payload),
                }
            except (ValueError, KeyError, TypeError) as error:
                results[position] = RejectedError(
                    f"{message.type} cannot become a platform record: {type(error).__name__}"
                    f" {mask_text(str(error))}"
                )
                continue
            pending[record_id] = [position]
            records.append(record)
        batch_size = self.batcher.max_size
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            for record_id, outcome in self._upload(chunk).items():
                for position in pending[record_id]:
                    results[position] = outcome
        return [
            r if r is not None else RetriableError(f"{self.destination}: no result for this record")
            for r in results
        ]

    def _upload(self, records: list[dict[str, Any]]) -> dict[str, Receipt | AdapterError]:
        ids = [record["record_id"] for record in records]
        try:
            answer = self.http.json("POST", BATCH_PATH, json={"records": records})
        except AdapterError as error:
            return dict.fromkeys(ids, error)
        given = dig(answer, "data.results")
        by_id = {
            item.get("record_id"): item
            for item in (given if isinstance(given, list) else [])
            if isinstance(item, dict)
        }
        log.info(
            "%s: batch of %d records: %s accepted, %s rejected",
            self.destination,
            len(records),
            dig(answer, "data.accepted"),
            dig(answer, "data.rejected"),
        )
        return {record_id: self._outcome(record_id, by_id.get(record_id)) for record_id in ids}

    def _outcome(self, record_id: str, result: dict[str, Any] | None) -> Receipt | AdapterError:
        if result is None:
            return RetriableError(
                f"{self.destination} answered the batch without a result for record {record_id}"
            )
        status = result.get("status")
        if status == "accepted":
            duplicate = bool(result.get("duplicate"))
            return Receipt(
                status_code=200,
                detail="already published" if duplicate else "published",
                data={
                    "platform_id": result.get("platform_id"),
                    "record_id": record_id,
                    "version": result.get("version"),
                },
            )
        if status == "rejected":
            reason = mask_text(" ".join(str(result.get("reason") or "no reason given").split()))
            return RejectedError(f"{self.destination} rejected the record: {reason[:500]}")
        return RetriableError(
            f"{self.destination} answered record {record_id} with an unknown status"
        )

    def credit_status(self, uscc: str) -> CreditStatus:
        """Look a unified social credit code up: blacklists and disclosures (信用核查).

        Raises:
            IdentifierError: ``uscc`` is not a valid code (nothing is sent).
            AdapterError: The platform could not answer.
        """
        check_uscc(uscc)
        data = dig(self.http.json("GET", f"/api/v1/credit/{uscc}"), "data") or {}
        return CreditStatus(
            uscc=uscc,
            found=bool(data.get("found")),
            name=data.get("name"),
            blacklisted=bool(data.get("blacklisted")),
            entries=tuple(
                BlacklistEntry(
                    list=str(entry.get("list", "")),
                    reason=str(entry.get("reason", "")),
                    listed_on=str(entry.get("listed_on", "")),
                )
                for entry in data.get("entries", [])
                if isinstance(entry, dict)
            ),
            licenses=int(data.get("licenses", 0)),
            penalties=int(data.get("penalties", 0)),
        )

    def close(self) -> None:
        """Close pooled connections."""
        super().close()
        self._token_http.close()
