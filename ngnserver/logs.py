"""Structured logging: one JSON object per line on stderr. Nothing logged ever carries a
password: SOAP calls are logged by port, operation, login name and outcome only."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

# what every LogRecord carries; anything else on a record came as ``extra=``
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# json.dumps(..., default=str) builds an encoder on every call; one serves every line
_ENCODE = json.JSONEncoder(default=str).encode

REQUEST: contextvars.ContextVar[str | None] = contextvars.ContextVar("request", default=None)
"""The id of the request being answered: every line logged meanwhile carries it as ``request``."""


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

    def start(self, created: float, msecs: float, level: str, logger: str, message: str) -> dict[str, Any]:
        """A line's first four fields."""
        second = int(created)
        stamp = self._stamp
        if stamp[0] != second:
            stamp = self._stamp = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(created)))
        line = {"time": f"{stamp[1]},{int(msecs):03d}", "level": level, "logger": logger, "message": message}
        request = REQUEST.get()
        if request is not None:
            line["request"] = request
        return line

    def format(self, record: logging.LogRecord) -> str:
        line = self.start(record.created, record.msecs, record.levelname, record.name, record.getMessage())
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return _ENCODE(line)


_installed: logging.StreamHandler | None = None  # the handler setup() put on the root logger


def setup(level: str = "INFO") -> None:
    global _installed
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
    _installed = handler
    # spyne logs whole requests (passwords included) on parse errors; we never need it.
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
    # alembic's plugin set-up says so at every start; its migrations still log what they do
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _only_installed_handler(logger: logging.Logger) -> logging.StreamHandler | None:
    """The handler ``setup`` installed, when it is the one handler an INFO record of
    ``logger`` would reach and nothing could filter or change the record on the way."""
    handler = _installed
    if handler is None or logger.filters or handler.filters or handler.level > logging.INFO:
        return None
    if not isinstance(handler.formatter, JsonLines):
        return None
    current: logging.Logger | None = logger
    while current is not None:
        if current is logging.root:
            return handler if current.handlers == [handler] else None
        if current.handlers or not current.propagate:
            return None
        current = current.parent  # type: ignore[assignment]
    return None


def info(logger: logging.Logger, message: str, fields: Mapping[str, Any]) -> None:
    """``logger.info(message, extra=fields)``: the line every SOAP call writes. While the
    logging is as ``setup`` left it, the line (the same line) goes straight to its handler,
    without a LogRecord and the logging module's dispatch: a third of the cost (15 -> 5 us
    in a tight loop, more under load, where the line was 6 to 9% of a worker's time)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _only_installed_handler(logger)
    if handler is None:
        logger.info(message, extra=dict(fields))
        return
    created = time.time()
    formatter: JsonLines = handler.formatter  # type: ignore[assignment]
    line = formatter.start(created, (created - int(created)) * 1000, "INFO", logger.name, message)
    line.update(fields)
    text = _ENCODE(line) + handler.terminator
    handler.acquire()
    try:
        handler.stream.write(text)
        handler.stream.flush()
    except (OSError, ValueError):  # a broken or closed stream: reported as StreamHandler.emit does
        handler.handleError(logger.makeRecord(logger.name, logging.INFO, "", 0, message, (), None, extra=dict(fields)))
    finally:
        handler.release()
