"""One trace per message: from the sender's ``traceparent`` (REST or SOAP) through ingest,
routing and each attempt to the receiver's request, in the log lines too, and across a
restart of the delivering runtime."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from zeep import Client
from zeep.wsse.username import UsernameToken

from hub.observability.logs import LoggingSettings, configure_logging
from hub.observability.tracing import configure_tracing
from tests.support import (
    Receiver,
    RunningHub,
    example,
    hub_config,
    running_hub,
    start_receiver,
    wait_for,
    webhook_destination,
)

ROUTES = [{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}]


@pytest.fixture(scope="module")
def receiver_of_module() -> Iterator[Receiver]:
    running = start_receiver()
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def traced_hub(
    tmp_path_factory: pytest.TempPathFactory, receiver_of_module: Receiver
) -> Iterator[RunningHub]:
    config = hub_config(
        tmp_path_factory.mktemp("tracing"),
        destinations=[webhook_destination("civil_affairs", receiver_of_module)],
        routes=ROUTES,
    )
    with running_hub(config) as running:
        yield running


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process ends, kept in memory (the test-only exporter)."""
    exporter = InMemorySpanExporter()
    configure_tracing(exporter=exporter)
    yield exporter
    configure_tracing()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The hub's JSON log lines at DEBUG, as a collector would read them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(LoggingSettings(format="json", level="DEBUG"), stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _traceparent(sampled: bool = True) -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}", trace_id, span_id


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


def _received(receiver: Receiver, message_id: str) -> Mapping[str, str]:
    found = wait_for(
        lambda: [r for r in receiver.accepted() if r.headers["X-GovHub-Message-Id"] == message_id],
        message=f"the receiver to get {message_id}",
    )
    return found[0].headers


def _spans_of(exporter: InMemorySpanExporter, trace_id: str) -> dict[str, ReadableSpan]:
    by_name: dict[str, ReadableSpan] = {}
    for done in exporter.get_finished_spans():
        assert done.context is not None
        if _hex(done.context.trace_id, 32) == trace_id:
            by_name[done.name] = done
    return by_name


def _wait_spans(exporter: InMemorySpanExporter, trace_id: str) -> dict[str, ReadableSpan]:
    # the deliver span ends once the outcome is stored, just after the receiver answered
    return wait_for(
        lambda: (
            (found := _spans_of(exporter, trace_id)).keys() >= {"ingest", "route", "deliver"}
            and found
        ),
        message="the ingest, route and deliver spans",
    )


def _trace_of(headers: Mapping[str, str]) -> tuple[str, str]:
    version, trace_id, parent_id, flags = headers["traceparent"].split("-")
    assert version == "00"
    assert len(flags) == 2
    int(flags, 16)  # W3C level 2 adds a "random" flag (02) to the sampled one (01)
    return trace_id, parent_id


