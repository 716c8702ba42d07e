"""The DNS rules (see ``ngnserver/core/dns.py``), for each kind of caller, over real HTTP: admin,
admin impersonating, a reseller's own login, a reseller's staff login and a plain customer's
login."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import zeep
from sqlalchemy import text

from tests.support.wire import Client, SoapFault


def credit(name: str, value: int) -> dict[str, str]:
    return {"name": name, "value": str(value), "category": "credit", "permission": "admin"}


def refused(
    errorcode: int, client: Client, operation: str, port: str = "Dns", **params: Any
) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call(port, operation, **params)
    assert info.value.errorcode == errorcode, info.value
    assert info.value.faultcode == "SOAP-ENV:Client"
    return info.value


def todays_first_serial() -> int:
    return int(datetime.now(UTC).strftime("%Y%m%d")) * 100 + 1


class World:
    """Resellers r1 and r2 (active, with DNS credits) and r3 (inactive); c1 and c2 under r1,
    with r1's staff login staff1; d1 under r2; e1 under r3."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.admin = server.admin()
        self.r1 = self._add("r1", resellerActive=True)
        self.r2 = self._add("r2", resellerActive=True)
        self.r3 = self._add("r3", resellerActive=False)
        self.c1 = self._add("c1", reseller=self.r1)
        self.c2 = self._add("c2", reseller=self.r1)
        self.staff = self._add("staff1", reseller=self.r1, impersonate=self.r1)
        self.d1 = self._add("d1", reseller=self.r2)
        self.e1 = self._add("e1", reseller=self.r3)
        for reseller in (self.r1, self.r2, self.r3):
            self.credits(reseller, dns_zone_credit=10, email_credit=10)

    def _add(self, username: str, **fields: Any) -> int:
        account = {"username": username, "password": "pw-" + username, **fields}
        return self.admin.call("Customer", "addAccount", account=("CustomerAccount", account))["id"]

    def credits(self, customer: int, **values: int) -> None:
        properties = [credit(name, value) for name, value in values.items()]
        self.admin.call("Customer", "setProperties", customer=customer, properties=properties)

    def login(self, username: str) -> Client:
        return self.server.login(username, "pw-" + username)

    def used(self, scope: str, holder: int, name: str) -> int:
        with self.server.database.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT used FROM credit_usage WHERE scope = :s AND holder = :h AND credit = :c"
                ),
                {"s": scope, "h": holder, "c": name},
            ).first()
        return row[0] if row else 0

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.server.database.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []


@pytest.fixture
def world(server: Any) -> World:
    return World(server)


def add_zone(client: Client, name: str, **fields: Any) -> dict[str, Any]:
    client.call("Dns", "addZone", zone=("DnsZone", {"name": name, **fields}))
    return client.call("Dns", "getZone", zone=name)


def add_record(
    client: Client, zone: str, name: str, rtype: str, value: str, **fields: Any
) -> dict[str, Any]:
    record = {"zone": zone, "name": name, "type": rtype, "value": value, **fields}
    return client.call("Dns", "addRecord", record=("DnsRecord", record))


def add_fancy(
    client: Client, zone: str, name: str, rtype: str, value: str, **fields: Any
) -> dict[str, Any]:
    record = {"zone": zone, "name": name, "type": rtype, "value": value, **fields}
    return client.call("Dns", "addFancyRecord", record=("DnsFancyRecord", record))


def refused_record(
    errorcode: int, client: Client, zone: str, name: str, rtype: str, value: str, **fields: Any
) -> SoapFault:
    record = {"zone": zone, "name": name, "type": rtype, "value": value, **fields}
    return refused(errorcode, client, "addRecord", record=("DnsRecord", record))


def serial(world: World, zone: str) -> int:
    return world.admin.call("Dns", "getZone", zone=zone)["serial"]


# -- who creates zones, and where they go -----------------------------------------------------------


def test_admin_places_zones_for_any_customer_or_for_nobody(world):
    admin = world.admin
    assert _placed(add_zone(admin, "nobody.example")) == (0, 0)
    assert _placed(add_zone(admin, "r2.example", reseller=world.r2)) == (0, world.r2)
    # setting customer sets reseller to the customer's, whatever reseller is sent
    assert _placed(add_zone(admin, "c1.example", customer=world.c1, reseller=world.r2)) == (
        world.c1,
        world.r1,
    )
    refused(5004, admin, "addZone", zone=("DnsZone", {"name": "x.example", "reseller": world.c1}))
    refused(5002, admin, "addZone", zone=("DnsZone", {"name": "x.example", "customer": 999}))


def _placed(zone: dict[str, Any]) -> tuple[int, int]:
    return zone["customer"], zone["reseller"]


def test_reseller_places_zones_on_itself_or_its_customers(world):
    r1 = world.login("r1")
    assert _placed(add_zone(r1, "r1.example")) == (world.r1, world.r1)
    assert _placed(add_zone(r1, "c1.example", customer=world.c1)) == (world.c1, world.r1)
    refused(5002, r1, "addZone", zone=("DnsZone", {"name": "x.example", "customer": world.d1}))
    refused(
        4005,
        r1,
        "addZone",
        zone=("DnsZone", {"name": "x.example", "customer": world.c1, "reseller": world.r2}),
    )
    as_r2 = world.admin.as_customer(world.r2)
    assert _placed(add_zone(as_r2, "r2.example")) == (world.r2, world.r2)


def test_staff_login_manages_the_zones_of_its_reseller(world):
    staff = world.login("staff1")
    assert _placed(add_zone(staff, "c1.example", customer=world.c1)) == (world.c1, world.r1)
    staff.call("Dns", "updateZone", zone=("DnsZone", {"name": "c1.example", "info": "by staff"}))
    assert world.admin.call("Dns", "getZone", zone="c1.example")["info"] == "by staff"
    staff.call("Dns", "deleteZone", zone="c1.example")
    assert world.admin.call("Dns", "getZones", query={})["total"] == 0


