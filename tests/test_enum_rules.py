"""ENUM rules for each kind of caller: who manages ranges, scope, placement and inheritance,
owners, credits at the reseller and customer level, the longest-prefix range of a number,
digit bounds and size, mappings, moves, serials, queries, deletion and the change history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.support.wire import Client, SoapFault
from tests.test_customer_rules import add
from tests.test_sip_rules import credit

TLD = "e164.arpa"


def range_id(prefix: str, tld: str = TLD) -> tuple[str, dict[str, str]]:
    return ("EnumRangeId", {"prefix": prefix, "tld": tld})


def enum_id(number: str, tld: str = TLD) -> tuple[str, dict[str, str]]:
    return ("EnumId", {"number": number, "tld": tld})


def enum_range(prefix: str, tld: str = TLD, **fields: Any) -> tuple[str, dict[str, Any]]:
    return ("EnumRange", {"id": {"prefix": prefix, "tld": tld}, **fields})


def enum_number(number: str, tld: str = TLD, **fields: Any) -> tuple[str, dict[str, Any]]:
    return ("EnumNumber", {"id": {"number": number, "tld": tld}, **fields})


def add_range(client: Client, prefix: str, tld: str = TLD, **fields: Any) -> None:
    client.call("Enum", "addRange", range=enum_range(prefix, tld, **fields))


def update_range(client: Client, prefix: str, tld: str = TLD, **fields: Any) -> None:
    client.call("Enum", "updateRange", range=enum_range(prefix, tld, **fields))


def add_number(client: Client, number: str, tld: str = TLD, **fields: Any) -> None:
    client.call("Enum", "addNumber", number=enum_number(number, tld, **fields))


def update_number(client: Client, number: str, tld: str = TLD, **fields: Any) -> None:
    client.call("Enum", "updateNumber", number=enum_number(number, tld, **fields))


def refused(errorcode: int, client: Client, operation: str, **params: Any) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call("Enum", operation, **params)
    assert info.value.errorcode == errorcode, info.value
    assert info.value.faultcode == "SOAP-ENV:Client"
    return info.value


def ranges(client: Client, **filters: Any) -> dict[str, dict[str, Any]]:
    return {r["id"]["prefix"]: r for r in client.call("Enum", "getRanges", query={"filter": filters})["ranges"]}


def get_number(client: Client, number: str, tld: str = TLD) -> dict[str, Any]:
    return client.call("Enum", "getNumber", enumId=enum_id(number, tld))


class World:
    """Reseller r1 (active, 3 range and 5 number credits) with customers c1 and c2 and a
    staff login; c1 holds range +3120 (11-digit numbers). Reseller r2 (active, 10 and 10)
    with customer d1 holding +4420. Reseller r3 is inactive; its customer e1 holds +4930."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.admin = admin = server.admin()
        self.r1 = add(admin, username="r1", resellerActive=True)["id"]
        self.r2 = add(admin, username="r2", resellerActive=True)["id"]
        self.r3 = add(admin, username="r3", resellerActive=False)["id"]
        self.c1 = add(admin, username="c1", reseller=self.r1)["id"]
        self.c2 = add(admin, username="c2", reseller=self.r1)["id"]
        self.staff = add(admin, username="staff1", reseller=self.r1, impersonate=self.r1)["id"]
        self.d1 = add(admin, username="d1", reseller=self.r2)["id"]
        self.e1 = add(admin, username="e1", reseller=self.r3)["id"]
        for reseller, ranges_, numbers in ((self.r1, "3", "5"), (self.r2, "10", "10"), (self.r3, "10", "10")):
            self.grant(reseller, enum_range_credit=ranges_, enum_number_credit=numbers)
        add_range(admin, "3120", customer=self.c1, minDigits=11, maxDigits=11)
        add_range(admin, "4420", customer=self.d1)
        add_range(admin, "4930", customer=self.e1)

    def login(self, username: str) -> Client:
        return self.server.login(username, "pw-" + username)

    def grant(self, customer: int, **credits: str) -> None:
        """Set credit properties ("" deletes one)."""
        properties = [credit(name, value) for name, value in credits.items()]
        self.admin.call("Customer", "setProperties", customer=customer, properties=properties)

    def usage(self, credit_name: str) -> dict[tuple[str, int], int]:
        with self.server.database.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT scope, holder, used FROM credit_usage WHERE credit = :c AND used > 0"), {"c": credit_name}
            ).all()
        return {(scope, holder): used for scope, holder, used in rows}


