"""The customer rules of NGNPro (see docs/rules.md, "Customers and resellers"), for each kind of
caller, over real HTTP: admin, admin impersonating, a reseller's own login, a reseller's
staff login and a plain customer's login."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.wire import Client, SoapFault


def add(client: Client, **fields: Any) -> dict[str, Any]:
    fields.setdefault("password", "pw-" + fields["username"])
    return client.call("Customer", "addAccount", account=("CustomerAccount", fields))


def refused(errorcode: int, client: Client, operation: str, **params: Any) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call("Customer", operation, **params)
    assert info.value.errorcode == errorcode, info.value
    assert info.value.faultcode == "SOAP-ENV:Client"
    return info.value


def props(client: Client, customer: int) -> dict[str, str]:
    return {p["name"]: p["value"] for p in client.call("Customer", "getProperties", customer=customer)}


def prop(name: str, value: str, permission: str = "customer", category: str = "web") -> dict[str, str]:
    return {"name": name, "value": value, "category": category, "permission": permission}


class World:
    """Two resellers (r1 active, r2 active), each with two customers; r1 has a staff login;
    and an inactive reseller r3 with one customer."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.admin = server.admin()
        self.r1 = add(self.admin, username="r1", resellerActive=True)["id"]
        self.r2 = add(self.admin, username="r2", resellerActive=True)["id"]
        self.r3 = add(self.admin, username="r3", resellerActive=False)["id"]
        self.c1 = add(self.admin, username="c1", reseller=self.r1)["id"]
        self.c2 = add(self.admin, username="c2", reseller=self.r1)["id"]
        self.staff = add(self.admin, username="staff1", reseller=self.r1, impersonate=self.r1)["id"]
        self.d1 = add(self.admin, username="d1", reseller=self.r2)["id"]
        self.e1 = add(self.admin, username="e1", reseller=self.r3)["id"]

    def login(self, username: str) -> Client:
        return self.server.login(username, "pw-" + username)


@pytest.fixture
def world(server: Any) -> World:
    return World(server)


# -- callers ---------------------------------------------------------------------------------


def test_wrong_admin_password_is_refused_and_nothing_is_written(world):
    bad = Client(world.server.url, "admin", "wrong")
    refused(4002, bad, "addAccount", account=("CustomerAccount", {"username": "x"}))
    assert world.admin.call("Customer", "getCustomers", query={})["total"] == 8


def test_admin_username_of_a_customer_is_not_an_admin_login(world):
    as_admin = Client(world.server.url, "c1", "pw-c1", admin=True)
    refused(4002, as_admin, "getAccount", id=world.c1)


def test_customer_with_wrong_password_is_refused(world):
    refused(4002, world.server.login("c1", "nope"), "getAccount", id=world.c1)
    refused(4002, world.server.login("nobody", "pw"), "getAccount", id=world.c1)


def test_impersonating_an_unknown_customer_is_refused(world):
    refused(4003, world.admin.as_customer(9999), "getAccount", id=world.c1)


def test_customer_login_sees_only_itself(world):
    c1 = world.login("c1")
    assert c1.call("Customer", "getAccount", id=world.c1)["username"] == "c1"
    # another customer of the same reseller, the reseller and a stranger do not exist for c1
    for other in (world.c2, world.r1, world.d1):
        refused(5002, c1, "getAccount", id=other)
    result = c1.call("Customer", "getCustomers", query={"filter": {"reseller": world.r1}})
    assert [a["id"] for a in result["accounts"]] == [world.c1] and result["total"] == 1


def test_out_of_scope_looks_exactly_like_missing(world):
    c1 = world.login("c1")
    missing = refused(5002, c1, "getAccount", id=424242)
    hidden = refused(5002, c1, "getAccount", id=world.d1)
    assert missing.errorstring.replace("424242", "N") == hidden.errorstring.replace(str(world.d1), "N")


def test_reseller_login_sees_itself_and_its_customers_only(world):
    r1 = world.login("r1")
    result = r1.call("Customer", "getCustomers", query={})
    assert sorted(a["id"] for a in result["accounts"]) == sorted([world.r1, world.c1, world.c2, world.staff])
    # a filter on another reseller never widens the scope
    assert r1.call("Customer", "getCustomers", query={"filter": {"reseller": world.r2}})["total"] == 0
    refused(5002, r1, "getAccount", id=world.d1)