def test_plain_customer_reads_its_zones_but_cannot_write_them(world):
    add_zone(world.admin, "c1.example", customer=world.c1)
    add_zone(world.admin, "c2.example", customer=world.c2)
    for c1 in (world.login("c1"), world.admin.as_customer(world.c1)):
        refused(4004, c1, "addZone", zone=("DnsZone", {"name": "new.example"}))
        refused(4004, c1, "updateZone", zone=("DnsZone", {"name": "c1.example", "info": "x"}))
        refused(4004, c1, "deleteZone", zone="c1.example")
        assert c1.call("Dns", "getZone", zone="c1.example")["customer"] == world.c1
        refused(7002, c1, "getZone", zone="c2.example")
        result = c1.call("Dns", "getZones", query={"filter": {"customer": world.c2}})
        assert result == {"total": 0, "zones": []}
        assert [z["name"] for z in c1.call("Dns", "getZones", query={})["zones"]] == ["c1.example"]
    assert world.admin.call("Dns", "getZone", zone="c1.example")["info"] == ""


def test_inactive_reseller_writes_no_zones_and_no_records(world):
    add_zone(world.admin, "e1.example", customer=world.e1)
    record = add_record(world.admin, "e1.example", "www", "A", "192.0.2.1")
    for who in (world.login("r3"), world.login("e1")):
        refused(
            4007 if who.username == "r3" else 4004,
            who,
            "addZone",
            zone=("DnsZone", {"name": "new.example"}),
        )
        refused_record(4007, who, "e1.example", "mail", "A", "192.0.2.2")
        refused(
            4007,
            who,
            "updateRecord",
            record=("DnsRecord", {"id": record["id"], "value": "192.0.2.3"}),
        )
        refused(4007, who, "deleteRecord", recordId=record["id"])
        assert who.call("Dns", "getZone", zone="e1.example")["name"] == "e1.example"
        assert who.call("Dns", "getRecord", recordId=record["id"])["value"] == "192.0.2.1"
    r3 = world.login("r3")
    refused(4007, r3, "updateZone", zone=("DnsZone", {"name": "e1.example", "info": "x"}))
    refused(4007, r3, "deleteZone", zone="e1.example")


def test_zones_outside_the_scope_do_not_exist(world):
    add_zone(world.admin, "r1.example", customer=world.r1)
    r2 = world.login("r2")
    hidden = refused(7002, r2, "getZone", zone="r1.example")
    missing = refused(7002, r2, "getZone", zone="missing.example")
    assert hidden.errorstring.replace("r1.example", "Z") == missing.errorstring.replace(
        "missing.example", "Z"
    )
    refused(7002, r2, "updateZone", zone=("DnsZone", {"name": "r1.example", "info": "mine"}))
    refused(7002, r2, "deleteZone", zone="r1.example")
    refused_record(7002, r2, "r1.example", "www", "A", "192.0.2.1")
    assert r2.call("Dns", "getZones", query={"filter": {"reseller": world.r1}})["total"] == 0
    # the name is taken all the same: zone names are global
    refused(7001, r2, "addZone", zone=("DnsZone", {"name": "r1.example"}))


def test_a_reseller_creates_no_zone_inside_or_above_another_resellers_zone(world):
    add_zone(world.admin, "victim-co.test", customer=world.r2)
    add_zone(world.admin, "shop.victim2.test", customer=world.d1)
    r1 = world.login("r1")
    inside = refused(7010, r1, "addZone", zone=("DnsZone", {"name": "www.victim-co.test"}))
    assert "inside a zone of another reseller" in inside.errorstring
    above = refused(7010, r1, "addZone", zone=("DnsZone", {"name": "victim2.test"}))
    assert "above a zone of another reseller" in above.errorstring
    refused(7010, r1, "addZone", zone=("DnsZone", {"name": "a.b.www.victim-co.test", "customer": world.c1}))
    refused(7010, world.login("staff1"), "addZone", zone=("DnsZone", {"name": "x.victim-co.test"}))
    names = {z["name"] for z in world.admin.call("Dns", "getZones", query={})["zones"]}
    assert names == {"victim-co.test", "shop.victim2.test"}
    # a look-alike is no parent, and a reseller nests zones inside its own freely
    add_zone(r1, "co.test")
    add_zone(r1, "evilvictim-co.test")
    add_zone(r1, "sub.co.test")
    add_zone(world.login("r2"), "www.victim-co.test")
    # admin places zones wherever the operator wants them
    add_zone(world.admin, "deep.shop.victim2.test", customer=world.r1)


# -- zone values --------------------------------------------------------------------------------------


def test_zone_names_are_lowercased_domains(world):
    admin = world.admin
    add_zone(admin, " Example.COM. ")
    assert [z["name"] for z in admin.call("Dns", "getZones", query={})["zones"]] == ["example.com"]
    assert admin.call("Dns", "getZone", zone="EXAMPLE.com.")["name"] == "example.com"
    refused(7001, admin, "addZone", zone=("DnsZone", {"name": "EXAMPLE.com"}))
    for bad in ("com", "exa mple.com", "-bad.example", "bad-.example", "under_score.example", "192.0.2.1",
                "a..example", "x" * 64 + ".example"):  # fmt: skip
        refused(7009, admin, "addZone", zone=("DnsZone", {"name": bad}))
    refused(2007, admin, "addZone", zone=("DnsZone", {"name": ""}))
    add_zone(admin, "2.0.192.in-addr.arpa")
    assert admin.call("Dns", "getZones", query={})["total"] == 2


def test_new_zone_takes_the_default_soa_values(world):
    zone = add_zone(world.admin, "example.com")
    zone.pop("changeDate")
    assert zone == {
        "name": "example.com", "ttl": 3600, "minimum": 3600, "retry": 1800, "expire": 604800,
        "serial": todays_first_serial(), "email": "hostmaster@example.com", "info": "", "nameservers": [],
        "customer": 0, "reseller": 0,
    }  # fmt: skip


