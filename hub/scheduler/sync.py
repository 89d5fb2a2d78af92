"""The common shape of a sync job: read a counterpart's stream, publish, move the cursor."""

from __future__ import annotations

from collections.abc import Callable

from adapters.sdk import Record
from hub.pipeline.ingest import Invalid
from hub.scheduler.context import JobContext

__all__ = ["pull"]


def pull(
    ctx: JobContext,
    stream: str,
    *,
    transform: Callable[[Record], Record | None] | None = None,
    limit: int = 100,
    max_batches: int = 1000,
) -> None:
    """Read a stream of ``ctx.adapter`` from the job's cursor and publish every record.

    Each batch is published record by record (each with its key as the idempotency
    key); only then does the cursor move to the batch's end. A crash in between reads
    the batch again and publishes nothing twice. A record that does not fit its schema
    is counted as failed, logged with its key and the reasons (never the values), and
    left behind, so one bad record does not stop the stream.

    Args:
        ctx: The run's context.
        stream: The adapter's stream (``Adapter.read``).
        transform: Changes or enriches a record before it is published; returning
            ``None`` leaves the record out.
        limit: Records per read.
        max_batches: Reads per run at most (the rest waits for the next run).

    Raises:
        JobCancelled: The run must stop.
    """
    adapter = ctx.adapter
    for _ in range(max_batches):
        ctx.check()
        batch = adapter.read(stream, ctx.cursor.get(), limit)
        ctx.count_read(len(batch.records))
        for record in batch.records:
            chosen = transform(record) if transform is not None else record
            if chosen is None:
                continue
            try:
                ctx.publish(
                    chosen.type,
                    chosen.payload,
                    key=chosen.key,
                    correlation_id=chosen.correlation_id,
                )
            except Invalid as error:
                reasons = "; ".join(f"{e.path}: {e.message}" for e in error.errors)
                ctx.count_failed(
                    reason=f"{chosen.type} {chosen.key} left out: {error.detail} ({reasons})"
                )
        if batch.cursor is not None:
            ctx.cursor.advance(batch.cursor)
        if not batch.more:
            return
    ctx.log.info("read %d batches; the rest waits for the next run", max_batches)
