"""The webhook adapter passes the adapter contract against the department sandbox."""

from __future__ import annotations

from typing import Any, ClassVar

from adapters.sdk import AdapterError, RejectedError
from adapters.sdk.testing import AdapterContract
from adapters.webhook.adapter import WebhookAdapter
from adapters.webhook.sandbox import DEFAULT_SECRET, create_app


class TestWebhookContract(AdapterContract):
    adapter = WebhookAdapter
    sandbox = create_app
    examples = ("case.submitted", "case.status_changed", "case.completed")
    # The webhook contract (docs/architecture.md): every 4xx but 408 and 429 is a dead
    # letter, 401 included, because the receiver may refuse one message's signature.
    expected_errors: ClassVar[dict[str, type[AdapterError]]] = {"401": RejectedError}

    def settings(self, url: str) -> dict[str, Any]:
        return {"url": f"{url}/govhub", "secret": DEFAULT_SECRET}


def test_the_department_sandbox_shows_each_deliverys_signature_verified() -> None:
    import json

    from adapters.webhook.signature import HEADER, sign

    app = create_app()
    body = json.dumps({"type": "case.submitted", "correlation_id": "WH-1", "payload": {}}).encode()
    header = sign(DEFAULT_SECRET, body)
    client = app.test_client()
    answer = client.post(
        "/govhub",
        data=body,
        headers={HEADER: header, "Idempotency-Key": "d-1", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    [item] = client.get("/received").get_json()["items"]
    assert item["signature"] == {"header": header, "verified": True}
    assert item["idempotency_key"] == "d-1"


def test_the_department_sandbox_shows_the_traceparent_each_delivery_carried() -> None:
    import json

    from adapters.webhook.signature import HEADER, sign

    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    client = create_app().test_client()
    for key, extra in (("d-1", {"traceparent": traceparent}), ("d-2", {})):
        body = json.dumps({"type": "case.submitted", "payload": {}, "id": key}).encode()
        client.post(
            "/govhub",
            data=body,
            headers={HEADER: sign(DEFAULT_SECRET, body), "Idempotency-Key": key, **extra},
        )
    traced, untraced = client.get("/received").get_json()["items"]
    assert traced["traceparent"] == traceparent
    assert untraced["traceparent"] is None
