"""Tracing's parts: ``[tracing]``, what is recorded with and without a collector, the OTLP
export, trace ids in log lines, and the ``traceparent`` on every adapter's outbound call."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, Response, request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.sdk.http import RestClient, TimeoutSession
from adapters.sdk.soap import SoapClient
from faces.cli import main
from faces.serving import RunningServer, serve_in_thread
from hub.config import ConfigError
from hub.observability.logs import LoggingSettings, configure_logging
from hub.observability.tracing import (
    TracingSettings,
    configure_tracing,
    continuing,
    current_ids,
    shutdown_tracing,
    span,
    trace_headers,
    tracing_settings,
)
from tests.support import hub_config

SENDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SAMPLED = f"00-{SENDER_TRACE}-00f067aa0ba902b7-01"
NOT_SAMPLED = f"00-{SENDER_TRACE}-00f067aa0ba902b7-00"


@pytest.fixture(autouse=True)
def _default_tracing() -> Iterator[None]:
    configure_tracing()
    yield
    configure_tracing()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


class _Collector:
    """An OTLP/HTTP collector on 127.0.0.1 keeping every export request it gets."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        app = Flask("test-collector")

        @app.post("/<path:path>")
        def export(path: str) -> Response:
            document = ExportTraceServiceRequest()
            document.ParseFromString(request.get_data())
            with self.lock:
                self.requests.append(document)
                self.paths.append("/" + path)
                self.headers.append(dict(request.headers))
            return Response(b"", 200, content_type="application/x-protobuf")

        self.server: RunningServer = serve_in_thread(app, "127.0.0.1", 0, threads=2)

    def spans(self) -> list[tuple[str, str, str]]:
        """(service name, span name, trace id) of every span received."""
        found = []
        with self.lock:
            for document in self.requests:
                for resource_spans in document.resource_spans:
                    service = next(
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    )
                    for scope in resource_spans.scope_spans:
                        found.extend((service, s.name, s.trace_id.hex()) for s in scope.spans)
        return found


@pytest.fixture
def collector() -> Iterator[_Collector]:
    running = _Collector()
    yield running
    running.server.stop()


