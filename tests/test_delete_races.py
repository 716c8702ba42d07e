"""Credits hold under concurrent deletes and churn, against gunicorn's worker processes on each
backend: 16 parallel deletes of one record succeed once and release its credit once, for
every record kind that counts against a credit; parallel owner changes count once; and a
churn of 24 threads of mixed adds, deletes and updates ends with every usage counter equal
to a recount, without a single 9001."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ngnserver.core import credits
from ngnserver.db import Database
from tests.support.gunicorn import Deployment
from tests.support.wire import Client, SoapFault, all_at_once

PARALLEL = 16
CREDIT_NAMES = ("sip_credit", "sip_alias_credit", "enum_range_credit", "enum_number_credit", "dns_zone_credit", "email_credit")


@pytest.fixture(params=["postgresql", "sqlite"])
def deployed(request, tmp_path):
    deployment = Deployment.on(request.param, request, tmp_path, "delete_races", {"NGNSERVER_WORKERS": "2"})
    server = deployment.start()
    yield deployment, server
    deployment.stop_all()


def usage(deployment: Deployment) -> dict[tuple[str, int, str], int]:
    return {(s, h, c): u for s, h, c, u in deployment.query("SELECT scope, holder, credit, used FROM credit_usage") if u}


def recounted(deployment: Deployment) -> dict[tuple[str, int, str], int]:
    """What ``ngnserver db recount`` would write (run in a transaction that is rolled back)."""
    database = Database(deployment.engine_url)
    try:
        with database.engine.connect() as conn:
            from sqlalchemy.orm import Session

            with Session(bind=conn) as session:
                credits.recount(session)
                session.flush()
                rows = conn.exec_driver_sql("SELECT scope, holder, credit, used FROM credit_usage").all()
                session.rollback()
    finally:
        database.dispose()
    return {(s, h, c): u for s, h, c, u in rows if u}


class Tenant:
    """A reseller with a credit of 10 of everything, a customer of it, a SIP domain, an ENUM
    range and a DNS zone of the customer's."""

    def __init__(self, server: Any) -> None:
        self.admin = admin = Client(server.url, "admin", "secret")
        self.reseller = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "r", "password": "pw-r", "resellerActive": True}))["id"]
        self.customer = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "c", "password": "pw-c", "reseller": self.reseller}))["id"]
        props = [{"name": n, "value": "10", "category": "credit", "permission": "admin"} for n in CREDIT_NAMES]
        admin.call("Customer", "setProperties", customer=self.reseller, properties=props)
        customer_props = [{"name": "sip_credit", "value": "4", "category": "credit", "permission": "admin"}]
        admin.call("Customer", "setProperties", customer=self.customer, properties=customer_props)
        self.r = Client(server.url, "r", "pw-r", admin=False)
        admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "race.example", "customer": self.reseller}))
        self.r.call("Enum", "addRange", range=("EnumRange", {"id": {"prefix": "3170", "tld": "e164.arpa"}, "customer": self.customer}))
        self.r.call("Dns", "addZone", zone=("DnsZone", {"name": "race.example", "customer": self.customer}))


KINDS: dict[str, tuple[str, Callable[[Client], Any], Callable[[Client], Any]]] = {
    "sip account": (
        "sip_credit",
        lambda c: c.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": "one", "domain": "race.example"}})),
        lambda c: c.call("Sip", "deleteAccount", sipId=("SipId", {"username": "one", "domain": "race.example"})),
    ),
    "sip alias": (
        "sip_alias_credit",
        lambda c: c.call("Sip", "addAlias", alias=("SipAlias", {"id": {"username": "al", "domain": "race.example"},
                                                                 "target": {"username": "x", "domain": "elsewhere.example"}})),
        lambda c: c.call("Sip", "deleteAlias", id=("SipId", {"username": "al", "domain": "race.example"})),
    ),
    "enum number": (
        "enum_number_credit",
        lambda c: c.call("Enum", "addNumber", number=("EnumNumber", {"id": {"number": "31701", "tld": "e164.arpa"}})),
        lambda c: c.call("Enum", "deleteNumber", enumId=("EnumId", {"number": "31701", "tld": "e164.arpa"})),
    ),
    "enum range": (
        "enum_range_credit",
        lambda c: c.call("Enum", "addRange", range=("EnumRange", {"id": {"prefix": "3180", "tld": "e164.arpa"}})),
        lambda c: c.call("Enum", "deleteRange", range=("EnumRangeId", {"prefix": "3180", "tld": "e164.arpa"})),
    ),
    "dns zone": (
        "dns_zone_credit",
        lambda c: c.call("Dns", "addZone", zone=("DnsZone", {"name": "gone.example"})),
        lambda c: c.call("Dns", "deleteZone", zone="gone.example"),
    ),
}  # fmt: skip