def test_staff_login_has_the_rights_of_its_reseller(world):
    staff = world.login("staff1")
    assert staff.call("Customer", "getAccount", id=world.c1)["username"] == "c1"
    created = add(staff, username="c3")
    assert created["reseller"] == world.r1


def test_impersonate_other_than_the_reseller_is_refused_on_store(world):
    refused(5006, world.admin, "updateAccount", account=("CustomerAccount", {"id": world.c1, "impersonate": world.r2}))


def test_admin_impersonating_a_reseller_acts_as_that_reseller(world):
    as_r1 = world.admin.as_customer(world.r1)
    created = add(as_r1, username="c4")
    assert created["reseller"] == world.r1
    refused(5002, as_r1, "getAccount", id=world.d1)


def test_admin_impersonating_a_plain_customer_acts_as_that_customer(world):
    as_c1 = world.admin.as_customer(world.c1)
    refused(4004, as_c1, "addAccount", account=("CustomerAccount", {"username": "x", "password": "x"}))
    refused(5002, as_c1, "getAccount", id=world.c2)


# -- resellers and creation ------------------------------------------------------------------


def test_admin_without_reseller_creates_a_reseller(world):
    account = add(world.admin, username="newres")
    assert account["id"] == account["reseller"]
    resellers = world.admin.call("Customer", "getResellers", query={})
    assert {a["username"] for a in resellers["accounts"]} == {"r1", "r2", "r3", "newres"}


def test_only_resellers_filter_equals_get_resellers(world):
    a = world.admin.call("Customer", "getCustomers", query={"filter": {"only_resellers": "1"}})
    b = world.admin.call("Customer", "getResellers", query={})
    assert a == b and a["total"] == 3


def test_admin_may_put_a_customer_under_an_existing_reseller_only(world):
    assert add(world.admin, username="x1", reseller=world.r2)["reseller"] == world.r2
    refused(5004, world.admin, "addAccount", account=("CustomerAccount", {"username": "x2", "reseller": world.c1}))
    refused(5004, world.admin, "addAccount", account=("CustomerAccount", {"username": "x3", "reseller": 777}))


def test_reseller_creates_customers_under_itself_only(world):
    r1 = world.login("r1")
    assert add(r1, username="x1")["reseller"] == world.r1
    assert add(r1, username="x2", reseller=world.r1)["reseller"] == world.r1
    refused(4005, r1, "addAccount", account=("CustomerAccount", {"username": "x3", "reseller": world.r2}))


def test_reseller_cannot_set_admin_fields_on_a_new_customer(world):
    created = add(world.login("r1"), username="x1", credit=99.0, balance=5.0, companyCode="ACME")
    assert created["credit"] == 0.0 and created["balance"] == 0.0 and created["companyCode"] == ""


def test_inactive_reseller_cannot_create_customers(world):
    refused(4007, world.login("r3"), "addAccount", account=("CustomerAccount", {"username": "x", "password": "x"}))


def test_plain_customer_cannot_create_customers(world):
    refused(4004, world.login("c1"), "addAccount", account=("CustomerAccount", {"username": "x", "password": "x"}))


def test_username_is_unique_on_create_and_on_rename(world):
    refused(5001, world.admin, "addAccount", account=("CustomerAccount", {"username": "c1"}))
    refused(5001, world.admin, "updateAccount", account=("CustomerAccount", {"id": world.c2, "username": "c1"}))
    refused(5003, world.admin, "addAccount", account=("CustomerAccount", {"firstName": "No username"}))


# -- changes ---------------------------------------------------------------------------------


def test_customer_changes_its_own_plain_fields(world):
    c1 = world.login("c1")
    c1.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c1, "city": "Delft"}))
    account = world.admin.call("Customer", "getAccount", id=world.c1)
    assert account["city"] == "Delft" and account["username"] == "c1"


def test_only_admin_changes_admin_fields(world):
    for field, value in (("credit", 5.0), ("balance", 1.0), ("companyCode", "X"), ("resellerActive", True)):
        for who in (world.login("c1"), world.login("r1")):
            refused(4005, who, "updateAccount", account=("CustomerAccount", {"id": world.c1, field: value}))
    world.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c1, "credit": 5.0}))
    assert world.admin.call("Customer", "getAccount", id=world.c1)["credit"] == 5.0


def test_echoing_the_stored_object_back_is_not_a_change(world):
    c1 = world.login("c1")
    account = c1.call("Customer", "getAccount", id=world.c1)
    account["city"] = "Utrecht"
    c1.call("Customer", "updateAccount", account=("CustomerAccount", account))
    assert c1.call("Customer", "getAccount", id=world.c1)["city"] == "Utrecht"