def test_soa_values_outside_their_bounds_are_7009_and_nothing_is_stored(world):
    admin = world.admin
    for bad in (
        {"ttl": 0}, {"ttl": -1}, {"ttl": 29}, {"ttl": 2_419_201}, {"minimum": 86_401}, {"retry": 59},
        {"expire": 3_599}, {"expire": 1800, "retry": 1800}, {"expire": 7200, "retry": 86400},
        {"email": "not an address"}, {"email": "user@"}, {"email": "@example.com"}, {"email": "hostmaster"},
        {"nameservers": ["ns1.example.com", "not a host"]}, {"nameservers": ["192.0.2.53"]},
        {"nameservers": [f"ns{n}.example.com" for n in range(14)]}, {"info": "x" * 256},
    ):  # fmt: skip
        refused(7009, admin, "addZone", zone=("DnsZone", {"name": "example.com", **bad}))
    assert admin.call("Dns", "getZones", query={})["total"] == 0
    add_zone(admin, "example.com", ttl=30, minimum=86_400, retry=60, expire=4_838_400)
    refused(
        7009, admin, "updateZone", zone=("DnsZone", {"name": "example.com", "retry": 4_838_400})
    )
    assert world.admin.call("Dns", "getZone", zone="example.com")["retry"] == 60


def test_zone_email_and_name_servers_are_normalised(world):
    admin = world.admin
    zone = add_zone(
        admin, "example.com", email="John.Doe@Example.NET",
        nameservers=["NS1.example.com.", "", "ns2.example.com", "ns1.example.com"],
    )  # fmt: skip
    assert zone["email"] == "John.Doe@example.net"
    assert zone["nameservers"] == ["ns1.example.com", "ns2.example.com"]
    for given, stored in (
        ("hostmaster.example.com.", "hostmaster.example.com"),
        ("john\\.doe.example.com", "john\\.doe.example.com"),
        ("", "hostmaster@example.com"),
    ):
        admin.call("Dns", "updateZone", zone=("DnsZone", {"name": "example.com", "email": given}))
        assert admin.call("Dns", "getZone", zone="example.com")["email"] == stored
    admin.call("Dns", "updateZone", zone=("DnsZone", {"name": "example.com", "nameservers": []}))
    assert admin.call("Dns", "getZone", zone="example.com")["nameservers"] == []


def test_zone_credit_bounds_a_reseller_and_its_customers(world):
    world.credits(world.r1, dns_zone_credit=2)
    r1 = world.login("r1")
    add_zone(r1, "one.example")
    add_zone(r1, "two.example", customer=world.c2)
    error = refused(6001, r1, "addZone", zone=("DnsZone", {"name": "three.example"}))
    assert (
        error.errorstring == f"DNS zone credit of reseller {world.r1} is exhausted (2 of 2 used)."
    )
    r1.call("Dns", "deleteZone", zone="one.example")
    add_zone(r1, "three.example")
    # a customer's own credit bounds the zones that belong to it
    world.credits(world.r1, dns_zone_credit=10)
    world.credits(world.c1, dns_zone_credit=1)
    add_zone(r1, "c1.example", customer=world.c1)
    error = refused(
        6001, r1, "addZone", zone=("DnsZone", {"name": "c1b.example", "customer": world.c1})
    )
    assert (
        error.errorstring == f"DNS zone credit of customer {world.c1} is exhausted (1 of 1 used)."
    )
    # admin is not limited, but counted
    add_zone(world.admin, "c1b.example", customer=world.c1)
    assert world.used("customer", world.c1, "dns_zone_credit") == 2
    assert world.used("reseller", world.r1, "dns_zone_credit") == 4


def test_reseller_without_a_zone_credit_creates_none(world):
    world.admin.call(
        "Customer", "setProperties", customer=world.r2, properties=[credit("dns_zone_credit", 0)]
    )
    refused(6001, world.login("r2"), "addZone", zone=("DnsZone", {"name": "r2.example"}))


# -- the serial -----------------------------------------------------------------------------------------


def test_serial_is_bumped_by_every_change_in_the_zone(world):
    admin, r1 = world.admin, world.login("r1")
    add_zone(r1, "example.com", customer=world.c1)
    first = todays_first_serial()
    assert serial(world, "example.com") == first
    changes = [
        lambda: r1.call(
            "Dns", "updateZone", zone=("DnsZone", {"name": "example.com", "info": "changed"})
        ),
        lambda: add_record(r1, "example.com", "www", "A", "192.0.2.1"),
        lambda: r1.call(
            "Dns", "updateRecord", record=("DnsRecord", {"id": 1, "value": "192.0.2.2"})
        ),
        lambda: add_fancy(r1, "example.com", "info", "MBOXFW", "c1@example.net"),
        lambda: r1.call(
            "Dns",
            "updateFancyRecord",
            record=("DnsFancyRecord", {"id": 2, "value": "c2@example.net"}),
        ),
        lambda: admin.call("Dns", "deleteFancyRecord", recordId=2),
        lambda: admin.call("Dns", "deleteRecord", recordId=1),
    ]
    for n, change in enumerate(changes, start=1):
        change()
        assert serial(world, "example.com") == first + n
    # sending what is stored changes nothing
    stored = admin.call("Dns", "getZone", zone="example.com")
    r1.call("Dns", "updateZone", zone=("DnsZone", stored))
    assert serial(world, "example.com") == first + len(changes)
    record = add_record(r1, "example.com", "www", "A", "192.0.2.1")
    r1.call("Dns", "updateRecord", record=("DnsRecord", record))
    assert serial(world, "example.com") == first + len(changes) + 1


def test_serial_starts_the_day_over_or_keeps_counting_past_it(world):
    add_zone(world.admin, "example.com")
    world.sql("UPDATE dns_zones SET serial = 2020010105 WHERE name = 'example.com'")
    add_record(world.admin, "example.com", "a", "A", "192.0.2.1")
    assert serial(world, "example.com") == todays_first_serial()
    world.sql("UPDATE dns_zones SET serial = 2099010199 WHERE name = 'example.com'")
    add_record(world.admin, "example.com", "b", "A", "192.0.2.1")
    assert serial(world, "example.com") == 2099010200


# -- moving and deleting zones ------------------------------------------------------------------------


