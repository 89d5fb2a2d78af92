"""Concurrent deliveries meet in one batch; each caller gets its own result."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from adapters.credit_platform.batching import Batcher
from adapters.sdk import RejectedError, RetriableError
from tests.support import wait_for


class Recorder:
    """A ``send`` that records batches and can be held until released."""

    def __init__(self, decide: Callable[[str], str | BaseException] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.decide = decide or (lambda item: item.upper())
        self.gate = threading.Event()
        self.gate.set()
        self.sending = threading.Event()

    def __call__(self, items: list[str]) -> Sequence[str | BaseException]:
        self.sending.set()
        self.gate.wait(10)
        self.batches.append(items)
        return [self.decide(item) for item in items]


def run_concurrently(batcher: Batcher[str, str], items: list[str]) -> dict[str, object]:
    results: dict[str, object] = {}
    lock = threading.Lock()

    def call(item: str) -> None:
        try:
            value: object = batcher.submit(item)
        except Exception as error:
            value = error
        with lock:
            results[item] = value

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_calls_arriving_within_the_linger_go_out_as_one_batch() -> None:
    send = Recorder()
    batcher: Batcher[str, str] = Batcher(send, max_size=10, linger_s=1.0)
    results: dict[str, str] = {}
    first = threading.Thread(target=lambda: results.update(a=batcher.submit("a")))
    first.start()
    wait_for(lambda: batcher._open is not None and len(batcher._open.items) == 1)
    assert batcher.submit("b") == "B"  # joins the open batch and returns with it
    first.join(10)
    assert results == {"a": "A"}
    assert send.batches == [["a", "b"]]


def test_a_full_batch_goes_at_once_without_waiting_for_the_linger() -> None:
    send = Recorder()
    batcher: Batcher[str, str] = Batcher(send, max_size=3, linger_s=30)
    results = run_concurrently(batcher, ["a", "b", "c"])
    assert results == {"a": "A", "b": "B", "c": "C"}
    assert [sorted(b) for b in send.batches] == [["a", "b", "c"]]


def test_each_caller_gets_its_own_items_error() -> None:
    def decide(item: str) -> str | BaseException:
        return RejectedError(f"refused {item}") if item == "bad" else item.upper()

    batcher: Batcher[str, str] = Batcher(Recorder(decide), max_size=3, linger_s=30)
    results = run_concurrently(batcher, ["good", "bad", "fine"])
    assert results["good"] == "GOOD"
    assert results["fine"] == "FINE"
    assert isinstance(results["bad"], RejectedError)
    assert str(results["bad"]) == "refused bad"


def test_a_failed_send_fails_every_item_with_its_own_copy_of_the_error() -> None:
    def send(items: list[str]) -> Sequence[str]:
        raise RetriableError("platform down", status_code=503, retry_after=4)

    batcher: Batcher[str, str] = Batcher(send, max_size=2, linger_s=30)
    results = run_concurrently(batcher, ["a", "b"])
    errors = [results["a"], results["b"]]
    assert all(isinstance(e, RetriableError) for e in errors)
    assert errors[0] is not errors[1]
    assert [(e.status_code, e.retry_after) for e in errors if isinstance(e, RetriableError)] == [
        (503, 4),
        (503, 4),
    ]


def test_a_wrong_number_of_results_is_an_error_for_every_item() -> None:
    batcher: Batcher[str, str] = Batcher(lambda items: ["only one"], max_size=2, linger_s=30)
    results = run_concurrently(batcher, ["a", "b"])
    assert all(isinstance(v, RuntimeError) for v in results.values())


def test_without_linger_a_lone_call_goes_out_alone_and_the_next_opens_a_new_batch() -> None:
    send = Recorder()
    batcher: Batcher[str, str] = Batcher(send, max_size=10, linger_s=0)
    assert batcher.submit("x") == "X"
    assert batcher.submit("y") == "Y"
    assert send.batches == [["x"], ["y"]]


def test_calls_arriving_while_a_batch_is_being_sent_open_the_next_one() -> None:
    send = Recorder()
    send.gate.clear()
    batcher: Batcher[str, str] = Batcher(send, max_size=10, linger_s=0)
    first = threading.Thread(target=batcher.submit, args=("first",))
    first.start()
    assert send.sending.wait(10)  # the first batch is closed and being sent
    second = threading.Thread(target=batcher.submit, args=("second",))
    second.start()
    send.gate.set()
    first.join(10)
    second.join(10)
    assert sorted(send.batches) == [["first"], ["second"]]  # two batches, sent side by side


def test_max_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_size"):
        Batcher(lambda items: items, max_size=0, linger_s=0)