def test_customer_cannot_change_its_own_impersonate(world):
    c1 = world.login("c1")
    refused(4005, c1, "updateAccount", account=("CustomerAccount", {"id": world.c1, "impersonate": world.r1}))
    staff = world.login("staff1")
    refused(4005, staff, "updateAccount", account=("CustomerAccount", {"id": world.staff, "impersonate": 0}))


def test_reseller_makes_a_customer_its_staff(world):
    r1 = world.login("r1")
    refused(4004, world.login("c2"), "addAccount", account=("CustomerAccount", {"username": "y", "password": "y"}))
    r1.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c2, "impersonate": world.r1}))
    assert add(world.login("c2"), username="y")["reseller"] == world.r1


def test_password_change_takes_effect_for_login(world):
    world.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c1, "password": "new"}))
    refused(4002, world.login("c1"), "getAccount", id=world.c1)
    assert world.server.login("c1", "new").call("Customer", "getAccount", id=world.c1)["password"] == "new"


def test_admin_moves_a_customer_to_another_reseller(world):
    world.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c2, "reseller": world.r2}))
    assert world.admin.call("Customer", "getAccount", id=world.c2)["reseller"] == world.r2
    refused(5002, world.login("r1"), "getAccount", id=world.c2)
    # a reseller with customers cannot be moved under another
    refused(5008, world.admin, "updateAccount", account=("CustomerAccount", {"id": world.r1, "reseller": world.r2}))


def test_update_of_an_out_of_scope_customer_is_not_found(world):
    refused(5002, world.login("r1"), "updateAccount", account=("CustomerAccount", {"id": world.d1, "city": "X"}))
    assert world.admin.call("Customer", "getAccount", id=world.d1)["city"] == ""


# -- properties ------------------------------------------------------------------------------


def test_customer_sets_its_own_customer_properties(world):
    c1 = world.login("c1")
    c1.call("Customer", "setProperties", customer=world.c1, properties=[prop("lang", "nl")])
    assert props(world.admin, world.c1) == {"lang": "nl"}


def test_customer_cannot_raise_its_own_credit_even_by_claiming_a_lower_permission(world):
    c1 = world.login("c1")
    error = refused(
        4006, c1, "setProperties", customer=world.c1,
        properties=[prop("lang", "nl"), prop("sip_credit", "100", permission="customer")],
    )  # fmt: skip
    assert "sip_credit" in error.errorstring
    assert props(world.admin, world.c1) == {}  # all or nothing: lang was not applied either


def test_reseller_sets_admin_properties_on_its_customers_but_not_on_itself(world):
    r1 = world.login("r1")
    r1.call("Customer", "setProperties", customer=world.c1, properties=[prop("sip_credit", "3", "admin", "credit")])
    assert props(world.admin, world.c1)["sip_credit"] == "3"
    refused(4006, r1, "setProperties", customer=world.r1, properties=[prop("sip_credit", "1000", "admin", "credit")])
    refused(5002, r1, "setProperties", customer=world.d1, properties=[prop("lang", "nl")])


def test_staff_login_cannot_raise_its_resellers_credit(world):
    staff = world.login("staff1")
    refused(4006, staff, "setProperties", customer=world.r1, properties=[prop("sip_credit", "9", "admin", "credit")])


def test_reseller_level_properties(world):
    world.admin.call("Customer", "setProperties", customer=world.c1, properties=[prop("plan", "gold", "reseller")])
    refused(4006, world.login("c1"), "setProperties", customer=world.c1, properties=[prop("plan", "platinum")])
    world.login("r1").call("Customer", "setProperties", customer=world.c1, properties=[prop("plan", "silver", "reseller")])
    assert props(world.admin, world.c1)["plan"] == "silver"


def test_rights_are_admin_level(world):
    refused(4006, world.login("r1"), "setProperties", customer=world.r1, properties=[prop("pstn_access", "1")])
    world.admin.call("Customer", "setProperties", customer=world.r1, properties=[prop("pstn_access", "1")])
    stored = world.admin.call("Customer", "getProperties", customer=world.r1)
    assert stored == [{"name": "pstn_access", "value": "1", "category": "sip", "permission": "admin"}]


