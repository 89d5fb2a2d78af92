"""Submit once (免提交): a case reaches its department with the licences the government holds.

``[submit_once]`` names the e-license library, the identity service and the department
destinations. When a ``case.submitted`` is delivered to one of those departments, the
applicant's identity is looked up in the unified identity service and, for each material
the item's guide names (the catalogue; the case's own list when the item is not in it),
the library is asked whether it holds that licence for the applicant. What it holds is
attached (``materials[].license_id``, ``reused: true``) and summed up in
``payload.submit_once``; the stored message is not changed.

Why at delivery and not at ingest: the 202 must not wait on an external system, and an
accepted case must be durable before anything is asked. The look-ups run in the
dispatcher's worker, before the department's delivery, bounded by the adapters'
timeouts and call budgets. When the library or the identity service cannot answer, the
case is delivered all the same, marked ``not_enriched``, and the ``submit_once.retry``
job tries again later and publishes ``case.enriched`` for the department: nothing is
lost, nothing waits. Each case is looked up once (the result is kept for the case), and
every look-up states its purpose and is in the audit trail, about the case's message.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.sdk import Adapter, AdapterError
from adapters.sdk.lookups import IdentityDirectory, LicenceFinder, StatedUse
from hub.config import Config, ConfigError
from hub.core.clock import format_time, utcnow
from hub.core.envelope import Envelope
from hub.core.identifiers import IdentifierError, mask, mask_resident_id, mask_text
from hub.store import Enrichment, Store

__all__ = ["SubmitOnce", "SubmitOnceSettings", "submit_once_from"]

log = logging.getLogger("govhub.submit_once")

DEFAULT_PURPOSE = "经申请人授权，办理{item_name}（办件 {case_no}），核验{material}以免提交"
_KEYS = ("library", "identity", "to", "purpose", "materials", "retry_initial_s", "retry_max_s")
_HOLDER_TYPES = ("111", "001")


@dataclass(frozen=True, slots=True)
class SubmitOnceSettings:
    """``[submit_once]``.

    Attributes:
        library: The destination of the e-license library (a :class:`LicenceFinder`).
        identity: The destination of the unified identity service, if any.
        to: The department destinations whose ``case.submitted`` deliveries are enriched.
        purpose: The stated use sent with each look-up; ``{item_name}``, ``{case_no}``
            and ``{material}`` are filled in. The applicant's own ``consent.purpose``
            comes first when the case carries one.
        materials: Material name → licence type code (证照类型代码), so the library is
            asked for that type; a material without one is matched by licence name.
        retry_initial_s: The retry job's first wait after a case was not enriched.
        retry_max_s: Its longest wait (the wait doubles each round).
    """

    library: str
    to: tuple[str, ...]
    identity: str | None = None
    purpose: str = DEFAULT_PURPOSE
    materials: Mapping[str, str] = field(default_factory=dict)
    retry_initial_s: float = 60.0
    retry_max_s: float = 3600.0


def submit_once_settings(config: Config) -> SubmitOnceSettings | None:
    """``[submit_once]`` of ``config``, checked; ``None`` when there is none.

    Raises:
        ConfigError: An unknown key, a missing or wrong value, or a destination that does
            not exist (the message names the key).
    """
    file = config.file
    if "submit_once" not in config.sections:
        return None
    section = config.table("submit_once", _KEYS)
    names = {d.name for d in config.destinations}
    library = section.get("library")
    if not isinstance(library, str) or library not in names:
        raise ConfigError(file, "submit_once.library", "must name a destination (e_license)")
    identity = section.get("identity")
    if identity is not None and (not isinstance(identity, str) or identity not in names):
        raise ConfigError(file, "submit_once.identity", "must name a destination")
    to = section.get("to")
    if not isinstance(to, list) or not to or not all(isinstance(t, str) for t in to):
        raise ConfigError(file, "submit_once.to", "must list the department destinations")
    for position, target in enumerate(to):
        if target not in names:
            raise ConfigError(file, f"submit_once.to[{position}]", "no destination of that name")
    purpose = section.get("purpose", DEFAULT_PURPOSE)
    if not isinstance(purpose, str) or not purpose.strip():
        raise ConfigError(file, "submit_once.purpose", "must be a sentence stating the use")
    materials = section.get("materials", {})
    if not isinstance(materials, Mapping) or not all(
        isinstance(v, str) and v for v in materials.values()
    ):
        raise ConfigError(
            file, "submit_once.materials", "must map material names to licence type codes"
        )
    waits = []
    for key, default in (("retry_initial_s", 60.0), ("retry_max_s", 3600.0)):
        value = section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(file, f"submit_once.{key}", "must be a positive number of seconds")
        waits.append(float(value))
    return SubmitOnceSettings(
        library=library,
        identity=identity,
        to=tuple(to),
        purpose=purpose,
        materials=dict(materials),
        retry_initial_s=waits[0],
        retry_max_s=waits[1],
    )


def submit_once_from(
    config: Config, store: Store, adapters: Mapping[str, Adapter]
) -> SubmitOnce | None:
    """The submit-once step ``[submit_once]`` describes, or ``None`` when there is none.

    Raises:
        ConfigError: The section is wrong, or its destinations cannot do what it needs.
    """
    settings = submit_once_settings(config)
    if settings is None:
        return None
    file = str(config.path or "<config>")
    library: object = adapters.get(settings.library)
    if not isinstance(library, LicenceFinder):
        raise ConfigError(
            file, "submit_once.library", f"{settings.library} cannot find a holder's licences"
        )
    identity: IdentityDirectory | None = None
    if settings.identity is not None:
        found: object = adapters.get(settings.identity)
        if not isinstance(found, IdentityDirectory):
            raise ConfigError(
                file, "submit_once.identity", f"{settings.identity} cannot look identities up"
            )
        identity = found
    return SubmitOnce(settings, store, library, identity)


@dataclass
class _Round:
    """One round of look-ups for a case."""

    status: str = "enriched"
    reused: list[dict[str, str]] = field(default_factory=list)
    identity: dict[str, Any] | None = None
    reason: str | None = None
    lookups: list[dict[str, Any]] = field(default_factory=list)


class SubmitOnce:
    """Looks up what a case's applicant already holds, once per case.

    Args:
        settings: ``[submit_once]``.
        store: Where each case's result and the audit trail are kept.
        library: The e-license library.
        identity: The unified identity service, if configured.
    """

    def __init__(
        self,
        settings: SubmitOnceSettings,
        store: Store,
        library: LicenceFinder,
        identity: IdentityDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.library = library
        self.identity = identity

    def applies(self, message: Envelope, destination: str) -> bool:
        """Whether a delivery of ``message`` to ``destination`` is enriched."""
        return message.type == "case.submitted" and destination in self.settings.to

    def prepare(self, message: Envelope) -> Envelope:
        """The case as its department gets it: with the reused licences, or marked.

        The case's earlier result is used when there is one (one look-up per case, however
        many departments or attempts); otherwise the library is asked now. Never raises
        for a counterpart's trouble: the case then goes out ``not_enriched``.
        """
        case_no = str(message.payload.get("case_no", ""))
        found = self.store.enrichments.get(case_no)
        if found is None or found.message_id != message.id:
            found = self.look_up(message, attempts=1)
        return with_submit_once(message, found.result)

    def look_up(self, message: Envelope, *, attempts: int) -> Enrichment:
        """Ask the identity service and the library about the case's applicant; keep it.

        Args:
            message: The ``case.submitted``.
            attempts: Which round this is (1 on delivery; the job counts on).
        """
        now = utcnow()
        outcome = self._round(message.payload)
        result: dict[str, Any] = {"status": outcome.status, "reused": outcome.reused}
        if outcome.identity is not None:
            result["identity"] = outcome.identity
        if outcome.reason:
            result["reason"] = outcome.reason
        result["checked_at"] = format_time(now)
        wait = min(
            self.settings.retry_initial_s * 2 ** max(attempts - 1, 0), self.settings.retry_max_s
        )
        enrichment = Enrichment(
            case_no=str(message.payload.get("case_no", "")),
            message_id=message.id,
            status=outcome.status,
            result=result,
            attempts=attempts,
            next_attempt_at=(
                now + dt.timedelta(seconds=wait) if outcome.status == "not_enriched" else None
            ),
            published_id=None,
            updated_at=now,
        )
        self.store.enrichments.save(enrichment, outcome.lookups)
        if outcome.status == "not_enriched":
            log.warning(
                "case %s not enriched (%s); looked up again in %.0f s",
                enrichment.case_no,
                outcome.reason,
                wait,
            )
        return enrichment

    def published(self, enrichment: Enrichment, message_id: str) -> None:
        """Note that ``case.enriched`` (``message_id``) went out for the case."""
        self.store.enrichments.published(enrichment.case_no, message_id)

    def _round(self, payload: Mapping[str, Any]) -> _Round:
        outcome = _Round()
        consent = payload.get("consent") or {}
        if consent.get("licence_reuse") is False:
            outcome.status = "declined"
            return outcome
        applicant = payload.get("applicant") or {}
        code, code_type = str(applicant.get("id_no", "")), str(applicant.get("id_type", ""))
        if code_type not in _HOLDER_TYPES:
            return outcome  # the library keys holders by resident ID or USCC only
        item_code = str(payload.get("item_code", ""))
        shown = mask_resident_id(code) if code_type == "111" else mask(code, 6, 2)
        given = "applicant" if consent else "application"

        def use(material: str) -> StatedUse:
            template = str(consent.get("purpose") or self.settings.purpose)
            reason = template.format_map(
                _Fields(
                    item_name=str(payload.get("item_name", "")),
                    case_no=str(payload.get("case_no", "")),
                    material=material,
                )
            )
            return StatedUse(reason=reason[:200], item_code=item_code)

        step = "identity.lookup"
        material = ""
        try:
            if self.identity is not None:
                stated = use("申请人身份")
                who = self.identity.look_up(code, code_type, stated)
                outcome.identity = {"verified": bool(who and who.name == applicant.get("name"))}
                if who is not None:
                    outcome.identity["level_of_assurance"] = who.level_of_assurance
                    outcome.identity["kind"] = who.kind
                outcome.lookups.append(_detail(step, shown, stated, given, found=who is not None))
            step = "license.lookup"
            for material in self._materials(payload):
                stated = use(material)
                type_code = self.settings.materials.get(material)
                held = self.library.held_by(code, code_type, stated, type_code=type_code)
                match = next(
                    (
                        h
                        for h in held
                        if h.status == "valid" and (type_code is not None or h.name == material)
                    ),
                    None,
                )
                outcome.lookups.append(
                    _detail(
                        step,
                        shown,
                        stated,
                        given,
                        found=match is not None,
                        material=material,
                        license_id=match.license_id if match else None,
                    )
                )
                if match is not None:
                    outcome.reused.append({"material": material, "license_id": match.license_id})
        except (AdapterError, IdentifierError) as error:
            reason = mask_text(str(error))[:500]
            failed = {"action": step, "holder": shown, "error": reason}
            if material:
                failed["material"] = material
            outcome.lookups.append(failed)
            return _Round(
                status="not_enriched", identity=None, reason=reason, lookups=outcome.lookups
            )
        return outcome

    def _materials(self, payload: Mapping[str, Any]) -> list[str]:
        """The materials to look up: the guide's (or the case's own), less those attached."""
        own = [m for m in payload.get("materials") or () if isinstance(m, Mapping)]
        attached = {m.get("name") for m in own if m.get("license_id")}
        view = self.store.items.get(str(payload.get("item_code", "")))
        names = [m.name for m in view.item.materials] if view else [m["name"] for m in own]
        return [name for name in dict.fromkeys(names) if name not in attached]


class _Fields(dict[str, str]):
    """Template fields; an unknown ``{name}`` stays as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _detail(
    action: str,
    holder: str,
    use: StatedUse,
    consent: str,
    *,
    found: bool,
    material: str | None = None,
    license_id: str | None = None,
) -> dict[str, Any]:
    """The audit detail of one look-up: whose (masked), what for, and what came of it."""
    detail: dict[str, Any] = {
        "action": action,
        "holder": holder,
        "reason": use.reason,
        "item_code": use.item_code,
        "consent": consent,
        "found": found,
    }
    if material is not None:
        detail["material"] = material
    if license_id is not None:
        detail["license_id"] = license_id
    return detail


def with_submit_once(message: Envelope, result: Mapping[str, Any]) -> Envelope:
    """``message`` with ``result`` applied: reused licences attached, ``submit_once`` set."""
    payload = dict(message.payload)
    materials = [dict(m) for m in payload.get("materials") or ()]
    for reused in result.get("reused", ()):
        entry = next((m for m in materials if m.get("name") == reused["material"]), None)
        if entry is None:
            entry = {"name": reused["material"]}
            materials.append(entry)
        entry["license_id"] = reused["license_id"]
        entry["reused"] = True
    if materials:
        payload["materials"] = materials
    payload["submit_once"] = dict(result)
    headers = dict(message.headers)
    headers["submit_once"] = {
        "status": result.get("status"),
        "reused": [r["material"] for r in result.get("reused", ())],
    }
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
