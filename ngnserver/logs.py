"""Structured logging: one JSON object per line on stderr. Nothing logged ever carries a
password: SOAP calls are logged by port, operation, login name and outcome only."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
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
