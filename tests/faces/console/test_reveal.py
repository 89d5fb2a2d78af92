"""The console masks personal data; an admin may look, and the look is audited."""

from __future__ import annotations

from tests.ops_support import RunningConsole, signed_in
from tests.support import example

RESIDENT_ID = "11010519491231002X"


def _message(console: RunningConsole) -> str:
    key = console.client("dept")
    response = console.post(key, {"type": "case.submitted", "payload": example("case.submitted")})
    assert response.status_code == 202, response.text
    message_id: str = response.json()["id"]
    return message_id


def test_an_operator_sees_masked_personal_data_and_cannot_reveal_it(
    console: RunningConsole,
) -> None:
    message_id = _message(console)
    operator = signed_in(console, "operator")
    page = operator.get(f"/ops/messages/{message_id}?reveal=1").text
    assert RESIDENT_ID not in page
    assert "王**" in page
    assert "?reveal=1" not in page
    assert console.hub.store.audit.last("message.reveal") is None


def test_an_admin_reveals_personal_data_and_the_look_is_audited(console: RunningConsole) -> None:
    message_id = _message(console)
    admin = signed_in(console, "admin")
    masked = admin.get(f"/ops/messages/{message_id}").text
    assert RESIDENT_ID not in masked
    assert "?reveal=1" in masked
    shown = admin.get(f"/ops/messages/{message_id}?reveal=1").text
    assert RESIDENT_ID in shown
    assert "本次查看已记入审计日志" in shown
    record = console.hub.store.audit.last("message.reveal")
    assert record is not None
    assert (record.actor, record.target) == ("admin", message_id)
    assert "查看了消息中的个人信息" in admin.get(f"/ops/messages/{message_id}").text