@pytest.fixture
def world(server: Any) -> World:
    return World(server)


# -- who manages ranges ----------------------------------------------------------------------


def test_customers_do_not_manage_ranges(world):
    for client in (world.login("c1"), world.admin.as_customer(world.c1)):
        error = refused(4004, client, "addRange", range=enum_range("3121"))
        assert error.errorstring == "Only admin and resellers manage ENUM ranges."
        refused(4004, client, "updateRange", range=enum_range("3120", ttl=60))
        refused(4004, client, "deleteRange", range=range_id("3120"))
    assert ranges(world.admin)["3120"]["ttl"] == 3600


def test_resellers_their_staff_and_admin_acting_as_them_manage_ranges(world):
    add_range(world.login("r1"), "3121")
    add_range(world.login("staff1"), "3122", customer=world.c2)
    update_range(world.admin.as_customer(world.r1), "3122", info="by admin as r1")
    found = ranges(world.admin, reseller=world.r1)
    assert {p: (r["customer"], r["reseller"]) for p, r in found.items()} == {
        "3120": (world.c1, world.r1), "3121": (world.r1, world.r1), "3122": (world.c2, world.r1),
    }  # fmt: skip
    assert found["3122"]["info"] == "by admin as r1"
    world.login("r1").call("Enum", "deleteRange", range=range_id("3121"))
    assert "3121" not in ranges(world.admin)


def test_inactive_reseller_neither_creates_nor_changes_ranges(world):
    r3 = world.login("r3")
    refused(4007, r3, "addRange", range=enum_range("4931"))
    refused(4007, r3, "updateRange", range=enum_range("4930", ttl=60))
    refused(4007, r3, "deleteRange", range=range_id("4930"))
    # nor do its customers create numbers
    refused(4007, world.login("e1"), "addNumber", number=enum_number("4930123"))
    add_number(world.admin, "4930123")


def test_reseller_places_ranges_with_its_own_customers_only(world):
    r1 = world.login("r1")
    refused(5002, r1, "addRange", range=enum_range("3121", customer=world.d1))
    error = refused(4005, r1, "addRange", range=enum_range("3121", customer=world.c2, reseller=world.r2))
    assert error.errorstring == f"Customer {world.c2} belongs to reseller {world.r1}."
    refused(5002, r1, "updateRange", range=enum_range("3120", customer=world.d1))
    assert ranges(world.admin)["3120"]["customer"] == world.c1


# -- scope -----------------------------------------------------------------------------------


def test_range_scope_of_each_kind_of_caller(world):
    assert set(ranges(world.admin)) == {"3120", "4420", "4930"}
    assert set(ranges(world.login("r1"))) == {"3120"}
    assert set(ranges(world.login("staff1"))) == {"3120"}
    assert set(ranges(world.login("c1"))) == {"3120"}
    assert set(ranges(world.login("c2"))) == set()
    assert set(ranges(world.admin.as_customer(world.r2))) == {"4420"}
    # a filter on another reseller never widens the scope
    assert ranges(world.login("r1"), reseller=world.r2) == {}


def test_an_out_of_scope_range_looks_exactly_like_a_missing_one(world):
    r2 = world.login("r2")
    hidden = refused(3003, r2, "updateRange", range=enum_range("3120", ttl=60))
    missing = refused(3003, r2, "updateRange", range=enum_range("3999", ttl=60))
    assert hidden.errorstring.replace("3120", "N") == missing.errorstring.replace("3999", "N")
    refused(3003, r2, "deleteRange", range=range_id("3120"))
    assert ranges(world.admin)["3120"]["ttl"] == 3600


