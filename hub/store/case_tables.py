"""The tables of service items (事项) and of case clocks (限时办结), on the engine's metadata.

``items`` holds each item as the provincial hall last described it, ``item_versions`` every
version the hub has seen. ``case_events`` is the timeline of each case: one row per
accepted ``case.*`` message, written in the same transaction as the message itself, so an
accepted event is never lost; ``applied`` says whether the case's record (``cases``) has
taken it in yet. ``cases`` is one record per case: its clock and its supervision light.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Index, Integer, String, Table

from hub.core.columns import JSONType, UTCDateTime
from hub.store.tables import metadata

__all__ = ["case_enrichments", "case_events", "cases", "item_versions", "items"]

items = Table(
    "items",
    metadata,
    Column("code", String(64), primary_key=True),  # 实施编码
    Column("name", String(200), nullable=False),
    Column("department_code", String(18), nullable=False),  # 实施主体 (USCC)
    Column("department_name", String(200), nullable=False),
    # 01 licensing … 10 other power, 20 public service (DOMAIN.md)
    Column("item_type", String(2), nullable=False),
    # 1 immediate (即办件), 2 committed (承诺件)
    Column("case_kind", String(1), nullable=False),
    Column("legal_limit_days", Integer),  # 法定时限, working days; NULL: none set by law
    Column("committed_limit_days", Integer, nullable=False),  # 承诺时限, working days
    Column("materials", JSONType, nullable=False),  # [{name, required}]
    # published (事项公开) | pre_review (在线预审) | fully_online (全程网办)
    Column("online_depth", String(20), nullable=False),
    Column("area_code", String(6)),
    # in_force | withdrawn (the hall no longer offers it)
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    # SHA-256 of the fields above: a page read twice changes nothing
    Column("digest", String(64), nullable=False),
    Column("hall_version", Integer),
    Column("hall_updated_at", UTCDateTime()),
    Column("source", String(100), nullable=False),
    Column("synced_at", UTCDateTime(), nullable=False),
    Index(None, "department_code", "code"),
)

item_versions = Table(
    "item_versions",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", JSONType, nullable=False),  # the item's fields at this version
    Column("digest", String(64), nullable=False),
    Column("hall_version", Integer),
    Column("hall_updated_at", UTCDateTime()),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("run_id", String(26)),
)

case_events = Table(
    "case_events",
    metadata,
    Column("message_id", String(26), primary_key=True),
    Column("case_no", String(64), nullable=False),
    Column("type", String(100), nullable=False),
    Column("status", String(2)),  # case.status_changed: the state code
    Column("result", String(1)),  # case.completed: the result code
    # When it happened, as the sender says (submitted_at / occurred_at / completed_at)
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),  # when the hub accepted it
    Column("source", String(100), nullable=False),
    Column("item_code", String(64)),
    Column("item_name", String(200)),
    Column("department_code", String(18)),
    Column("department_name", String(200)),
    Column("applied", Boolean, nullable=False),
    Index(None, "case_no", "occurred_at"),
    # The pending ones are found in this index without reading the applied ones.
    Index(None, "applied", "received_at"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_no", String(64), primary_key=True),
    Column("item_code", String(64)),
    Column("item_name", String(200)),
    Column("item_known", Boolean, nullable=False),  # false: not in the catalogue (flagged)
    Column("item_version", Integer),  # the item version the clock was bound to
    Column("department_code", String(18)),
    Column("department_name", String(200)),
    Column("case_kind", String(1)),
    Column("limit_days", Integer),  # the committed limit in working days; NULL: unknown
    Column("status", String(2)),  # the latest state code, by when it happened
    Column("submitted_at", UTCDateTime()),
    Column("accepted_at", UTCDateTime()),  # the clock starts here
    Column("stops", JSONType, nullable=False),  # [{kind, from, to}]: supplement, special
    Column("stopped", Boolean, nullable=False),  # a stop is running now
    Column("finished_at", UTCDateTime()),
    Column("result", String(1)),
    Column("open", Boolean, nullable=False),
    # green | yellow | red | none (no limit known): as last evaluated, final when closed
    Column("light", String(10), nullable=False),
    Column("due_on", Date),
    Column("used_days", Integer),  # working days used, when closed
    Column("on_time", Boolean),  # when closed
    # The due day a supervision.warning / supervision.overdue was published for
    Column("warned_for", Date),
    Column("overdue_for", Date),
    Column("last_event_at", UTCDateTime()),
    Column("event_count", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Evaluation walks the open cases in this index and never reads a closed one.
    Index(None, "open", "case_no"),
    Index(None, "open", "light", "department_code"),
    Index(None, "department_code", "finished_at"),
    Index(None, "finished_at"),
    Index(None, "accepted_at"),
)

#: Submit once (免提交): what the e-license library and the identity service said about a
#: case's applicant, kept for the case so every delivery of it reuses one look-up, and so
#: the retry job finds the cases that reached their department "not enriched".
case_enrichments = Table(
    "case_enrichments",
    metadata,
    Column("case_no", String(64), primary_key=True),
    Column("message_id", String(26), nullable=False),  # the case.submitted looked up for
    Column("status", String(20), nullable=False),  # enriched | not_enriched | declined
    Column("result", JSONType, nullable=False),  # payload.submit_once as delivered
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime()),  # not_enriched: when the job tries again
    Column("published_id", String(26)),  # the case.enriched the job published
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "status", "next_attempt_at"),
)
