"""``hall.pull_applications``: new online applications from the provincial hall, every minute.

Each application becomes ``case.submitted`` (routed to the department that handles the
item), keyed by its case number (申办流水号) so a re-read stores nothing twice. Where the
applicant is a natural person with a citizen card (市民卡), the card's number and status
are added from the citizen card platform (``citizen_card`` in the payload), so the
department sees at once whether the card can be used. The look-up is best effort: when
the card platform is down or misconfigured, the application still goes out, without the
card, and the run log says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from adapters.sdk import AdapterError, Record
from hub.core.identifiers import IdentifierError
from hub.scheduler import JobContext, job, minutes, pull

RESIDENT_ID = "111"


@job(
    "hall.pull_applications",
    every=minutes(1),
    adapter="provincial_hall",
    publishes=("case.submitted",),
    settings={
        "batch": {
            "type": "integer",
            "minimum": 1,
            "maximum": 500,
            "default": 100,
            "description": "Applications read from the hall per batch.",
        },
        "citizen_card": {
            "type": ["string", "null"],
            "default": "citizen_card",
            "description": "The destination (or adapter) to look applicants up in; null: none.",
        },
    },
)
def pull_applications(ctx: JobContext) -> None:
    """New online applications from the provincial hall become case.submitted, with the card."""
    source = ctx.settings["citizen_card"]
    cards = ctx.adapter_for(source) if source else None
    if source and cards is None:
        ctx.log.info("no destination %s: applications go out without citizen cards", source)

    def enrich(record: Record) -> Record:
        return with_citizen_card(ctx, cards, record) if cards is not None else record

    pull(ctx, "applications", transform=enrich, limit=ctx.settings["batch"])


def with_citizen_card(ctx: JobContext, cards: Any, record: Record) -> Record:
    """The application with its applicant's citizen card added, when there is one."""
    applicant = record.payload.get("applicant") or {}
    if applicant.get("id_type") != RESIDENT_ID or not applicant.get("id_no"):
        return record
    ctx.check()
    try:
        holder = cards.holder(applicant["id_no"])
    except IdentifierError:
        return record  # the schema check refuses the record with the reason
    except AdapterError as error:
        ctx.log.warning(
            "citizen card look-up for %s failed (%s); published without the card", record.key, error
        )
        return record
    if holder is None or not holder.card_no:
        return record
    card: dict[str, Any] = {"card_no": holder.card_no, "status": holder.card_status}
    if _is_date(holder.issued_on):
        card["issued_on"] = holder.issued_on
    return Record(
        type=record.type,
        payload={**record.payload, "citizen_card": card},
        key=record.key,
        correlation_id=record.correlation_id,
    )


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
