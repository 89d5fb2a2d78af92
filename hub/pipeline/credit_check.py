"""Joint credit check (联合奖惩): a licensing case reaches its department with the applicant's
credit standing.

``[credit_check]`` names the credit platform and the departments. Before a
``case.submitted`` of a licensing item (事项类型 ``01`` by the catalogue, or as
``item_types`` says) goes to one of them for approval, a company applicant's unified
social credit code is checked at the credit platform. A blacklisted applicant's case is
*flagged*, never dropped: it is delivered with ``payload.credit_check`` =
``{status: "blacklisted", action, reasons, checked_at}``, ``action`` being the setting:
``flag`` (approve with the reasons in view) or ``hold`` (do not approve until the listing
is cleared). The envelope's ``headers.credit_check`` repeats it and the audit trail has
it about the case's message. When the platform cannot answer, the case still goes out,
``status: "unchecked"`` with the reason, so the department checks by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.sdk import Adapter, AdapterError
from adapters.sdk.lookups import CreditRegister
from hub.config import Config, ConfigError
from hub.core.clock import format_time, utcnow
from hub.core.envelope import Envelope
from hub.core.identifiers import IdentifierError, mask, mask_text
from hub.store import Store

__all__ = ["CreditCheck", "CreditCheckSettings", "credit_check_from"]

log = logging.getLogger("govhub.credit_check")

USCC = "001"
_KEYS = ("credit", "to", "action", "item_types", "unknown_items")


@dataclass(frozen=True, slots=True)
class CreditCheckSettings:
    """``[credit_check]``.

    Attributes:
        credit: The credit platform's destination.
        to: The department destinations whose licensing cases are checked.
        action: ``flag`` or ``hold``: what a blacklisted applicant's case asks of the
            department.
        item_types: The item types checked (``01`` licensing).
        unknown_items: ``check`` or ``skip`` a case whose item the catalogue does not know.
    """

    credit: str
    to: tuple[str, ...]
    action: str = "flag"
    item_types: tuple[str, ...] = ("01",)
    unknown_items: str = "check"


def credit_check_settings(config: Config) -> CreditCheckSettings | None:
    """``[credit_check]`` of ``config``, checked; ``None`` when there is none.

    Raises:
        ConfigError: An unknown key or a wrong value (the message names the key).
    """
    file = config.file
    if "credit_check" not in config.sections:
        return None
    section = config.table("credit_check", _KEYS)
    names = {d.name for d in config.destinations}
    credit = section.get("credit")
    if not isinstance(credit, str) or credit not in names:
        raise ConfigError(file, "credit_check.credit", "must name a destination (credit_platform)")
    to = section.get("to")
    if not isinstance(to, list) or not to or not all(t in names for t in to):
        raise ConfigError(file, "credit_check.to", "must list department destinations")
    action = section.get("action", "flag")
    if action not in ("flag", "hold"):
        raise ConfigError(file, "credit_check.action", "must be flag or hold")
    item_types = section.get("item_types", ["01"])
    if not isinstance(item_types, list) or not all(isinstance(t, str) for t in item_types):
        raise ConfigError(file, "credit_check.item_types", "must list item type codes (01)")
    unknown = section.get("unknown_items", "check")
    if unknown not in ("check", "skip"):
        raise ConfigError(file, "credit_check.unknown_items", "must be check or skip")
    return CreditCheckSettings(credit, tuple(to), action, tuple(item_types), unknown)


def credit_check_from(
    config: Config, store: Store, adapters: Mapping[str, Adapter]
) -> CreditCheck | None:
    """The credit check ``[credit_check]`` describes, or ``None`` when there is none.

    Raises:
        ConfigError: The section is wrong, or its destination answers no credit queries.
    """
    settings = credit_check_settings(config)
    if settings is None:
        return None
    register: object = adapters.get(settings.credit)
    if not isinstance(register, CreditRegister):
        raise ConfigError(
            str(config.path or "<config>"),
            "credit_check.credit",
            f"{settings.credit} answers no credit queries",
        )
    return CreditCheck(settings, store, register)


class CreditCheck:
    """Checks licensing applicants at the credit platform on their way to approval.

    Args:
        settings: ``[credit_check]``.
        store: The catalogue (is the item licensing?) and the audit trail.
        register: The credit platform.
    """

    def __init__(
        self, settings: CreditCheckSettings, store: Store, register: CreditRegister
    ) -> None:
        self.settings = settings
        self.store = store
        self.register = register

    def applies(self, message: Envelope, destination: str) -> bool:
        """Whether a delivery of ``message`` to ``destination`` is a licensing case to check."""
        if message.type != "case.submitted" or destination not in self.settings.to:
            return False
        applicant = message.payload.get("applicant") or {}
        if applicant.get("id_type") != USCC:
            return False  # the platform's queries are by unified social credit code
        view = self.store.items.get(str(message.payload.get("item_code", "")))
        if view is None:
            return self.settings.unknown_items == "check"
        return view.item.item_type in self.settings.item_types

    def prepare(self, message: Envelope) -> Envelope:
        """The case with ``credit_check`` added; never raises for the platform's trouble."""
        uscc = str((message.payload.get("applicant") or {}).get("id_no", ""))
        result: dict[str, Any]
        try:
            standing = self.register.credit_status(uscc)
        except (AdapterError, IdentifierError) as error:
            reason = mask_text(str(error))[:500]
            log.warning("credit check of case %s could not run: %s", message.correlation_id, reason)
            result = {"status": "unchecked", "reasons": [reason]}
        else:
            if standing.blacklisted:
                result = {
                    "status": "blacklisted",
                    "action": self.settings.action,
                    "reasons": [f"{e.list}：{e.reason}" for e in standing.entries][:50],
                }
            else:
                result = {"status": "clear", "reasons": []}
        result["checked_at"] = format_time(utcnow())
        self.store.audit.record(
            "credit_check",
            "credit.check",
            message.id,
            {"applicant": mask(uscc, 6, 2), **result},
        )
        payload = {**message.payload, "credit_check": result}
        headers = dict(message.headers)
        headers["credit_check"] = {"status": result["status"], "action": result.get("action")}
        return Envelope(
            id=message.id,
            type=message.type,
            source=message.source,
            payload=payload,
            created_at=message.created_at,
            client_ref=message.client_ref,
            correlation_id=message.correlation_id,
            headers=headers,
        )
