"""SIP rules for each kind of caller: scope, inheritance, owners, credits at the reseller and
customer level, PSTN and prepaid rights, moves, deletion and the change history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.wire import Client, SoapFault
from tests.test_customer_rules import add

DOMAIN = "voip.example.net"


def credit(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value, "category": "credit", "permission": "admin"}


def sip_id(username: str, domain: str = DOMAIN) -> tuple[str, dict[str, str]]:
    return ("SipId", {"username": username, "domain": domain})


def refused(errorcode: int, client: Client, operation: str, **params: Any) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call("Sip", operation, **params)
    assert info.value.errorcode == errorcode, info.value
    return info.value


def add_account(client: Client, username: str, domain: str = DOMAIN, **fields: Any) -> dict[str, Any]:
    return client.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": username, "domain": domain}, **fields}))


class World:
    """Reseller r1 (active, sip_credit 3) with customers c1 and c2; c1 holds DOMAIN.
    Reseller r2 (active, sip_credit 10) with customer d1 holding other.example.net."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.admin = admin = server.admin()
        self.r1 = add(admin, username="r1", resellerActive=True)["id"]
        self.r2 = add(admin, username="r2", resellerActive=True)["id"]
        self.c1 = add(admin, username="c1", reseller=self.r1)["id"]
        self.c2 = add(admin, username="c2", reseller=self.r1)["id"]
        self.d1 = add(admin, username="d1", reseller=self.r2)["id"]
        admin.call("Customer", "setProperties", customer=self.r1, properties=[credit("sip_credit", "3")])
        admin.call("Customer", "setProperties", customer=self.r2, properties=[credit("sip_credit", "10")])
        admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": DOMAIN, "customer": self.c1}))
        admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "other.example.net", "customer": self.d1}))

    def login(self, username: str) -> Client:
        return self.server.login(username, "pw-" + username)


@pytest.fixture
def world(server: Any) -> World:
    return World(server)


def test_reseller_credit_bounds_all_its_customers_together(world):
    r1, c1 = world.login("r1"), world.login("c1")
    add_account(r1, "a1")
    add_account(c1, "a2")
    add_account(c1, "a3")
    error = refused(6001, c1, "addAccount", account=("SipAccount", {"id": {"username": "a4", "domain": DOMAIN}}))
    assert error.errorstring == f"SIP account credit of reseller {world.r1} is exhausted (3 of 3 used)."
    c1.call("Sip", "deleteAccount", sipId=sip_id("a3"))
    add_account(c1, "a4")


def test_customer_credit_bounds_what_belongs_to_it(world):
    world.admin.call("Customer", "setProperties", customer=world.c1, properties=[credit("sip_credit", "1")])
    c1 = world.login("c1")
    add_account(c1, "a1")
    error = refused(6001, c1, "addAccount", account=("SipAccount", {"id": {"username": "a2", "domain": DOMAIN}}))
    assert error.errorstring == f"SIP account credit of customer {world.c1} is exhausted (1 of 1 used)."


def test_an_owner_is_charged_too(world):
    world.admin.call("Customer", "setProperties", customer=world.c2, properties=[credit("sip_credit", "0")])
    r1 = world.login("r1")
    error = refused(
        6001, r1, "addAccount", account=("SipAccount", {"id": {"username": "o1", "domain": DOMAIN}, "owner": world.c2})
    )
    assert f"customer {world.c2}" in error.errorstring


def test_admin_is_not_limited_but_counted(world):
    for n in range(5):
        add_account(world.admin, f"adm{n}")
    refused(6001, world.login("r1"), "addAccount", account=("SipAccount", {"id": {"username": "x", "domain": DOMAIN}}))


def test_reseller_without_a_credit_property_may_create_none(world):
    world.admin.call("Customer", "setProperties", customer=world.r1, properties=[credit("sip_credit", "")])
    error = refused(6001, world.login("c1"), "addAccount", account=("SipAccount", {"id": {"username": "x", "domain": DOMAIN}}))
    assert "(0 of 0 used)" in error.errorstring


def test_inactive_reseller_and_its_customers_create_no_records(world):
    world.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.r1, "resellerActive": False}))
    refused(4007, world.login("c1"), "addAccount", account=("SipAccount", {"id": {"username": "x", "domain": DOMAIN}}))
    add_account(world.admin, "byadmin")


