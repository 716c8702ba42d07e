"""Prometheus metrics at ``GET /metrics``, through prometheus-client.

Under gunicorn every worker process counts its own requests; with ``PROMETHEUS_MULTIPROC_DIR``
set (``gunicorn_conf`` sets it to ``<state dir>/metrics`` before any worker starts, and
empties it) the workers write their counts to files there and a scrape adds them up, so
whichever worker answers ``/metrics`` reports the whole server. The gauges read from the
database (jobs by state) are read by the worker answering the scrape.

- ``ngnserver_soap_requests_total{operation, errorcode}``: SOAP calls answered, by operation
  (``Port.operation``) and errorcode (``0`` for success)
- ``ngnserver_soap_request_seconds{operation}``: how long they took, as a histogram
- ``ngnserver_jobs{state}``: vendor jobs by state (``queued``, ``running``, ``done``, ``failed``)
- ``ngnserver_database_up``: 1 when the database answers and can store, else 0
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

SOAP_REQUESTS = Counter(
    "ngnserver_soap_requests", "SOAP calls answered, by operation and errorcode (0: success)", ["operation", "errorcode"]
)
SOAP_SECONDS = Histogram(
    "ngnserver_soap_request_seconds",
    "Time to answer a SOAP call, by operation",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def observe(operation: str | None, errorcode: int | None, seconds: float) -> None:
    name = operation or "unknown"
    SOAP_REQUESTS.labels(name, str(errorcode or 0)).inc()
    SOAP_SECONDS.labels(name).observe(seconds)


class _FromDatabase(Collector):
    """Gauges read at scrape time: ``jobs()`` gives {state: count}, ``problem()`` None when
    the database is well."""

    def __init__(self, jobs: Callable[[], dict[str, int]], problem: Callable[[], str | None]) -> None:
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
        jobs = GaugeMetricFamily("ngnserver_jobs", "Vendor jobs by state", labels=["state"])
        for state, count in sorted(self._jobs().items()):
            jobs.add_metric([state], count)
        yield jobs


def exposition(jobs: Callable[[], dict[str, int]], problem: Callable[[], str | None]) -> bytes:
    """The text a scrape gets: every worker's counts (multiprocess mode) or this process's,
    and the database's gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(SOAP_REQUESTS)
        registry.register(SOAP_SECONDS)
    registry.register(_FromDatabase(jobs, problem))
    return generate_latest(registry)
