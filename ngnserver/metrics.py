"""Prometheus metrics at ``GET /metrics``, through prometheus-client.

Under gunicorn every worker process counts its own requests; with ``PROMETHEUS_MULTIPROC_DIR``
set (``gunicorn_conf`` sets it to ``<state dir>/metrics`` before any worker starts, and
empties it) the workers write their counts to files there and a scrape adds them up, so
whichever worker answers ``/metrics`` reports the whole server. The gauges read from the
database (jobs by state) are read by the worker answering the scrape.

- ``ngnserver_soap_requests_total{port, operation, errorcode}``: SOAP calls answered, by
  port, operation and errorcode (``0`` for success)
- ``ngnserver_soap_request_seconds{port, operation}``: how long they took, as a histogram
- ``ngnserver_vendor_call_seconds{vendor}`` and ``ngnserver_vendor_call_errors_total{vendor,
  error}``: calls to vendor APIs (Ikano, DCImanager, IXC, BQN, OZmap) and those that got no answer
  or a 5xx, counted by the processes that make them (``ngnserver worker``, ``pull-dsl``,
  ``sync``, which write to the same folder when it is set)
- ``ngnserver_jobs{kind, state}`` and ``ngnserver_job_attempts{kind, outcome}``: vendor jobs by
  kind and state, and their attempts by outcome (``done``, ``retry``, ``failed``, ``wait``),
  read from the database, so every worker on every host is counted
- ``ngnserver_database_up``: 1 when the database answers and can store, else 0

Who may read them: the addresses of ``NGNSERVER_METRICS_ALLOW_IPS`` (default loopback), or
anyone sending ``Authorization: Bearer <NGNSERVER_METRICS_TOKEN>`` when a token is set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

SOAP_REQUESTS = Counter(
    "ngnserver_soap_requests",
    "SOAP calls answered, by port, operation and errorcode (0: success)",
    ["port", "operation", "errorcode"],
)
SOAP_SECONDS = Histogram(
    "ngnserver_soap_request_seconds",
    "Time to answer a SOAP call, by port and operation",
    ["port", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
VENDOR_SECONDS = Histogram(
    "ngnserver_vendor_call_seconds",
    "Time a vendor API took to answer one call",
    ["vendor"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
VENDOR_ERRORS = Counter(
    "ngnserver_vendor_call_errors", "Vendor API calls that got no answer, or a 5xx", ["vendor", "error"]
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def observe(port: str | None, operation: str | None, errorcode: int | None, seconds: float) -> None:
    SOAP_REQUESTS.labels(port or "unknown", operation or "unknown", str(errorcode or 0)).inc()
    SOAP_SECONDS.labels(port or "unknown", operation or "unknown").observe(seconds)


def vendor_call(vendor: str, seconds: float, error: str | None) -> None:
    """Count one vendor call: its time, and its error (an exception name or ``HTTP 5xx``)."""
    VENDOR_SECONDS.labels(vendor).observe(seconds)
    if error is not None:
        VENDOR_ERRORS.labels(vendor, error).inc()


def instrument(session: requests.Session, vendor: str) -> requests.Session:
    """Count ``session``'s calls as the vendor's: their time, and those that got no answer
    (by exception name) or a 5xx (by status)."""
    send = session.request

    def request(*args: Any, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        try:
            response = send(*args, **kwargs)
        except requests.RequestException as exc:
            vendor_call(vendor, time.perf_counter() - started, type(exc).__name__)
            raise
        error = f"HTTP {response.status_code}" if response.status_code >= 500 else None
        vendor_call(vendor, time.perf_counter() - started, error)
        return response

    session.request = request  # type: ignore[method-assign]
    return session


class _FromDatabase(Collector):
    """Gauges read at scrape time: ``jobs()`` gives ({(kind, state): count}, {(kind,
    outcome): attempts}), ``problem()`` None when the database is well."""

    def __init__(self, jobs: Callable[[], tuple[dict[Any, int], dict[Any, int]]], problem: Callable[[], str | None]) -> None:
        self._jobs, self._problem = jobs, problem

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("ngnserver_database_up", "1 when the database answers and can store")
        try:
            problem = self._problem()
        except Exception:  # noqa: BLE001  (a scrape must answer whatever the database does)
            problem = "unknown"
        up.add_metric([], 0 if problem else 1)
        yield up
        if problem:
            return
        by_state, attempts_by_outcome = self._jobs()
        jobs = GaugeMetricFamily("ngnserver_jobs", "Vendor jobs by kind and state", labels=["kind", "state"])
        for (kind, state), count in sorted(by_state.items()):
            jobs.add_metric([kind, state], count)
        yield jobs
        attempts = GaugeMetricFamily(
            "ngnserver_job_attempts", "Attempts of vendor jobs by kind and outcome", labels=["kind", "outcome"]
        )
        for (kind, outcome), count in sorted(attempts_by_outcome.items()):
            attempts.add_metric([kind, outcome or "running"], count)
        yield attempts


def exposition(jobs: Callable[[], tuple[dict[Any, int], dict[Any, int]]], problem: Callable[[], str | None]) -> bytes:
    """The text a scrape gets: every worker's counts (multiprocess mode) or this process's,
    and the database's gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (SOAP_REQUESTS, SOAP_SECONDS, VENDOR_SECONDS, VENDOR_ERRORS):
            registry.register(metric)
    registry.register(_FromDatabase(jobs, problem))
    return generate_latest(registry)
