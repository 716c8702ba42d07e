"""Odd values that a fuzzing run against a live server found answered with an internal error
(9001) or silently accepted: each is now a refusal with its own errorcode and a sentence,
and nothing is stored. Over real HTTP, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.support.wire import Client, SoapFault, post, read_response
from tests.test_wire_protocol import customer_call, envelope

SIP_ID = ("SipId", {"username": "alice", "domain": "odd.example"})
# str.isdigit() takes these, int() does not (or reads them as digits)
NOT_ASCII_DIGITS = ["\u00b2", "\u0661\u0660", "\uff11\uff12"]


def refused(errorcode: int, client: Client, port: str, operation: str, **params: Any) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call(port, operation, **params)
    assert info.value.errorcode == errorcode, info.value
    assert info.value.faultcode == "SOAP-ENV:Client", info.value
    return info.value


def count(server: Any, table: str) -> int:
    with server.database.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.fixture
def alice(server: Any) -> Client:
    admin = server.admin()
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "odd.example"}))
    admin.call("Sip", "addAccount", account=("SipAccount", {"id": SIP_ID[1], "password": "pw"}))
    return admin


@pytest.mark.parametrize("digits", NOT_ASCII_DIGITS)
def test_a_sip_address_port_in_other_digits_is_refused(server, alice, digits):
    uri = f"sip:bob@b.example:{digits}"
    refused(1101, alice, "Sip", "setCallDiversions", sipId=SIP_ID, diversions=("CallDiversions", {"FUNC": uri}))
    refused(1103, alice, "Sip", "setRejectMembers", sipId=SIP_ID, members=[uri])
    refused(1106, alice, "Sip", "addPhonebookEntry", sipId=SIP_ID, entry=("PhonebookEntry", {"uri": uri, "name": "B"}))
    assert count(server, "sip_phonebook_entries") == 0
    assert alice.call("Sip", "getRejectMembers", sipId=SIP_ID) == []


def test_a_sip_address_with_a_newline_is_refused(server, alice):
    uri = "sip:bob\n@b.example"
    refused(1101, alice, "Sip", "setCallDiversions", sipId=SIP_ID, diversions=("CallDiversions", {"FUNC": uri}))
    refused(1103, alice, "Sip", "setRejectMembers", sipId=SIP_ID, members=[uri])
    refused(1106, alice, "Sip", "addPhonebookEntry", sipId=SIP_ID, entry=("PhonebookEntry", {"uri": uri, "name": "B"}))


@pytest.mark.parametrize("digits", NOT_ASCII_DIGITS)
def test_a_rating_entity_in_other_digits_is_refused(server, digits):
    error = refused(2006, server.admin(), "Rating", "getEntityProfiles", entity=f"customer://{digits}")
    assert "does not name a customer by its id" in error.errorstring


@pytest.mark.parametrize("value", [*NOT_ASCII_DIGITS, "1" * 19])
def test_a_credit_that_the_credit_rule_cannot_read_is_refused_when_set(server, value):
    admin = server.admin()
    reseller = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "r", "password": "pw"}))["id"]
    error = refused(5007, admin, "Customer", "setProperties", customer=reseller,
                    properties=[{"name": "sip_credit", "value": value, "category": "credit", "permission": "admin"}])  # fmt: skip
    assert "at most 18 digits" in error.errorstring
    assert admin.call("Customer", "getProperties", customer=reseller) == []


def test_a_dsl_package_clashing_with_two_others_is_refused(server):
    admin = server.admin()
    for name, vendor in (("PkgA", "VA"), ("PkgB", "VB")):
        admin.call("Dsl", "addPackage", package=("DslPackage", {"name": name, "vendorPackageId": vendor}))
    error = refused(8002, admin, "Dsl", "addPackage", package=("DslPackage", {"name": "PkgA", "vendorPackageId": "VB"}))
    assert "already has that name or vendor id" in error.errorstring
    assert count(server, "dsl_packages") == 2


@pytest.mark.parametrize("member", ["type", "mapto"])
def test_an_enum_mapping_filter_longer_than_the_bound_is_refused(server, member):
    query = ("EnumNumberQuery", {"filter": {member: "x" * 60_000}})
    error = refused(2008, server.admin(), "Enum", "getNumbers", query=query)
    assert "at most 1024 are allowed" in error.errorstring


def test_add_vouchers_without_a_count_names_it(server):
    error = refused(2007, server.admin(), "Sip", "addVouchers", value=1.0, reseller=0)
    assert error.errorstring.startswith("count is required")


def test_two_operations_in_one_body_run_neither(server):
    customer = server.admin().call("Customer", "addAccount", account=("CustomerAccount", {"username": "c", "password": "pw"}))
    one = f'<account xsi:type="ns4:CustomerAccount"><id xsi:type="xsd:int">{customer["id"]}</id>'
    body = envelope(
        f'<ns5:updateAccount>{one}<firstName xsi:type="xsd:string">FIRST</firstName></account></ns5:updateAccount>'
        f'<ns5:updateAccount>{one}<lastName xsi:type="xsd:string">SECOND</lastName></account></ns5:updateAccount>'
    )
    with pytest.raises(SoapFault) as info:
        read_response(post(server.url, body))
    assert info.value.errorcode == 2004 and "one operation" in info.value.errorstring
    got = server.admin().call("Customer", "getAccount", id=customer["id"])
    assert (got["firstName"], got["lastName"]) == ("", "")


@pytest.mark.parametrize(
    "member",
    ['<id><id xsi:type="xsd:int">5</id></id>', '<id SOAP-ENC:arrayType="xsd:int[1]"><item>5</item></id>'],
    ids=["struct", "array"],
)
def test_a_structure_or_array_where_a_number_goes_is_refused(server, member):
    with pytest.raises(SoapFault) as info:
        read_response(post(server.url, customer_call("deleteAccount", member)))
    assert info.value.errorcode == 2006
    assert info.value.errorstring == "id must be a whole number, not a structure or an array."


@pytest.mark.parametrize("number", ["\uff11\uff12", "1_2", "\u0661\u0662"])
def test_a_number_is_written_in_ascii_digits(server, number):
    customer = server.admin().call("Customer", "addAccount", account=("CustomerAccount", {"username": "c12", "password": "pw"}))
    with pytest.raises(SoapFault) as info:
        read_response(post(server.url, customer_call("deleteAccount", f'<id xsi:type="xsd:int">{number}</id>')))
    assert info.value.errorcode == 2006 and "must be a whole number" in info.value.errorstring
    assert server.admin().call("Customer", "getAccount", id=customer["id"])["username"] == "c12"


def test_autoincrement_past_the_largest_numeric_username_is_refused(server, alice):
    alice.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": "9" * 18, "domain": "odd.example"}}))
    auto = ("SipAccount", {"id": {"username": "<autoincrement>", "domain": "odd.example"}})
    error = refused(2006, alice, "Sip", "addAccount", account=auto)
    assert error.errorstring == "Domain odd.example has no numeric username left for <autoincrement>."
    assert count(server, "sip_accounts") == 2


def test_delete_routes_naming_a_route_twice_says_so_and_deletes_nothing(server):
    admin = server.admin()
    carrier = admin.call("Sip", "addCarrier", carrier=("Carrier", {"name": "C"}))
    route = admin.call("Sip", "addRoutes", routes=[{"carrier_id": carrier["id"], "prefix": "0049"}])[0]
    error = refused(2006, admin, "Sip", "deleteRoutes", routes=[{"id": route["id"]}, {"id": route["id"]}])
    assert error.errorstring == f"deleteRoutes names route {route['id']} twice."
    assert count(server, "pstn_routes") == 1
