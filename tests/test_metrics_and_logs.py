"""What an operator's tools read from a running ``ngnserver serve`` (real gunicorn, two
workers, each backend): ``/metrics`` in Prometheus' format, adding up every worker's counts
whichever worker answers; and a log of JSON lines only, gunicorn's own included, where a
SOAP call's line carries the request id its answer's ``X-Request-Id`` header names."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.gunicorn import Deployment
from tests.support.wire import Client, SoapFault, envelope, post


@pytest.fixture(params=["postgresql", "sqlite"])
def served(request, tmp_path):
    deployment = Deployment.on(request.param, request, tmp_path, "metrics", {"NGNSERVER_WORKERS": "2"})
    server = deployment.start()
    yield deployment, server
    deployment.stop_all()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition ``text``."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{([^}]*)\})? (\S+)", line)
        if match and match[1] == name and ",".join(sorted((match[2] or "").split(","))) == wanted:
            return float(match[3])
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")


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
        text = response.body.decode()
        assert sample(text, "ngnserver_soap_requests_total", operation="Customer.getAccount", errorcode="0") == 30
        assert sample(text, "ngnserver_soap_requests_total", operation="Customer.getAccount", errorcode="5002") == 5
        assert sample(text, "ngnserver_soap_request_seconds_count", operation="Customer.addAccount") == 1
        assert sample(text, "ngnserver_database_up") == 1


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