def test_number_scope_of_each_kind_of_caller(world):
    add_number(world.admin, "31201234567")
    add_number(world.admin, "31207654321", owner=world.c2)
    add_number(world.admin, "4420123")

    def total(client: Client) -> int:
        return client.call("Enum", "getNumbers", query={})["total"]

    assert total(world.admin) == 3
    assert total(world.login("r1")) == 2 and total(world.login("c1")) == 2
    # an owner sees its number in another customer's range, and only that one
    assert total(world.login("c2")) == 1
    assert get_number(world.login("c2"), "31207654321")["owner"] == world.c2
    assert total(world.admin.as_customer(world.r2)) == 1
    hidden = refused(3002, world.login("r2"), "getNumber", enumId=enum_id("31201234567"))
    missing = refused(3002, world.login("r2"), "getNumber", enumId=enum_id("44209999"))
    assert hidden.errorstring.replace("31201234567", "N") == missing.errorstring.replace("44209999", "N")
    refused(3002, world.login("c2"), "getNumber", enumId=enum_id("31201234567"))
    refused(3002, world.login("r2"), "deleteNumber", enumId=enum_id("31201234567"))
    refused(3002, world.login("r2"), "updateNumber", number=enum_number("31201234567"))


# -- values ----------------------------------------------------------------------------------


def test_range_values_are_normalised(world):
    add_range(world.admin, "+3150", "E164.Example.ORG.", nameservers=["NS1.Example.com.", "ns1.example.com", "ns2.example.com"])
    stored = ranges(world.admin, prefix="3150")["3150"]
    assert stored["id"] == {"prefix": "3150", "tld": "e164.example.org"}
    assert stored["nameservers"] == ["ns1.example.com", "ns2.example.com"]
    assert (stored["ttl"], stored["minDigits"], stored["maxDigits"], stored["size"]) == (3600, 0, 0, 0)
    assert (stored["customer"], stored["reseller"], stored["serial"]) == (0, 0, 1)


@pytest.mark.parametrize(
    ("errorcode", "fields", "says"),
    [
        (2007, {"id": {"tld": TLD}}, "needs a prefix and a tld"),
        (2007, {"id": {"prefix": "3160"}}, "tld is required"),
        (2006, {"id": {"prefix": "31a", "tld": TLD}}, "not a valid ENUM prefix"),
        (2006, {"id": {"prefix": "1234567890123456", "tld": TLD}}, "1 to 15 digits"),
        (2006, {"id": {"prefix": "3160", "tld": "not a domain"}}, "not a valid domain name"),
        (2006, {"id": {"prefix": "3160", "tld": TLD}, "ttl": -1}, "ttl must be between 0"),
        (2006, {"id": {"prefix": "3160", "tld": TLD}, "size": -1}, "size must be between 0"),
        (2006, {"id": {"prefix": "3160", "tld": TLD}, "maxDigits": 16}, "maxDigits must be between 0 and 15"),
        (2006, {"id": {"prefix": "3160", "tld": TLD}, "minDigits": 12, "maxDigits": 11}, "cannot be larger"),
        (2006, {"id": {"prefix": "3160", "tld": TLD}, "maxDigits": 3}, "shorter than the prefix +3160"),
        (2006, {"id": {"prefix": "3160", "tld": TLD}, "nameservers": ["ns 1"]}, "not a valid domain name"),
    ],
)
def test_bad_range_values_are_refused_with_a_sentence(world, errorcode, fields, says):
    error = refused(errorcode, world.admin, "addRange", range=("EnumRange", fields))
    assert says in error.errorstring
    assert "3160" not in ranges(world.admin)


def test_digit_bounds_of_a_range(world):
    error = refused(3007, world.admin, "addNumber", number=enum_number("3120123456"))
    assert error.errorstring == "+3120123456 has 10 digits; ENUM range +3120 under e164.arpa takes 11 digits."
    refused(3007, world.admin, "addNumber", number=enum_number("312012345678"))
    add_number(world.admin, "31201234567")
    # without bounds any E.164 length fits, from the prefix itself up to 15 digits
    add_range(world.admin, "3130")
    add_number(world.admin, "3130")
    add_number(world.admin, "313012345678901")
    error = refused(3007, world.admin, "addNumber", number=enum_number("3130123456789012"))
    assert error.errorstring == "'3130123456789012' is not an E.164 number (1 to 15 digits)."
    refused(3007, world.admin, "addNumber", number=enum_number("3130-12"))
    update_range(world.admin, "3130", minDigits=4, maxDigits=15)
    error = refused(3007, world.admin, "updateRange", range=enum_range("3130", minDigits=5))
    assert error.errorstring == (
        "ENUM range +3130 under e164.arpa has 1 number outside 5 to 15 digits; change or delete them first."
    )
    assert ranges(world.admin)["3130"]["minDigits"] == 4


