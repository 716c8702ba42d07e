"""What an operator's tools read from a running ``ngnserver serve`` (real gunicorn, two
workers, each backend): ``/metrics`` in Prometheus' format, adding up every worker's counts
whichever worker answers; and a log of JSON lines only, gunicorn's own included, where a
SOAP call's line carries the request id its answer's ``X-Request-Id`` header names."""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ngnserver import metrics
from tests.support.gunicorn import Deployment
from tests.support.wire import Client, SoapFault, envelope, http_exchange, post


@pytest.fixture(params=["postgresql", "sqlite"])
def served(request, tmp_path):
    deployment = Deployment.on(request.param, request, tmp_path, "metrics", {"NGNSERVER_WORKERS": "2"})
    server = deployment.start()
    yield deployment, server
    deployment.stop_all()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition ``text``, read by prometheus-client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_metrics_add_up_every_workers_calls(served):
    _deployment, server = served
    admin = Client(server.url, "admin", "secret")
    created = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "m", "password": "pw"}))
    for _ in range(30):
        admin.call("Customer", "getAccount", id=created["id"])
    for _ in range(5):
        with pytest.raises(SoapFault):
            admin.call("Customer", "getAccount", id=999)
    assert len(set(server.workers())) == 2
    for _ in range(4):  # whichever worker answers the scrape
        response = server.get("/metrics")
        assert response.status == 200 and response.headers["content-type"].startswith("text/plain")
        found = samples(response.body.decode())
        get = {"port": "Customer", "operation": "getAccount"}
        assert value(found, "ngnserver_soap_requests_total", **get, errorcode="0") == 30
        assert value(found, "ngnserver_soap_requests_total", **get, errorcode="5002") == 5
        assert value(found, "ngnserver_soap_request_seconds_count", port="Customer", operation="addAccount") == 1
        assert value(found, "ngnserver_database_up") == 1


def test_metrics_are_for_the_allowed_addresses_or_the_token(served):
    deployment, server = served
    # from another address, as the trusted loopback proxy says
    head = "GET /metrics HTTP/1.0\r\nHost: x\r\nX-Forwarded-For: 203.0.113.5\r\n"
    assert http_exchange(server.base_url, (head + "\r\n").encode()).status == 403
    server.stop()
    deployment.settings["NGNSERVER_METRICS_TOKEN"] = "scrape-me"
    server = deployment.start()
    assert http_exchange(server.base_url, (head + "\r\n").encode()).status == 403
    allowed = http_exchange(server.base_url, (head + "Authorization: Bearer scrape-me\r\n\r\n").encode())
    assert allowed.status == 200 and b"ngnserver_database_up 1.0" in allowed.body


def test_vendor_calls_are_timed_and_their_failures_counted():
    from ngnserver.vendors.ikano import IkanoClient, IkanoTransientError
    from tests.support.ikano_simulator import IkanoSimulator

    def count(name: str, **labels: str) -> float:
        return samples(metrics.exposition(lambda: ({}, {}), lambda: None).decode()).get((name, frozenset(labels.items())), 0)

    sim = IkanoSimulator().start()
    try:
        client = IkanoClient(sim.keyid, sim.password, username=sim.username, url=sim.url)
        before = count("ngnserver_vendor_call_seconds_count", vendor="ikano")
        sim.fail_next("http500", command="CUSTOMERLOOKUP")
        with pytest.raises(IkanoTransientError):
            client.customer_lookup("2125550000")
        assert count("ngnserver_vendor_call_seconds_count", vendor="ikano") == before + 1
        assert count("ngnserver_vendor_call_errors_total", vendor="ikano", error="HTTP 500") >= 1
    finally:
        sim.stop()


def test_bqn_calls_are_timed_and_their_failures_counted():
    # the BQN client sends through urllib3 directly (vendors/rest.Pool), not a requests session
    from ngnserver.vendors.bqn import POLICIES, BqnClient, BqnTransientError
    from tests.support.bqn_simulator import BqnSimulator

    def count(name: str, **labels: str) -> float:
        return samples(metrics.exposition(lambda: ({}, {}), lambda: None).decode()).get((name, frozenset(labels.items())), 0)

    with BqnSimulator() as bqn:
        client = BqnClient(bqn.url, bqn.user, bqn.password, retries=0, backoff=0.0)
        before = count("ngnserver_vendor_call_seconds_count", vendor="bqn")
        errors = count("ngnserver_vendor_call_errors_total", vendor="bqn", error="HTTP 503")
        client.list(POLICIES)
        bqn.fail("status:503")
        with pytest.raises(BqnTransientError):
            client.list(POLICIES)
        assert count("ngnserver_vendor_call_seconds_count", vendor="bqn") == before + 2
        assert count("ngnserver_vendor_call_errors_total", vendor="bqn", error="HTTP 503") == errors + 1
    dropped = count("ngnserver_vendor_call_errors_total", vendor="bqn", error="NewConnectionError")
    with pytest.raises(BqnTransientError):
        BqnClient(bqn.url, bqn.user, bqn.password, retries=0, backoff=0.0).list(POLICIES)
    assert count("ngnserver_vendor_call_errors_total", vendor="bqn", error="NewConnectionError") == dropped + 1


def test_the_log_is_json_lines_and_a_calls_line_names_its_request_id(served):
    _deployment, server = served
    response = post(server.url, envelope("Customer", "getCustomers", {"query": ("CustomerQuery", {})},
                                         {"username": "admin", "password": "secret", "admin": True}))  # fmt: skip
    request = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request)
    forwarded = post(server.url, envelope("Customer", "getCustomers", {"query": ("CustomerQuery", {})}, None),
                     {"X-Request-Id": "proxy-given-1"})  # fmt: skip
    assert forwarded.headers["x-request-id"] == "proxy-given-1"  # from the trusted loopback proxy
    lines = [line for line in server.stderr.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line, gunicorn's too
    assert any(p["logger"].startswith("gunicorn") for p in parsed)
    calls = [p for p in parsed if p.get("message") == "soap"]
    assert [c["request"] for c in calls][-2:] == [request, "proxy-given-1"]
    assert calls[-2]["operation"] == "Customer.getCustomers" and calls[-1]["errorcode"] == 4001
