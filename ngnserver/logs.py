"""Structured logging: one JSON object per line on stderr. Nothing logged ever carries a
password: SOAP calls are logged by port, operation, login name and outcome only."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

# what every LogRecord carries; anything else on a record came as ``extra=``
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# json.dumps(..., default=str) builds an encoder on every call; one serves every line
_ENCODE = json.JSONEncoder(default=str).encode


class JsonLines(logging.Formatter):
    """A record as one JSON object: ``time`` (local, ``YYYY-MM-DD HH:MM:SS,mmm``),
    ``level``, ``logger``, ``message``, then the record's extra fields, and a traceback as
    ``exc_info``. Values JSON cannot hold are written as their ``str()``.

    Written here rather than taken from python-json-logger (which wrote the same lines):
    every SOAP call logs one, and that library's general formatting cost a gunicorn worker
    about 150 us a line, 8% of SIP addAccount's throughput (bench/ab_compare.py, with and
    without the line)."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp: tuple[int, str] = (-1, "")  # (second, its text): one strftime a second

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        stamp = self._stamp
        if stamp[0] != second:
            stamp = self._stamp = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created)))
        line: dict[str, Any] = {
            "time": f"{stamp[1]},{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return _ENCODE(line)


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    # what no line shows, not worked out for every record (every SOAP call logs one; the
    # logging HOWTO's "Optimization" section): the caller's source line and the thread and
    # multiprocessing names. The process id stays: gunicorn's own lines show it.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # spyne logs whole requests (passwords included) on parse errors; we never need it.
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
