"""``credit.publish_disclosures``: decisions not yet disclosed go to the credit platform, daily.

双公示: every licensing and penalty decision is published on the credit platform within 7
working days of the decision. Departments send their decisions to the hub as
``credit.license_disclosed`` / ``credit.penalty_disclosed``; a route normally sends them on
at once. Every morning this job looks at the decisions of the last ``lookback_days``:

- a decision with no delivery to the credit platform at all (no route took it there) gets
  one now: the delivery is added to the stored message (the outbox), so the dispatcher
  sends it with the usual retries, and the message's history shows it;
- a decision still being delivered, or dead-lettered (the platform refused it, or retries
  ran out), is left to the dispatcher and to ops;
- a licence the hub saw issued (``license.issued``) with no disclosure of it at all is a
  decision the platform will never hear of unless its department sends one.

For every such decision whose deadline (``deadline_working_days`` working days after the
decision, counted on the working-day calendar) is within ``warn_within_working_days`` or
past, the run log gets a warning and a ``credit.disclosure_due`` is published, once when
the deadline is near and once when it has passed (keyed by decision and level), so the
responsible department (by a route on ``payload.authority.uscc``) and ops hear of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from hub.core.identifiers import IdentifierError, check_uscc
from hub.scheduler import JobContext, days, job, minutes
from hub.store import Store

__all__ = ["Decision", "publish_disclosures"]

DISCLOSURES = {"credit.license_disclosed": "license", "credit.penalty_disclosed": "penalty"}
LICENCES = "license.issued"


@dataclass
class Decision:
    """A decision and what became of its disclosure.

    Attributes:
        kind: ``license`` or ``penalty``.
        decision_no: 文书号 (for a licence with no disclosure, the licence number).
        decided_on: The decision's day.
        counterpart_name: Whom it concerns.
        authority: ``{name, uscc}`` of the deciding body, when known.
        state: ``disclosed``, ``not_sent``, ``sending``, ``failed`` or ``no_disclosure``.
        message_ids: The hub's messages carrying it.
        detail: Why it is not disclosed (a dead letter's last error).
        unsent: Its messages never sent to the credit platform (queued by the job).
    """

    kind: str
    decision_no: str
    decided_on: dt.date
    counterpart_name: str | None = None
    authority: dict[str, str] | None = None
    state: str = "not_sent"
    message_ids: list[str] = field(default_factory=list)
    detail: str | None = None
    unsent: list[str] = field(default_factory=list)


@job(
    "credit.publish_disclosures",
    cron="0 9 * * *",
    adapter="credit_platform",
    publishes=("credit.disclosure_due",),
    timeout=minutes(30),
    settings={
        "deadline_working_days": {
            "type": "integer",
            "minimum": 1,
            "maximum": 60,
            "default": 7,
            "description": "Working days after the decision by which it must be disclosed.",
        },
        "warn_within_working_days": {
            "type": "integer",
            "minimum": 0,
            "maximum": 60,
            "default": 2,
            "description": "Warn when the deadline is this many working days away or fewer.",
        },
        "lookback_days": {
            "type": "integer",
            "minimum": 1,
            "maximum": 3660,
            "default": 60,
            "description": "Decisions stored in the hub this many days back are looked at.",
        },
    },
)
def publish_disclosures(ctx: JobContext) -> None:
    """Undisclosed decisions go to the credit platform; near or past deadlines are warned of."""
    destination = ctx.adapter.destination
    today = ctx.due_at.date()
    since = ctx.now() - days(ctx.settings["lookback_days"])
    decisions = find_decisions(ctx.store, destination, since)
    ctx.count_read(len(decisions))
    queued = 0
    for decision in decisions:
        ctx.check()
        for message_id in decision.unsent:
            added = ctx.store.deliveries.add(
                message_id, destination, route=f"job:{ctx.job_id}", actor=f"job:{ctx.job_id}"
            )
            queued += added is not None
    if queued:
        ctx.log.info("queued %d undisclosed decision(s) for %s", queued, destination)
    for decision in decisions:
        if decision.state == "disclosed":
            continue
        if decision.state == "failed":
            ctx.count_failed()
        _warn_if_due(ctx, decision, today)


def _warn_if_due(ctx: JobContext, decision: Decision, today: dt.date) -> None:
    calendar = ctx.calendar
    due_on = calendar.add_working_days(decision.decided_on, ctx.settings["deadline_working_days"])
    left = calendar.working_days_between(today, due_on)
    if today > due_on:
        level = "overdue"
    elif left <= ctx.settings["warn_within_working_days"]:
        level = "near"
    else:
        return
    ctx.log.warning(
        "%s decision %s (%s) is not disclosed (%s): due %s, %s",
        decision.kind,
        decision.decision_no,
        decision.decided_on,
        decision.state,
        due_on,
        f"{-left} working day(s) overdue" if level == "overdue" else f"{left} working day(s) left",
    )
    payload: dict[str, Any] = {
        "kind": decision.kind,
        "decision_no": decision.decision_no[:200],
        "decided_on": decision.decided_on.isoformat(),
        "due_on": due_on.isoformat(),
        "working_days_left": left,
        "level": level,
        "state": decision.state,
        "message_id": decision.message_ids[-1],
    }
    if decision.counterpart_name:
        payload["counterpart_name"] = decision.counterpart_name[:200]
    if decision.authority:
        payload["authority"] = decision.authority
    if decision.detail:
        payload["detail"] = decision.detail[:4000]
    identity = hashlib.sha256(
        f"{decision.kind}\n{decision.decision_no}\n{decision.counterpart_name}".encode()
    ).hexdigest()[:32]
    ctx.publish(
        "credit.disclosure_due",
        payload,
        key=f"credit.disclosure_due:{level}:{identity}",
        correlation_id=decision.decision_no[:200],
    )


def find_decisions(store: Store, destination: str, since: dt.datetime) -> list[Decision]:
    """The decisions stored since ``since``, each with the state of its disclosure.

    A decision is identified by kind, 文书号 and counterpart: a department that sends a
    decision again (a correction, a revocation) sends the same decision, disclosed when
    any of its messages reached the platform.
    """
    stored = store.messages.with_deliveries_to([*DISCLOSURES, LICENCES], destination, since=since)
    found: dict[tuple[str, str, str], Decision] = {}
    licence_numbers: set[str] = set()
    for envelope, sent in stored:
        if envelope.type not in DISCLOSURES:
            continue
        payload = envelope.payload
        kind = DISCLOSURES[envelope.type]
        counterpart = payload.get("counterpart") or {}
        identity = (kind, payload["decision_no"], counterpart.get("name", ""))
        decision = found.get(identity)
        if decision is None:
            decision = found[identity] = Decision(
                kind=kind,
                decision_no=payload["decision_no"],
                decided_on=dt.date.fromisoformat(payload["decided_on"]),
                counterpart_name=counterpart.get("name"),
                authority=payload.get("authority"),
            )
        decision.message_ids.append(envelope.id)
        _merge_state(decision, envelope.id, sent)
        if payload.get("license_number"):
            licence_numbers.add(payload["license_number"])
    for envelope, _sent in stored:
        if envelope.type != LICENCES or envelope.payload["number"] in licence_numbers:
            continue
        licence = envelope.payload
        identity = ("license", licence["number"], licence["holder"]["name"])
        if identity in found:
            found[identity].message_ids.append(envelope.id)
            continue
        found[identity] = Decision(
            kind="license",
            decision_no=licence["number"],
            decided_on=dt.date.fromisoformat(licence["issued_on"]),
            counterpart_name=licence["holder"]["name"],
            authority=_authority(licence.get("issuer") or {}),
            state="no_disclosure",
            message_ids=[envelope.id],
            detail=f"licence {licence['name']} {licence['number']} was issued;"
            " no disclosure of its decision reached the hub",
        )
    return list(found.values())


_RANK = {"not_sent": 0, "failed": 1, "sending": 2, "disclosed": 3}


def _merge_state(decision: Decision, message_id: str, sent: list[tuple[str, str | None]]) -> None:
    """Fold one message's deliveries into the decision's state (the best one wins).

    Every message never sent is queued, even for a decision disclosed already: a later
    message of a decision changes its record on the platform (a correction, a revocation).
    """
    statuses = {status for status, _ in sent}
    if "delivered" in statuses:
        state = "disclosed"
    elif statuses & {"pending", "inflight"}:
        state = "sending"
    elif "dead" in statuses:
        state = "failed"
        decision.detail = next(
            (error for status, error in reversed(sent) if status == "dead" and error), None
        )
    else:
        state = "not_sent"
        decision.unsent.append(message_id)
    if _RANK[state] > _RANK[decision.state]:
        decision.state = state


def _authority(issuer: dict[str, Any]) -> dict[str, str] | None:
    name, code = issuer.get("name"), issuer.get("code")
    if not name or not code:
        return None
    try:
        check_uscc(code)
    except IdentifierError:
        return None
    return {"name": name, "uscc": code}