def test_moving_a_zone_moves_its_records_and_their_credits(world):
    r1 = world.login("r1")
    add_zone(r1, "move.example", customer=world.c1)
    add_record(r1, "move.example", "www", "A", "192.0.2.1", owner=world.c1)
    add_fancy(r1, "move.example", "c2", "MBOXFW", "c2@example.net", owner=world.c2)
    add_fancy(r1, "move.example", "all", "MBOXFW", "all@example.net")
    assert [world.used("customer", c, "email_credit") for c in (world.c1, world.c2)] == [2, 1]

    r1.call("Dns", "updateZone", zone=("DnsZone", {"name": "move.example", "customer": world.c2}))
    assert _placed(world.admin.call("Dns", "getZone", zone="move.example")) == (world.c2, world.r1)
    records = world.sql("SELECT name, owner, customer, reseller FROM dns_records ORDER BY id")
    assert records == [("www", world.c1, world.c2, world.r1), ("c2", world.c2, world.c2, world.r1),
                       ("all", 0, world.c2, world.r1)]  # fmt: skip
    assert [world.used("customer", c, "email_credit") for c in (world.c1, world.c2)] == [0, 2]
    assert [world.used("customer", c, "dns_zone_credit") for c in (world.c1, world.c2)] == [0, 1]
    # the record c1 owns stays visible to c1 in a zone that is no longer its own
    assert world.login("c1").call("Dns", "getRecord", recordId=1)["owner"] == world.c1

    # to another reseller's customer: owners from the old reseller are cleared
    world.admin.call(
        "Dns", "updateZone", zone=("DnsZone", {"name": "move.example", "customer": world.d1})
    )
    records = world.sql("SELECT owner, customer, reseller FROM dns_records ORDER BY id")
    assert records == [(0, world.d1, world.r2)] * 3
    assert world.used("reseller", world.r1, "email_credit") == 0
    assert world.used("reseller", world.r2, "email_credit") == 2
    assert world.used("customer", world.d1, "email_credit") == 2
    assert world.used("customer", world.c2, "email_credit") == 0
    assert world.used("reseller", world.r1, "dns_zone_credit") == 0
    assert world.used("reseller", world.r2, "dns_zone_credit") == 1
    refused(7004, r1, "getRecord", recordId=1)
    refused(7004, world.login("c1"), "getRecord", recordId=1)


def test_moving_a_zone_is_refused_when_the_new_customer_lacks_credit(world):
    r1 = world.login("r1")
    add_zone(r1, "move.example", customer=world.c1)
    add_fancy(r1, "move.example", "info", "MBOXFW", "info@example.net")
    world.credits(world.c2, email_credit=0)
    error = refused(
        6001, r1, "updateZone", zone=("DnsZone", {"name": "move.example", "customer": world.c2})
    )
    assert f"customer {world.c2}" in error.errorstring
    assert _placed(world.admin.call("Dns", "getZone", zone="move.example")) == (world.c1, world.r1)
    assert world.used("customer", world.c1, "email_credit") == 1


def test_reseller_cannot_move_a_zone_out_of_its_scope(world):
    r1 = world.login("r1")
    add_zone(r1, "r1.example")
    refused(5002, r1, "updateZone", zone=("DnsZone", {"name": "r1.example", "customer": world.d1}))
    refused(4005, r1, "updateZone", zone=("DnsZone", {"name": "r1.example", "reseller": world.r2}))
    assert _placed(world.admin.call("Dns", "getZone", zone="r1.example")) == (world.r1, world.r1)


def test_deleting_a_zone_with_records_is_refused_until_they_are_gone(world):
    admin = world.admin
    add_zone(admin, "example.com")
    first = add_record(admin, "example.com", "a", "A", "192.0.2.1")
    second = add_record(admin, "example.com", "b", "A", "192.0.2.1")
    forward = add_fancy(admin, "example.com", "info", "MBOXFW", "x@example.net")
    error = refused(7005, admin, "deleteZone", zone="example.com")
    assert (
        error.errorstring
        == "DNS zone example.com still has 2 records and 1 fancy record; delete them first."
    )
    for operation, record in (
        ("deleteRecord", first),
        ("deleteRecord", second),
        ("deleteFancyRecord", forward),
    ):
        admin.call("Dns", operation, recordId=record["id"])
    admin.call("Dns", "deleteZone", zone="example.com")
    refused(7002, admin, "getZone", zone="example.com")


# -- record values -------------------------------------------------------------------------------------


VALID = [
    # (name, type, value, priority) -> stored (name, value, priority)
    (("www", "A", "192.0.2.1", 5), ("www", "192.0.2.1", 0)),
    (("www", "AAAA", "2001:DB8:0:0::1", None), ("www", "2001:db8::1", 0)),
    (("ftp", "cname", "WWW.Example.NET.", None), ("ftp", "www.example.net", 0)),
    (("@", "MX", "mail.example.com", 0), ("", "mail.example.com", 0)),
    (("", "MX", "mx2.example.com", 20), ("", "mx2.example.com", 20)),
    (
        ("_sip._udp", "SRV", "5  5060 sip.example.com.", 10),
        ("_sip._udp", "5 5060 sip.example.com", 10),
    ),
    (("_sip._tcp", "SRV", "0 0 .", 0), ("_sip._tcp", "0 0 .", 0)),
    (("sub", "NS", "ns1.example.net", None), ("sub", "ns1.example.net", 0)),
    (
        ("4.3.2.1", "NAPTR", '100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .', None),
        ("4.3.2.1", '100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .', 0),
    ),
    (("", "TXT", " v=spf1 mx -all", None), ("", " v=spf1 mx -all", 0)),
    (("long", "TXT", "x" * 1024, None), ("long", "x" * 1024, 0)),
    (("1", "PTR", "host.example.com", None), ("1", "host.example.com", 0)),
    (("*", "A", "192.0.2.9", None), ("*", "192.0.2.9", 0)),
    (("*.dev", "A", "192.0.2.9", None), ("*.dev", "192.0.2.9", 0)),
]

