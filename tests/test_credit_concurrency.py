"""Credits hold under concurrency: 40 simultaneous addAccount requests from separate
connections, served by two gunicorn worker processes, against the last 10 units of a
credit. Exactly 10 succeed, 30 get the credit Fault, and the database holds exactly 10."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.gunicorn import Deployment
from tests.support.wire import Client, SoapFault

PARALLEL = 40
CREDIT = 10


def credit(value: int) -> dict[str, str]:
    return {"name": "sip_credit", "value": str(value), "category": "credit", "permission": "admin"}


@pytest.fixture(params=["postgresql", "postgresql-unprepared", "sqlite"])
def running(request, tmp_path):
    """The server on each backend; "postgresql-unprepared" as behind PgBouncer in
    transaction mode (no server-side prepared statements)."""
    settings = {"NGNSERVER_PREPARED_STATEMENTS": "false"} if request.param == "postgresql-unprepared" else {}
    deployment = Deployment.on(request.param.partition("-")[0], request, tmp_path, "credit_race", settings)
    server = deployment.start()
    yield deployment, server
    deployment.stop_all()


def race(client: Client, domain: str, same_username: bool = False) -> tuple[int, list[int]]:
    """PARALLEL addAccount calls released at the same instant; (successes, fault codes)."""
    barrier = threading.Barrier(PARALLEL)

    def one(n: int) -> int:
        barrier.wait()
        try:
            client.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": "same" if same_username else f"u{n}", "domain": domain}}))
            return 0
        except SoapFault as fault:
            return fault.errorcode or -1

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(one, range(PARALLEL)))
    return results.count(0), [r for r in results if r]


def stored_accounts(deployment: Deployment, domain: str) -> int:
    return deployment.query("SELECT count(*) FROM sip_accounts WHERE domain = :d", d=domain)[0][0]


def test_reseller_credit_is_never_exceeded_under_concurrency(running):
    deployment, server = running
    admin = Client(server.url, "admin", "secret")
    reseller = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "racer", "password": "rpw", "resellerActive": True}))
    admin.call("Customer", "setProperties", customer=reseller["id"], properties=[credit(CREDIT)])
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "race.example.com", "customer": reseller["id"]}))

    successes, faults = race(Client(server.url, "racer", "rpw", admin=False), "race.example.com")

    assert successes == CREDIT
    assert faults == [6001] * (PARALLEL - CREDIT)
    assert stored_accounts(deployment, "race.example.com") == CREDIT
    assert len(set(server.workers())) == 2


def test_customer_credit_is_never_exceeded_under_concurrency(running):
    deployment, server = running
    admin = Client(server.url, "admin", "secret")
    reseller = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "big", "password": "x", "resellerActive": True}))
    admin.call("Customer", "setProperties", customer=reseller["id"], properties=[credit(1000)])
    customer = admin.call(
        "Customer", "addAccount", account=("CustomerAccount", {"username": "small", "password": "spw", "reseller": reseller["id"]})
    )
    admin.call("Customer", "setProperties", customer=customer["id"], properties=[credit(CREDIT)])
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "small.example.com", "customer": customer["id"]}))

    successes, faults = race(Client(server.url, "small", "spw", admin=False), "small.example.com")

    assert successes == CREDIT
    assert faults == [6001] * (PARALLEL - CREDIT)
    assert stored_accounts(deployment, "small.example.com") == CREDIT


def test_one_username_created_at_once_by_many_is_stored_and_counted_once(running):
    deployment, server = running
    admin = Client(server.url, "admin", "secret")
    reseller = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "twin", "password": "tpw", "resellerActive": True}))
    admin.call("Customer", "setProperties", customer=reseller["id"], properties=[credit(1000)])
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "twin.example.com", "customer": reseller["id"]}))

    successes, faults = race(Client(server.url, "twin", "tpw", admin=False), "twin.example.com", same_username=True)

    assert successes == 1
    assert faults == [1011] * (PARALLEL - 1)
    assert stored_accounts(deployment, "twin.example.com") == 1
    [(used,)] = deployment.query("SELECT used FROM credit_usage WHERE holder = :r", r=reseller["id"])
    assert used == 1  # the losers' charges were rolled back with them