def _check_one_trace(
    found: dict[str, ReadableSpan], trace_id: str, got: Mapping[str, str], message_id: str
) -> None:
    ingest, route, deliver = found["ingest"], found["route"], found["deliver"]
    assert ingest.context is not None
    assert deliver.context is not None
    assert route.parent is not None
    assert route.parent.span_id == ingest.context.span_id
    # the attempt continues the stored context: a child of the ingest span
    assert deliver.parent is not None
    assert deliver.parent.span_id == ingest.context.span_id
    assert ingest.attributes is not None
    assert deliver.attributes is not None
    assert ingest.attributes["govhub.message.id"] == message_id
    assert ingest.attributes["govhub.message.type"] == "case.submitted"
    assert route.attributes is not None
    assert route.attributes["govhub.route.targets"] == 1
    assert deliver.attributes["govhub.destination"] == "civil_affairs"
    assert deliver.attributes["govhub.attempt"] == 1
    assert deliver.attributes["govhub.outcome"] == "delivered"
    assert deliver.attributes["http.response.status_code"] == 200
    # the receiver's request is a child of that attempt, in the same trace
    assert _trace_of(got) == (trace_id, _hex(deliver.context.span_id, 16))


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/vnd.govhub+json"],
    ids=["fast-path", "flask-view"],
)
def test_sender_trace_id_is_seen_at_ingest_in_the_logs_and_at_the_receiver(
    traced_hub: RunningHub,
    receiver_of_module: Receiver,
    spans: InMemorySpanExporter,
    log_lines: io.StringIO,
    content_type: str,
) -> None:
    name = f"dept-{content_type.split('/')[1]}"
    key = traced_hub.client(name)
    traceparent, trace_id, sender_span = _traceparent()
    response = traced_hub.session.post(
        f"{traced_hub.url}/api/v1/messages",
        data=json.dumps({"type": "case.submitted", "payload": example("case.submitted")}),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": content_type,
            "traceparent": traceparent,
            "tracestate": "congo=t61rcWkgMzE",
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    got = _received(receiver_of_module, message_id)
    found = _wait_spans(spans, trace_id)
    _check_one_trace(found, trace_id, got, message_id)
    ingest = found["ingest"]
    assert ingest.kind is SpanKind.SERVER
    assert ingest.parent is not None
    assert _hex(ingest.parent.span_id, 16) == sender_span
    assert ingest.parent.is_remote
    assert got["tracestate"] == "congo=t61rcWkgMzE"  # vendors' state travels along
    assert ingest.attributes is not None
    assert ingest.context is not None
    assert ingest.attributes["govhub.client"] == name
    assert ingest.attributes["govhub.channel"] == "rest"
    # what the delivery process continues from: the ingest span, kept in the envelope
    stored = traced_hub.message(message_id)["headers"]
    assert _trace_of(stored) == (trace_id, _hex(ingest.context.span_id, 16))

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    accepted = [
        line
        for line in lines
        if line["logger"] == "govhub.ingest" and message_id in line["message"]
    ]
    attempted = [
        line
        for line in lines
        if line["logger"] == "govhub.dispatcher" and line.get("message_id") == message_id
    ]
    assert accepted, lines
    assert attempted, lines
    assert {line["trace_id"] for line in accepted + attempted} == {trace_id}
    deliver = found["deliver"]
    assert deliver.context is not None
    assert attempted[0]["span_id"] == _hex(deliver.context.span_id, 16)


def test_soap_caller_trace_id_reaches_the_receiver(
    traced_hub: RunningHub, receiver_of_module: Receiver, spans: InMemorySpanExporter
) -> None:
    key = traced_hub.client("dept-soap")
    traceparent, trace_id, sender_span = _traceparent()
    client = Client(
        f"{traced_hub.url}/soap/GovHubService?wsdl", wsse=UsernameToken("dept-soap", key)
    )
    client.transport.session.headers["traceparent"] = traceparent
    try:
        soap = client.bind("GovHubService", "GovHubServiceSoap12")
        answer = soap.SubmitCase(
            client_ref="soap-traced-1",
            CaseSubmitted=example("case.submitted", case_no="SOAP-TRACE-1"),
        )
    finally:
        client.transport.session.close()

    got = _received(receiver_of_module, answer.message_id)
    found = _wait_spans(spans, trace_id)
    _check_one_trace(found, trace_id, got, answer.message_id)
    ingest = found["ingest"]
    assert ingest.parent is not None
    assert _hex(ingest.parent.span_id, 16) == sender_span
    assert ingest.attributes is not None
    assert ingest.attributes["govhub.channel"] == "soap"


@pytest.mark.parametrize(
    "malformed",
    [
        "garbage",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # upper-case hex
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # the invalid trace id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # the forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # version 00 + more
    ],
    ids=["garbage", "upper-case", "zero-trace-id", "version-ff", "trailing-fields"],
)
def test_a_malformed_traceparent_starts_a_new_trace_and_the_message_is_accepted(
    traced_hub: RunningHub,
    receiver_of_module: Receiver,
    spans: InMemorySpanExporter,
    malformed: str,
) -> None:
    key = traced_hub.client(f"dept-malformed-{malformed[:6]}")
    response = traced_hub.post(
        key,
        {"type": "case.submitted", "payload": example("case.submitted")},
        headers={"traceparent": malformed},
    )
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    got = _received(receiver_of_module, message_id)
    trace_id, _parent = _trace_of(got)
    assert trace_id not in malformed.lower()
    found = _wait_spans(spans, trace_id)
    assert found["ingest"].parent is None  # a root: nothing of the malformed header kept
    _check_one_trace(found, trace_id, got, message_id)


def test_without_a_traceparent_a_new_trace_reaches_the_receiver(
    traced_hub: RunningHub, receiver_of_module: Receiver, spans: InMemorySpanExporter
) -> None:
    key = traced_hub.client("dept-untraced")
    response = traced_hub.post(
        key, {"type": "case.submitted", "payload": example("case.submitted")}
    )
    message_id = response.json()["id"]

    got = _received(receiver_of_module, message_id)
    trace_id, _parent = _trace_of(got)
    assert trace_id != "0" * 32
    found = _wait_spans(spans, trace_id)
    assert found["ingest"].parent is None
    _check_one_trace(found, trace_id, got, message_id)


def test_a_traceparent_in_the_body_headers_counts_when_the_http_header_is_absent(
    traced_hub: RunningHub, receiver_of_module: Receiver, spans: InMemorySpanExporter
) -> None:
    key = traced_hub.client("dept-body-headers")
    in_body, body_trace, _span = _traceparent()
    in_http, http_trace, _span = _traceparent()
    document = {
        "type": "case.submitted",
        "payload": example("case.submitted"),
        "headers": {"traceparent": in_body},
    }
    only_body = traced_hub.post(key, document).json()["id"]
    both = traced_hub.post(key, document, headers={"traceparent": in_http}).json()["id"]

    assert _trace_of(_received(receiver_of_module, only_body))[0] == body_trace
    assert _trace_of(_received(receiver_of_module, both))[0] == http_trace
    # the sender's header is replaced by the hub's own (the ingest span), not kept beside it
    stored = traced_hub.message(both)["headers"]
    assert _trace_of(stored)[0] == http_trace
    assert stored["traceparent"] != in_body


def test_without_an_exporter_the_senders_trace_id_still_reaches_the_receiver(
    traced_hub: RunningHub, receiver_of_module: Receiver
) -> None:
    configure_tracing()  # the default: nothing recorded, nothing exported
    key = traced_hub.client("dept-no-exporter")
    followed, trace_id, _span = _traceparent(sampled=False)
    sent = traced_hub.post(
        key,
        {"type": "case.submitted", "payload": example("case.submitted")},
        headers={"traceparent": followed},
    ).json()["id"]
    new = traced_hub.post(
        key, {"type": "case.submitted", "payload": example("case.submitted", case_no="WH-NEW-1")}
    ).json()["id"]

    assert _trace_of(_received(receiver_of_module, sent))[0] == trace_id
    flags = _received(receiver_of_module, sent)["traceparent"].rsplit("-", 1)[1]
    assert int(flags, 16) & 1 == 0  # the sender's "not sampled" kept
    fresh, _parent = _trace_of(_received(receiver_of_module, new))
    assert fresh not in (trace_id, "0" * 32)


def test_a_fresh_runtime_delivering_a_stored_message_continues_its_trace(
    tmp_path: Path, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    """The delivery process is another process, maybe much later: all it has is the store."""
    config = hub_config(
        tmp_path, destinations=[webhook_destination("civil_affairs", receiver)], routes=ROUTES
    )
    traceparent, trace_id, _sender = _traceparent()
    with running_hub(config, dispatch=False) as accepting:
        key = accepting.client("dept")
        message_id = accepting.post(
            key,
            {"type": "case.submitted", "payload": example("case.submitted")},
            headers={"traceparent": traceparent},
        ).json()["id"]
    [ingest] = [s for s in spans.get_finished_spans() if s.name == "ingest"]
    assert ingest.context is not None
    later = InMemorySpanExporter()
    configure_tracing(exporter=later)  # a new provider: nothing carried over in memory

    with running_hub(config) as delivering:
        delivering.wait_delivered(message_id)
        got = _received(receiver, message_id)
    [deliver] = wait_for(
        lambda: [s for s in later.get_finished_spans() if s.name == "deliver"],
        message="the attempt's span to end",
    )
    assert deliver.context is not None
    assert deliver.parent is not None
    assert _hex(deliver.context.trace_id, 32) == trace_id
    assert deliver.parent.span_id == ingest.context.span_id
    assert deliver.parent.is_remote  # read back from the stored envelope
    assert _trace_of(got) == (trace_id, _hex(deliver.context.span_id, 16))