INVALID = [
    ("www", "A", "300.1.2.3", None),
    ("www", "A", "2001:db8::1", None),
    ("www", "A", "", None),
    ("www", "AAAA", "192.0.2.1", None),
    ("www", "CNAME", "not a host", None),
    ("www", "CNAME", "single", None),
    ("www", "CNAME", "192.0.2.1", None),
    ("", "MX", "mail.example.com", None),
    ("", "MX", "mail.example.com", 65536),
    ("", "MX", "mail.example.com", -1),
    ("_sip._udp", "SRV", "5 sip.example.com", 10),
    ("_sip._udp", "SRV", "5 70000 sip.example.com", 10),
    ("_sip._udp", "SRV", "5 5060 sip.example.com", None),
    ("sub", "NS", "", None),
    ("4", "NAPTR", "100 10 u E2U+sip", None),
    ("", "TXT", "", None),
    ("", "TXT", "   ", None),
    ("", "TXT", "x" * 1025, None),
    ("1", "PTR", "1.2.3.4", None),
    ("www", "SPF", "v=spf1", None),
    ("www", "", "192.0.2.1", None),
    ("info", "MBOXFW", "x@example.net", None),
    ("www", "URL", "https://example.net/", None),
    ("bad name", "A", "192.0.2.1", None),
    ("a.*", "A", "192.0.2.1", None),
]


def test_record_values_are_checked_and_stored_in_one_form_per_type(world):
    admin = world.admin
    add_zone(admin, "example.com", ttl=600)
    for (name, rtype, value, priority), (stored_name, stored_value, stored_priority) in VALID:
        record = add_record(admin, "example.com", name, rtype, value, priority=priority)
        stored = (
            record["name"],
            record["type"],
            record["value"],
            record["priority"],
            record["ttl"],
        )
        assert stored == (stored_name, rtype.upper(), stored_value, stored_priority, 600), (
            name,
            rtype,
            value,
        )
    for name, rtype, value, priority in INVALID:
        with pytest.raises(SoapFault) as info:
            add_record(admin, "example.com", name, rtype, value, priority=priority)
        assert info.value.errorcode == 7006, (name, rtype, value, priority, info.value)
    assert admin.call("Dns", "getRecords", query={})["total"] == len(VALID)


def test_record_ttl_defaults_to_the_zones_and_is_bounded(world):
    admin = world.admin
    add_zone(admin, "example.com", ttl=900)
    assert add_record(admin, "example.com", "a", "A", "192.0.2.1")["ttl"] == 900
    assert add_record(admin, "example.com", "b", "A", "192.0.2.1", ttl=0)["ttl"] == 900
    assert add_record(admin, "example.com", "c", "A", "192.0.2.1", ttl=30)["ttl"] == 30
    for bad in (29, -5, 2_419_201):
        refused_record(7006, admin, "example.com", "d", "A", "192.0.2.1", ttl=bad)


def test_record_names_are_relative_to_the_zone(world):
    admin = world.admin
    add_zone(admin, "example.com")
    for given, stored in (
        ("@", ""), ("", ""), ("example.com.", ""), ("Example.COM", ""), ("WWW", "www"),
        ("www.example.com.", "www"), ("mail.example.com", "mail"), ("a.b", "a.b"),
    ):  # fmt: skip
        record = add_record(admin, "example.com", given, "TXT", f"given {given!r}")
        assert record["name"] == stored, given
    for outside in ("www.example.org.", "example.org.", "www.notexample.com."):
        error = refused_record(7008, admin, "example.com", outside, "A", "192.0.2.1")
        assert error.errorstring == f"{outside!r} is not inside zone example.com."
    refused_record(7006, admin, "example.com", "x" * 64, "A", "192.0.2.1")


def test_duplicates_are_7003_after_normalisation(world):
    admin = world.admin
    add_zone(admin, "example.com")
    add_record(admin, "example.com", "www", "AAAA", "2001:db8::1")
    error = refused_record(7003, admin, "example.com", "WWW.example.com.", "aaaa", "2001:DB8:0::1")
    assert error.errorstring == "DNS record www.example.com AAAA 2001:db8::1 already exists."
    add_record(admin, "example.com", "www", "AAAA", "2001:db8::2")
    add_record(admin, "example.com", "", "TXT", "Case")
    add_record(admin, "example.com", "", "TXT", "case")
    refused_record(7003, admin, "example.com", "@", "TXT", "case")


def test_a_cname_stands_alone(world):
    admin = world.admin
    add_zone(admin, "example.com")
    add_record(admin, "example.com", "www", "A", "192.0.2.1")
    error = refused_record(7007, admin, "example.com", "www", "CNAME", "web.example.net")
    assert (
        error.errorstring == "www.example.com already has A data; a CNAME cannot stand beside it."
    )
    add_record(admin, "example.com", "ftp", "CNAME", "web.example.net")
    error = refused_record(7007, admin, "example.com", "ftp", "TXT", "hello")
    assert error.errorstring == "ftp.example.com is a CNAME; no other data can stand beside it."
    refused_record(7007, admin, "example.com", "ftp", "CNAME", "other.example.net")
    refused_record(7003, admin, "example.com", "ftp", "CNAME", "web.example.net")
    refused_record(7007, admin, "example.com", "@", "CNAME", "web.example.net")
    # a URL redirect is published at its name; an e-mail forward's name is a mailbox
    refused(7007, admin, "addFancyRecord",
            record=("DnsFancyRecord", {"zone": "example.com", "name": "ftp", "type": "URL", "value": "http://x.example/"}))  # fmt: skip
    add_fancy(admin, "example.com", "ftp", "MBOXFW", "ftp@example.net")
    # and by update, too
    other = add_record(admin, "example.com", "mail", "A", "192.0.2.2")
    refused(7007, admin, "updateRecord", record=("DnsRecord", {"id": other["id"], "name": "ftp"}))
    admin.call(
        "Dns",
        "updateRecord",
        record=("DnsRecord", {"id": other["id"], "type": "CNAME", "value": "m.example.net"}),
    )
    assert admin.call("Dns", "getRecord", recordId=other["id"])["type"] == "CNAME"


