"""The e-license library adapter: archive, revoke, and look licences up for a stated use."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from adapters.e_license.metadata import from_metadata, to_metadata
from adapters.sdk import Attempt, Receipt, RejectedError, RetriableError
from adapters.sdk.errors import dig
from adapters.sdk.http import Auth, BearerTokenAuth, RestClient
from adapters.sdk.lookups import HeldLicence, StatedUse
from adapters.sdk.rest import RestAdapter
from adapters.sdk.settings import load_schema
from hub.core.envelope import Envelope
from hub.core.identifiers import (
    IdentifierError,
    check_e_license_id,
    check_resident_id,
    check_uscc,
    mask,
    mask_resident_id,
)

__all__ = ["ArchivedLicense", "ELicenseLibrary", "StatedUse"]

log = logging.getLogger("govhub.adapters.e_license")

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret


@dataclass(frozen=True, slots=True)
class ArchivedLicense:
    """A licence as the library holds it.

    Attributes:
        payload: Its metadata as a canonical ``license.issued`` payload.
        status: ``valid`` or ``revoked``.
        archived_at: When the library archived it.
        revoked_at: When it was revoked, if it was.
        revocation_reason: Why, if it was.
    """

    payload: dict[str, Any]
    status: str
    archived_at: str
    revoked_at: str | None = None
    revocation_reason: str | None = None

    @property
    def license_id(self) -> str:
        """The e-license identifier."""
        return str(self.payload.get("license_id", ""))


class ELicenseLibrary(RestAdapter):
    """电子证照库: archives issued licences (metadata + file hash), revokes, looks up.

    ``license.issued`` is archived under its identifier (idempotent: the same licence
    twice is one record; another licence under the same identifier is refused);
    ``license.revoked`` revokes. Identifiers are checked with the GB/T 36904 check
    character, and must agree with the type code and the issuer's code, before anything
    is sent. Look-ups (:meth:`find`, :meth:`held_by`, :meth:`fetch`) state a reason and a
    service item.
    """

    name = "e_license"
    version = "1.0"
    settings_schema: ClassVar[dict[str, Any]] = load_schema(__file__)
    accepts = ("license.issued", "license.revoked")

    def __init__(self, destination: str, settings: dict[str, Any]) -> None:
        super().__init__(destination, settings)
        # Tokens are bought without a token: a client of its own, same limits and logging.
        self._token_http = RestClient(
            self.settings["url"],
            counterpart=destination,
            timeout_s=self.http.timeout_s,
            connect_timeout_s=float(self.settings.get("connect_timeout_s", 5)),
            budget=self.http.budget,
            secrets=self.secret_values(),
            logger=log,
        )

    def auth(self) -> Auth:
        """An OAuth 2 client-credentials token, renewed when refused."""
        self._tokens = BearerTokenAuth(self._fetch_token)
        return self._tokens

    def _fetch_token(self) -> tuple[str, float]:
        answer = self._token_http.json(
            "POST",
            TOKEN_PATH,
            data={
                "grant_type": "client_credentials",
                "client_id": self.settings["client_id"],
                "client_secret": self.settings["client_secret"],
            },
        )
        token = dig(answer, "access_token")
        if not isinstance(token, str) or not token:
            raise RetriableError(f"{self.destination} answered a token request without a token")
        return token, float(dig(answer, "expires_in") or 600)

    def check(self) -> None:
        """Buy a fresh token and call the library with it."""
        self._tokens.invalidate()
        self.http.json("GET", "/api/v1/ping")

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """Archive a ``license.issued``, or revoke for a ``license.revoked``.

        Raises:
            RejectedError: The identifier disagrees with the payload, there is no file
                hash, the library holds another licence under the identifier, or (for a
                revocation) no licence under it.
            RetriableError: The library is down, busy or slow.
            ConfigurationError: The client credentials are wrong.
        """
        if message.type == "license.issued":
            return self._archive(message.payload, message.headers.get("signature"))
        if message.type == "license.revoked":
            return self._revoke(message.payload)
        raise RejectedError(f"{self.destination} (e-license library) does not take {message.type}")

    def _archive(self, payload: dict[str, Any], signature: Any = None) -> Receipt:
        license_id = str(payload.get("license_id", ""))
        _check_consistent(payload)
        if not payload.get("file", {}).get("sha256"):
            raise RejectedError(
                "license.issued has no file.sha256: the library archives the signed file's"
                " hash with the metadata"
            )
        body: dict[str, Any] = {"metadata": to_metadata(payload)}
        if isinstance(signature, dict):
            # signed on the route (signature.sign_license): the library keeps it with the record
            body["signature"] = signature
        response = self.http.post("/api/v1/licenses", json=body)
        answer = response.json()
        duplicate = bool(answer.get("duplicate"))
        return self.receipt_from(
            response,
            license_id=license_id,
            archived_at=answer.get("archived_at"),
            duplicate=duplicate,
        )

    def _revoke(self, payload: dict[str, Any]) -> Receipt:
        license_id = str(payload.get("license_id", ""))
        _check_consistent(payload)
        response = self.http.post(
            f"/api/v1/licenses/{license_id}/revocation",
            json={"revoked_at": payload["revoked_at"], "reason": payload["reason"]},
        )
        answer = response.json()
        return self.receipt_from(
            response, license_id=license_id, duplicate=bool(answer.get("duplicate"))
        )

    def find(
        self,
        holder_code: str,
        code_type: str,
        use: StatedUse,
        *,
        type_code: str | None = None,
    ) -> list[ArchivedLicense]:
        """A holder's licences (of one type, if given), for a stated use.

        Args:
            holder_code: The holder's resident ID (``code_type`` 111) or USCC (001).
            code_type: ``"111"`` or ``"001"``.
            use: Why, and for which service item; the library audits it.
            type_code: Only licences of this type (证照类型代码).

        Raises:
            IdentifierError: The holder code fails its check (nothing is sent).
            AdapterError: The library could not answer.
        """
        if code_type == "111":
            check_resident_id(holder_code)
            shown = mask_resident_id(holder_code)
        elif code_type == "001":
            check_uscc(holder_code)
            shown = mask(holder_code, 6, 2)
        else:
            raise IdentifierError("code_type must be 111 (resident ID) or 001 (USCC)")
        body: dict[str, Any] = {
            "CZZTDM": holder_code,
            "CZZTDMLX": code_type,
            "reason": use.reason,
            "item_code": use.item_code,
        }
        if type_code:
            body["ZZLXDM"] = type_code
        log.info(
            "%s: licences of holder %s (type %s) for item %s: %s",
            self.destination,
            shown,
            type_code or "any",
            use.item_code,
            use.reason,
        )
        answer = self.http.json("POST", "/api/v1/licenses/search", json=body)
        return [_archived(item) for item in answer.get("items", []) if isinstance(item, dict)]

    def licence_held(
        self, holder: Mapping[str, Any], type_code: str, *, reason: str, item_code: str
    ) -> dict[str, Any] | None:
        """The holder's valid licence of a type, if the library holds one (submit once).

        What the approval flows ask before they would ask an applicant for a material
        again; the use is audited like any other.

        Args:
            holder: ``{code, code_type, name}`` (a canonical ``holder``).
            type_code: The licence type (证照类型代码).
            reason: Why it is looked up.
            item_code: The service item the use serves.

        Returns:
            ``{license_id, name}`` of the newest valid one, or ``None``.

        Raises:
            IdentifierError: The holder code fails its check (nothing is sent).
            AdapterError: The library could not answer.
        """
        found = [
            licence
            for licence in self.find(
                str(holder.get("code", "")),
                str(holder.get("code_type", "")),
                StatedUse(reason=reason, item_code=item_code),
                type_code=type_code,
            )
            if licence.status == "valid"
        ]
        if not found:
            return None
        newest = max(found, key=lambda licence: licence.archived_at)
        return {"license_id": newest.license_id, "name": newest.payload.get("name")}

    def held_by(
        self, holder_code: str, code_type: str, use: StatedUse, *, type_code: str | None = None
    ) -> list[HeldLicence]:
        """The holder's licences as the hub reuses them (see :class:`LicenceFinder`).

        Raises:
            IdentifierError: The holder code fails its check (nothing is sent).
            AdapterError: The library could not answer.
        """
        return [
            HeldLicence(
                license_id=found.license_id,
                name=str(found.payload.get("name", "")),
                type_code=str(found.payload.get("type_code", "")),
                status=found.status,
                payload=found.payload,
            )
            for found in self.find(holder_code, code_type, use, type_code=type_code)
        ]

    def fetch(self, license_id: str, use: StatedUse) -> ArchivedLicense | None:
        """One licence by identifier, for a stated use; ``None`` if the library has none.

        Raises:
            IdentifierError: The identifier fails its check (nothing is sent).
            AdapterError: The library could not answer.
        """
        check_e_license_id(license_id)
        log.info(
            "%s: licence %s for item %s: %s",
            self.destination,
            license_id,
            use.item_code,
            use.reason,
        )
        try:
            answer = self.http.json(
                "GET",
                f"/api/v1/licenses/{license_id}",
                params={"reason": use.reason, "item_code": use.item_code},
            )
        except RejectedError as error:
            if error.status_code == 404:
                return None
            raise
        return _archived(answer)

    def close(self) -> None:
        """Close pooled connections."""
        super().close()
        self._token_http.close()


def _check_consistent(payload: dict[str, Any]) -> None:
    """The identifier's check character, type and issuer agree with the payload."""
    license_id = str(payload.get("license_id", ""))
    try:
        check_e_license_id(license_id)
    except IdentifierError as error:
        raise RejectedError(f"license_id: {error}") from None
    parts = license_id.split(".")
    if "type_code" in payload and payload["type_code"] != parts[5]:
        raise RejectedError("type_code differs from the type code inside license_id")
    issuer = payload.get("issuer", {}).get("code")
    if issuer is not None and issuer != parts[6]:
        raise RejectedError("issuer.code differs from the issuer code inside license_id")


def _archived(item: dict[str, Any]) -> ArchivedLicense:
    metadata = item.get("metadata")
    return ArchivedLicense(
        payload=from_metadata(metadata if isinstance(metadata, dict) else {}),
        status=str(item.get("status", "")),
        archived_at=str(item.get("archived_at", "")),
        revoked_at=item.get("revoked_at"),
        revocation_reason=item.get("revocation_reason"),
    )
