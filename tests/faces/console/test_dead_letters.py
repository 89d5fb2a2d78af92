"""Finding messages and repairing dead letters from the console, with the audit trail."""

from __future__ import annotations

import datetime as dt

from hub.core.clock import HUB_TZ
from tests.ops_support import OpsClient, RunningConsole, csrf_token, signed_in
from tests.support import Receiver, example, wait_for


def _post(
    console: RunningConsole, key: str, case_no: str, message_type: str = "case.submitted"
) -> str:
    response = console.post(
        key, {"type": message_type, "payload": example(message_type, case_no=case_no)}
    )
    assert response.status_code == 202, response.text
    message_id: str = response.json()["id"]
    return message_id


def _dead(console: RunningConsole, receiver: Receiver, key: str, case_no: str) -> tuple[str, str]:
    """A message whose only delivery the receiver refused: (message id, delivery id)."""
    receiver.respond_with(400)
    message_id = _post(console, key, case_no)
    message = console.wait_delivered(message_id)
    [delivery] = message["deliveries"]
    assert delivery["status"] == "dead"
    return message_id, delivery["id"]


def test_operator_replays_one_dead_letter_from_its_trace(
    console: RunningConsole, receiver: Receiver
) -> None:
    key = console.client("dept")
    message_id, delivery_id = _dead(console, receiver, key, "WH-2026-000900")
    operator = signed_in(console, "operator")
    trace = operator.get(f"/ops/messages/{message_id}")
    assert f'id="replay-{delivery_id}"' in trace.text
    assert "WH-2026-000900" in trace.text

    response = operator.post(
        "/ops/dead-letters/replay",
        {"ids": delivery_id, "next": f"/ops/messages/{message_id}"},
        token_from=f"/ops/messages/{message_id}",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/ops/messages/{message_id}"
    assert console.wait_delivered(message_id)["status"] == "delivered"
    [record] = [r for r in console.hub.store.audit.trail() if r["action"] == "dlq.replay"]
    assert record["actor"] == "operator"
    assert record["target"] == delivery_id
    shown = operator.get(f"/ops/messages/{message_id}").text
    assert "重放了一条死信" in shown  # the trace says who replayed it
    assert "operator" in shown


def test_viewer_sees_no_replay_button_and_is_refused(
    console: RunningConsole, receiver: Receiver
) -> None:
    key = console.client("dept")
    message_id, delivery_id = _dead(console, receiver, key, "WH-2026-000901")
    viewer = signed_in(console, "viewer")
    assert f'id="replay-{delivery_id}"' not in viewer.get(f"/ops/messages/{message_id}").text
    assert viewer.post("/ops/dead-letters/replay", {"ids": delivery_id}).status_code == 403
    assert console.message(message_id)["status"] == "dead"


def test_replay_a_selection(console: RunningConsole, receiver: Receiver) -> None:
    key = console.client("dept")
    dead = [_dead(console, receiver, key, f"WH-2026-00091{n}") for n in range(3)]
    operator = signed_in(console, "operator")
    chosen = [dead[0][1], dead[2][1]]
    response = operator.session.post(
        console.url + "/ops/dead-letters/replay",
        data={"ids": chosen, "scope": "selected", "csrf_token": _token(operator)},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    assert console.wait_delivered(dead[0][0])["status"] == "delivered"
    assert console.wait_delivered(dead[2][0])["status"] == "delivered"
    assert console.message(dead[1][0])["status"] == "dead"


def _token(client: OpsClient) -> str:
    return csrf_token(client.get("/ops/dead-letters").text)


def test_filter_by_error_text_and_replay_all_matching(
    console: RunningConsole, receiver: Receiver
) -> None:
    key = console.client("dept")
    receiver.respond_with(400)
    refused = _post(console, key, "WH-2026-000920")
    console.wait_delivered(refused)
    receiver.respond_with(503)  # one attempt only: gives up at once
    unavailable = _post(console, key, "WH-2026-000921")
    console.wait_delivered(unavailable)
    operator = signed_in(console, "operator")

    page = operator.get("/ops/dead-letters?error=HTTP+503")
    assert "共 1 条" in page.text
    assert unavailable in page.text
    assert refused not in page.text

    response = operator.post(
        "/ops/dead-letters/replay",
        {"scope": "matching", "error": "HTTP 503", "reason": "counterpart back up"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/ops/dead-letters?error=HTTP+503"
    assert console.wait_delivered(unavailable)["status"] == "delivered"
    assert console.message(refused)["status"] == "dead"
    actions = {r["action"]: r for r in console.hub.store.audit.trail()}
    assert actions["dlq.replay"]["detail"] == {"reason": "counterpart back up"}
    assert actions["dlq.replay_matching"]["detail"] == {
        "filter": {"error": "HTTP 503"},
        "count": 1,
    }


def test_discard_needs_a_reason_and_is_final(console: RunningConsole, receiver: Receiver) -> None:
    key = console.client("dept")
    message_id, delivery_id = _dead(console, receiver, key, "WH-2026-000930")
    operator = signed_in(console, "operator")

    operator.post("/ops/dead-letters/discard", {"ids": delivery_id, "reason": "  "})
    assert console.message(message_id)["status"] == "dead"

    operator.post("/ops/dead-letters/discard", {"ids": delivery_id, "reason": "duplicate case"})
    message = console.message(message_id)
    assert message["status"] == "discarded"
    assert message["deliveries"][0]["status"] == "discarded"
    [record] = [r for r in console.hub.store.audit.trail() if r["action"] == "dlq.discard"]
    assert record["actor"] == "operator"
    assert record["detail"] == {"reason": "duplicate case"}
    # Discarded is terminal: a replay leaves it alone, and it is no longer listed.
    operator.post("/ops/dead-letters/replay", {"ids": delivery_id})
    assert console.message(message_id)["status"] == "discarded"
    assert delivery_id not in operator.get("/ops/dead-letters").text
    assert "duplicate case" in operator.get(f"/ops/messages/{message_id}").text


def test_message_search_by_case_number_type_status_and_time(
    console: RunningConsole, receiver: Receiver
) -> None:
    key = console.client("dept")
    delivered = _post(console, key, "WH-2026-000940")
    console.wait_delivered(delivered)
    dead, _ = _dead(console, receiver, key, "WH-2026-000941")
    viewer = signed_in(console, "viewer")

    by_case = viewer.get("/ops/messages?case_no=WH-2026-000941").text
    assert dead in by_case
    assert delivered not in by_case
    by_status = viewer.get("/ops/messages?status=delivered").text
    assert delivered in by_status
    assert dead not in by_status
    by_type = viewer.get("/ops/messages?type=case.completed").text
    assert delivered not in by_type
    assert "没有匹配的消息" in by_type
    by_id = viewer.get(f"/ops/messages?id={delivered}").text
    assert delivered in by_id
    assert dead not in by_id

    now = dt.datetime.now(HUB_TZ)
    since = (now - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    until = (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    assert delivered in viewer.get(f"/ops/messages?since={since}").text
    assert delivered not in viewer.get(f"/ops/messages?until={until}").text
    bad = viewer.get("/ops/messages?since=yesterday")
    assert bad.status_code == 200
    assert "2026-11-27T09:30" in bad.text  # the form says what it expects


def test_trace_shows_every_attempt_with_error_and_timing(
    console: RunningConsole, receiver: Receiver
) -> None:
    key = console.client("dept")
    message_id, delivery_id = _dead(console, receiver, key, "WH-2026-000950")
    page = signed_in(console, "viewer").get(f"/ops/messages/{message_id}").text
    assert delivery_id in page
    assert "civil_affairs answered HTTP 400" in page
    assert " ms</td>" in page
    assert "死信" in page


def test_unknown_message_is_a_page_not_found(console: RunningConsole) -> None:
    response = signed_in(console, "viewer").get("/ops/messages/01NOPE")
    assert response.status_code == 404
    assert "没有此编号的消息" in response.text


def test_dead_letters_wait_for_the_dispatcher_to_be_woken(
    console: RunningConsole, receiver: Receiver
) -> None:
    key = console.client("dept")
    _message_id, delivery_id = _dead(console, receiver, key, "WH-2026-000960")
    operator = signed_in(console, "operator")
    operator.post("/ops/dead-letters/replay", {"ids": delivery_id})
    wait_for(lambda: len(receiver.accepted()) == 1, 10, "the replayed delivery")
    assert receiver.accepted()[0].headers["Idempotency-Key"] == delivery_id