# -- fancy records ---------------------------------------------------------------------------------------


def test_records_and_fancy_records_share_ids_but_not_operations(world):
    admin = world.admin
    add_zone(admin, "example.com")
    a = add_record(admin, "example.com", "www", "A", "192.0.2.1")
    forward = add_fancy(admin, "example.com", "info", "MBOXFW", "Info@Example.NET")
    redirect = add_fancy(admin, "example.com", "go", "URL", "https://www.example.net/landing?x=1")
    assert (a["id"], forward["id"], redirect["id"]) == (1, 2, 3)
    assert (forward["value"], redirect["value"]) == (
        "Info@example.net",
        "https://www.example.net/landing?x=1",
    )
    for operation in ("getRecord", "deleteRecord"):
        refused(7004, admin, operation, recordId=forward["id"])
    refused(
        7004,
        admin,
        "updateRecord",
        record=("DnsRecord", {"id": forward["id"], "value": "192.0.2.1"}),
    )
    for operation in ("getFancyRecord", "deleteFancyRecord"):
        refused(7004, admin, operation, recordId=a["id"])
    refused(
        7004,
        admin,
        "updateFancyRecord",
        record=("DnsFancyRecord", {"id": a["id"], "value": "x@example.net"}),
    )
    assert [r["id"] for r in admin.call("Dns", "getRecords", query={})["records"]] == [1]
    assert [r["id"] for r in admin.call("Dns", "getFancyRecords", query={})["records"]] == [2, 3]
    assert admin.call("Dns", "getFancyRecord", recordId=2)["type"] == "MBOXFW"
    for rtype, value in (("A", "192.0.2.1"), ("MBOXFW", "not-an-address"), ("MBOXFW", "a@b"),
                         ("URL", "ftp://example.net/"), ("URL", "https://"), ("URL", "http://exa mple.net/")):  # fmt: skip
        with pytest.raises(SoapFault) as info:
            add_fancy(admin, "example.com", "x", rtype, value)
        assert info.value.errorcode == 7006, (rtype, value)
    refused(2007, admin, "getRecord")


def test_email_credit_is_exhausted_at_the_limit(world):
    world.credits(world.r1, email_credit=2)
    r1 = world.login("r1")
    add_zone(r1, "example.com", customer=world.c1)
    add_fancy(r1, "example.com", "a", "MBOXFW", "a@example.net")
    second = add_fancy(r1, "example.com", "b", "MBOXFW", "b@example.net")
    add_fancy(r1, "example.com", "www", "URL", "https://example.net/")  # redirects are not counted
    with pytest.raises(SoapFault) as info:
        add_fancy(r1, "example.com", "c", "MBOXFW", "c@example.net")
    assert info.value.errorcode == 6001 and info.value.faultstring.startswith("Credit exhausted" + ": ")
    assert (
        info.value.errorstring
        == f"e-mail forward credit of reseller {world.r1} is exhausted (2 of 2 used)."
    )
    r1.call("Dns", "deleteFancyRecord", recordId=second["id"])
    add_fancy(r1, "example.com", "c", "MBOXFW", "c@example.net")
    # admin is not limited, but counted
    add_fancy(world.admin, "example.com", "d", "MBOXFW", "d@example.net")
    assert world.used("reseller", world.r1, "email_credit") == 3
    assert world.used("customer", world.c1, "email_credit") == 3


def test_customer_email_credit_counts_what_it_owns(world):
    r1 = world.login("r1")
    add_zone(r1, "example.com")
    world.credits(world.c2, email_credit=1)
    add_fancy(r1, "example.com", "c2", "MBOXFW", "c2@example.net", owner=world.c2)
    error = refused(6001, r1, "addFancyRecord", record=(
        "DnsFancyRecord", {"zone": "example.com", "name": "c2b", "type": "MBOXFW", "value": "x@example.net", "owner": world.c2}
    ))  # fmt: skip
    assert (
        error.errorstring
        == f"e-mail forward credit of customer {world.c2} is exhausted (1 of 1 used)."
    )
    add_fancy(r1, "example.com", "c1", "MBOXFW", "c1@example.net", owner=world.c1)


def test_changing_a_fancy_records_type_or_owner_recounts_its_email_credit(world):
    world.credits(world.c2, email_credit=1)
    r1 = world.login("r1")
    add_zone(r1, "example.com")
    redirect = add_fancy(r1, "example.com", "x", "URL", "https://example.net/", owner=world.c2)
    forward = add_fancy(r1, "example.com", "y", "MBOXFW", "y@example.net", owner=world.c1)
    assert world.used("customer", world.c2, "email_credit") == 0
    r1.call(
        "Dns",
        "updateFancyRecord",
        record=(
            "DnsFancyRecord",
            {"id": redirect["id"], "type": "MBOXFW", "value": "x@example.net"},
        ),
    )
    assert world.used("customer", world.c2, "email_credit") == 1
    error = refused(
        6001,
        r1,
        "updateFancyRecord",
        record=("DnsFancyRecord", {"id": forward["id"], "owner": world.c2}),
    )
    assert f"customer {world.c2}" in error.errorstring
    r1.call(
        "Dns",
        "updateFancyRecord",
        record=(
            "DnsFancyRecord",
            {"id": redirect["id"], "type": "URL", "value": "http://x.example/"},
        ),
    )
    assert world.used("customer", world.c2, "email_credit") == 0
    r1.call(
        "Dns",
        "updateFancyRecord",
        record=("DnsFancyRecord", {"id": forward["id"], "owner": world.c2}),
    )
    assert [world.used("customer", c, "email_credit") for c in (world.c1, world.c2)] == [0, 1]
    assert world.used("reseller", world.r1, "email_credit") == 1


# -- records: scope, owners, updates ------------------------------------------------------------------


