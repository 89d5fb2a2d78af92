"""The credit platform adapter against its sandbox: contract, batches, per-record results."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from adapters.credit_platform.adapter import CreditPlatform
from adapters.credit_platform.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, create_app
from adapters.sdk import Attempt, Receipt, RejectedError, RetriableError
from adapters.sdk.testing import AdapterContract, SandboxClient
from faces.serving import RunningServer, serve_in_thread
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.core.identifiers import IdentifierError
from tests.support import example, wait_for


class TestCreditPlatformContract(AdapterContract):
    adapter = CreditPlatform
    sandbox = create_app
    examples = ("credit.license_disclosed", "credit.penalty_disclosed")

    def settings(self, url: str) -> dict[str, Any]:
        return {
            "url": url,
            "app_key": DEFAULT_APP_KEY,
            "app_secret": DEFAULT_APP_SECRET,
            "batch_linger_s": 0,
        }


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def platform() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(), "127.0.0.1", 0, threads=16)
    yield server
    server.stop()


@pytest.fixture
def controls(platform: RunningServer) -> Iterator[SandboxClient]:
    client = SandboxClient(platform.url)
    client.reset()
    yield client
    client.reset()
    client.close()


def make_adapter(platform: RunningServer, **changes: Any) -> CreditPlatform:
    settings: dict[str, Any] = {
        "url": platform.url,
        "app_key": DEFAULT_APP_KEY,
        "app_secret": DEFAULT_APP_SECRET,
        "batch_size": 50,
        "batch_linger_s": 0,
        "timeout_s": 5,
    }
    settings.update(changes)
    return CreditPlatform("credit", settings)


@pytest.fixture
def adapter(platform: RunningServer, controls: SandboxClient) -> Iterator[CreditPlatform]:
    made = make_adapter(platform)
    yield made
    made.close()


def disclosure(decision_no: str, message_type: str = "credit.license_disclosed") -> Envelope:
    return Envelope(
        id=new_id(),
        type=message_type,
        source="test",
        payload=example(message_type, decision_no=decision_no),
        created_at=utcnow(),
    )


def delivery(
    decision_no: str, message_type: str = "credit.license_disclosed"
) -> tuple[Envelope, Attempt]:
    return disclosure(decision_no, message_type), Attempt(new_id(), "credit", 1)


def rules(controls: SandboxClient, **document: Any) -> None:
    response = controls.session.post(f"{controls.url}/_sandbox/rules", json=document, timeout=5)
    response.raise_for_status()


def published(controls: SandboxClient) -> dict[str, Any]:
    document: dict[str, Any] = controls.session.get(
        f"{controls.url}/_sandbox/records", timeout=5
    ).json()
    return document


# --------------------------------------------------------------------------- batches


def test_a_rejected_record_fails_alone_with_the_platforms_reason(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    rules(controls, reject={"威许〔2026〕2号": "许可决定书文号与许可机关不匹配"})
    deliveries = [delivery(f"威许〔2026〕{n}号") for n in (1, 2, 3)]
    results = adapter.deliver_many(deliveries)

    first, second, third = results
    assert isinstance(first, Receipt)
    assert isinstance(third, Receipt)
    assert first.detail == "published"
    assert first.data["record_id"] == deliveries[0][1].delivery_id
    assert first.data["platform_id"].startswith("XK")
    assert isinstance(second, RejectedError)
    assert "许可决定书文号与许可机关不匹配" in str(second)
    shown = published(controls)
    assert shown["batches"] == 1
    assert sorted(r["fields"]["XK_WSH"] for r in shown["records"]) == [
        "威许〔2026〕1号",
        "威许〔2026〕3号",
    ]


def test_licence_and_penalty_records_travel_in_one_batch(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    results = adapter.deliver_many(
        [delivery("威许〔2026〕7号"), delivery("威罚〔2026〕7号", "credit.penalty_disclosed")]
    )
    assert all(isinstance(r, Receipt) for r in results)
    shown = published(controls)
    assert shown["batches"] == 1
    assert sorted(r["kind"] for r in shown["records"]) == ["CF", "XK"]


def test_concurrent_deliveries_are_uploaded_together(
    platform: RunningServer, controls: SandboxClient
) -> None:
    adapter = make_adapter(platform, batch_linger_s=5, batch_size=4)
    outcomes: list[Receipt] = []
    lock = threading.Lock()

    def deliver(n: int) -> None:
        receipt = adapter.deliver(*delivery(f"威许〔2026〕{n}号"))
        with lock:
            outcomes.append(receipt)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    adapter.close()
    assert len(outcomes) == 4
    assert published(controls)["batches"] == 1  # four deliveries filled one batch of four


def test_more_records_than_the_batch_size_go_in_several_uploads(
    platform: RunningServer, controls: SandboxClient
) -> None:
    adapter = make_adapter(platform, batch_size=2)
    results = adapter.deliver_many([delivery(f"威许〔2026〕{n}号") for n in range(5)])
    adapter.close()
    assert all(isinstance(r, Receipt) for r in results)
    assert published(controls)["batches"] == 3


def test_a_failed_upload_is_retriable_for_every_record_and_the_retry_publishes_once(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    deliveries = [delivery(f"威许〔2026〕{n}号") for n in (1, 2)]
    adapter.check()
    controls.faults(status=503, times=1)
    failed = adapter.deliver_many(deliveries)
    assert all(isinstance(r, RetriableError) and r.status_code == 503 for r in failed)

    assert all(isinstance(r, Receipt) for r in adapter.deliver_many(deliveries))
    again = adapter.deliver_many(deliveries)  # the platform lost our answer; we send again
    assert [r.detail for r in again if isinstance(r, Receipt)] == ["already published"] * 2
    assert len(controls.effects()) == 2


def test_a_busy_platform_inside_http_200_is_retriable(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    rules(controls, busy=1)
    with pytest.raises(RetriableError, match="SYSTEM_BUSY"):
        adapter.deliver(*delivery("威许〔2026〕1号"))
    assert isinstance(adapter.deliver(*delivery("威许〔2026〕1号")), Receipt)


def test_a_replayed_dead_letter_is_judged_afresh(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    item = delivery("威许〔2026〕9号")
    rules(controls, reject={"威许〔2026〕9号": "数据来源单位未授权"})
    with pytest.raises(RejectedError, match="数据来源单位未授权"):
        adapter.deliver(*item)
    rules(controls, clear=True)
    assert adapter.deliver(*item).detail == "published"


def test_a_changed_disclosure_updates_the_platforms_record(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    message, _attempt = delivery("威许〔2026〕5号")
    adapter.deliver(message, Attempt(new_id(), "credit", 1))
    revoked = Envelope(
        id=new_id(),
        type=message.type,
        source="test",
        payload={**message.payload, "status": "1"},
        created_at=utcnow(),
    )
    receipt = adapter.deliver(revoked, Attempt(new_id(), "credit", 1))
    assert receipt.data["version"] == 2
    [record] = published(controls)["records"]
    assert record["fields"]["XK_ZT"] == "1"
    assert [e["kind"] for e in controls.effects()] == ["publish", "update"]


def test_the_same_delivery_twice_in_one_batch_is_sent_once(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    item = delivery("威许〔2026〕4号")
    results = adapter.deliver_many([item, item])
    assert all(isinstance(r, Receipt) for r in results)
    assert len(published(controls)["records"][0]["record_ids"]) == 1


def test_an_expired_token_is_renewed_without_failing_the_delivery(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    adapter.check()
    response = controls.session.post(f"{controls.url}/_sandbox/expire-tokens", timeout=5)
    response.raise_for_status()
    assert adapter.deliver(*delivery("威许〔2026〕6号")).detail == "published"


def test_platform_rejecting_a_record_that_passed_our_schema_names_the_field(
    adapter: CreditPlatform,
) -> None:
    message, attempt = delivery("威许〔2026〕8号")
    message.payload["decided_on"] = "2999-01-01"  # a decision in the future
    with pytest.raises(RejectedError, match="XK_JDRQ"):
        adapter.deliver(message, attempt)


# --------------------------------------------------------------------------- credit checks


def test_credit_check_finds_a_blacklisted_code(adapter: CreditPlatform) -> None:
    status = adapter.credit_status("91371002MA3C00098L")
    assert status.blacklisted
    assert status.found
    assert status.name == "威海诚信缺失建材有限公司"
    assert [e.list for e in status.entries] == ["严重失信主体名单"]


def test_credit_check_counts_published_disclosures(adapter: CreditPlatform) -> None:
    adapter.deliver(*delivery("威许〔2026〕1号"))
    adapter.deliver(*delivery("威罚〔2026〕1号", "credit.penalty_disclosed"))
    status = adapter.credit_status("91371002MA3C00001M")
    assert not status.blacklisted
    assert (status.licenses, status.penalties) == (1, 1)


def test_credit_check_of_an_unknown_code_says_not_found(adapter: CreditPlatform) -> None:
    status = adapter.credit_status("91110108551385082Q")
    assert not status.found
    assert not status.blacklisted


def test_credit_check_refuses_a_malformed_code_without_asking(
    adapter: CreditPlatform, controls: SandboxClient
) -> None:
    controls.faults(down=True)  # asking would fail differently
    with pytest.raises(IdentifierError, match="check character"):
        adapter.credit_status("91371002MA3C00001A")


def test_sandbox_refuses_uploads_without_a_token(platform: RunningServer) -> None:
    response = requests.post(
        f"{platform.url}/api/v1/disclosures/batch", json={"records": []}, timeout=5
    )
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_INVALID"


def test_sandbox_refuses_an_oversized_batch(adapter: CreditPlatform) -> None:
    adapter.check()
    token = adapter._tokens.token()
    response = requests.post(
        f"{adapter.http.base_url}/api/v1/disclosures/batch",
        json={"records": [{"record_id": str(n)} for n in range(101)]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code == 413
    assert response.json()["code"] == "BATCH_TOO_LARGE"


def test_concurrent_batches_wait_for_each_other_without_losing_records(
    platform: RunningServer, controls: SandboxClient
) -> None:
    adapter = make_adapter(platform, batch_linger_s=0.05, batch_size=3)
    done: list[str] = []
    lock = threading.Lock()

    def deliver(n: int) -> None:
        adapter.deliver(*delivery(f"威许〔2026〕{n}号"))
        with lock:
            done.append(str(n))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(done) == 10)
    adapter.close()
    assert len(published(controls)["records"]) == 10