def test_size_bounds_the_numbers_in_a_range(world):
    update_range(world.login("r1"), "3120", size=2)
    add_number(world.admin, "31201234567")
    add_number(world.login("c1"), "31201234568")
    error = refused(3009, world.admin, "addNumber", number=enum_number("31201234569"))
    assert error.errorstring == "ENUM range +3120 under e164.arpa is full: it holds its size of 2 numbers."
    error = refused(3009, world.login("r1"), "updateRange", range=enum_range("3120", size=1))
    assert error.errorstring == "ENUM range +3120 under e164.arpa holds 2 numbers, more than a size of 1."
    update_range(world.login("r1"), "3120", size=0)
    add_number(world.admin, "31201234569")
    assert ranges(world.admin)["3120"]["used"] == 3


# -- the range of a number -------------------------------------------------------------------


def test_a_number_goes_to_the_range_with_its_longest_prefix_in_its_tld(world):
    r1 = world.login("r1")
    add_range(r1, "31")
    add_range(r1, "31205", customer=world.c2)
    add_range(world.admin, "3120", "e164.example.org", customer=world.d1)
    for number in ("31201234567", "31205123456", "31301234567"):
        add_number(r1, number)
    add_number(world.admin, "31201234567", "e164.example.org")

    def placed(number: str, tld: str = TLD) -> tuple[int, int]:
        found = get_number(world.admin, number, tld)
        return found["customer"], found["reseller"]

    assert placed("31201234567") == (world.c1, world.r1)
    assert placed("31205123456") == (world.c2, world.r1)
    assert placed("31301234567") == (world.r1, world.r1)
    assert placed("31201234567", "e164.example.org") == (world.d1, world.r2)
    assert {p: r["used"] for p, r in ranges(world.admin, tld=TLD).items()} == {
        "31": 1, "3120": 1, "31205": 1, "4420": 0, "4930": 0,
    }  # fmt: skip


def test_a_number_inside_a_longer_range_the_caller_cannot_see_has_no_range(world):
    add_range(world.login("r1"), "31", customer=world.c2)
    c2 = world.login("c2")
    inside_c1 = refused(3006, c2, "addNumber", number=enum_number("31201234567"))
    nowhere = refused(3006, c2, "addNumber", number=enum_number("4912345678"))
    assert inside_c1.errorstring.replace("31201234567", "N") == nowhere.errorstring.replace("4912345678", "N")
    add_number(c2, "31301234567")
    assert get_number(world.admin, "31301234567")["customer"] == world.c2


def test_a_reseller_cannot_carve_a_range_out_of_another_resellers_block(world):
    r2 = world.login("r2")
    inside = refused(3010, r2, "addRange", range=enum_range("31201"))
    assert inside.errorstring == "ENUM range +31201 under e164.arpa overlaps a range held by another reseller; ask the operator."
    refused(3010, r2, "addRange", range=enum_range("312"))
    add_range(r2, "312", "e164.example.org")
    # the operator's own block (reseller 0) is another's too
    add_range(world.admin, "49")
    refused(3010, r2, "addRange", range=enum_range("4912"))
    # inside its own block a reseller carves freely; admin anywhere
    add_range(world.login("r1"), "31205", customer=world.c2)
    add_range(world.admin, "31209", customer=world.d1)
    assert set(ranges(world.admin)) >= {"31205", "31209"}


# -- credits ---------------------------------------------------------------------------------


def test_range_credit_of_the_reseller_bounds_all_its_customers_together(world):
    r1 = world.login("r1")
    add_range(r1, "3121")
    add_range(r1, "3122", customer=world.c2)
    error = refused(6001, r1, "addRange", range=enum_range("3123"))
    assert error.errorstring == f"ENUM range credit of reseller {world.r1} is exhausted (3 of 3 used)."
    r1.call("Enum", "deleteRange", range=range_id("3122"))
    add_range(r1, "3123")