def test_records_are_seen_by_their_zones_customer_their_owner_and_the_reseller(world):
    r1 = world.login("r1")
    add_zone(r1, "c1.example", customer=world.c1)
    add_zone(r1, "c2.example", customer=world.c2)
    in_c1 = add_record(r1, "c1.example", "www", "A", "192.0.2.1")
    owned_by_c1 = add_record(r1, "c2.example", "c1", "A", "192.0.2.2", owner=world.c1)
    in_c2 = add_record(r1, "c2.example", "www", "A", "192.0.2.3")
    c1 = world.login("c1")
    assert sorted(r["id"] for r in c1.call("Dns", "getRecords", query={})["records"]) == [
        in_c1["id"],
        owned_by_c1["id"],
    ]
    refused(7004, c1, "getRecord", recordId=in_c2["id"])
    refused(
        7004, c1, "updateRecord", record=("DnsRecord", {"id": in_c2["id"], "value": "192.0.2.9"})
    )
    refused(7004, c1, "deleteRecord", recordId=in_c2["id"])
    # the owner changes its record, but adds nothing to a zone that is not its own
    c1.call(
        "Dns",
        "updateRecord",
        record=("DnsRecord", {"id": owned_by_c1["id"], "value": "192.0.2.22"}),
    )
    refused_record(7002, c1, "c2.example", "new", "A", "192.0.2.4")
    assert r1.call("Dns", "getRecords", query={})["total"] == 3
    r2 = world.login("r2")
    assert r2.call("Dns", "getRecords", query={"filter": {"reseller": world.r1}})["total"] == 0
    hidden = refused(7004, r2, "getRecord", recordId=in_c1["id"])
    assert hidden.errorstring == f"DNS record {in_c1['id']} does not exist."


def test_customer_writes_records_in_its_own_zone(world):
    add_zone(world.admin, "c1.example", customer=world.c1)
    c1 = world.login("c1")
    record = add_record(c1, "c1.example", "www", "A", "192.0.2.1")
    assert (record["customer"], record["reseller"], record["owner"]) == (world.c1, world.r1, 0)
    c1.call("Dns", "updateRecord", record=("DnsRecord", {"id": record["id"], "ttl": 60}))
    assert c1.call("Dns", "getRecord", recordId=record["id"])["ttl"] == 60
    c1.call("Dns", "deleteRecord", recordId=record["id"])
    assert c1.call("Dns", "getRecords", query={})["total"] == 0


def test_owner_is_a_customer_of_the_zones_reseller(world):
    add_zone(world.admin, "r1.example", customer=world.r1)
    refused_record(5009, world.admin, "r1.example", "a", "A", "192.0.2.1", owner=world.d1)
    refused_record(5002, world.login("r1"), "r1.example", "a", "A", "192.0.2.1", owner=world.d1)
    refused_record(5002, world.login("r1"), "r1.example", "a", "A", "192.0.2.1", owner=999)
    assert (
        add_record(world.login("staff1"), "r1.example", "a", "A", "192.0.2.1", owner=world.c2)[
            "owner"
        ]
        == world.c2
    )


def test_update_record_keeps_what_is_not_sent_and_stays_in_its_zone(world):
    admin = world.admin
    add_zone(admin, "example.com")
    add_zone(admin, "example.net")
    mx = add_record(admin, "example.com", "", "MX", "mail.example.com", priority=10, ttl=300)
    admin.call("Dns", "updateRecord", record=("DnsRecord", {"id": mx["id"], "priority": 20}))
    stored = admin.call("Dns", "getRecord", recordId=mx["id"])
    assert (stored["name"], stored["value"], stored["priority"], stored["ttl"]) == (
        "",
        "mail.example.com",
        20,
        300,
    )
    error = refused(
        7006, admin, "updateRecord", record=("DnsRecord", {"id": mx["id"], "zone": "example.net"})
    )
    assert "cannot move to another zone" in error.errorstring
    admin.call(
        "Dns",
        "updateRecord",
        record=("DnsRecord", {"id": mx["id"], "zone": "EXAMPLE.com.", "ttl": 0}),
    )
    assert admin.call("Dns", "getRecord", recordId=mx["id"])["ttl"] == 3600
    # a type change re-checks the value kept
    refused(7006, admin, "updateRecord", record=("DnsRecord", {"id": mx["id"], "type": "A"}))
    other = add_record(admin, "example.com", "", "MX", "mx2.example.com", priority=20)
    refused(
        7003,
        admin,
        "updateRecord",
        record=("DnsRecord", {"id": other["id"], "value": "mail.example.com"}),
    )
    refused(7004, admin, "updateRecord", record=("DnsRecord", {"id": 999, "value": "x"}))


def test_get_records_filters_orders_and_pages(world):
    admin = world.admin
    add_zone(admin, "example.com", customer=world.c1)
    add_zone(admin, "example.net", customer=world.c2)
    add_record(admin, "example.com", "www", "A", "192.0.2.1", owner=world.c2)
    add_record(admin, "example.com", "mail", "A", "192.0.2.2")
    add_record(admin, "example.com", "", "MX", "mail.example.com", priority=10)
    add_record(admin, "example.net", "www", "AAAA", "2001:db8::1")

    def ids(**query: Any) -> tuple[int, list[int]]:
        result = admin.call("Dns", "getRecords", query=query)
        return result["total"], [r["id"] for r in result["records"]]

    assert ids() == (4, [1, 2, 3, 4])
    assert ids(filter={"id": 3}) == (1, [3])
    assert ids(filter={"zone": "example.%"}) == (4, [1, 2, 3, 4])
    assert ids(filter={"zone": "EXAMPLE.NET"}) == (1, [4])
    assert ids(filter={"name": "w%"}) == (2, [1, 4])
    assert ids(filter={"value": "192.0.2.%"}) == (2, [1, 2])
    assert ids(filter={"type": "a"}) == (2, [1, 2])
    assert ids(filter={"owner": world.c2}) == (1, [1])
    assert ids(filter={"customer": world.c2}) == (1, [4])
    assert ids(filter={"reseller": world.r1, "id": 0}) == (4, [1, 2, 3, 4])
    assert ids(orderBy={"attribute": "type", "direction": "DESC"}) == (4, [3, 4, 2, 1])
    assert ids(
        orderBy={"attribute": "name", "direction": "ASC"}, range={"start": 1, "count": 2}
    ) == (4, [2, 1])
    assert ids(orderBy={"attribute": "zone", "direction": "DESC"}) == (4, [4, 3, 2, 1])
    error = refused(
        2008, admin, "getRecords", query={"orderBy": {"attribute": "value", "direction": "ASC"}}
    )
    assert "changeDate, id, name, type, zone" in error.errorstring


