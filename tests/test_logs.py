"""The JSON log lines (ngnserver/logs.py): one object per line that a log shipper can parse,
with the fields operators filter on."""

from __future__ import annotations

import datetime
import io
import json
import logging
import re

import pytest

from ngnserver import logs
from ngnserver.logs import JsonLines


def line_for(record_args: dict, exc: bool = False) -> dict:
    logger = logging.getLogger("test.logs")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc:
            try:
                raise ValueError("bad value")
            except ValueError:
                logger.exception("failed %s", "here", extra=record_args)
        else:
            logger.warning("call %s", "done", extra=record_args)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_a_line_has_time_level_logger_message_and_the_extra_fields():
    extra = {"operation": "Sip.addAccount", "caller": "admin as 7", "errorcode": None, "ms": 1.25}
    line = line_for(extra)
    assert list(line)[:4] == ["time", "level", "logger", "message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", line["time"])
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "test.logs", "call done")
    assert {k: line[k] for k in extra} == extra
    assert not {"args", "msg", "levelno", "pathname", "exc_info", "created"} & set(line)


def test_values_json_cannot_hold_are_written_as_text_and_a_traceback_is_kept():
    line = line_for({"when": datetime.date(2026, 1, 2), "peer": ("127.0.0.1", 80)}, exc=True)
    assert line["when"] == "2026-01-02"
    assert line["peer"] == ["127.0.0.1", 80]
    assert line["level"] == "ERROR"
    assert "ValueError: bad value" in line["exc_info"]
    assert line["exc_info"].startswith("Traceback (most recent call last):")


@pytest.fixture
def installed():
    """logs.setup() on the root logger, its stream a StringIO; everything put back after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logs._installed)
    logs.setup("INFO")
    stream = io.StringIO()
    logs._installed.setStream(stream)
    yield stream
    root.handlers[:], level, logs._installed = saved
    root.setLevel(level)


FIELDS = {"operation": "Sip.addAccount", "caller": "admin as 7", "errorcode": None, "ms": 1.25, "remote": "127.0.0.1"}


def test_the_call_line_written_straight_is_the_line_the_logging_module_writes(installed):
    logger = logging.getLogger("ngnserver.access")
    logs.info(logger, "soap", FIELDS)
    logger.info("soap", extra=FIELDS)
    straight, through_logging = (json.loads(line) for line in installed.getvalue().splitlines())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", straight["time"])
    assert list(straight) == list(through_logging)
    assert {k: v for k, v in straight.items() if k != "time"} == {k: v for k, v in through_logging.items() if k != "time"}
    assert straight["level"] == "INFO" and straight["logger"] == "ngnserver.access" and straight["message"] == "soap"


def test_the_call_line_respects_the_level(installed):
    logging.getLogger().setLevel(logging.WARNING)
    logs.info(logging.getLogger("ngnserver.access"), "soap", FIELDS)
    assert installed.getvalue() == ""


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


def test_the_call_line_goes_through_the_logging_module_once_logging_is_changed(installed):
    """A filter, another handler or a logger that does not propagate sees (or stops) the
    record as it would any other."""
    logger = logging.getLogger("ngnserver.access")
    logger.addFilter(drop := _Drop())
    try:
        logs.info(logger, "soap", FIELDS)
    finally:
        logger.removeFilter(drop)
    assert installed.getvalue() == ""
    extra = io.StringIO()
    other = logging.StreamHandler(extra)
    other.setFormatter(logs.JsonLines())
    logging.getLogger("ngnserver").addHandler(other)
    try:
        logs.info(logger, "soap", FIELDS)
    finally:
        logging.getLogger("ngnserver").removeHandler(other)
    assert json.loads(extra.getvalue())["operation"] == "Sip.addAccount"
    assert json.loads(installed.getvalue())["operation"] == "Sip.addAccount"
    logger.propagate = False
    try:
        logs.info(logger, "soap", FIELDS)
    finally:
        logger.propagate = True
    assert len(installed.getvalue().splitlines()) == 1