class _Echo:
    """A counterpart that answers 200 and keeps the headers of what it got."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        app = Flask("test-echo")

        @app.route("/<path:path>", methods=["GET", "POST"])
        def echo(path: str) -> Response:
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            return Response(json.dumps({"ok": True}), 200, content_type="application/json")

        self.server: RunningServer = serve_in_thread(app, "127.0.0.1", 0, threads=2)


@pytest.fixture
def echo() -> Iterator[_Echo]:
    running = _Echo()
    yield running
    running.server.stop()


# ---------------------------------------------------------------------- [tracing]


def test_tracing_settings_are_read_from_the_config(tmp_path: Path) -> None:
    config = hub_config(
        tmp_path,
        tracing={
            "otlp_endpoint": "http://127.0.0.1:4318",
            "otlp_headers": {"Authorization": "Bearer t"},
            "service_name": "govhub-wuhan",
            "sample_ratio": 0.25,
        },
    )
    assert tracing_settings(config) == TracingSettings(
        otlp_endpoint="http://127.0.0.1:4318",
        otlp_headers={"Authorization": "Bearer t"},
        service_name="govhub-wuhan",
        sample_ratio=0.25,
    )
    assert tracing_settings(hub_config(tmp_path)) == TracingSettings()
    # "${OTLP_ENDPOINT:-}" left empty by the environment: tracing stays off
    assert (
        tracing_settings(hub_config(tmp_path, tracing={"otlp_endpoint": ""})).otlp_endpoint is None
    )


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"endpoint": "http://x"}, "tracing.endpoint"),
        ({"otlp_endpoint": "collector:4318"}, "tracing.otlp_endpoint"),
        ({"sample_ratio": 1.5}, "tracing.sample_ratio"),
        ({"sample_ratio": True}, "tracing.sample_ratio"),
        ({"service_name": " "}, "tracing.service_name"),
        ({"otlp_headers": {"x": 1}}, "tracing.otlp_headers"),
    ],
)
def test_a_wrong_tracing_key_is_refused_naming_it(
    tmp_path: Path, section: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        tracing_settings(hub_config(tmp_path, tracing=section))
    assert refused.value.key == key


def test_govhub_worker_with_a_wrong_tracing_key_stops_before_starting(
    tmp_path: Path, restore_logging: None
) -> None:
    config = tmp_path / "govhub.toml"
    config.write_text("[tracing]\nsample_ratio = 2\n[sandbox]\nenabled = false\n")
    result = CliRunner().invoke(main, ["--config", str(config), "worker"])
    assert result.exit_code != 0
    assert "tracing.sample_ratio" in result.output
    assert "GovHub worker running" not in result.output


# ---------------------------------------------------------------------- what is recorded


def test_without_a_collector_new_traces_get_ids_but_record_nothing() -> None:
    assert current_ids() is None
    assert trace_headers() == {}
    with span("ingest") as current:
        assert not current.is_recording()
        ids = current_ids()
        assert ids is not None
        traceparent = trace_headers()["traceparent"]
    assert traceparent == f"00-{ids[0]}-{ids[1]}-{traceparent[-2:]}"
    assert int(traceparent[-2:], 16) & 1 == 0  # "not sampled": nobody after us records it


def test_without_a_collector_a_senders_sampled_trace_is_followed_not_hidden() -> None:
    with continuing(SAMPLED), span("ingest") as current:
        # W3C: a hub that passes the trace on keeps the sender's decision for those after it
        assert trace_headers()["traceparent"].startswith(f"00-{SENDER_TRACE}-")
        assert trace_headers()["traceparent"].endswith("-01")
        assert current.get_span_context().trace_id == int(SENDER_TRACE, 16)
    with continuing(NOT_SAMPLED), span("ingest") as current:
        assert not current.is_recording()
        assert trace_headers()["traceparent"].startswith(f"00-{SENDER_TRACE}-")


def test_an_exception_marks_the_span_but_an_expected_answer_does_not() -> None:
    exporter = InMemorySpanExporter()
    configure_tracing(exporter=exporter)
    with pytest.raises(RuntimeError), span("deliver"):
        raise RuntimeError("the counterpart's answer, which may hold a name")
    with pytest.raises(KeyError), span("ingest", expected=(KeyError,)):
        raise KeyError("refused")
    failed, refused = exporter.get_finished_spans()
    assert failed.status.status_code.name == "ERROR"
    assert failed.status.description == "RuntimeError"  # the type only, never the text
    assert refused.status.status_code.name == "UNSET"


def test_the_collector_gets_the_spans_with_the_service_name(collector: _Collector) -> None:
    configure_tracing(
        TracingSettings(
            otlp_endpoint=collector.server.url,  # no path: /v1/traces is added
            otlp_headers={"Authorization": "Bearer collector-token"},
            service_name="govhub-test",
        )
    )
    with span("ingest") as current:
        trace_id = format(current.get_span_context().trace_id, "032x")
        with span("route"):
            pass
    shutdown_tracing()  # flushes the batch

    assert sorted(collector.spans()) == [
        ("govhub-test", "ingest", trace_id),
        ("govhub-test", "route", trace_id),
    ]
    assert set(collector.paths) == {"/v1/traces"}
    assert collector.headers[0]["Authorization"] == "Bearer collector-token"


def test_a_sample_ratio_of_zero_drops_new_traces_and_follows_senders(
    collector: _Collector,
) -> None:
    configure_tracing(
        TracingSettings(otlp_endpoint=f"{collector.server.url}/v1/traces", sample_ratio=0.0)
    )
    with span("ingest") as dropped:
        assert not dropped.is_recording()
    with continuing(SAMPLED), span("ingest") as followed:
        assert followed.is_recording()
    shutdown_tracing()
    assert collector.spans() == [("govhub", "ingest", SENDER_TRACE)]


# ---------------------------------------------------------------------- logs


def test_log_lines_inside_a_span_carry_its_trace_and_span_ids(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream)
    log = logging.getLogger("govhub.test")
    with continuing(SAMPLED), span("deliver"):
        ids = current_ids()
        log.warning("inside")
    log.warning("outside")
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert ids is not None
    assert (inside["trace_id"], inside["span_id"]) == ids
    assert inside["trace_id"] == SENDER_TRACE
    assert "trace_id" not in outside


# ---------------------------------------------------------------------- outbound calls


def test_every_outbound_client_sends_the_current_traceparent(echo: _Echo) -> None:
    rest = RestClient(echo.server.url, counterpart="echo")
    soap = SoapClient(f"{echo.server.url}/service?wsdl", counterpart="echo")
    webhook = TimeoutSession()
    try:
        with continuing(SAMPLED), span("deliver"):
            expected = trace_headers()["traceparent"]
            rest.post("/records", json={})
            soap.transport.post(f"{echo.server.url}/service", b"<x/>", {"Content-Type": "text/xml"})
            webhook.post(f"{echo.server.url}/hook", data=b"{}")
            # a header the caller set itself is left alone
            webhook.post(f"{echo.server.url}/hook", headers={"traceparent": NOT_SAMPLED})
        rest.get("/outside")
    finally:
        rest.close()
        soap.close()
        webhook.close()
    sent = [h.get("traceparent") for h in echo.headers]
    assert sent == [expected, expected, expected, NOT_SAMPLED, None]
    assert expected.split("-")[1] == SENDER_TRACE
