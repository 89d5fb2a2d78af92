"""A case for an item the catalogue does not know is accepted, with a warning saying so.

The check is a note on ingest (:attr:`hub.pipeline.ingest.Ingest.notes`): it never refuses.
It looks codes up in memory (the catalogue's codes, read again every minute) and asks the
store about a code it does not know yet, so an item synced a moment ago is not warned
about; an unknown code is asked about at most once a minute. A hub whose catalogue is
empty (no hall to sync from) has no opinion and says nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from hub.core.errors import FieldError
from hub.store.items import Items

__all__ = ["UnknownItemNote"]

#: Seconds the known codes (and an unknown code's answer) are trusted.
TTL_S = 60.0
WARNING = FieldError(
    "payload.item_code",
    "is not in the service-item catalogue: the case is accepted and flagged; its time limit"
    " is unknown until the item is",
)


class UnknownItemNote:
    """Warns about a ``case.submitted`` whose ``item_code`` is not in the catalogue.

    Args:
        items: The catalogue.
    """

    def __init__(self, items: Items) -> None:
        self._items = items
        self._lock = threading.Lock()
        self._known: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._unknown: dict[str, float] = {}

    def __call__(self, message_type: str, payload: Mapping[str, Any]) -> Sequence[FieldError]:
        """The warning, or nothing."""
        code = payload.get("item_code")
        if message_type != "case.submitted" or not isinstance(code, str):
            return ()
        now = time.monotonic()
        known = self._codes(now)
        if not known or code in known:
            return ()
        with self._lock:
            asked = self._unknown.get(code)
        if asked is not None and now - asked < TTL_S:
            return (WARNING,)
        if self._items.get(code) is not None:
            with self._lock:
                self._known = self._known | {code}
                self._unknown.pop(code, None)
            return ()
        with self._lock:
            if len(self._unknown) > 10_000:
                self._unknown.clear()
            self._unknown[code] = now
        return (WARNING,)

    def _codes(self, now: float) -> frozenset[str]:
        with self._lock:
            if now - self._read_at < TTL_S:
                return self._known
        codes = frozenset(self._items.codes())
        with self._lock:
            self._known, self._read_at = codes, now
        return codes