def test_scope_of_each_kind_of_caller(world):
    add_account(world.admin, "a1")
    add_account(world.admin, "z1", domain="other.example.net")
    assert world.login("c1").call("Sip", "getAccounts", query={})["total"] == 1
    assert world.login("c2").call("Sip", "getAccounts", query={})["total"] == 0
    assert world.login("r1").call("Sip", "getAccounts", query={})["total"] == 1
    assert world.admin.as_customer(world.r2).call("Sip", "getAccounts", query={})["total"] == 1
    assert world.admin.call("Sip", "getAccounts", query={})["total"] == 2
    refused(1012, world.login("c2"), "getAccount", sipId=sip_id("a1"))
    refused(1012, world.login("r2"), "getAccount", sipId=sip_id("a1"))
    refused(1002, world.login("r2"), "addAccount", account=("SipAccount", {"id": {"username": "x", "domain": DOMAIN}}))


def test_an_owner_sees_its_account_in_anothers_domain(world):
    add_account(world.login("r1"), "owned", owner=world.c2)
    c2 = world.login("c2")
    assert c2.call("Sip", "getAccount", sipId=sip_id("owned"))["owner"] == world.c2
    assert c2.call("Sip", "getAccounts", query={"filter": {"owner": world.c2}})["total"] == 1


def test_owner_must_be_a_customer_of_the_same_reseller(world):
    refused(
        5009, world.admin, "addAccount", account=("SipAccount", {"id": {"username": "x", "domain": DOMAIN}, "owner": world.d1})
    )


def test_customers_do_not_manage_domains(world):
    with pytest.raises(SoapFault) as info:
        world.login("c1").call("Sip", "addDomain", domain=("SipDomain", {"domain": "mine.example.org"}))
    assert info.value.errorcode == 4004


def test_reseller_domain_defaults_to_itself_and_may_name_its_customer(world):
    r1 = world.login("r1")
    r1.call("Sip", "addDomain", domain=("SipDomain", {"domain": "r1.example.org"}))
    r1.call("Sip", "addDomain", domain=("SipDomain", {"domain": "c2.example.org", "customer": world.c2}))
    domains = {d["domain"]: d for d in r1.call("Sip", "getDomains", query={})["domains"]}
    assert (domains["r1.example.org"]["customer"], domains["r1.example.org"]["reseller"]) == (world.r1, world.r1)
    assert domains["c2.example.org"]["customer"] == world.c2
    with pytest.raises(SoapFault) as info:
        r1.call("Sip", "addDomain", domain=("SipDomain", {"domain": "d1.example.org", "customer": world.d1}))
    assert info.value.errorcode == 5002


def test_pstn_access_and_prepaid_need_the_resellers_rights(world):
    c1 = world.login("c1")
    refused(1041, c1, "addAccount", account=("SipAccount", {"id": {"username": "p", "domain": DOMAIN}, "groups": ["free-pstn"]}))
    add_account(c1, "p")
    refused(1041, c1, "addToGroup", sipId=sip_id("p"), group="free-pstn")
    refused(1041, c1, "updateAccount", account=("SipAccount", {"id": {"username": "p", "domain": DOMAIN}, "prepaid": True}))
    rights = [{"name": "pstn_access", "value": "1"}, {"name": "prepaid_changes", "value": "1"}]
    world.admin.call("Customer", "setProperties", customer=world.r1, properties=rights)
    c1.call("Sip", "addToGroup", sipId=sip_id("p"), group="free-pstn")
    c1.call("Sip", "updateAccount", account=("SipAccount", {"id": {"username": "p", "domain": DOMAIN}, "prepaid": True}))
    account = c1.call("Sip", "getAccount", sipId=sip_id("p"))
    assert account["prepaid"] is True and account["groups"] == ["free-pstn", "prepaid"]
    # admin is not limited by rights
    add_account(world.admin, "q", groups=["free-pstn"], prepaid=True)


def test_autoincrement_usernames(world):
    first = add_account(world.admin, "<autoincrement>")
    second = add_account(world.admin, "<autoincrement>")
    assert (first["id"]["username"], second["id"]["username"]) == ("1000", "1001")
    add_account(world.admin, "5000")
    assert add_account(world.admin, "<autoincrement>")["id"]["username"] == "5001"


def test_digest_passwords_are_stored_as_given(world):
    digest = "8a8f0e7b5f6c8b8e0e3c2a1d9f7e6d5c:1b2c3d4e5f60718293a4b5c6d7e8f901"
    add_account(world.admin, "dg", password=digest)
    assert world.admin.call("Sip", "getAccount", sipId=sip_id("dg"))["password"] == digest
    with world.server.database.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_sealed FROM sip_accounts")).scalar_one()
    assert digest.encode() not in bytes(stored)


