"""Departments look licences and identities up through the hub: allowed per client, audited.

REST (``GET /api/v1/licenses``, ``GET /api/v1/identities``) and SOAP (``LookUpLicenses``,
``LookUpIdentity``) end here. A client may look up only with an explicit grant in its
allow list (``lookup:licenses``, ``lookup:identities`` or ``lookup:*``; a message glob
such as ``*`` grants no look-up). Every look-up, answered or refused by the counterpart,
is in the audit trail: who, what for (the stated reason and service item, which the
counterparts require too), whose (masked), how many found. Answers are masked by role:
a department (role ``client``) sees what the counterpart holds; an operator, who watches
the flow and does not handle cases, sees holder codes masked and no licence surface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.sdk import Adapter, AdapterError, RetriableError
from adapters.sdk.lookups import IdentityDirectory, LicenceFinder, StatedUse
from hub.core.identifiers import IdentifierError, mask, mask_resident_id, mask_text
from hub.store import Client, Store

__all__ = ["LookupRefused", "LookupUnavailable", "Lookups", "lookups_from"]

LICENSES = "licenses"
IDENTITIES = "identities"


class LookupRefused(Exception):
    """The client may not look this up (403)."""


class LookupUnavailable(Exception):
    """The counterpart cannot answer now, or none is configured (503).

    Attributes:
        retry_after: Seconds to wait, when the counterpart said.
    """

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def may_look_up(client: Client, kind: str) -> bool:
    """Whether ``client``'s allow list grants look-ups of ``kind`` explicitly."""
    return f"lookup:{kind}" in client.allow or "lookup:*" in client.allow


def masked_code(code: str, code_type: str) -> str:
    """A holder code as logs and operators see it."""
    return mask_resident_id(code) if code_type == "111" else mask(code, 6, 2)


class Lookups:
    """The look-ups departments make through the hub.

    Args:
        store: Where every look-up is audited.
        library: The e-license library, if configured.
        identity: The unified identity service, if configured.
    """

    def __init__(
        self,
        store: Store,
        library: LicenceFinder | None = None,
        identity: IdentityDirectory | None = None,
    ) -> None:
        self.store = store
        self.library = library
        self.identity = identity

    def licences(
        self,
        client: Client,
        holder: str,
        code_type: str,
        use: StatedUse,
        *,
        type_code: str | None = None,
        channel: str = "rest",
    ) -> list[dict[str, Any]]:
        """The licences the library holds for ``holder``, as ``client`` may see them.

        Raises:
            LookupRefused: The client has no ``lookup:licenses`` grant.
            IdentifierError: The holder code fails its check (nothing is asked).
            LookupUnavailable: No library is configured, or it cannot answer now.
        """
        self._allow(client, LICENSES, holder, code_type, use, channel)
        if self.library is None:
            raise LookupUnavailable("no e-license library is configured")
        try:
            found = self.library.held_by(holder, code_type, use, type_code=type_code)
        except AdapterError as error:
            self._audit(client, LICENSES, holder, code_type, use, channel, error=error)
            raise _unavailable(error) from None
        self._audit(client, LICENSES, holder, code_type, use, channel, found=len(found))
        return [_licence(item.payload, item.status, client) for item in found]

    def identity_of(
        self, client: Client, code: str, code_type: str, use: StatedUse, *, channel: str = "rest"
    ) -> dict[str, Any] | None:
        """The verified identity under ``code``, as ``client`` may see it; ``None``: nobody.

        Raises:
            LookupRefused: The client has no ``lookup:identities`` grant.
            IdentifierError: The code fails its check (nothing is asked).
            LookupUnavailable: No identity service is configured, or it cannot answer now.
        """
        self._allow(client, IDENTITIES, code, code_type, use, channel)
        if self.identity is None:
            raise LookupUnavailable("no unified identity service is configured")
        try:
            who = self.identity.look_up(code, code_type, use)
        except AdapterError as error:
            self._audit(client, IDENTITIES, code, code_type, use, channel, error=error)
            raise _unavailable(error) from None
        self._audit(client, IDENTITIES, code, code_type, use, channel, found=int(who is not None))
        if who is None:
            return None
        document = who.to_json()
        if client.is_operator:
            document["code"] = masked_code(who.code, who.code_type)
        return document

    def _allow(
        self,
        client: Client,
        kind: str,
        code: str,
        code_type: str,
        use: StatedUse,
        channel: str,
    ) -> None:
        if code_type not in ("111", "001"):
            raise IdentifierError("code_type must be 111 (resident ID) or 001 (USCC)")
        if not may_look_up(client, kind):
            self._audit(client, kind, code, code_type, use, channel, refused=True)
            raise LookupRefused(f"client {client.name!r} may not look up {kind} (lookup:{kind})")

    def _audit(
        self,
        client: Client,
        kind: str,
        code: str,
        code_type: str,
        use: StatedUse,
        channel: str,
        *,
        found: int | None = None,
        error: AdapterError | None = None,
        refused: bool = False,
    ) -> None:
        detail: dict[str, Any] = {
            "holder": masked_code(code, code_type),
            "code_type": code_type,
            "reason": use.reason,
            "item_code": use.item_code,
            "channel": channel,
        }
        if refused:
            detail["refused"] = "no lookup permission"
        if found is not None:
            detail["found"] = found
        if error is not None:
            detail["error"] = mask_text(str(error))[:500]
        action = "license.lookup" if kind == LICENSES else "identity.lookup"
        self.store.audit.record(client.name, action, detail["holder"], detail)


def _unavailable(error: AdapterError) -> LookupUnavailable:
    retry_after = error.retry_after if isinstance(error, RetriableError) else None
    return LookupUnavailable(mask_text(str(error)), retry_after)


def _licence(payload: Mapping[str, Any], status: str, client: Client) -> dict[str, Any]:
    document = {
        key: payload[key]
        for key in (
            "license_id",
            "name",
            "type_code",
            "number",
            "issuer",
            "issued_on",
            "holder",
            "valid_from",
            "valid_until",
            "area_code",
            "surface",
        )
        if key in payload
    }
    document["status"] = status
    if client.is_operator:
        document.pop("surface", None)  # the licence's face holds personal data
        holder = dict(document.get("holder") or {})
        if "code" in holder:
            holder["code"] = masked_code(str(holder["code"]), str(holder.get("code_type", "")))
        document["holder"] = holder
    return document


def lookups_from(
    store: Store,
    adapters: Mapping[str, Adapter],
    library: str | None = None,
    identity: str | None = None,
) -> Lookups:
    """The look-ups over the configured destinations.

    Args:
        store: The store (audit).
        adapters: The destinations' adapters.
        library: The library's destination; by default the one destination whose adapter
            finds licences.
        identity: The identity service's destination; by default the one that looks
            identities up.
    """
    return Lookups(
        store,
        _pick(adapters, library, LicenceFinder),
        _pick(adapters, identity, IdentityDirectory),
    )


def _pick(adapters: Mapping[str, Adapter], name: str | None, kind: type[Any]) -> Any:
    if name is not None:
        chosen: object = adapters.get(name)
        return chosen if isinstance(chosen, kind) else None
    found = [adapter for adapter in adapters.values() if isinstance(adapter, kind)]
    return found[0] if len(found) == 1 else None
