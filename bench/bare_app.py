"""The HTTP ceiling for bench/bench_customer.py: a WSGI app that reads the request body and
answers every POST with a fixed getAccount response (bench/getAccount-response.xml, a copy
of what ngnserver answered to the benchmark's own getAccount call) and GET /health with 200.

Run under gunicorn with the same worker settings as ngnserver, it measures what gunicorn,
the kernel and wrk cost per request, with no SOAP or database work at all.
"""

from __future__ import annotations

import os
from pathlib import Path

RESPONSE_FILE = Path(os.environ.get("BENCH_BARE_RESPONSE", Path(__file__).with_name("getAccount-response.xml")))
BODY = RESPONSE_FILE.read_bytes()
_SOAP_HEADERS = [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(BODY)))]
_HEALTH = b'{"status": "ok"}'
_HEALTH_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(_HEALTH)))]


def application(environ, start_response):  # type: ignore[no-untyped-def]
    if environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"].read(length)
        start_response("200 OK", list(_SOAP_HEADERS))
        return [BODY]
    start_response("200 OK", list(_HEALTH_HEADERS))
    return [_HEALTH]