def test_customer_range_credit_bounds_its_ranges(world):
    world.grant(world.c2, enum_range_credit="1")
    r1 = world.login("r1")
    add_range(r1, "3121", customer=world.c2)
    error = refused(6001, r1, "addRange", range=enum_range("3122", customer=world.c2))
    assert error.errorstring == f"ENUM range credit of customer {world.c2} is exhausted (1 of 1 used)."
    add_range(r1, "3122", customer=world.c1)


def test_reseller_without_a_range_credit_property_may_create_none(world):
    world.grant(world.r1, enum_range_credit="")
    error = refused(6001, world.login("r1"), "addRange", range=enum_range("3121"))
    assert error.errorstring == f"ENUM range credit of reseller {world.r1} is exhausted (1 of 0 used)."


def test_admin_is_not_limited_but_counted(world):
    for prefix in ("3121", "3122", "3123"):
        add_range(world.admin, prefix, customer=world.c2)
    assert world.usage("enum_range_credit")[("reseller", world.r1)] == 4
    refused(6001, world.login("r1"), "addRange", range=enum_range("3124"))


def test_number_credit_of_the_reseller_is_exhausted_exactly_at_its_limit(world):
    c1 = world.login("c1")
    for n in range(5):
        add_number(c1, f"3120123456{n}")
    error = refused(6001, c1, "addNumber", number=enum_number("31201234565"))
    assert error.faultstring.startswith("Credit exhausted" + ": ")
    assert error.errorstring == f"ENUM number credit of reseller {world.r1} is exhausted (5 of 5 used)."
    c1.call("Enum", "deleteNumber", enumId=enum_id("31201234560"))
    add_number(c1, "31201234565")


def test_customer_number_credit_counts_what_it_holds_and_owns(world):
    world.grant(world.c2, enum_number_credit="1")
    r1 = world.login("r1")
    add_number(r1, "31201234567", owner=world.c2)
    error = refused(6001, r1, "addNumber", number=enum_number("31201234568", owner=world.c2))
    assert error.errorstring == f"ENUM number credit of customer {world.c2} is exhausted (1 of 1 used)."
    add_number(r1, "31201234568")
    assert world.usage("enum_number_credit") == {("reseller", world.r1): 2, ("customer", world.c1): 2,
                                                 ("customer", world.c2): 1}  # fmt: skip


def test_changing_the_owner_moves_its_credit(world):
    world.grant(world.c2, enum_number_credit="0")
    r1 = world.login("r1")
    add_number(r1, "31201234567")
    refused(6001, r1, "updateNumber", number=enum_number("31201234567", owner=world.c2))
    world.grant(world.c2, enum_number_credit="1")
    update_number(r1, "31201234567", owner=world.c2)
    assert world.usage("enum_number_credit")[("customer", world.c2)] == 1
    update_number(r1, "31201234567", owner=0)
    assert ("customer", world.c2) not in world.usage("enum_number_credit")
    assert get_number(world.admin, "31201234567")["owner"] == 0


def test_owner_must_be_a_customer_of_the_ranges_reseller_in_scope(world):
    refused(5009, world.admin, "addNumber", number=enum_number("31201234567", owner=world.d1))
    refused(5002, world.login("c1"), "addNumber", number=enum_number("31201234567", owner=world.c2))
    refused(3002, world.admin, "getNumber", enumId=enum_id("31201234567"))


# -- moves -----------------------------------------------------------------------------------


def test_moving_a_range_moves_its_numbers_and_their_credits(world):
    r1 = world.login("r1")
    add_number(r1, "31201234567", owner=world.c1)
    add_number(r1, "31201234568", owner=world.c2)
    update_range(r1, "3120", customer=world.c2)
    assert {get_number(world.admin, n)["customer"] for n in ("31201234567", "31201234568")} == {world.c2}
    assert world.usage("enum_range_credit") == {("reseller", world.r1): 1, ("customer", world.c2): 1,
                                                ("reseller", world.r2): 1, ("customer", world.d1): 1,
                                                ("reseller", world.r3): 1, ("customer", world.e1): 1}  # fmt: skip
    assert world.usage("enum_number_credit") == {("reseller", world.r1): 2, ("customer", world.c1): 1,
                                                 ("customer", world.c2): 2}  # fmt: skip
    assert set(ranges(world.login("c2"))) == {"3120"} and ranges(world.login("c1")) == {}


