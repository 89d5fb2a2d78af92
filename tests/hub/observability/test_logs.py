"""Structured logs: context fields on every line that has them, identifiers masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.config import ConfigError
from hub.observability.logs import (
    JsonFormatter,
    LoggingSettings,
    configure_logging,
    log_context,
    logging_settings,
)
from tests.support import Receiver, example, hub_config, running_hub, webhook_destination

RESIDENT_ID = "11010519491231002X"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


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


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_context_and_mask_resident_ids(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream)
    log = logging.getLogger("govhub.test")
    with log_context(message_id="01HX", correlation_id="WH-1", destination="civil_affairs"):
        log.warning("applicant %s refused", RESIDENT_ID)
        with log_context(job_id="hall.pull"):
            log.info("nested")
    log.info("outside")
    first, nested, outside = _lines(stream)
    assert first["message"] == "applicant 110105********002X refused"
    assert first["level"] == "WARNING"
    assert first["logger"] == "govhub.test"
    assert first["message_id"] == "01HX"
    assert first["correlation_id"] == "WH-1"
    assert first["destination"] == "civil_affairs"
    assert str(first["time"]).endswith("+08:00")
    assert nested["job_id"] == "hall.pull"
    assert nested["message_id"] == "01HX"
    assert "message_id" not in outside
    assert RESIDENT_ID not in stream.getvalue()


def test_exceptions_are_masked_too(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream)
    try:
        raise ValueError(f"bad holder {RESIDENT_ID}")
    except ValueError:
        logging.getLogger("govhub.test").exception("failed")
    [line] = _lines(stream)
    assert "110105********002X" in str(line["exception"])
    assert RESIDENT_ID not in stream.getvalue()


def test_auto_format_is_text_on_a_terminal_and_json_otherwise(restore_logging: None) -> None:
    terminal = _Tty()
    configure_logging(LoggingSettings(format="auto"), terminal)
    with log_context(destination="credit"):
        logging.getLogger("govhub.test").info("holder %s", RESIDENT_ID)
    text = terminal.getvalue()
    assert " INFO    govhub.test: holder 110105********002X [destination=credit]" in text
    pipe = io.StringIO()
    configure_logging(LoggingSettings(format="auto"), pipe)
    logging.getLogger("govhub.test").info("x")
    assert json.loads(pipe.getvalue())["message"] == "x"


def test_configuring_twice_does_not_double_lines(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream)
    configure_logging(LoggingSettings(format="json"), stream)
    logging.getLogger("govhub.test").warning("once")
    assert len(stream.getvalue().splitlines()) == 1


def test_levels_apply_to_root_and_named_loggers(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(
        LoggingSettings(format="json", level="WARNING", levels={"govhub.chatty": "DEBUG"}), stream
    )
    logging.getLogger("govhub.quiet").info("hidden")
    logging.getLogger("govhub.chatty").debug("shown")
    assert [line["message"] for line in _lines(stream)] == ["shown"]
    logging.getLogger("govhub.chatty").setLevel(logging.NOTSET)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"format": "xml"}, "logging.format"),
        ({"level": "LOUD"}, "logging.level"),
        ({"levels": {"govhub.web": 3}}, "logging.levels.govhub.web"),
        ({"colour": True}, "logging.colour"),
    ],
)
def test_bad_logging_section_names_file_and_key(
    tmp_path: Path, section: dict[str, object], key: str
) -> None:
    config = hub_config(tmp_path, logging=section)
    with pytest.raises(ConfigError) as raised:
        logging_settings(config)
    assert raised.value.key == key
    assert raised.value.file == str(tmp_path / "govhub.toml")


def test_delivery_log_lines_name_the_message_case_and_destination(
    tmp_path: Path, receiver: Receiver, restore_logging: None
) -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream)
    receiver.respond_with(400)
    config = hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver)],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    )
    with running_hub(config) as running:
        key = running.client("dept")
        message_id = running.post(
            key, {"type": "case.submitted", "payload": example("case.submitted")}
        ).json()["id"]
        running.wait_delivered(message_id)
    [rejected] = [line for line in _lines(stream) if "rejected" in str(line["message"])]
    assert rejected["message_id"] == message_id
    assert rejected["correlation_id"] == "WH-2026-000123"
    assert rejected["destination"] == "civil_affairs"
    assert rejected["delivery_id"]


def test_json_formatter_is_valid_json_for_any_message() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, 'quote " and\nnewline', None, None)
    assert json.loads(JsonFormatter().format(record))["message"] == 'quote " and\nnewline'