def test_parallel_deletes_of_one_record_release_its_credit_once(deployed):
    deployment, server = deployed
    tenant = Tenant(server)
    for kind, (credit, add, delete) in KINDS.items():
        before = usage(deployment)
        for _round in range(2):
            add(tenant.r)
            results = all_at_once(PARALLEL, lambda _, delete=delete: delete(tenant.r))
            assert results.count(0) == 1, (kind, results)
            assert set(results) - {0} <= {1031, 1032, 1002, 1012, 1022, 3002, 3003, 3004, 7002, 7004}, (kind, results)
        assert usage(deployment) == before, kind
    # fancy MBOXFW records: the e-mail credit
    fancy = tenant.r.call("Dns", "addFancyRecord", record=("DnsFancyRecord", {"zone": "race.example", "name": "info", "type": "MBOXFW", "value": "a@b.example"}))
    before = usage(deployment)
    results = all_at_once(PARALLEL, lambda _: tenant.r.call("Dns", "deleteFancyRecord", recordId=fancy["id"]))
    assert results.count(0) == 1, results
    key = ("reseller", tenant.reseller, "email_credit")
    assert usage(deployment).get(key, 0) == before[key] - 1
    assert usage(deployment) == recounted(deployment)


def test_parallel_owner_changes_count_once(deployed):
    deployment, server = deployed
    tenant = Tenant(server)
    sip_id = {"username": "owned", "domain": "race.example"}
    tenant.r.call("Sip", "addAccount", account=("SipAccount", {"id": sip_id, "owner": tenant.customer}))
    for owner in (0, tenant.customer, 0):
        change = ("SipAccount", {"id": sip_id, "owner": owner})
        all_at_once(12, lambda _, change=change: tenant.r.call("Sip", "updateAccount", account=change))
        assert usage(deployment) == recounted(deployment), owner
    assert usage(deployment).get(("customer", tenant.customer, "sip_credit"), 0) == 0


CHURN_SECONDS = 20
CHURN_THREADS = 24


def test_a_churn_of_adds_deletes_and_updates_keeps_every_counter_true(deployed):
    deployment, server = deployed
    tenant = Tenant(server)
    names = [f"u{i}" for i in range(16)]
    aliases = [f"a{i}" for i in range(8)]
    faults: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + CHURN_SECONDS

    def churn(seed: int) -> int:
        rng = random.Random(seed)
        client = tenant.r
        calls = 0
        while time.monotonic() < stop:
            name = rng.choice(names)
            sip_id = {"username": name, "domain": "race.example"}
            alias_id = {"username": rng.choice(aliases), "domain": "race.example"}
            action = rng.randrange(6)
            try:
                if action == 0:
                    client.call("Sip", "addAccount", account=("SipAccount", {"id": sip_id, "owner": rng.choice((0, tenant.customer))}))
                elif action == 1:
                    client.call("Sip", "deleteAccount", sipId=("SipId", sip_id))
                elif action == 2:
                    client.call("Sip", "updateAccount", account=("SipAccount", {"id": sip_id, "owner": rng.choice((0, tenant.customer))}))
                elif action == 3:
                    client.call("Sip", "addAlias", alias=("SipAlias", {"id": alias_id, "target": sip_id}))
                elif action == 4:
                    client.call("Sip", "deleteAlias", id=("SipId", alias_id))
                else:
                    client.call("Enum", "addNumber", number=("EnumNumber", {"id": {"number": f"3170{rng.randrange(12)}", "tld": "e164.arpa"}}))
                    client.call("Enum", "deleteNumber", enumId=("EnumId", {"number": f"3170{rng.randrange(12)}", "tld": "e164.arpa"}))
            except SoapFault as fault:
                if fault.faultcode == "SOAP-ENV:Server":
                    with lock:
                        faults.append(fault.errorcode or -1)
            calls += 1
        return calls

    with ThreadPoolExecutor(CHURN_THREADS) as pool:
        calls = sum(pool.map(churn, range(CHURN_THREADS)))
    assert calls > CHURN_THREADS * 10
    assert faults == []
    assert usage(deployment) == recounted(deployment)
    accounts = deployment.query("SELECT count(*) FROM sip_accounts")[0][0]
    assert accounts <= 10
    assert usage(deployment).get(("reseller", tenant.reseller, "sip_credit"), 0) == accounts