def test_moving_a_range_rechecks_the_new_customers_credit(world):
    add_number(world.admin, "31201234567")
    add_number(world.admin, "31201234568")
    world.grant(world.c2, enum_number_credit="1")
    error = refused(6001, world.login("r1"), "updateRange", range=enum_range("3120", customer=world.c2))
    assert error.errorstring == f"ENUM number credit of customer {world.c2} is exhausted (0 of 1 used; 2 more needed)."
    assert ranges(world.admin)["3120"]["customer"] == world.c1
    assert {get_number(world.admin, n)["customer"] for n in ("31201234567", "31201234568")} == {world.c1}


def test_admin_moves_a_range_to_another_reseller_clearing_foreign_owners(world):
    add_number(world.admin, "31201234567", owner=world.c2)
    update_range(world.admin, "3120", customer=world.d1)
    number = get_number(world.admin, "31201234567")
    assert (number["customer"], number["reseller"], number["owner"]) == (world.d1, world.r2, 0)
    assert ranges(world.login("r1")) == {} and set(ranges(world.login("r2"))) == {"3120", "4420"}
    assert world.usage("enum_number_credit") == {("reseller", world.r2): 1, ("customer", world.d1): 1}


def test_admin_moves_a_range_without_a_customer_between_resellers(world):
    add_range(world.admin, "3199", reseller=world.r1)
    held = ranges(world.login("r1"))["3199"]
    assert (held["customer"], held["reseller"]) == (0, world.r1)
    update_range(world.admin, "3199", customer=0, reseller=world.r2)
    assert "3199" not in ranges(world.login("r1")) and ranges(world.login("r2"))["3199"]["reseller"] == world.r2


# -- mappings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        ({"mapto": "sip:bob@example.com"}, "needs a service type"),
        ({"type": "s i p", "mapto": "sip:bob@example.com"}, "needs a service type"),
        ({"type": "sip"}, "needs a target URI"),
        ({"type": "sip", "mapto": "bob@example.com"}, "needs a target URI"),
        ({"type": "sip", "mapto": "sip:bob@example.com", "ttl": -1}, "Mapping 1: ttl must be between 0"),
        ({"type": "sip", "mapto": "sip:bob@example.com", "priority": -5}, "Mapping 1: priority must be between 0"),
    ],
)
def test_bad_mappings_are_refused_with_3008(world, mapping, says):
    error = refused(3008, world.admin, "addNumber", number=enum_number("31201234567", mappings=[mapping]))
    assert error.faultstring.startswith("Invalid mapping" + ": ") and says in error.errorstring
    refused(3002, world.admin, "getNumber", enumId=enum_id("31201234567"))


def test_the_same_mapping_twice_is_refused(world):
    twice = [{"type": "sip", "mapto": "sip:bob@example.com"}, {"type": "SIP", "mapto": "sip:bob@example.com"}]
    error = refused(3008, world.admin, "addNumber", number=enum_number("31201234567", mappings=twice))
    assert error.errorstring == "Mapping 2 repeats the sip mapping to sip:bob@example.com."


def test_mappings_default_to_the_ranges_ttl_and_priority_ten(world):
    update_range(world.admin, "3120", ttl=7200)
    add_number(world.admin, "31201234567", mappings=[{"type": "Web:HTTP", "mapto": "http://example.com/"},
                                                    {"type": "npd+tel", "mapto": "tel:+31201234567", "ttl": 0,
                                                     "priority": 0}])  # fmt: skip
    mappings = get_number(world.admin, "31201234567")["mappings"]
    assert [(m["type"], m["ttl"], m["priority"]) for m in mappings] == [("web:http", 7200, 10), ("npd+tel", 0, 0)]


