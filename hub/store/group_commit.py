"""Group commit: many accepted messages, one transaction, one fsync.

With ``synchronous=FULL`` every commit waits for the disk. Request threads hand their
rows to one writer thread and wait; the writer takes everything queued meanwhile and
commits it together, so durable ingest costs one fsync per batch instead of one per
message. A batch that fails is retried one item at a time, so one bad row fails only
its own request.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommitter"]

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Item]):
    item: Item
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class GroupCommitter(Generic[Item, Result]):
    """Runs ``write(items)`` for batches of items submitted from many threads.

    Args:
        write: Writes a batch in one transaction and returns one result per item, in order.
        max_batch: At most this many items per transaction.
    """

    def __init__(
        self, write: Callable[[Sequence[Item]], list[Result]], max_batch: int = 256
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Waiting[Item] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, item: Item) -> Result:
        """Write ``item`` with whatever else is queued; returns once it is committed.

        Raises:
            Exception: Whatever writing this item alone raised.
        """
        self._ensure_started()
        waiting = _Waiting(item)
        self._queue.put(waiting)
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error
        result: Result = waiting.result
        return result

    def close(self) -> None:
        """Stop the writer thread once the queue is drained."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=30)
                self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="govhub-group-commit", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Waiting[Item]]) -> None:
        try:
            results = self._write([w.item for w in batch])
        except BaseException:
            if len(batch) == 1:
                batch[0].error = _current_error()
                batch[0].done.set()
                return
            for waiting in batch:  # find the culprit: each item alone
                self._commit([waiting])
            return
        for waiting, result in zip(batch, results, strict=True):
            waiting.result = result
            waiting.done.set()


def _current_error() -> BaseException:
    import sys

    error = sys.exc_info()[1]
    assert error is not None
    return error
