"""Distributed tracing: W3C trace context in and out, OpenTelemetry spans for each message.

A message's trace starts where it is accepted: the ``ingest`` span is a child of the
sender's ``traceparent`` when it sent a valid one, or the root of a new trace. Its context
is kept in the envelope's headers (``traceparent``, ``tracestate``), so that the delivery
process, later and elsewhere, makes each attempt's ``deliver`` span a child of it, and
every outbound call of an attempt carries a ``traceparent`` of the same trace
(:class:`adapters.sdk.http.TimeoutSession`). Log lines written inside a span carry its
``trace_id`` and ``span_id`` (:mod:`hub.observability.logs`).

Spans are recorded and exported only when ``[tracing] otlp_endpoint`` names a collector
(OTLP over HTTP, the ``[otlp]`` extra). Without one the hub records nothing and never calls
the OpenTelemetry SDK, yet still passes trace context on: a sender's trace id and its
"sampled" flag go through unchanged (W3C: a hub in the middle must not hide a trace from
those after it), and a message sent without one gets a new trace id, so that logs and
receivers can still be matched.

The tracer provider belongs to one process: it is made on first use and made again in a
child after ``fork`` (gunicorn's web workers), so a batch exporter's thread always runs in
the process that records.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hub.config import Config, ConfigError

__all__ = [
    "TRACEPARENT",
    "TRACESTATE",
    "TracingSettings",
    "configure_tracing",
    "continued_from",
    "continuing",
    "current_ids",
    "shutdown_tracing",
    "span",
    "trace_headers",
    "tracing_settings",
]

#: The W3C header (and envelope header) naming a trace and the span it continues.
TRACEPARENT = "traceparent"
#: The W3C header carrying vendors' trace state along with it.
TRACESTATE = "tracestate"
#: The path of OTLP/HTTP's trace signal, added to an endpoint given without a path.
OTLP_TRACES_PATH = "/v1/traces"
_KEYS = ("otlp_endpoint", "otlp_headers", "service_name", "sample_ratio")

log = logging.getLogger("govhub.tracing")
_PROPAGATOR = TraceContextTextMapPropagator()
_IDS = RandomIdGenerator()
#: The flags of a trace the hub begins and does not record: W3C level 2's "random trace
#: id", not "sampled".
_NEW_UNSAMPLED = TraceFlags(0x02)


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """The ``[tracing]`` section.

    Attributes:
        otlp_endpoint: The collector's OTLP/HTTP URL (``/v1/traces`` is added when it has
            no path); ``None``: no span is exported.
        otlp_headers: Sent with every export (a collector's token: use ``${VAR}``).
        service_name: The ``service.name`` of every span.
        sample_ratio: The share of new traces recorded (a sender's decision is followed).
    """

    otlp_endpoint: str | None = None
    otlp_headers: Mapping[str, str] = field(default_factory=dict)
    service_name: str = "govhub"
    sample_ratio: float = 1.0


def tracing_settings(config: Config) -> TracingSettings:
    """Read and check ``[tracing]``.

    Raises:
        ConfigError: An unknown key, a bad value, or an endpoint without the exporter
            installed; the message names the file and key.
    """
    file = str(config.path) if config.path else "<config>"
    raw: Mapping[str, Any] = config.sections.get("tracing", {})
    for key in raw:
        if key not in _KEYS:
            raise ConfigError(file, f"tracing.{key}", f"unknown key (known: {', '.join(_KEYS)})")
    endpoint = raw.get("otlp_endpoint")
    if isinstance(endpoint, str) and not endpoint.strip():
        endpoint = None  # "${OTLP_ENDPOINT:-}": the environment leaves it off
    if endpoint is not None:
        if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
            raise ConfigError(file, "tracing.otlp_endpoint", "must be an http:// or https:// URL")
        if importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is None:
            raise ConfigError(
                file,
                "tracing.otlp_endpoint",
                "exporting needs the OTLP exporter: pip install 'govhub[otlp]'",
            )
    headers = raw.get("otlp_headers", {})
    if not isinstance(headers, Mapping) or not all(
        isinstance(value, str) for value in headers.values()
    ):
        raise ConfigError(file, "tracing.otlp_headers", "must be a table of header = text")
    name = raw.get("service_name", "govhub")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(file, "tracing.service_name", "must be a non-empty text")
    ratio = raw.get("sample_ratio", 1.0)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise ConfigError(file, "tracing.sample_ratio", "must be a number from 0 to 1")
    return TracingSettings(
        otlp_endpoint=endpoint,
        otlp_headers=dict(headers),
        service_name=name,
        sample_ratio=float(ratio),
    )


class _Tracing:
    """What this process traces with: the choice, and the provider made from it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings = TracingSettings()
        self.exporter: SpanExporter | None = None
        self.provider: TracerProvider | None = None
        self.tracer: Tracer | None = None
        #: Whether spans go anywhere; if not, the SDK is never called (see :func:`span`).
        self.recording = False

    def get(self) -> Tracer:
        tracer = self.tracer
        if tracer is not None:
            return tracer
        with self.lock:
            if self.tracer is None:
                self.provider = _provider(self.settings, self.exporter)
                self.tracer = self.provider.get_tracer("govhub")
            return self.tracer

    def replace(self, settings: TracingSettings, exporter: SpanExporter | None) -> None:
        with self.lock:
            old, self.provider, self.tracer = self.provider, None, None
            self.settings, self.exporter = settings, exporter
            self.recording = exporter is not None or settings.otlp_endpoint is not None
        if old is not None:
            old.shutdown()

    def forked(self) -> None:
        # The parent's processor threads did not come along: start afresh, and never
        # shut down (flush) what belongs to the parent.
        self.lock = threading.Lock()
        self.provider = None
        self.tracer = None


_state = _Tracing()
os.register_at_fork(after_in_child=_state.forked)


def configure_tracing(
    settings: TracingSettings | None = None, *, exporter: SpanExporter | None = None
) -> None:
    """Choose how this process traces, replacing the choice before (whose spans are flushed).

    Nothing is started here: the provider is made on first use, in the process that uses
    it (so a server may configure before it forks its workers).

    Args:
        settings: From ``[tracing]`` (:func:`tracing_settings`); ``None``: the defaults
            (trace ids, no spans exported).
        exporter: Record every span and hand it to this exporter as it ends, instead of
            the endpoint's (tests: an ``InMemorySpanExporter``).
    """
    _state.replace(settings or TracingSettings(), exporter)


def shutdown_tracing() -> None:
    """Export what is still queued, and stop (a process that ends calls it)."""
    _state.replace(_state.settings, _state.exporter)


atexit.register(shutdown_tracing)


def _provider(settings: TracingSettings, exporter: SpanExporter | None) -> TracerProvider:
    # Both follow their parent: a sender's decision, and then the ingest span's, hold
    # for the whole trace (which :func:`span` counts on).
    sampler: Sampler = (
        ParentBased(ALWAYS_ON)
        if exporter is not None
        else ParentBased(TraceIdRatioBased(settings.sample_ratio))
    )
    provider = TracerProvider(
        sampler=sampler,
        resource=Resource.create({SERVICE_NAME: settings.service_name}),
        shutdown_on_exit=False,  # shutdown_tracing, at exit, flushes the one in use
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.otlp_endpoint is not None:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings)))
    return provider


