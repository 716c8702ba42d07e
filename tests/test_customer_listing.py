"""Customer listings: a listed customer must come out byte for byte as getAccount writes it,
with its own properties and password, for every kind of caller, in a stable order; and the
struct writer writes exactly the members given, escaped."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from ngnserver.services.customer import CustomerAccount, CustomerAccountArray
from ngnserver.soap.codec import kind_of, writer
from tests.support.wire import Client

ITEM = re.compile(
    r'<item xsi:type="ns1:CustomerAccount">.*?</item>(?=<item xsi:type="ns1:CustomerAccount">|</accounts>)',
    re.DOTALL,
)
STRUCT = re.compile(r'<(\w+) xsi:type="ns1:CustomerAccount">(.*)</\1>', re.DOTALL)


def add(client: Client, **fields: Any) -> int:
    fields.setdefault("password", "pw-" + fields["username"])
    return client.call("Customer", "addAccount", account=("CustomerAccount", fields))["id"]


def prop(
    name: str, value: str, category: str = "web", permission: str = "customer"
) -> dict[str, str]:
    return {"name": name, "value": value, "category": category, "permission": permission}


def listed(client: Client, **query: Any) -> dict[int, str]:
    """Customer id -> the XML of its item in a getCustomers page."""
    body = client.call_full("Customer", "getCustomers", query=query).http.body.decode()
    items = ITEM.findall(body)
    ids = [int(re.search(r'<id xsi:type="xsd:int">(\d+)</id>', item).group(1)) for item in items]
    assert len(set(ids)) == len(ids)
    return dict(zip(ids, items, strict=True))


def as_get_account_writes_it(client: Client, customer: int) -> str:
    body = client.call_full("Customer", "getAccount", id=customer).http.body.decode()
    match = STRUCT.search(body)
    assert match is not None
    return f'<item xsi:type="ns1:CustomerAccount">{match.group(2)}</item>'


class Shop:
    """Two resellers; r1 has three customers with different properties (one with none) and
    a staff login; r2 has one customer with properties of the same names as r1's."""

    def __init__(self, server: Any) -> None:
        admin = self.admin = server.admin()
        self.server = server
        self.r1 = add(admin, username="r1", resellerActive=True, firstName="Ünïcödé & <Co>",
                      properties=[prop("records_per_page", "50")])  # fmt: skip
        self.a = add(admin, username="a", reseller=self.r1, password="pw <a> & 'b'", organization="A&B <x>",
                     properties=[prop("sip_credit", "3", "credit", "admin"), prop("zz", "a < b & c > d"),
                                 prop("records_per_page", "10")])  # fmt: skip
        self.b = add(admin, username="b", reseller=self.r1, password="", address="tab\there")
        self.c = add(
            admin,
            username="c",
            reseller=self.r1,
            city="Zürich",
            properties=[prop("language", "de")],
        )
        self.staff = add(admin, username="staff", reseller=self.r1, impersonate=self.r1)
        self.r2 = add(admin, username="r2", resellerActive=True)
        self.d = add(
            admin,
            username="d",
            reseller=self.r2,
            properties=[prop("zz", "d's"), prop("sip_credit", "9")],
        )
        self.passwords = {self.r1: "pw-r1", self.a: "pw <a> & 'b'", self.b: "", self.c: "pw-c",
                          self.staff: "pw-staff", self.r2: "pw-r2", self.d: "pw-d"}  # fmt: skip
        self.properties = {
            self.r1: {"records_per_page": "50"},
            self.a: {"sip_credit": "3", "zz": "a < b & c > d", "records_per_page": "10"},
            self.b: {},
            self.c: {"language": "de"},
            self.staff: {},
            self.r2: {},
            self.d: {"zz": "d's", "sip_credit": "9"},
        }

    def login(self, username: str, password: str | None = None) -> Client:
        return self.server.login(username, "pw-" + username if password is None else password)


@pytest.fixture
def shop(server: Any) -> Shop:
    return Shop(server)


def test_every_listed_customer_is_written_as_get_account_writes_it_for_every_caller(shop):
    everyone = set(shop.passwords)
    r1_scope = {shop.r1, shop.a, shop.b, shop.c, shop.staff}
    callers = [
        (shop.admin, everyone),
        (shop.admin.as_customer(shop.r1), r1_scope),
        (shop.login("r1"), r1_scope),
        (shop.login("staff"), r1_scope),
        (shop.login("a", shop.passwords[shop.a]), {shop.a}),
        (shop.admin.as_customer(shop.d), {shop.d}),
    ]
    for client, scope in callers:
        page = listed(client, range={"start": 0, "count": 100})
        assert set(page) == scope, client
        for customer, item in page.items():
            assert item == as_get_account_writes_it(client, customer), (client, customer)