def test_set_properties_merges_and_an_empty_value_deletes(world):
    admin = world.admin
    admin.call("Customer", "setProperties", customer=world.c1, properties=[prop("a", "1"), prop("b", "2")])
    admin.call("Customer", "setProperties", customer=world.c1, properties=[prop("b", "3"), prop("c", "4")])
    assert props(admin, world.c1) == {"a": "1", "b": "3", "c": "4"}
    admin.call("Customer", "setProperties", customer=world.c1, properties=[prop("a", "")])
    assert props(admin, world.c1) == {"b": "3", "c": "4"}


def test_update_account_with_a_stale_property_list_keeps_credits(world):
    admin = world.admin
    admin.call("Customer", "setProperties", customer=world.c1, properties=[prop("sip_credit", "5", "admin", "credit")])
    c1 = world.login("c1")
    c1.call("Customer", "updateAccount",
            account=("CustomerAccount", {"id": world.c1, "properties": [prop("lang", "en")]}))  # fmt: skip
    assert props(admin, world.c1) == {"sip_credit": "5", "lang": "en"}


def test_credit_values_must_be_whole_numbers(world):
    error = refused(
        5007, world.admin, "setProperties", customer=world.c1, properties=[prop("sip_credit", "lots", "admin")]
    )
    assert "sip_credit" in error.errorstring


def test_new_resellers_get_the_configured_default_credits(server, tmp_path):
    from ngnserver.app import NGNProApp
    from ngnserver.db import Database
    from tests.conftest import make_settings, serve_app

    settings = make_settings(
        tmp_path, server.database.url, reseller_default_credits={"sip_credit": 10, "dns_zone_credit": 2}
    )
    app = NGNProApp(settings, Database(settings.effective_database_url))
    base, httpd = serve_app(app)
    try:
        admin = Client(base + "/ngnpro/", "admin", "secret")
        reseller = add(admin, username="withdefaults")
        assert props(admin, reseller["id"]) == {"dns_zone_credit": "2", "sip_credit": "10"}
        customer = add(admin, username="plain", reseller=reseller["id"])
        assert props(admin, customer["id"]) == {}
    finally:
        httpd.shutdown()
        app.db.dispose()


# -- queries ---------------------------------------------------------------------------------


def test_like_filters_are_case_insensitive_patterns(world):
    world.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c1, "firstName": "Alice"}))
    result = world.admin.call("Customer", "getCustomers", query={"filter": {"firstName": "al%"}})
    assert [a["id"] for a in result["accounts"]] == [world.c1]
    assert world.admin.call("Customer", "getCustomers", query={"filter": {"username": "_1"}})["total"] == 4


def test_order_and_range_page_through_with_a_stable_total(world):
    query = {"orderBy": {"attribute": "username", "direction": "DESC"}, "range": {"start": 2, "count": 3}}
    result = world.admin.call("Customer", "getCustomers", query=query)
    assert result["total"] == 8
    assert [a["username"] for a in result["accounts"]] == ["r2", "r1", "e1"]


def test_unknown_order_attribute_is_refused(world):
    error = refused(2008, world.admin, "getCustomers", query={"orderBy": {"attribute": "password", "direction": "ASC"}})
    assert "username" in error.errorstring


def test_range_count_is_capped(server):
    admin = server.admin()
    for n in range(5):
        add(admin, username=f"u{n}")
    original = server.app.settings
    server.app.settings = dataclasses.replace(original, query_max_rows=2)
    try:
        result = admin.call("Customer", "getCustomers", query={"range": {"start": 0, "count": 1000}})
        assert result["total"] == 5 and len(result["accounts"]) == 2
        result = admin.call("Customer", "getCustomers", query={"range": {"start": 4}})
        assert result["total"] == 5 and [a["username"] for a in result["accounts"]] == ["u4"]
    finally:
        server.app.settings = original


# -- deletion --------------------------------------------------------------------------------


def test_reseller_deletes_its_customer_and_its_properties_go_too(world):
    world.admin.call("Customer", "setProperties", customer=world.c2, properties=[prop("x", "1")])
    world.login("r1").call("Customer", "deleteAccount", id=world.c2)
    refused(5002, world.admin, "getAccount", id=world.c2)
    with world.server.database.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM customer_properties WHERE customer_id = :c"), {"c": world.c2})
        assert left.scalar_one() == 0


def test_who_may_delete(world):
    refused(4004, world.login("c1"), "deleteAccount", id=world.c1)
    refused(4004, world.login("r1"), "deleteAccount", id=world.r1)
    refused(5002, world.login("r1"), "deleteAccount", id=world.d1)
    refused(4004, world.login("staff1"), "deleteAccount", id=world.staff)


