"""Every captured CDRTool request for CustomerPort, replayed byte for byte over a socket,
gets the right answer: checked against the XML and against the stored state."""

from __future__ import annotations

import pytest

from tests.support.wire import SoapFault, read_response, replay


def seed_reseller_seven(server, username: str = "alice", password: str = "pw") -> None:
    """Customers 1..6 as filler resellers, then customer 7: a reseller whose login is
    ``username``/``password`` (the captures all talk about customer 7)."""
    admin = server.admin()
    for n in range(1, 7):
        admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": f"filler{n}", "password": "x"}))
    created = admin.call(
        "Customer",
        "addAccount",
        account=("CustomerAccount", {"username": username, "password": password, "resellerActive": True}),
    )
    assert created["id"] == 7 and created["reseller"] == 7


def ok(server, name: str, port: str, operation: str):
    return read_response(replay(server.url, name), port, operation).value


def fault(server, name: str) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        read_response(replay(server.url, name))
    return info.value


def test_add_account_by_admin_creates_a_reseller_with_its_properties(server):
    account = ok(server, "customer-addAccount-admin", "Customer", "addAccount")
    assert account["id"] == account["reseller"] == 1
    assert account["username"] == "alice" and account["password"] == "pw"
    assert account["resellerActive"] is True
    assert account["credit"] == 10.0 and account["balance"] == 0.0
    props = {p["name"]: p for p in account["properties"]}
    assert props["sip_credit"] == {"name": "sip_credit", "value": "5", "category": "credit", "permission": "admin"}
    assert props["records_per_page"]["value"] == "20"
    assert len(account["changeDate"]) == 19


def test_add_account_twice_is_refused_with_5001(server):
    ok(server, "customer-addAccount-admin", "Customer", "addAccount")
    error = fault(server, "customer-addAccount-admin")
    assert error.errorcode == 5001 and error.faultcode == "SOAP-ENV:Client"
    assert "alice" in error.errorstring


def test_add_account_impersonating_a_reseller_creates_its_customer(server):
    seed_reseller_seven(server, username="bob")
    account = ok(server, "customer-addAccount-impersonating", "Customer", "addAccount")
    assert account["reseller"] == 7 and account["id"] == 8
    # admin-only fields sent while acting as the reseller are not applied
    assert account["credit"] == 0.0
    # a reseller may set admin-level properties on its own new customer
    assert {p["name"]: p["value"] for p in account["properties"]}["sip_credit"] == "5"


def test_add_account_impersonating_with_a_taken_username_is_refused(server):
    seed_reseller_seven(server)  # alice is customer 7
    assert fault(server, "customer-addAccount-impersonating").errorcode == 5001


def test_get_account_as_the_impersonated_reseller(server):
    seed_reseller_seven(server)
    account = ok(server, "customer-getAccount", "Customer", "getAccount")
    assert account["id"] == 7 and account["username"] == "alice" and account["password"] == "pw"
    assert account["properties"] == []


def test_get_account_of_a_missing_customer_is_5002(server):
    error = fault(server, "customer-getAccount")  # impersonating 7, which does not exist
    assert error.errorcode == 4003


def test_get_customers_filters_pages_and_counts(server):
    seed_reseller_seven(server)
    result = ok(server, "customer-getCustomers", "Customer", "getCustomers")
    assert result["total"] == 1
    assert [a["username"] for a in result["accounts"]] == ["alice"]


def test_get_customers_with_only_a_filter(server):
    seed_reseller_seven(server)
    result = ok(server, "customer-getCustomers-filteronly", "Customer", "getCustomers")
    assert result["total"] == 1 and result["accounts"][0]["id"] == 7


def test_get_resellers(server):
    seed_reseller_seven(server)
    result = ok(server, "customer-getResellers", "Customer", "getResellers")
    assert result["total"] == 1 and result["accounts"][0]["id"] == 7


def test_get_properties_returns_a_typed_array(server):
    seed_reseller_seven(server)
    ok(server, "customer-updateAccount", "Customer", "updateAccount")
    props = ok(server, "customer-getProperties", "Customer", "getProperties")
    assert sorted(p["name"] for p in props) == ["records_per_page", "sip_credit"]


def test_get_properties_of_a_customer_without_any_is_an_empty_typed_array(server):
    seed_reseller_seven(server)
    response = read_response(replay(server.url, "customer-getProperties"), "Customer", "getProperties")
    assert response.value == []
    assert b'SOAP-ENC:arrayType="ns1:CustomerProperty[0]"' in response.http.body


def test_set_properties_by_the_customer_itself(server):
    seed_reseller_seven(server)
    assert ok(server, "customer-setProperties", "Customer", "setProperties") is None
    props = server.admin().call("Customer", "getProperties", customer=7)
    assert props == [
        {"name": "sip_accounts_last_domain", "value": "example.com", "category": "web", "permission": "customer"}
    ]


def test_set_properties_with_an_empty_array_changes_nothing(server):
    seed_reseller_seven(server)
    ok(server, "customer-setProperties", "Customer", "setProperties")
    assert ok(server, "customer-setProperties-empty", "Customer", "setProperties") is None
    assert len(server.admin().call("Customer", "getProperties", customer=7)) == 1


def test_update_account_merges_and_keeps_other_properties(server):
    seed_reseller_seven(server)
    ok(server, "customer-setProperties", "Customer", "setProperties")
    assert ok(server, "customer-updateAccount", "Customer", "updateAccount") is None
    account = server.admin().call("Customer", "getAccount", id=7)
    assert account["firstName"] == "Alice" and account["city"] == "Unknown"
    assert account["credit"] == 10.0 and account["resellerActive"] is True
    names = sorted(p["name"] for p in account["properties"])
    assert names == ["records_per_page", "sip_accounts_last_domain", "sip_credit"]


def test_update_customer_client_bug_is_answered_as_update_account(server):
    seed_reseller_seven(server)
    response = read_response(replay(server.url, "customer-updateCustomer-clientbug"))
    assert response.value is None
    account = server.admin().call("Customer", "getAccount", id=7)
    assert account["lastName"] == "Smith" and account["country"] == "NL"


def test_update_customer_client_bug_for_an_unknown_username_is_5002(server):
    assert fault(server, "customer-updateCustomer-clientbug").errorcode == 5002


def test_delete_account(server):
    seed_reseller_seven(server)
    assert ok(server, "customer-deleteAccount", "Customer", "deleteAccount") is None
    assert fault(server, "customer-getAccount").errorcode == 4003


def test_delete_account_refused_while_the_reseller_has_customers(server):
    seed_reseller_seven(server)
    server.admin().call("Customer", "addAccount", account=("CustomerAccount", {"username": "carol", "reseller": 7}))
    error = fault(server, "customer-deleteAccount")
    assert error.errorcode == 5005
    assert "1 customer" in error.errorstring and "carol" not in error.errorstring
