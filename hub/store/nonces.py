"""Nonces seen: a captured request signed with one cannot be replayed.

The primary key decides, so two nodes seeing the same nonce at once cannot both accept it;
rows expire with the timestamp window they were checked in. WS-Security UsernameTokens use
them today; any channel that signs requests with a nonce can.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hub.core.clock import utcnow
from hub.store.database import Database
from hub.store.group_commit import GroupCommitter
from hub.store.tables import wsse_nonces

__all__ = ["Nonces"]

_SWEEP_EVERY = dt.timedelta(seconds=60)


class Nonces:
    """Remembers nonces until they expire.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._next_sweep = utcnow()
        # Concurrent requests share one transaction (and one fsync), as messages do.
        self._committer: GroupCommitter[tuple[str, str, dt.datetime], bool] = GroupCommitter(
            self._write
        )

    def close(self) -> None:
        """Finish the writes under way."""
        self._committer.close()

    def remember(self, digest: str, username: str, expires_at: dt.datetime) -> bool:
        """Record a nonce (by its digest); False if it was seen before (a replay).

        Expired nonces are swept out on the way.
        """
        now = utcnow()
        fresh = self._committer.submit((digest, username, expires_at))
        if not fresh:
            return False
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_EVERY
            with self.db.write() as connection:
                connection.execute(wsse_nonces.delete().where(wsse_nonces.c.expires_at < now))
        return True

    def _write(self, batch: Sequence[tuple[str, str, dt.datetime]]) -> list[bool]:
        rows = [{"digest": d, "username": u, "expires_at": e} for d, u, e in batch]
        with self.db.write() as connection:
            inserted = set(
                connection.execute(
                    self.db.dialect.insert_ignoring_duplicates(wsse_nonces).returning(
                        wsse_nonces.c.digest
                    ),
                    rows,
                ).scalars()
            )
        fresh: list[bool] = []
        seen: set[str] = set()
        for digest, _username, _expires in batch:  # the same nonce twice in one batch: once
            fresh.append(digest in inserted and digest not in seen)
            seen.add(digest)
        return fresh