HELD = {  # what admin may place with a reseller and no customer: (port, operation, parameter, type, fields)
    "SIP domain": ("Sip", "addDomain", "domain", "SipDomain", {"domain": "held.example"}),
    "ENUM range": ("Enum", "addRange", "range", "EnumRange", {"id": {"prefix": "3199", "tld": "e164.arpa"}}),
    "DNS zone": ("Dns", "addZone", "zone", "DnsZone", {"name": "held.example"}),
    "PSTN carrier": ("Sip", "addCarrier", "carrier", "Carrier", {"name": "Held"}),
}


@pytest.mark.parametrize("kind", HELD)
def test_a_reseller_holding_records_placed_with_it_cannot_be_deleted_or_moved(world, kind):
    port, operation, parameter, type_name, fields = HELD[kind]
    r4 = add(world.admin, username="r4", resellerActive=True)["id"]
    world.admin.call(port, operation, **{parameter: (type_name, {**fields, "reseller": r4})})
    error = refused(5005, world.admin, "deleteAccount", id=r4)
    assert error.errorstring.endswith(f"still has 1 {kind}. Delete or move them first.")
    move = ("CustomerAccount", {"id": r4, "reseller": world.r1})
    error = refused(5008, world.admin, "updateAccount", account=move)
    assert f"still has 1 {kind};" in error.errorstring
    assert world.admin.call("Customer", "getAccount", id=r4)["reseller"] == r4


def test_reseller_with_customers_cannot_be_deleted(world):
    error = refused(5005, world.admin, "deleteAccount", id=world.r2)
    assert "1 customer" in error.errorstring
    world.admin.call("Customer", "deleteAccount", id=world.d1)
    world.admin.call("Customer", "deleteAccount", id=world.r2)
    assert world.admin.call("Customer", "getResellers", query={})["total"] == 2


def test_totals_from_the_reseller_counters_match_counting_rows(world, tmp_path):
    """Unfiltered listings answer ``total`` from counters kept in step with every add,
    delete and move; they must always equal a real count."""
    admin = world.admin
    for n in range(3):
        add(admin, username=f"x{n}", reseller=world.r2)
    admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": world.c2, "reseller": world.r2}))
    admin.call("Customer", "deleteAccount", id=world.e1)
    admin.call("Customer", "deleteAccount", id=world.r3)
    page = {"range": {"start": 1, "count": 1}}  # a later page, so the total is not the page length
    with world.server.database.engine.connect() as conn:
        real = dict(conn.execute(text("SELECT reseller, count(*) FROM customers GROUP BY reseller")).all())
    assert admin.call("Customer", "getCustomers", query=page)["total"] == sum(real.values()) == 9
    assert admin.call("Customer", "getResellers", query=page)["total"] == len(real) == 2
    for reseller in (world.r1, world.r2):
        by_filter = admin.call("Customer", "getCustomers", query={**page, "filter": {"reseller": reseller}})
        assert by_filter["total"] == real[reseller]
    assert world.login("r2").call("Customer", "getCustomers", query=page)["total"] == real[world.r2]
    assert world.login("r1").call("Customer", "getCustomers", query={**page, "filter": {"reseller": world.r2}})["total"] == 0


def test_a_reseller_admin_creates_is_active_unless_admin_says_otherwise(server):
    admin = server.admin()
    active = add(admin, username="r-active")
    assert active["resellerActive"] is True
    assert add(admin, username="r-off", resellerActive=False)["resellerActive"] is False
    # its first record works at once
    reseller = server.login("r-active", "pw-r-active")
    assert add(reseller, username="first-customer")["reseller"] == active["id"]
    # a customer admin creates under a reseller keeps the flag off: it is no reseller
    assert add(admin, username="plain", reseller=active["id"])["resellerActive"] is False


def test_a_customer_login_sending_impersonate_is_ignored_with_a_warning(server, caplog):
    admin = server.admin()
    reseller = add(admin, username="r9")
    mine = add(admin, username="c9", reseller=reseller["id"])
    login = Client(server.url, "c9", "pw-c9", admin=False, impersonate=reseller["id"])
    with caplog.at_level(logging.WARNING, logger="ngnserver.access"):
        # acts as itself: its own account, never its reseller's
        assert login.call("Customer", "getAccount", id=mine["id"])["username"] == "c9"
        refused(5002, login, "getAccount", id=reseller["id"])
    assert f"c9 sent impersonate={reseller['id']} without admin; it is ignored" in caplog.text