def test_moving_a_domain_rechecks_the_new_customers_credit(world):
    for n in range(3):
        add_account(world.admin, f"m{n}")
    world.admin.call("Customer", "setProperties", customer=world.c2, properties=[credit("sip_credit", "2")])
    r1 = world.login("r1")
    with pytest.raises(SoapFault) as info:
        r1.call("Sip", "updateDomain", domain=("SipDomain", {"domain": DOMAIN, "customer": world.c2}))
    assert info.value.errorstring == f"SIP account credit of customer {world.c2} is exhausted (0 of 2 used; 3 more needed)."
    assert {a["customer"] for a in world.admin.call("Sip", "getAccounts", query={})["accounts"]} == {world.c1}
    world.admin.call("Customer", "setProperties", customer=world.c2, properties=[credit("sip_credit", "3")])
    r1.call("Sip", "updateDomain", domain=("SipDomain", {"domain": DOMAIN, "customer": world.c2}))
    assert {a["customer"] for a in world.admin.call("Sip", "getAccounts", query={})["accounts"]} == {world.c2}


def test_admin_moves_a_domain_to_another_reseller_clearing_foreign_owners(world):
    add_account(world.admin, "own", owner=world.c2)
    world.admin.call("Sip", "updateDomain", domain=("SipDomain", {"domain": DOMAIN, "customer": world.d1}))
    account = world.admin.call("Sip", "getAccount", sipId=sip_id("own"))
    assert (account["customer"], account["reseller"], account["owner"]) == (world.d1, world.r2, 0)


def test_deleting_a_customer_that_owns_sip_records_is_refused(world):
    add_account(world.admin, "a1")
    world.admin.call("Sip", "addAlias", alias=("SipAlias", {"id": {"username": "al", "domain": DOMAIN}, "target": {"username": "a1", "domain": DOMAIN}}))
    with pytest.raises(SoapFault) as info:
        world.admin.call("Customer", "deleteAccount", id=world.c1)
    assert info.value.errorcode == 5005
    assert "1 SIP domain, 1 SIP account and 1 SIP alias" in info.value.errorstring


def test_alias_credit(world):
    world.admin.call("Customer", "setProperties", customer=world.r1, properties=[credit("sip_alias_credit", "1")])
    c1 = world.login("c1")
    target = {"username": "t", "domain": "elsewhere.example"}
    c1.call("Sip", "addAlias", alias=("SipAlias", {"id": {"username": "al1", "domain": DOMAIN}, "target": target}))
    error = refused(6001, c1, "addAlias", alias=("SipAlias", {"id": {"username": "al2", "domain": DOMAIN}, "target": target}))
    assert "SIP alias credit" in error.errorstring
    refused(1021, world.admin, "addAlias", alias=("SipAlias", {"id": {"username": "al1", "domain": DOMAIN}, "target": target}))


def test_bad_input_is_refused_with_a_sentence(world):
    error = refused(2006, world.admin, "addDomain", domain=("SipDomain", {"domain": "not a domain"}))
    assert "not a valid domain name" in error.errorstring
    refused(2006, world.admin, "addAccount", account=("SipAccount", {"id": {"username": "bad user", "domain": DOMAIN}}))
    refused(2007, world.admin, "getAccount", sipId=("SipId", {"domain": DOMAIN}))


def test_every_change_is_in_the_audit_log(world):
    r1 = world.login("r1")
    add_account(r1, "aud", password="topsecret")
    r1.call("Sip", "updateAccount", account=("SipAccount", {"id": {"username": "aud", "domain": DOMAIN}, "email": "a@b.c"}))
    world.admin.as_customer(world.r1).call("Sip", "deleteAccount", sipId=sip_id("aud"))
    with world.server.database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT login, admin_login, acting_as, action, changes FROM audit_log "
                "WHERE kind = 'sip_account' ORDER BY id"
            )
        ).all()
    assert [(r.login, bool(r.admin_login), r.acting_as, r.action) for r in rows] == [
        ("r1", False, world.r1, "create"),
        ("r1", False, world.r1, "update"),
        ("admin", True, world.r1, "delete"),
    ]
    assert "topsecret" not in str(rows)