def test_echoing_a_number_back_keeps_the_ids_of_its_mappings(world):
    add_number(world.admin, "31201234567", mappings=[{"type": "sip", "mapto": "sip:a@example.com"},
                                                    {"type": "mailto", "mapto": "mailto:a@example.com"}])  # fmt: skip
    number = get_number(world.admin, "31201234567")
    first, second = number["mappings"]
    first["ttl"] = 60
    number["mappings"] = [first, {"id": 0, "type": "tel", "mapto": "tel:+31201234567"}]
    world.admin.call("Enum", "updateNumber", number=("EnumNumber", number))
    after = get_number(world.admin, "31201234567")["mappings"]
    assert after[0] == first
    assert after[1]["id"] not in (first["id"], second["id"]) and after[1]["type"] == "tel"
    # an empty list removes every mapping; a number without mappings is kept
    world.admin.call("Enum", "updateNumber", number=("EnumNumber", {"id": number["id"], "mappings": []}))
    assert get_number(world.admin, "31201234567")["mappings"] == []


# -- serials, queries ------------------------------------------------------------------------


def test_the_serial_follows_every_change_in_the_range(world):
    def serial() -> int:
        return ranges(world.admin)["3120"]["serial"]

    c1 = world.login("c1")
    assert serial() == 1
    add_number(c1, "31201234567")
    assert serial() == 2
    update_number(c1, "31201234567", info="desk")
    assert serial() == 3
    c1.call("Enum", "deleteNumber", enumId=enum_id("31201234567"))
    assert serial() == 4
    update_range(world.login("r1"), "3120", info="Amsterdam")
    assert serial() == 5
    assert ranges(world.admin)["4420"]["serial"] == 1


def test_get_ranges_filters_orders_and_pages(world):
    admin = world.admin
    add_range(admin, "3110", info="Amsterdam Noord", customer=world.c2)
    result = admin.call("Enum", "getRanges", query={})
    assert [r["id"]["prefix"] for r in result["ranges"]] == ["3110", "3120", "4420", "4930"]
    result = admin.call("Enum", "getRanges", query={"filter": {"info": "amsterdam%"}})
    assert [r["id"]["prefix"] for r in result["ranges"]] == ["3110"]
    result = admin.call("Enum", "getRanges", query={"filter": {"customer": world.c1}})
    assert [r["id"]["prefix"] for r in result["ranges"]] == ["3120"]
    result = admin.call(
        "Enum", "getRanges", query={"orderBy": {"attribute": "prefix", "direction": "DESC"}, "range": {"start": 1, "count": 2}}
    )
    assert result["total"] == 4 and [r["id"]["prefix"] for r in result["ranges"]] == ["4420", "3120"]
    error = refused(2008, admin, "getRanges", query={"orderBy": {"attribute": "used"}})
    assert error.errorstring == "Cannot order by 'used'; use one of: changeDate, prefix, tld."


def test_get_numbers_matches_type_and_mapto_on_one_and_the_same_mapping(world):
    admin = world.admin
    add_number(admin, "31201234567", mappings=[{"type": "sip", "mapto": "sip:a@example.com"},
                                              {"type": "mailto", "mapto": "mailto:a@example.com"}])  # fmt: skip
    add_number(admin, "31201234568", owner=world.c2, mappings=[{"type": "sip", "mapto": "sip:b@example.com"}])
    add_number(admin, "4420123")

    def numbers(**query: Any) -> list[str]:
        return [n["id"]["number"] for n in admin.call("Enum", "getNumbers", query=query)["numbers"]]

    assert numbers(filter={"type": "sip", "mapto": "mailto:%"}) == []
    assert numbers(filter={"type": "SIP", "mapto": "sip:%"}) == ["31201234567", "31201234568"]
    assert numbers(filter={"mapto": "%a@example.com"}) == ["31201234567"]
    assert numbers(filter={"owner": world.c2}) == ["31201234568"]
    assert numbers(filter={"reseller": world.r2}) == ["4420123"]
    assert numbers(filter={"number": "3120%"}, orderBy={"attribute": "number", "direction": "DESC"}) == [
        "31201234568", "31201234567",
    ]  # fmt: skip
    assert numbers() == ["31201234567", "31201234568", "4420123"]
    refused(2008, admin, "getNumbers", query={"orderBy": {"attribute": "owner"}})


