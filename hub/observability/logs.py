"""Structured logs: JSON lines for collectors, readable lines on a terminal.

Every line carries the message id, case number (correlation id), destination and job id
that are in scope when it is written (:func:`log_context`), and the trace and span ids of
the span it is written in (:mod:`hub.observability.tracing`), so an ops engineer can follow
one message or one job run through the logs, and from the logs to its trace. Resident ID
numbers are masked in every field, whatever wrote them: adapters log counterparts' error
bodies, which may quote them.

The JSON formatter is written here rather than taken from a library because what matters
is the masking and the context fields, which a generic formatter would leave to us anyway.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TextIO

from hub.config import Config, ConfigError
from hub.core.clock import HUB_TZ
from hub.core.identifiers import mask_text
from hub.observability.tracing import current_ids

__all__ = [
    "CONTEXT_FIELDS",
    "ContextFilter",
    "JsonFormatter",
    "LoggingSettings",
    "TextFormatter",
    "configure_logging",
    "log_context",
    "logging_settings",
]

#: The fields a line carries when they are in scope, in the order they are shown.
CONTEXT_FIELDS = (
    "message_id",
    "correlation_id",
    "destination",
    "delivery_id",
    "job_id",
    "run_id",
    "user",
    "trace_id",
    "span_id",
)
#: Hex ids the hub makes: they cannot hold personal data, so they are not scanned for it.
_UNMASKED = frozenset({"trace_id", "span_id"})
FORMATS = ("auto", "json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("govhub_log_context", default=_EMPTY)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add fields to every log line written inside the block (in this thread or task).

    ``None`` values are left out, so callers can pass what they have.
    """
    merged = dict(_context.get())
    merged.update({k: str(v) for k, v in fields.items() if v is not None})
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the fields of :func:`log_context` and the current span's ids onto each
    record (``extra=`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        if not hasattr(record, "trace_id") and (ids := current_ids()) is not None:
            record.trace_id, record.span_id = ids
        return True


def _context_of(record: logging.LogRecord) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key in CONTEXT_FIELDS:
        value = getattr(record, key, None)
        if value is not None:
            fields[key] = str(value) if key in _UNMASKED else mask_text(str(value))
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, HUB_TZ).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        document.update(_context_of(record))
        if record.exc_info:
            document["exception"] = mask_text(self.formatException(record.exc_info))
        if record.stack_info:
            document["stack"] = mask_text(self.formatStack(record.stack_info))
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [key=value ...]`` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        moment = dt.datetime.fromtimestamp(record.created, HUB_TZ)
        return moment.strftime("%Y-%m-%d %H:%M:%S") + f".{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context_of(record)
        if context:
            line += " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]"
        return mask_text(line)


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """The ``[logging]`` section.

    Attributes:
        format: ``auto`` (text on a terminal, JSON otherwise), ``json`` or ``text``.
        level: The root level.
        levels: Levels per logger name, e.g. ``{"govhub.dispatcher" = "DEBUG"}``.
    """

    format: str = "auto"
    level: str = "INFO"
    levels: Mapping[str, str] | None = None


def logging_settings(config: Config) -> LoggingSettings:
    """Read and check ``[logging]``.

    Raises:
        ConfigError: An unknown key or a bad value; the message names the file and key.
    """
    file = config.file
    raw = config.table("logging", ("format", "level", "levels"))
    chosen = raw.get("format", "auto")
    if chosen not in FORMATS:
        raise ConfigError(file, "logging.format", f"must be one of {', '.join(FORMATS)}")
    level = _level(raw.get("level", "INFO"), file, "logging.level")
    levels_raw = raw.get("levels", {})
    if not isinstance(levels_raw, Mapping):
        raise ConfigError(file, "logging.levels", "must be a table of logger name = level")
    levels = {
        name: _level(value, file, f"logging.levels.{name}") for name, value in levels_raw.items()
    }
    return LoggingSettings(format=chosen, level=level, levels=levels)


def _level(value: Any, file: str, key: str) -> str:
    if not isinstance(value, str) or value.upper() not in LEVELS:
        raise ConfigError(file, key, f"must be one of {', '.join(LEVELS)}")
    return value.upper()


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> logging.Handler:
    """Send every log line to ``stream`` (stderr) in the chosen format, context and masking on.

    Replaces the root logger's handlers, so calling it twice does not double lines.

    Returns:
        The handler installed.
    """
    stream = stream if stream is not None else sys.stderr
    as_json = settings.format == "json" or (
        settings.format == "auto" and not (hasattr(stream, "isatty") and stream.isatty())
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    # Alembic narrates every migration at INFO; it is noise in a service log.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # GovHub logs what matters
    # waitress warns "Task queue depth is N" whenever a request waits for a worker thread:
    # routine under load, and one log line per request when it matters least.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    for name, level in (settings.levels or {}).items():
        logging.getLogger(name).setLevel(level)
    return handler