@contextmanager
def audit_refused(database: Any) -> Iterator[None]:
    """The database refuses audit rows (a trigger), as a full disk or a broken table would:
    the failure comes in the middle of a creation, after the record's own rows."""
    if database.is_sqlite:
        create = ["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'no audit'); END"]
        drop = ["DROP TRIGGER refuse_audit"]
    else:
        create = [
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no audit'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ]
        drop = ["DROP TRIGGER refuse_audit ON audit_log", "DROP FUNCTION refuse_audit()"]
    with database.engine.begin() as conn:
        for statement in create:
            conn.execute(text(statement))
    try:
        yield
    finally:
        with database.engine.begin() as conn:
            for statement in drop:
                conn.execute(text(statement))


def test_a_database_failure_mid_creation_leaves_nothing_behind(world, caplog):
    r1 = world.login("r1")
    with audit_refused(world.server.database), pytest.raises(SoapFault) as info:
        add_account(r1, "half", password="pw-half-secret", groups=["voicemail"])
    assert info.value.errorcode == 9001 and info.value.faultcode == "SOAP-ENV:Server"
    assert "Traceback" not in info.value.errorstring
    assert "pw-half-secret" not in caplog.text
    with world.server.database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sip_accounts")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM sip_account_groups")).scalar_one() == 0
        assert conn.execute(text("SELECT coalesce(sum(used), 0) FROM credit_usage")).scalar_one() == 0
    # the charge was rolled back with the rest: the reseller's whole credit of 3 is there
    for n in range(3):
        add_account(r1, f"full{n}")
    refused(6001, r1, "addAccount", account=("SipAccount", {"id": {"username": "full3", "domain": DOMAIN}}))


def test_a_customer_with_records_cannot_move_to_another_reseller(world):
    add_account(world.admin, "stay")
    with pytest.raises(SoapFault) as info:
        world.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c1, "reseller": world.r2}))
    assert info.value.errorcode == 5008 and "1 SIP domain and 1 SIP account" in info.value.errorstring
    world.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c2, "reseller": world.r2}))
    assert world.admin.call("Customer", "getAccount", id=world.c2)["reseller"] == world.r2


def test_text_longer_than_its_column_is_refused_and_nothing_is_written(world):
    r1 = world.login("r1")
    error = refused(2006, r1, "addAccount", account=("SipAccount", {"id": {"username": "long", "domain": DOMAIN}, "firstName": "x" * 129}))
    assert error.errorstring == "firstName is 129 characters long; at most 128 are allowed."
    with world.server.database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sip_accounts")).scalar_one() == 0
        assert conn.execute(text("SELECT coalesce(sum(used), 0) FROM credit_usage")).scalar_one() == 0
    add_account(r1, "long", firstName="x" * 128)
    error = refused(2006, world.admin, "updateAccount", account=("SipAccount", {"id": {"username": "long", "domain": DOMAIN}, "email": "e" * 256}))
    assert error.errorstring == "email is 256 characters long; at most 255 are allowed."
    assert world.admin.call("Sip", "getAccount", sipId=sip_id("long"))["email"] == ""


def test_the_longest_legal_address_is_stored_and_audited(world):
    domain = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters
    username = "u" * 64
    assert len(domain) == 253
    world.admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": domain, "customer": world.r1}))
    add_account(world.admin, username, domain)
    world.admin.call("Sip", "addAlias", alias=("SipAlias", {"id": {"username": "v" * 64, "domain": domain},
                                                           "target": {"username": username, "domain": domain}}))  # fmt: skip
    world.admin.call("Sip", "deleteAccount", sipId=sip_id(username, domain))
    with world.server.database.engine.connect() as conn:
        keys = conn.execute(text("SELECT record_key FROM audit_log WHERE kind = 'sip_account'")).scalars().all()
    assert keys == [f"{username}@{domain}"] * 2


def test_a_customers_first_records_created_at_once_all_count(world):
    """A customer without a credit of its own, bounded by its reseller alone: its first
    records arrive at once, each finds its counter missing or just created by another, and
    none is refused (it was: "1 of None used")."""
    from concurrent.futures import ThreadPoolExecutor

    world.admin.call("Customer", "setProperties", customer=world.r1, properties=[credit("sip_credit", "40")])
    world.admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "burst.example", "customer": world.c1}))
    r1 = world.login("r1")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: add_account(r1, f"u{i}", "burst.example"), range(30)))
    with world.server.database.engine.connect() as conn:
        used = dict(conn.execute(text("SELECT scope, used FROM credit_usage WHERE credit = 'sip_credit'")).all())
    assert used == {"customer": 30, "reseller": 30}
