"""Words the console shows for values stored in English (statuses, roles, states).

Kept as lazy translations so the catalogue extractor finds them; templates use the
``word`` filter.
"""

from __future__ import annotations

from flask_babel import lazy_gettext

__all__ = ["JOB_DESCRIPTIONS", "WORDS", "job_description", "schedule_words", "word"]

WORDS = {
    # message and delivery statuses
    "pending": lazy_gettext("pending"),
    "inflight": lazy_gettext("in flight"),
    "delivered": lazy_gettext("delivered"),
    "dead": lazy_gettext("dead"),
    "discarded": lazy_gettext("discarded"),
    "unrouted": lazy_gettext("unrouted"),
    # attempt outcomes
    "retry": lazy_gettext("to retry"),
    # roles
    "viewer": lazy_gettext("viewer"),
    "operator": lazy_gettext("operator"),
    "admin": lazy_gettext("admin"),
    "client": lazy_gettext("client"),
    # circuit states
    "closed": lazy_gettext("closed"),
    "open": lazy_gettext("open"),
    "half_open": lazy_gettext("half-open"),
    # health
    "green": lazy_gettext("healthy"),
    "amber": lazy_gettext("degraded"),
    "red": lazy_gettext("failing"),
    # job runs
    "running": lazy_gettext("running"),
    "ok": lazy_gettext("succeeded"),
    "succeeded": lazy_gettext("succeeded"),
    "failed": lazy_gettext("failed"),
    "timeout": lazy_gettext("timed out"),
    "skipped": lazy_gettext("skipped"),
    "schedule": lazy_gettext("scheduled"),
    "manual": lazy_gettext("manual"),
    "paused": lazy_gettext("paused"),
    "active": lazy_gettext("active"),
    "late": lazy_gettext("late"),
    # channels a message came in by
    "rest": lazy_gettext("REST API"),
    "soap": lazy_gettext("SOAP service"),
    "job": lazy_gettext("sync job"),
    "notify": lazy_gettext("notification"),
    "poll": lazy_gettext("polling"),
    "push": lazy_gettext("pushed"),
    "adapter": lazy_gettext("counterpart"),
    "flow": lazy_gettext("approval flow"),
    # job run counts
    "read": lazy_gettext("read"),
    "published": lazy_gettext("published"),
    # timezones of schedules
    "Asia/Shanghai": lazy_gettext("Beijing time"),
    # audit actions
    "dlq.replay": lazy_gettext("replayed a dead letter"),
    "dlq.replay_matching": lazy_gettext("replayed all matching dead letters"),
    "dlq.discard": lazy_gettext("discarded a dead letter"),
    "dlq.discard_matching": lazy_gettext("discarded all matching dead letters"),
    "job.run": lazy_gettext("ran a job"),
    "job.pause": lazy_gettext("paused a job"),
    "job.resume": lazy_gettext("resumed a job"),
    "user.add": lazy_gettext("added a user"),
    "user.role": lazy_gettext("changed a user's role"),
    "user.password": lazy_gettext("changed a password"),
    "user.disable": lazy_gettext("disabled a user"),
    "user.enable": lazy_gettext("enabled a user"),
    "user.login": lazy_gettext("signed in"),
    "client.add": lazy_gettext("added an API client"),
    "client.revoke": lazy_gettext("revoked an API client"),
    "client.replace": lazy_gettext("gave an API client a new key"),
    "message.reveal": lazy_gettext("looked at a message's personal data"),
    "config.load": lazy_gettext("started the hub with a new configuration"),
    "data.rekey": lazy_gettext("sealed stored personal data under a new key"),
}


def word(value: object) -> str:
    """The reader's word for a stored value (the value itself when there is none)."""
    text = str(value)
    found = WORDS.get(text)
    return str(found) if found is not None else text


#: What the built-in jobs do, in the reader's language (the jobs' own one-line docstrings
#: are English); a job of a plugin not listed here shows its own description.
JOB_DESCRIPTIONS = {
    "hall.pull_applications": lazy_gettext(
        "Pull new online applications from the provincial hall as case.submitted."
    ),
    "citizen_card.sync_status": lazy_gettext(
        "Publish citizen card status changes since the last run."
    ),
    "courier.track_shipments": lazy_gettext(
        "Poll the courier for route events of parcels still on their way."
    ),
    "credit.publish_disclosures": lazy_gettext(
        "Publish due licensing and penalty decisions to the credit platform."
    ),
    "payment.reconcile": lazy_gettext(
        "Reconcile each day's payments with the platform's statement."
    ),
    "hub.retention": lazy_gettext("Delete delivered messages and job runs past their age."),
    "hall.sync_items": lazy_gettext(
        "Read the provincial hall's service-item catalogue and keep every version."
    ),
    "supervision.evaluate": lazy_gettext(
        "Keep case clocks up to date and warn of cases turning yellow or red."
    ),
    "flows.advance": lazy_gettext(
        "Run the approval flows: send review requests, gather opinions, read the clocks."
    ),
    "submit_once.retry": lazy_gettext(
        "Look up again the cases delivered without reused licences, and publish case.enriched."
    ),
}


def job_description(job_id: str, own: str) -> str:
    """What a job does, for the reader: the translated line, or the job's own."""
    found = JOB_DESCRIPTIONS.get(job_id)
    return str(found) if found is not None else own


def schedule_words(schedule: dict[str, object]) -> str:
    """A job's schedule (``{"kind": "interval", "every_s": 1800}`` or a cron) in words."""
    if schedule.get("kind") == "interval":
        every = int(str(schedule.get("every_s", 0)))
        for size, phrase in (
            (86400, lazy_gettext("every %(n)d d")),
            (3600, lazy_gettext("every %(n)d h")),
            (60, lazy_gettext("every %(n)d min")),
        ):
            if every and every % size == 0:
                return str(phrase) % {"n": every // size}
        return str(lazy_gettext("every %(n)d s")) % {"n": every}
    return str(lazy_gettext("cron %(expression)s")) % {"expression": schedule.get("cron", "")}
