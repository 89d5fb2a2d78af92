"""Retention: forgetting what is finished and old, and never what is not.

Delivered messages (every delivery delivered) and, optionally, unrouted ones (nothing
to deliver) are deleted with their deliveries and attempts once older than an age.
Messages with any delivery still pending, in flight or dead are never touched: they
are work or evidence. Deleting happens in small batches, one transaction each, so the
store keeps serving meanwhile.

A message's ``client_ref`` goes with it: the idempotency window of a sender's ids is
the retention age.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete, exists, select

from hub.store import Store
from hub.store.tables import attempts, deliveries, messages

__all__ = ["purge_messages"]


def purge_messages(
    store: Store,
    *,
    before: dt.datetime,
    include_unrouted: bool = True,
    batch: int = 500,
    between_batches: Callable[[], None] = lambda: None,
) -> int:
    """Delete finished messages last changed before ``before``.

    Args:
        store: The message store.
        before: Messages whose last change is older are deleted.
        include_unrouted: Also delete unrouted messages (no destination wanted them).
        batch: Messages per transaction.
        between_batches: Called between batches (a job checks for cancellation there).

    Returns:
        How many messages were deleted.
    """
    statuses = ["delivered", "unrouted"] if include_unrouted else ["delivered"]
    unfinished = exists().where(
        deliveries.c.message_id == messages.c.id, deliveries.c.status != "delivered"
    )
    total = 0
    while True:
        with store.write() as connection:
            ids = list(
                connection.execute(
                    select(messages.c.id)
                    .where(
                        messages.c.status.in_(statuses),
                        messages.c.updated_at < before,
                        ~unfinished,
                    )
                    .order_by(messages.c.id)
                    .limit(batch)
                ).scalars()
            )
            if ids:
                delivery_ids = select(deliveries.c.id).where(deliveries.c.message_id.in_(ids))
                connection.execute(delete(attempts).where(attempts.c.delivery_id.in_(delivery_ids)))
                connection.execute(delete(deliveries).where(deliveries.c.message_id.in_(ids)))
                connection.execute(delete(messages).where(messages.c.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total
        between_batches()
