"""A SIP account follows its domain's placement at commit, even when the domain moved (or
went) between the moment a server read it and the moment it wrote the account.

A server remembers the domain rows it read on a database connection, so the second of two
servers on one database (two hosts, or two gunicorn workers) can hold a row that is out of
date: that makes the stale read of a concurrent move deterministic here. The last test
races moves against creations on two gunicorn workers for real."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import text

from tests.support.wire import Client, SoapFault
from tests.test_customer_rules import add
from tests.test_sip_rules import add_account, credit, refused, sip_id

DOMAIN = "moves.example.net"


def counters(server: Any) -> dict[tuple[str, int], int]:
    with server.database.engine.connect() as conn:
        rows = conn.execute(text("SELECT scope, holder, used FROM credit_usage WHERE credit = 'sip_credit'"))
        return {(scope, holder): used for scope, holder, used in rows}


def placed_reseller_with_two_customers(admin: Client, credits: str = "10") -> tuple[int, int, int]:
    reseller = add(admin, username="mr", resellerActive=True)["id"]
    c1 = add(admin, username="mc1", reseller=reseller)["id"]
    c2 = add(admin, username="mc2", reseller=reseller)["id"]
    for holder in (reseller, c1, c2):
        admin.call(
            "Customer", "setProperties", customer=holder,
            properties=[credit("sip_credit", credits), credit("sip_alias_credit", credits)],
        )  # fmt: skip
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": DOMAIN, "customer": c1}))
    return reseller, c1, c2


def test_an_account_follows_a_domain_moved_by_another_server(server, second):
    admin = server.admin()
    reseller, c1, c2 = placed_reseller_with_two_customers(admin)
    add_account(admin, "first", DOMAIN)  # this server now knows the domain under c1

    second.call("Sip", "updateDomain", domain=("SipDomain", {"domain": DOMAIN, "customer": c2}))
    created = add_account(admin, "second", DOMAIN)

    assert (created["customer"], created["reseller"]) == (c2, reseller)
    for username in ("first", "second"):
        assert admin.call("Sip", "getAccount", sipId=sip_id(username, DOMAIN))["customer"] == c2
    used = counters(server)
    assert used[("customer", c2)] == 2
    assert used.get(("customer", c1), 0) == 0
    assert used[("reseller", reseller)] == 2


def test_an_account_is_refused_in_a_domain_deleted_by_another_server(server, second):
    admin = server.admin()
    placed_reseller_with_two_customers(admin)
    # a refused creation has read (and this server remembers) the domain
    refused(2006, admin, "addAccount", account=("SipAccount", {"id": {"username": "bad name", "domain": DOMAIN}}))

    second.call("Sip", "deleteDomain", domain=DOMAIN)
    refused(1002, admin, "addAccount", account=("SipAccount", {"id": {"username": "late", "domain": DOMAIN}}))

    with server.database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sip_accounts")).scalar_one() == 0
    assert all(used == 0 for used in counters(server).values())


def test_a_taken_username_is_the_answer_before_an_exhausted_credit(server):
    admin = server.admin()
    _, c1, _ = placed_reseller_with_two_customers(admin, credits="1")
    r = server.login("mr", "pw-mr")
    add_account(r, "only", DOMAIN)
    # the domain is known now, so the username is not read before the write
    error = refused(1011, r, "addAccount", account=("SipAccount", {"id": {"username": "only", "domain": DOMAIN}}))
    assert error.errorstring == f"SIP account only@{DOMAIN} already exists."
    refused(6001, r, "addAccount", account=("SipAccount", {"id": {"username": "other", "domain": DOMAIN}}))
    assert counters(server)[("customer", c1)] == 1


MOVES = 12
CREATIONS = 30  # accounts
ALIASES = 12


def test_creations_racing_domain_moves_stay_with_the_domain(served):
    """Creations of accounts and aliases and moves of their domain at once, on two worker
    processes: every record ends under the domain's customer, every counter matches the
    records, and no request fails (a lock taken in the wrong order would deadlock one)."""
    deployment, server = served
    admin = Client(server.url, "admin", "secret")
    reseller, c1, c2 = placed_reseller_with_two_customers(admin, credits="1000")
    barrier = threading.Barrier(MOVES + CREATIONS + ALIASES)

    def move(n: int) -> None:
        barrier.wait()
        admin.call("Sip", "updateDomain", domain=("SipDomain", {"domain": DOMAIN, "customer": (c1, c2)[n % 2]}))

    def create(n: int) -> None:
        barrier.wait()
        add_account(admin, f"racer{n}", DOMAIN)

    def alias(n: int) -> None:
        barrier.wait()
        target = {"username": "racer0", "domain": DOMAIN}
        admin.call("Sip", "addAlias", alias=("SipAlias", {"id": {"username": f"alias{n}", "domain": DOMAIN}, "target": target}))

    with ThreadPoolExecutor(MOVES + CREATIONS + ALIASES) as pool:
        futures = [
            *(pool.submit(move, n) for n in range(MOVES)),
            *(pool.submit(create, n) for n in range(CREATIONS)),
            *(pool.submit(alias, n) for n in range(ALIASES)),
        ]
        failures = []
        for future in futures:
            try:
                future.result()
            except SoapFault as fault:
                failures.append(fault)
    assert failures == []

    [(domain_customer,)] = deployment.query("SELECT customer FROM sip_domains WHERE domain = :d", d=DOMAIN)
    by_customer = {
        table: dict(deployment.query(f"SELECT customer, count(*) FROM {table} GROUP BY customer"))
        for table in ("sip_accounts", "sip_aliases")
    }
    used = {
        (credit_name, scope, holder): n
        for credit_name, scope, holder, n in deployment.query("SELECT credit, scope, holder, used FROM credit_usage")
    }
    assert by_customer == {"sip_accounts": {domain_customer: CREATIONS}, "sip_aliases": {domain_customer: ALIASES}}
    other = c1 if domain_customer == c2 else c2
    for credit_name, n in (("sip_credit", CREATIONS), ("sip_alias_credit", ALIASES)):
        assert used[(credit_name, "customer", domain_customer)] == n
        assert used.get((credit_name, "customer", other), 0) == 0
        assert used[(credit_name, "reseller", reseller)] == n
    assert len(set(server.workers())) == 2
