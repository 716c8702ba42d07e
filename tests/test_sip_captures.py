"""Every captured CDRTool request for SipPort, replayed byte for byte, gets the right answer,
checked against the XML and the stored state."""

from __future__ import annotations

import pytest

from tests.support.wire import SoapFault, read_response, replay
from tests.test_customer_captures import seed_reseller_seven

CREDIT = "credit"


def prop(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value, "category": CREDIT, "permission": "admin"}


@pytest.fixture
def seven(server):
    """Reseller 7 (alice/pw) with SIP credits and rights, customer 8 under it."""
    seed_reseller_seven(server)
    admin = server.admin()
    admin.call(
        "Customer", "setProperties", customer=7,
        properties=[prop("sip_credit", "10"), prop("sip_alias_credit", "10"), prop("pstn_access", "1")],
    )  # fmt: skip
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "carol", "password": "c", "reseller": 7}))
    return server


def ok(server, name: str, operation: str):
    return read_response(replay(server.url, name), "Sip", operation).value


def fault(server, name: str) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        read_response(replay(server.url, name))
    return info.value


def with_domain(server) -> None:
    assert ok(server, "sip-addDomain", "addDomain") is None


def with_account(server) -> None:
    with_domain(server)
    ok(server, "sip-addAccount", "addAccount")


def test_add_domain_for_customer_seven(seven):
    with_domain(seven)
    domains = seven.admin().call("Sip", "getDomains", query={})
    assert domains["total"] == 1
    assert domains["domains"][0] | {"changeDate": None} == {
        "domain": "example.com", "customer": 7, "reseller": 7, "certificate": "", "private_key": "",
        "match_ip_address": "", "match_sip_domain": "", "verify_cert": False, "require_cert": False,
        "changeDate": None,
    }  # fmt: skip


def test_add_domain_twice_is_1001(seven):
    with_domain(seven)
    error = fault(seven, "sip-addDomain")
    assert error.errorcode == 1001 and "example.com" in error.errorstring


def test_add_account_as_the_reseller_inherits_customer_and_reseller(seven):
    with_domain(seven)
    account = ok(seven, "sip-addAccount", "addAccount")
    assert account["id"] == {"username": "bob", "domain": "example.com"}
    assert account["customer"] == 7 and account["reseller"] == 7 and account["owner"] == 7
    assert account["groups"] == ["free-pstn", "voicemail"]
    assert account["prepaid"] is False and account["callLimit"] == 2 and account["password"] == "pw"
    assert account["properties"] == [{"name": "language", "value": "en"}]


def test_add_account_twice_is_1011(seven):
    with_account(seven)
    assert fault(seven, "sip-addAccount").errorcode == 1011


def test_add_account_with_pstn_access_needs_the_resellers_right(seven):
    with_domain(seven)
    seven.admin().call("Customer", "setProperties", customer=7, properties=[prop("pstn_access", "")])
    error = fault(seven, "sip-addAccount")
    assert error.errorcode == 1041 and "pstn_access" in error.errorstring
    assert seven.admin().call("Sip", "getAccounts", query={})["total"] == 0


def test_add_account_without_credit_is_refused(seven):
    with_domain(seven)
    seven.admin().call("Customer", "setProperties", customer=7, properties=[prop("sip_credit", "0")])
    error = fault(seven, "sip-addAccount")
    assert error.errorcode == 6001
    assert error.errorstring == "SIP account credit of reseller 7 is exhausted (0 of 0 used)."


def test_get_account_by_the_customers_own_login(seven):
    with_account(seven)
    account = ok(seven, "sip-getAccount", "getAccount")
    assert account["id"]["username"] == "bob" and account["email"] == "bob@example.com"


def test_get_accounts_filters_by_group_and_orders(seven):
    with_account(seven)
    admin = seven.admin()
    admin.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": "bea", "domain": "example.com"}}))
    result = ok(seven, "sip-getAccounts", "getAccounts")
    assert result["total"] == 1 and result["accounts"][0]["id"]["username"] == "bob"


def test_update_account(seven):
    with_account(seven)
    assert ok(seven, "sip-updateAccount", "updateAccount") is None
    account = seven.admin().call("Sip", "getAccount", sipId=("SipId", {"username": "bob", "domain": "example.com"}))
    assert account["rpid"] == "31123456789" and account["customer"] == 7


def test_groups_add_list_remove_and_remove_again_is_1031(seven):
    with_account(seven)
    assert ok(seven, "sip-addToGroup", "addToGroup") is None
    assert ok(seven, "sip-getGroups", "getGroups") == ["blocked", "free-pstn", "voicemail"]
    assert ok(seven, "sip-removeFromGroup", "removeFromGroup") is None
    error = fault(seven, "sip-removeFromGroup")
    assert error.errorcode == 1031


def test_get_groups_is_a_typed_string_array(seven):
    with_account(seven)
    response = read_response(replay(seven.url, "sip-getGroups"), "Sip", "getGroups")
    assert b'SOAP-ENC:arrayType="xsd:string[2]"' in response.http.body


def test_alias_lifecycle(seven):
    with_account(seven)
    assert ok(seven, "sip-addAlias", "addAlias") is None
    alias = ok(seven, "sip-getAlias", "getAlias")
    assert alias["target"] == {"username": "bob", "domain": "example.com"} and alias["customer"] == 7
    assert ok(seven, "sip-getAliases", "getAliases")["total"] == 1
    assert ok(seven, "sip-updateAlias", "updateAlias") is None
    assert ok(seven, "sip-getAlias", "getAlias")["target"]["username"] == "bobby"
    assert ok(seven, "sip-deleteAlias", "deleteAlias") is None
    assert fault(seven, "sip-getAlias").errorcode == 1022


def test_update_domain_moves_it_and_its_accounts_to_customer_eight(seven):
    with_account(seven)
    seven.admin().call("Customer", "setProperties", customer=8, properties=[prop("sip_credit", "5")])
    assert ok(seven, "sip-updateDomain", "updateDomain") is None
    account = seven.admin().call("Sip", "getAccount", sipId=("SipId", {"username": "bob", "domain": "example.com"}))
    assert account["customer"] == 8 and account["reseller"] == 7


def test_get_domains(seven):
    with_domain(seven)
    result = ok(seven, "sip-getDomains", "getDomains")
    assert result["total"] == 1 and result["domains"][0]["domain"] == "example.com"


def test_delete_domain_is_refused_while_it_has_accounts(seven):
    with_account(seven)
    error = fault(seven, "sip-deleteDomain")
    assert error.errorcode == 1003 and "still has 1 account;" in error.errorstring
    assert ok(seven, "sip-deleteAccount", "deleteAccount") is None
    assert fault(seven, "sip-getAccount").errorcode == 1012
    assert ok(seven, "sip-deleteDomain", "deleteDomain") is None
    assert seven.admin().call("Sip", "getDomains", query={})["total"] == 0