def test_each_listed_customer_carries_its_own_properties_and_password(shop):
    for order in ("ASC", "DESC"):
        query = {
            "orderBy": {"attribute": "username", "direction": order},
            "range": {"start": 0, "count": 100},
        }
        accounts = shop.admin.call("Customer", "getCustomers", query=query)["accounts"]
        usernames = [a["username"] for a in accounts]
        assert usernames == sorted(usernames, reverse=order == "DESC")
        assert {a["id"] for a in accounts} == set(shop.passwords)
        for account in accounts:
            assert {p["name"]: p["value"] for p in account["properties"]} == shop.properties[
                account["id"]
            ]
            assert [p["name"] for p in account["properties"]] == sorted(
                shop.properties[account["id"]]
            )
            assert account["password"] == shop.passwords[account["id"]]
    # a page of a later range still matches each customer with its own properties
    for start in range(len(shop.passwords)):
        query = {
            "orderBy": {"attribute": "customer", "direction": "DESC"},
            "range": {"start": start, "count": 2},
        }
        result = shop.admin.call("Customer", "getCustomers", query=query)
        assert result["total"] == len(shop.passwords)
        for account in result["accounts"]:
            assert {p["name"]: p["value"] for p in account["properties"]} == shop.properties[
                account["id"]
            ]


@pytest.mark.parametrize("attribute", ["changeDate", "firstName"])
def test_ties_in_the_order_are_broken_by_id_so_pages_neither_repeat_nor_skip(shop, attribute):
    ids = sorted(shop.passwords)
    tied, other = ids[1:-1], [ids[0], ids[-1]]
    with shop.server.database.engine.begin() as conn:
        conn.execute(
            text("UPDATE customers SET change_date = :d, first_name = 'Same'"),
            {"d": datetime(2026, 5, 1)},
        )
        for n, customer in enumerate(other):
            conn.execute(text("UPDATE customers SET change_date = :d, first_name = :f WHERE id = :i"),
                         {"d": datetime(2026, 6 + n, 1), "f": f"Z{n}", "i": customer})  # fmt: skip
    ascending = tied + other  # the tied ones first (earlier date, "Same" < "Z0"), by id
    for direction, expected in (("ASC", ascending), ("DESC", ascending[::-1])):
        seen = []
        for start in range(0, len(ids) + 2, 2):
            query = {
                "orderBy": {"attribute": attribute, "direction": direction},
                "range": {"start": start, "count": 2},
            }
            result = shop.admin.call("Customer", "getCustomers", query=query)
            assert result["total"] == len(ids)
            seen += [a["id"] for a in result["accounts"]]
        assert seen == expected, direction


def test_get_resellers_lists_resellers_as_get_account_writes_them(shop):
    body = shop.admin.call_full("Customer", "getResellers", query={}).http.body.decode()
    items = ITEM.findall(body)
    assert len(items) == 2
    assert items == [as_get_account_writes_it(shop.admin, r) for r in (shop.r1, shop.r2)]


# -- the writer ------------------------------------------------------------------------------

MEMBERS = list(CustomerAccount._type_info)
PLAIN = {
    "id": 7, "reseller": 3, "impersonate": 0, "resellerActive": 0, "balance": 12.5, "credit": 0.0,
    "password": "secret", **{name: f"{name} value" for name in MEMBERS[7:-2]}, "changeDate": "2026-01-02 03:04:05",
    "properties": [],
}  # fmt: skip
PROPERTIES = [("a", "1", "web", "customer"), ("b & <c>", "x\ry", "credit", "admin")]
CASES = {
    "plain": {},
    "booleans and numbers": {
        "resellerActive": True,
        "balance": -0.0,
        "credit": 1e20,
        "impersonate": True,
    },
    "ints where doubles go": {"balance": 3, "credit": 0},
    "escaping": {"firstName": "a & b <c> d", "email": "]]> \"q\" 'a'", "password": "p\r\n"},
    "characters XML cannot carry": {"lastName": "x\x01\x1fy\ufffe\uffff", "city": "tab\tnew\nline"},
    "non-ASCII": {"city": "Zürich 中文 \U0001f600"},
    "empty strings": {"web": "", "password": ""},
    "absent members": {
        "organization": None,
        "credit": None,
        "resellerActive": None,
        "properties": None,
    },
    "not a string where a string goes": {"postcode": 1234, "state": 1.5},
    "properties": {"properties": PROPERTIES},
}


_WRAP = (
    '<w xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns1="urn:AGProjects:NGNPro">{}</w>'
)


@pytest.mark.parametrize("case", CASES)
def test_the_struct_writer_writes_every_given_member_and_only_those(case):
    from lxml import etree

    account = {**PLAIN, **CASES[case]}
    if account["properties"] is not None:
        account["properties"] = [dict(zip(("name", "value", "category", "permission"), p, strict=True))
                                 for p in account["properties"]]  # fmt: skip
    out: list[str] = []
    writer(CustomerAccount)(out, "item", account)
    item = etree.fromstring(_WRAP.format("".join(out)))[0]
    written = {child.tag: child for child in item}
    for name in MEMBERS:
        value = account[name]
        if value is None:
            assert name not in written, name
        elif name == "properties":
            assert [[p.findtext(m) for m in ("name", "value", "category", "permission")] for p in written[name]] == [
                [p["name"], p["value"], p["category"], p["permission"]] for p in value
            ]
        elif kind_of(CustomerAccount._type_info[name]) == "boolean":
            assert written[name].text == ("true" if value else "false")
        elif kind_of(CustomerAccount._type_info[name]) == "double":
            assert float(written[name].text) == value
        elif kind_of(CustomerAccount._type_info[name]) == "int":
            assert written[name].text == str(int(value))
        else:
            cleaned = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", str(value))
            assert (written[name].text or "") == cleaned, name
    out = []
    writer(CustomerAccountArray)(out, "accounts", [])
    assert "".join(out) == '<accounts xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="ns1:CustomerAccount[0]"/>'
