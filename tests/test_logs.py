"""The JSON log lines (ngnserver/logs.py): one object per line that a log shipper can parse,
with the fields operators filter on."""

from __future__ import annotations

import datetime
import io
import json
import logging
import re

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
