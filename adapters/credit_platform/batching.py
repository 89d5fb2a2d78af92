"""Concurrent deliveries become one batch upload.

The dispatcher hands an adapter one delivery at a time, on several worker threads at
once. A :class:`Batcher` lets those calls meet: the first call opens a batch and waits a
moment (``linger_s``) for others to join, or until the batch is full; then it sends the
whole batch with one call and every caller gets back its own item's result: a value, or
its own error. So each delivery still ends on its own (delivered, retried or dead) while
the counterpart sees one request per batch.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Batcher"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Batch(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    results: Sequence[R | BaseException] = ()
    full: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class Batcher(Generic[T, R]):
    """Groups concurrent :meth:`submit` calls into calls of ``send``.

    Args:
        send: Sends a batch; returns one result per item, in order: the item's value,
            or an exception to raise in that item's caller. An exception raised by
            ``send`` itself is every item's result.
        max_size: Items per batch at most.
        linger_s: How long the first item waits for others (0: no waiting, but callers
            that arrive while a batch is being opened still join it).
    """

    def __init__(
        self,
        send: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        max_size: int,
        linger_s: float,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._send = send
        self.max_size = max_size
        self.linger_s = linger_s
        self._lock = threading.Lock()
        self._open: _Batch[T, R] | None = None

    def submit(self, item: T) -> R:
        """Add ``item`` to the open batch (opening one if needed) and wait for its result.

        Raises:
            BaseException: Whatever ``send`` gave as this item's result, or raised.
        """
        with self._lock:
            batch = self._open
            leader = batch is None
            if batch is None:
                batch = self._open = _Batch()
            index = len(batch.items)
            batch.items.append(item)
            if len(batch.items) >= self.max_size:
                self._open = None  # full: later callers open the next batch
                batch.full.set()
        if leader:
            self._lead(batch)
        else:
            batch.done.wait()
        result = batch.results[index]
        if isinstance(result, BaseException):
            # Each caller raises its own copy: one exception object raised in several
            # threads would share (and scramble) its traceback.
            raise copy.copy(result)
        return result

    def _lead(self, batch: _Batch[T, R]) -> None:
        try:
            if self.linger_s > 0:
                batch.full.wait(self.linger_s)
            with self._lock:
                if self._open is batch:
                    self._open = None
            try:
                results = self._send(list(batch.items))
                if len(results) != len(batch.items):
                    raise RuntimeError(
                        f"batch send gave {len(results)} results for {len(batch.items)} items"
                    )
            except Exception as error:  # every item of the batch shares the failure
                results = [error] * len(batch.items)
            batch.results = results
        finally:
            batch.done.set()
