"""Hostile strings reach the database through the driver's binding and come back byte for
byte, on both backends: quotes, backslashes, SQL and placeholder syntax, unicode, long
values. And a listing filtered by such a value, exactly as stored, finds it (only ``%`` and
``_`` are wildcards; a backslash stands for itself), on both backends alike."""

from __future__ import annotations

import pytest

from tests.support.wire import Client, SoapFault

HOSTILE = [
    "O'Brien", "''", "'; DROP TABLE customers; --", '"double" quotes', "back\\slash", "\\", "ends with \\",
    "\\\\two", "\\x41 \\u0041", "E'\\x41'", "%s %(name)s ? $1 :name", "$$ dollar $tag$", "-- comment",
    "/* comment */", "x-5", "100%", "under_score", "tab\tand\nnewline", "Zürich 中文 \U0001f600",
    "e\u0301 combining", "\u202eright-to-left", "<tag> & entity;", "]]>", "\ufeffbom",
    "a" * 128,
]  # fmt: skip


def _add(admin: Client, username: str, **fields: str) -> int:
    account = {"username": username, "password": "pw", **fields}
    return admin.call("Customer", "addAccount", account=("CustomerAccount", account))["id"]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_string_is_stored_and_read_back_exactly(server, value):
    admin = server.admin()
    customer = _add(admin, f"user{abs(hash(value))}", firstName=value[:128], organization=value)
    got = admin.call("Customer", "getAccount", id=customer)
    assert (got["firstName"], got["organization"]) == (value[:128], value)
    admin.call("Customer", "setProperties", customer=customer,
               properties=[{"name": "note", "value": value, "category": "web", "permission": "customer"}])  # fmt: skip
    assert {p["name"]: p["value"] for p in admin.call("Customer", "getProperties", customer=customer)}["note"] == value


def test_every_hostile_string_finds_itself_as_a_filter(server):
    admin = server.admin()
    ids = {value: _add(admin, f"u{n}", organization=value) for n, value in enumerate(HOSTILE)}
    for value, customer in ids.items():
        found = admin.call("Customer", "getCustomers", query={"filter": {"organization": value}})
        assert customer in [a["id"] for a in found["accounts"]], repr(value)


def test_a_backslash_in_a_filter_is_a_backslash_and_not_an_escape(server):
    admin = server.admin()
    slash = _add(admin, "slash", organization="a\\b")
    _add(admin, "plain", organization="ab")
    for pattern, expected in (("a\\b", [slash]), ("a\\%", [slash]), ("%\\", []), ("\\", []), ("a_b", [slash])):
        found = admin.call("Customer", "getCustomers", query={"filter": {"organization": pattern}})
        assert [a["id"] for a in found["accounts"]] == expected, pattern


def test_a_sip_account_keeps_hostile_names(server):
    admin = server.admin()
    admin.call("Sip", "addDomain", domain={"domain": "hostile.example"})
    for n, value in enumerate(HOSTILE):
        admin.call("Sip", "addAccount", account=("SipAccount", {
            "id": {"username": f"u{n}", "domain": "hostile.example"}, "password": value,
            "firstName": value[:128], "lastName": value[:128],
        }))  # fmt: skip
        got = admin.call("Sip", "getAccount", sipId={"username": f"u{n}", "domain": "hostile.example"})
        assert (got["password"], got["firstName"], got["lastName"]) == (value, value[:128], value[:128])
        listed = admin.call("Sip", "getAccounts", query={"filter": {"firstName": value[:128]}})
        assert f"u{n}" in [a["id"]["username"] for a in listed["accounts"]], repr(value)


def test_a_filter_longer_than_the_bound_is_refused_with_a_sentence(server):
    with pytest.raises(SoapFault) as info:
        server.admin().call("Customer", "getCustomers", query={"filter": {"organization": "x" * 60_000}})
    assert info.value.errorcode == 2008
    assert "at most 1024" in info.value.errorstring
