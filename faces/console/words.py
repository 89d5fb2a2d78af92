"""Words the console shows for values stored in English (statuses, roles, states).

Kept as lazy translations so the catalogue extractor finds them; templates use the
``word`` filter.
"""

from __future__ import annotations

from flask_babel import lazy_gettext

__all__ = ["WORDS", "word"]

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
}


def word(value: object) -> str:
    """The reader's word for a stored value (the value itself when there is none)."""
    text = str(value)
    found = WORDS.get(text)
    return str(found) if found is not None else text