@contextmanager
def statements(server: Any) -> Iterator[list[str]]:
    """The SQL statements the server runs inside the block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(server.database.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(server.database.engine, "before_cursor_execute", count)


def test_a_page_of_ranges_or_numbers_costs_the_same_queries_whatever_its_length(world):
    admin = world.admin
    mapping = [{"type": "sip", "mapto": "sip:x@example.com"}, {"type": "tel", "mapto": "tel:+1"}]
    add_number(admin, "4420123", mappings=mapping)
    with statements(world.server) as one_each:
        admin.call("Enum", "getRanges", query={"filter": {"prefix": "4420"}})
        admin.call("Enum", "getNumbers", query={"filter": {"number": "4420%"}})
    for n in range(4):
        add_number(admin, f"3120123456{n}", mappings=mapping)
    with statements(world.server) as many:
        result = admin.call("Enum", "getRanges", query={})
        assert len(result["ranges"]) == 3
        assert len(admin.call("Enum", "getNumbers", query={})["numbers"]) == 5
    assert len(many) == len(one_each)


# -- deletion and history --------------------------------------------------------------------


def test_deleting_a_range_with_numbers_is_refused(world):
    add_number(world.login("c1"), "31201234567")
    error = refused(3004, world.login("r1"), "deleteRange", range=range_id("3120"))
    assert error.errorstring == "ENUM range +3120 under e164.arpa still has 1 number; delete them first."


def test_deleting_a_customer_that_holds_or_owns_enum_records_is_refused(world):
    add_number(world.admin, "31201234567", owner=world.c2)
    add_number(world.admin, "31201234568")
    for customer, what in ((world.c1, "1 ENUM range and 2 ENUM numbers"), (world.c2, "1 ENUM number")):
        with pytest.raises(SoapFault) as info:
            world.admin.call("Customer", "deleteAccount", id=customer)
        assert info.value.errorcode == 5005
        assert f"it still has {what}." in info.value.errorstring
    for number in ("31201234567", "31201234568"):
        world.admin.call("Enum", "deleteNumber", enumId=enum_id(number))
    world.admin.call("Customer", "deleteAccount", id=world.c2)
    world.admin.call("Enum", "deleteRange", range=range_id("3120"))
    world.admin.call("Customer", "deleteAccount", id=world.c1)


def test_every_change_is_in_the_audit_log(world):
    r1 = world.login("r1")
    add_range(r1, "3121")
    update_range(r1, "3121", info="x")
    add_number(r1, "31211234", mappings=[{"type": "sip", "mapto": "sip:a@example.com"}])
    update_number(r1, "31211234", info="y")
    as_r1 = world.admin.as_customer(world.r1)
    as_r1.call("Enum", "deleteNumber", enumId=enum_id("31211234"))
    as_r1.call("Enum", "deleteRange", range=range_id("3121"))
    with world.server.database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT login, admin_login, acting_as, action, kind, record_key FROM audit_log "
                "WHERE record_key IN ('3121@e164.arpa', '31211234@e164.arpa') ORDER BY id"
            )
        ).all()
    assert [(r.login, bool(r.admin_login), r.acting_as, r.action, r.kind, r.record_key) for r in rows] == [
        ("r1", False, world.r1, "create", "enum_range", "3121@e164.arpa"),
        ("r1", False, world.r1, "update", "enum_range", "3121@e164.arpa"),
        ("r1", False, world.r1, "create", "enum_number", "31211234@e164.arpa"),
        ("r1", False, world.r1, "update", "enum_number", "31211234@e164.arpa"),
        ("admin", True, world.r1, "delete", "enum_number", "31211234@e164.arpa"),
        ("admin", True, world.r1, "delete", "enum_range", "3121@e164.arpa"),
    ]


def test_echoing_a_range_back_changes_only_what_changed(world):
    r1 = world.login("r1")
    add_number(r1, "31201234567")
    echoed = ranges(r1)["3120"]
    echoed["info"] = "Amsterdam"
    r1.call("Enum", "updateRange", range=("EnumRange", echoed))
    stored = ranges(world.admin)["3120"]
    assert stored["info"] == "Amsterdam" and stored["serial"] == echoed["serial"] + 1
    assert (stored["customer"], stored["reseller"], stored["used"]) == (world.c1, world.r1, 1)