def test_get_zones_filters_orders_and_pages(world):
    admin = world.admin
    add_zone(admin, "b.example", customer=world.c1, info="Gold plan")
    add_zone(admin, "a.example", customer=world.c2, info="silver")
    add_zone(admin, "c.example", customer=world.d1, info="gold")

    def names(**query: Any) -> tuple[int, list[str]]:
        result = admin.call("Dns", "getZones", query=query)
        return result["total"], [z["name"] for z in result["zones"]]

    assert names() == (3, ["a.example", "b.example", "c.example"])
    assert names(filter={"info": "gold%"}) == (2, ["b.example", "c.example"])
    assert names(filter={"reseller": world.r1}) == (2, ["a.example", "b.example"])
    assert names(filter={"customer": world.d1}) == (1, ["c.example"])
    assert names(orderBy={"attribute": "id", "direction": "DESC"}, range={"start": 0, "count": 2}) == (
        3, ["c.example", "a.example"]
    )  # fmt: skip
    refused(2008, admin, "getZones", query={"orderBy": {"attribute": "serial"}})
    assert world.login("r1").call("Dns", "getZones", query={})["total"] == 2


# -- audit and ownership ---------------------------------------------------------------------------------


def test_every_change_is_audited(world):
    r1 = world.login("r1")
    add_zone(r1, "example.com", customer=world.c1)
    r1.call("Dns", "updateZone", zone=("DnsZone", {"name": "example.com", "info": "x"}))
    record = add_record(r1, "example.com", "www", "A", "192.0.2.1")
    r1.call("Dns", "updateRecord", record=("DnsRecord", {"id": record["id"], "value": "192.0.2.2"}))
    r1.call("Dns", "deleteRecord", recordId=record["id"])
    forward = add_fancy(r1, "example.com", "info", "MBOXFW", "x@example.net")
    r1.call(
        "Dns",
        "updateFancyRecord",
        record=("DnsFancyRecord", {"id": forward["id"], "value": "y@example.net"}),
    )
    r1.call("Dns", "deleteFancyRecord", recordId=forward["id"])
    r1.call("Dns", "deleteZone", zone="example.com")
    rows = world.sql(
        "SELECT login, acting_as, action, kind, record_key FROM audit_log WHERE kind LIKE 'dns%' ORDER BY id"
    )
    a, f = str(record["id"]), str(forward["id"])
    assert [row[2:] for row in rows] == [
        ("create", "dns_zone", "example.com"), ("update", "dns_zone", "example.com"),
        ("create", "dns_record", a), ("update", "dns_record", a), ("delete", "dns_record", a),
        ("create", "dns_fancy_record", f), ("update", "dns_fancy_record", f),
        ("delete", "dns_fancy_record", f), ("delete", "dns_zone", "example.com"),
    ]  # fmt: skip
    assert {row[:2] for row in rows} == {("r1", world.r1)}


def test_a_customer_with_dns_zones_or_records_cannot_be_deleted(world):
    r1 = world.login("r1")
    add_zone(r1, "c1.example", customer=world.c1)
    add_record(r1, "c1.example", "www", "A", "192.0.2.1")
    add_fancy(r1, "c1.example", "info", "MBOXFW", "x@example.net")
    add_record(r1, "c1.example", "c2", "A", "192.0.2.2", owner=world.c2)
    error = refused(5005, r1, "deleteAccount", port="Customer", id=world.c1)
    assert "1 DNS zone and 3 DNS records" in error.errorstring
    error = refused(5005, r1, "deleteAccount", port="Customer", id=world.c2)
    assert "1 DNS record" in error.errorstring and "zone" not in error.errorstring
    r1.call("Dns", "deleteRecord", recordId=3)
    r1.call("Customer", "deleteAccount", id=world.c2)
    r1.call("Dns", "deleteRecord", recordId=1)
    r1.call("Dns", "deleteFancyRecord", recordId=2)
    r1.call("Dns", "deleteZone", zone="c1.example")
    r1.call("Customer", "deleteAccount", id=world.c1)


# -- a WSDL-driven client ------------------------------------------------------------------------------


def test_zeep_manages_zones_and_records_from_the_served_wsdl(server):
    client = zeep.Client(server.url + "wsdl")
    client.set_default_soapheaders(
        {"auth": {"username": "admin", "password": "secret", "admin": True}}
    )
    dns = client.bind("NGNPro", "DnsPort")
    assert (
        dns.addZone(zone={"name": "example.com", "ttl": 600, "nameservers": ["ns1.example.net"]})
        is None
    )
    zone = dns.getZone(zone="example.com")
    assert (zone.ttl, zone.nameservers, zone.serial) == (
        600,
        ["ns1.example.net"],
        todays_first_serial(),
    )
    record = dns.addRecord(
        record={
            "zone": "example.com",
            "name": "@",
            "type": "MX",
            "value": "mx.example.net",
            "priority": 5,
        }
    )
    assert (record.id, record.name, record.priority, record.ttl) == (
        1,
        None,
        5,
        600,
    )  # zeep: "" is None
    forward = dns.addFancyRecord(
        record={"zone": "example.com", "name": "info", "type": "MBOXFW", "value": "i@example.net"}
    )
    assert forward.id == 2
    records = dns.getRecords(query={"filter": {"zone": "example.com"}})
    assert records.total == 1 and [r.type for r in records.records] == ["MX"]
    assert [r.value for r in dns.getFancyRecords(query={}).records] == ["i@example.net"]
    assert dns.getZones(query={"orderBy": {"attribute": "changeDate", "direction": "DESC"}}).zones[
        0
    ].serial == (todays_first_serial() + 2)