def _otlp_exporter(settings: TracingSettings) -> SpanExporter:
    import requests
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = settings.otlp_endpoint or ""
    if urlsplit(endpoint).path in ("", "/"):
        endpoint = endpoint.rstrip("/") + OTLP_TRACES_PATH
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment sees the hub's traces
    return OTLPSpanExporter(endpoint=endpoint, headers=dict(settings.otlp_headers), session=session)


# ---------------------------------------------------------------------- spans


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: otel_context.Context | None = None,
    attributes: Mapping[str, str | int | bool] | None = None,
    expected: tuple[type[Exception], ...] = (),
) -> Iterator[Span]:
    """A span of this process's tracer, current inside the block.

    An exception leaving the block marks the span as an error (its type only: a message
    may hold what a trace must not).

    Without a collector, or inside a trace not sampled (nothing below it is ever
    recorded: every sampler here follows its parent), the SDK is not asked at all: the
    span is a bare W3C context, current inside the block, that continues the parent's
    trace with its flags and state under a new span id (or begins a trace), for log lines
    and outbound calls to carry. That keeps a hub without a collector near free.

    Args:
        name: What the span is (``ingest``, ``route``, ``deliver``).
        kind: Its OpenTelemetry kind.
        parent: The context it continues (:func:`continued_from`); ``None``: the current one.
        attributes: Its first attributes: ids, names, counts; never personal data.
        expected: Exceptions that are an answer, not a failure (a refused message): they
            leave the span's status alone.
    """
    above = trace.get_current_span(parent).get_span_context()
    if not _state.recording or (above.is_valid and not above.trace_flags.sampled):
        passed_on = NonRecordingSpan(
            SpanContext(
                trace_id=above.trace_id if above.is_valid else _IDS.generate_trace_id(),
                span_id=_IDS.generate_span_id(),
                is_remote=False,
                trace_flags=above.trace_flags if above.is_valid else _NEW_UNSAMPLED,
                trace_state=above.trace_state if above.is_valid else None,
            )
        )
        with trace.use_span(passed_on, end_on_exit=False):
            yield passed_on
        return
    with _state.get().start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except Exception as error:
            if current.is_recording() and not isinstance(error, expected):
                current.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise


def continued_from(headers: Mapping[str, Any]) -> otel_context.Context | None:
    """The trace context that ``traceparent``/``tracestate`` in ``headers`` name, if valid.

    ``headers`` may be an envelope's (anything in them) or HTTP headers already reduced to
    those two. A malformed ``traceparent`` names nothing: W3C asks a receiver to start a
    new trace then, never to refuse the request.
    """
    traceparent = headers.get(TRACEPARENT)
    if not isinstance(traceparent, str):
        return None
    carrier = {TRACEPARENT: traceparent}
    tracestate = headers.get(TRACESTATE)
    if isinstance(tracestate, str):
        carrier[TRACESTATE] = tracestate
    found = _PROPAGATOR.extract(carrier)
    return found if trace.get_current_span(found).get_span_context().is_valid else None


@contextmanager
def continuing(traceparent: str | None, tracestate: str | None = None) -> Iterator[None]:
    """Make a request's trace context (its W3C headers) current inside the block.

    Spans begun inside, ingest's, continue the sender's trace; a missing or malformed
    ``traceparent`` changes nothing, and they begin a new one.
    """
    found = (
        continued_from({TRACEPARENT: traceparent, TRACESTATE: tracestate}) if traceparent else None
    )
    if found is None:
        yield
        return
    token = otel_context.attach(found)
    try:
        yield
    finally:
        otel_context.detach(token)


def trace_headers() -> dict[str, str]:
    """The current span's W3C headers (empty outside a span), to send or to store."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id in hex, for log lines; ``None`` outside one."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return None
    return format(found.trace_id, "032x"), format(found.span_id, "016x")
