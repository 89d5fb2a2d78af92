"""Counterpart sandboxes for job tests: served on 127.0.0.1, with destination tables for them."""

from __future__ import annotations

from typing import Any

from adapters.citizen_card.sandbox import DEFAULT_APP_ID as CARD_APP_ID
from adapters.citizen_card.sandbox import DEFAULT_APP_SECRET as CARD_SECRET
from adapters.credit_platform.sandbox import DEFAULT_APP_KEY as CREDIT_KEY
from adapters.credit_platform.sandbox import DEFAULT_APP_SECRET as CREDIT_SECRET
from adapters.provincial_hall.sandbox import DEFAULT_PASSWORD, ENDPOINT

FAST_RETRY = {"max_attempts": 3, "backoff_initial_s": 0.05, "backoff_max_s": 0.2}
CIRCUIT = {"failure_threshold": 50, "open_s": 1}


def hall_destination(url: str, **extra: Any) -> dict[str, Any]:
    """The provincial hall sandbox at ``url`` as a destination."""
    return {
        "name": "provincial_hall",
        "adapter": "provincial_hall",
        "url": f"{url}{ENDPOINT}",
        "username": "govhub",
        "password": DEFAULT_PASSWORD,
        "timeout_s": 5,
        "retry": FAST_RETRY,
        "circuit": CIRCUIT,
        **extra,
    }


def card_destination(url: str, **extra: Any) -> dict[str, Any]:
    """The citizen card sandbox at ``url`` as a destination."""
    return {
        "name": "citizen_card",
        "adapter": "citizen_card",
        "url": url,
        "app_id": CARD_APP_ID,
        "app_secret": CARD_SECRET,
        "timeout_s": 5,
        **extra,
    }


def credit_destination(url: str, **extra: Any) -> dict[str, Any]:
    """The credit platform sandbox at ``url`` as a destination."""
    return {
        "name": "credit_platform",
        "adapter": "credit_platform",
        "url": url,
        "app_key": CREDIT_KEY,
        "app_secret": CREDIT_SECRET,
        "batch_linger_s": 0.01,
        "timeout_s": 5,
        "retry": FAST_RETRY,
        "circuit": CIRCUIT,
        **extra,
    }
