"""What the hub asks of counterparts that hold facts about people: identities and licences.

The engine's submit-once step (``hub.pipeline.enrichment``) and the departments' lookups
(``faces.rest.lookups``, the SOAP ``LookUp*`` operations) call adapters through these
protocols, so that the engine knows no concrete adapter. The e-license library and the
unified identity service implement them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CreditRegister",
    "CreditStanding",
    "HeldLicence",
    "Identity",
    "IdentityDirectory",
    "LicenceFinder",
    "StatedUse",
]

_ITEM_CODE = re.compile(r"^[0-9A-Za-z-]{1,64}$")


@dataclass(frozen=True, slots=True)
class StatedUse:
    """Why a licence or an identity is looked at: the counterpart audits every use.

    Attributes:
        reason: What for, in words (e.g. "办理老年人优待证，核验居民身份").
        item_code: The service item (事项实施编码) the use serves.

    Raises:
        ValueError: Either is empty, or the item code has the wrong form.
    """

    reason: str
    item_code: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a licence use must state its reason")
        if not _ITEM_CODE.match(self.item_code):
            raise ValueError("item_code must be the service item's code (letters, digits, -)")


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified person or legal person, as the unified identity service knows them.

    Attributes:
        code: Resident ID (``code_type`` 111) or unified social credit code (001).
        code_type: ``"111"`` or ``"001"``.
        name: The person's or the organisation's name.
        kind: ``person`` (自然人) or ``legal_person`` (法人).
        level_of_assurance: 1 (self-registered) … 4 (face-to-face or CA certificate).
        subject: The service's own stable id of the account.
        legal_representative: A legal person's representative's name, if known.
    """

    code: str
    code_type: str
    name: str
    kind: str
    level_of_assurance: int
    subject: str = ""
    legal_representative: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the hub shows it (unmasked: mask before showing to anyone who may not see it)."""
        document: dict[str, Any] = {
            "code": self.code,
            "code_type": self.code_type,
            "name": self.name,
            "kind": self.kind,
            "level_of_assurance": self.level_of_assurance,
        }
        if self.legal_representative:
            document["legal_representative"] = self.legal_representative
        return document


@dataclass(frozen=True, slots=True)
class HeldLicence:
    """A licence the library holds for a holder: what the hub needs to reuse it.

    Attributes:
        license_id: The e-license identifier (GB/T 36904).
        name: 证照名称 (e.g. 居民身份证).
        type_code: 证照类型代码.
        status: ``valid`` or ``revoked``.
        payload: Its metadata as a canonical ``license.issued`` payload.
    """

    license_id: str
    name: str
    type_code: str
    status: str
    payload: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class IdentityDirectory(Protocol):
    """Looks people and legal persons up by identifier (统一身份认证)."""

    def look_up(self, code: str, code_type: str, use: StatedUse) -> Identity | None:
        """The verified identity under ``code``; ``None`` when the service has none.

        Raises:
            IdentifierError: The code fails its check (nothing is sent).
            AdapterError: The service could not answer.
        """
        ...


@runtime_checkable
class LicenceFinder(Protocol):
    """Finds the licences a holder has been issued (电子证照库)."""

    def held_by(
        self, holder_code: str, code_type: str, use: StatedUse, *, type_code: str | None = None
    ) -> list[HeldLicence]:
        """The holder's licences (of one type, if given), for a stated use.

        Raises:
            IdentifierError: The holder code fails its check (nothing is sent).
            AdapterError: The library could not answer.
        """
        ...


class Listing(Protocol):
    """One list a counterpart is on (严重失信主体名单 …)."""

    @property
    def list(self) -> str:
        """The list's name."""
        ...

    @property
    def reason(self) -> str:
        """Why the counterpart is on it."""
        ...


class CreditStanding(Protocol):
    """What a credit platform says of a unified social credit code."""

    @property
    def blacklisted(self) -> bool:
        """On at least one list: joint punishment applies (联合惩戒)."""
        ...

    @property
    def entries(self) -> Sequence[Listing]:
        """The lists it is on."""
        ...


@runtime_checkable
class CreditRegister(Protocol):
    """Answers credit queries before approval (信用核查, 联合奖惩)."""

    def credit_status(self, uscc: str) -> CreditStanding:
        """The standing of ``uscc``.

        Raises:
            IdentifierError: The code fails its check (nothing is sent).
            AdapterError: The platform could not answer.
        """
        ...
