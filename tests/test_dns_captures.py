"""Every captured CDRTool request for DnsPort, replayed byte for byte over a socket, gets the
right answer: checked against the XML and against the stored state.

The captures talk about customer 7 (reseller alice/pw), zone example.com, record 42 (www A)
and fancy record 43 (info MBOXFW); ``seven_with_records`` creates exactly those ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.wire import SoapFault, capture, read_response, replay
from tests.test_customer_captures import seed_reseller_seven

ZONE = {
    "name": "example.com", "ttl": 3600, "minimum": 3600, "retry": 1800, "expire": 604800,
    "email": "hostmaster@example.com", "info": "main", "nameservers": ["ns1.example.com", "ns2.example.com"],
    "customer": 7, "reseller": 7,
}  # fmt: skip


def todays_first_serial() -> int:
    return int(datetime.now(UTC).strftime("%Y%m%d")) * 100 + 1


def ok(server, name: str, operation: str) -> Any:
    return read_response(replay(server.url, name), "Dns", operation).value


def fault(server, name: str) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        read_response(replay(server.url, name))
    assert info.value.faultcode == "SOAP-ENV:Client"
    return info.value


def used(server, scope: str, holder: int, credit: str) -> int:
    with server.database.engine.connect() as conn:
        row = conn.execute(
            text("SELECT used FROM credit_usage WHERE scope = :s AND holder = :h AND credit = :c"),
            {"s": scope, "h": holder, "c": credit},
        ).first()
    return row[0] if row else 0


def audit_rows(server, kind: str) -> list[tuple[str, str]]:
    with server.database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, record_key FROM audit_log WHERE kind = :k ORDER BY id"),
            {"k": kind},
        )
        return [tuple(r) for r in rows]


@pytest.fixture
def seven(server):
    """Reseller 7 (alice/pw) and nothing else."""
    seed_reseller_seven(server)
    return server


@pytest.fixture
def seven_with_zone(seven):
    """Zone example.com of customer 7, with other SOA values and name servers than the
    captures send (so updateZone changes something)."""
    seven.admin().call(
        "Dns", "addZone",
        zone=("DnsZone", {**ZONE, "ttl": 7200, "info": "old", "nameservers": ["ns9.example.net"]}),
    )  # fmt: skip
    return seven


@pytest.fixture
def seven_with_records(seven_with_zone):
    """Records 1..41 in a filler zone, then record 42 (www A 192.0.2.10) and fancy record 43
    (info MBOXFW alice@example.net) in example.com, all of customer 7."""
    admin = seven_with_zone.admin()
    admin.call("Dns", "addZone", zone=("DnsZone", {"name": "filler.example", "customer": 7}))
    for n in range(1, 42):
        admin.call(
            "Dns",
            "addRecord",
            record=("DnsRecord", {"zone": "filler.example", "type": "TXT", "value": f"n={n}"}),
        )
    www = admin.call(
        "Dns", "addRecord",
        record=("DnsRecord", {"zone": "example.com", "name": "www", "type": "A", "value": "192.0.2.10", "owner": 7}),
    )  # fmt: skip
    info = admin.call(
        "Dns", "addFancyRecord",
        record=("DnsFancyRecord", {"zone": "example.com", "name": "info", "type": "MBOXFW",
                                   "value": "alice@example.net", "owner": 7}),
    )  # fmt: skip
    assert (www["id"], info["id"]) == (42, 43)
    return seven_with_zone


def zone_of(server, name: str = "example.com") -> dict[str, Any]:
    return server.admin().call("Dns", "getZone", zone=name)


# -- zones ---------------------------------------------------------------------------------------


def test_add_zone_by_admin_for_customer_seven(seven):
    first = todays_first_serial()
    assert ok(seven, "dns-addZone", "addZone") is None
    zone = zone_of(seven)
    assert len(zone.pop("changeDate")) == 19
    assert zone == {**ZONE, "serial": first}
    # counted (admin is not limited) against reseller 7, whose own zone it is
    assert used(seven, "reseller", 7, "dns_zone_credit") == 1
    assert audit_rows(seven, "dns_zone") == [("create", "example.com")]


def test_add_zone_twice_is_7001(seven):
    ok(seven, "dns-addZone", "addZone")
    error = fault(seven, "dns-addZone")
    assert error.errorcode == 7001 and "example.com" in error.errorstring
    assert used(seven, "reseller", 7, "dns_zone_credit") == 1


def test_add_zone_for_a_customer_that_does_not_exist_is_5002(server):
    assert fault(server, "dns-addZone").errorcode == 5002
    assert server.admin().call("Dns", "getZones", query={})["total"] == 0


def test_update_zone_applies_the_values_and_bumps_the_serial(seven_with_zone):
    before = zone_of(seven_with_zone)
    assert (before["ttl"], before["info"]) == (7200, "old")
    assert ok(seven_with_zone, "dns-updateZone", "updateZone") is None
    zone = zone_of(seven_with_zone)
    zone.pop("changeDate")
    # the echoed serial (2026112101) and changeDate are read-only
    assert zone == {**ZONE, "serial": before["serial"] + 1}
    assert audit_rows(seven_with_zone, "dns_zone") == [
        ("create", "example.com"),
        ("update", "example.com"),
    ]


def test_update_zone_with_the_stored_values_changes_nothing(seven_with_zone):
    ok(seven_with_zone, "dns-updateZone", "updateZone")
    serial = zone_of(seven_with_zone)["serial"]
    ok(seven_with_zone, "dns-updateZone", "updateZone")
    assert zone_of(seven_with_zone)["serial"] == serial
    assert len(audit_rows(seven_with_zone, "dns_zone")) == 2


def test_update_zone_that_does_not_exist_is_7002(seven):
    assert fault(seven, "dns-updateZone").errorcode == 7002


def test_delete_zone_gives_its_credit_back(seven_with_zone):
    assert used(seven_with_zone, "reseller", 7, "dns_zone_credit") == 1
    assert ok(seven_with_zone, "dns-deleteZone", "deleteZone") is None
    assert fault(seven_with_zone, "dns-getZone").errorcode == 7002
    assert used(seven_with_zone, "reseller", 7, "dns_zone_credit") == 0


def test_delete_zone_with_records_is_7005_naming_what_remains(seven_with_records):
    error = fault(seven_with_records, "dns-deleteZone")
    assert error.errorcode == 7005
    assert (
        error.errorstring
        == "DNS zone example.com still has 1 record and 1 fancy record; delete them first."
    )
    assert zone_of(seven_with_records)["name"] == "example.com"


def test_delete_zone_that_does_not_exist_is_7002(seven):
    assert fault(seven, "dns-deleteZone").errorcode == 7002


def test_get_zone(seven_with_zone):
    ok(seven_with_zone, "dns-updateZone", "updateZone")
    response = read_response(replay(seven_with_zone.url, "dns-getZone"), "Dns", "getZone")
    zone = response.value
    assert len(zone.pop("changeDate")) == 19
    assert zone == {**ZONE, "serial": todays_first_serial() + 1}
    assert b'<getZoneResult xsi:type="ns1:DnsZone">' in response.http.body
    assert b'SOAP-ENC:arrayType="xsd:string[2]"' in response.http.body


def test_get_zone_that_does_not_exist_is_7002(seven):
    error = fault(seven, "dns-getZone")
    assert error.errorcode == 7002 and error.errorstring == "DNS zone example.com does not exist."


def test_get_zones_filters_and_orders_by_change_date_descending(seven):
    admin = seven.admin()
    for name in ("example.com", "other.org", "example.net"):
        admin.call("Dns", "addZone", zone=("DnsZone", {"name": name, "customer": 7}))
    result = ok(seven, "dns-getZones", "getZones")
    assert result["total"] == 2
    assert [z["name"] for z in result["zones"]] == ["example.net", "example.com"]


def test_get_zones_with_no_match_is_an_empty_typed_array(seven):
    response = read_response(replay(seven.url, "dns-getZones"), "Dns", "getZones")
    assert response.value == {"total": 0, "zones": []}
    assert b'SOAP-ENC:arrayType="ns1:DnsZone[0]"' in response.http.body


# -- records -------------------------------------------------------------------------------------


def test_add_record_as_admin_impersonating_seven_returns_the_stored_record(seven_with_zone):
    serial = zone_of(seven_with_zone)["serial"]
    record = ok(seven_with_zone, "dns-addRecord", "addRecord")
    assert len(record.pop("changeDate")) == 19
    assert record == {
        "id": 1, "zone": "example.com", "name": "www", "type": "A", "value": "192.0.2.10",
        "priority": 0, "ttl": 3600, "owner": 7, "customer": 7, "reseller": 7,
    }  # fmt: skip
    assert zone_of(seven_with_zone)["serial"] == serial + 1
    assert audit_rows(seven_with_zone, "dns_record") == [("create", "1")]


def test_add_record_twice_is_7003(seven_with_zone):
    ok(seven_with_zone, "dns-addRecord", "addRecord")
    error = fault(seven_with_zone, "dns-addRecord")
    assert error.errorcode == 7003
    assert error.errorstring == "DNS record www.example.com A 192.0.2.10 already exists."


def test_add_record_in_a_zone_that_does_not_exist_is_7002(seven):
    assert fault(seven, "dns-addRecord").errorcode == 7002


def test_update_record(seven_with_records):
    serial = zone_of(seven_with_records)["serial"]
    assert ok(seven_with_records, "dns-updateRecord", "updateRecord") is None
    record = seven_with_records.admin().call("Dns", "getRecord", recordId=42)
    assert (record["name"], record["type"], record["value"], record["owner"]) == (
        "www",
        "A",
        "192.0.2.11",
        7,
    )
    assert zone_of(seven_with_records)["serial"] == serial + 1
    assert audit_rows(seven_with_records, "dns_record")[-1] == ("update", "42")


def test_update_record_that_does_not_exist_is_7004(seven_with_zone):
    error = fault(seven_with_zone, "dns-updateRecord")
    assert error.errorcode == 7004 and error.errorstring == "DNS record 42 does not exist."


def test_get_record(seven_with_records):
    record = ok(seven_with_records, "dns-getRecord", "getRecord")
    assert len(record.pop("changeDate")) == 19
    assert record == {
        "id": 42, "zone": "example.com", "name": "www", "type": "A", "value": "192.0.2.10",
        "priority": 0, "ttl": 7200, "owner": 7, "customer": 7, "reseller": 7,
    }  # fmt: skip


def test_get_record_that_does_not_exist_is_7004(seven_with_zone):
    assert fault(seven_with_zone, "dns-getRecord").errorcode == 7004


def test_delete_record(seven_with_records):
    serial = zone_of(seven_with_records)["serial"]
    assert ok(seven_with_records, "dns-deleteRecord", "deleteRecord") is None
    assert fault(seven_with_records, "dns-getRecord").errorcode == 7004
    assert fault(seven_with_records, "dns-deleteRecord").errorcode == 7004
    assert zone_of(seven_with_records)["serial"] == serial + 1
    assert audit_rows(seven_with_records, "dns_record")[-1] == ("delete", "42")


def test_get_records_filters_by_zone_and_type_ordered_by_name(seven_with_records):
    admin = seven_with_records.admin()
    for name, rtype, value in (
        ("mail", "A", "192.0.2.25"),
        ("www", "AAAA", "2001:db8::10"),
        ("", "TXT", "v=spf1 -all"),
    ):
        admin.call(
            "Dns",
            "addRecord",
            record=(
                "DnsRecord",
                {"zone": "example.com", "name": name, "type": rtype, "value": value},
            ),
        )
    response = read_response(replay(seven_with_records.url, "dns-getRecords"), "Dns", "getRecords")
    result = response.value
    assert result["total"] == 2
    assert [(r["name"], r["value"]) for r in result["records"]] == [
        ("mail", "192.0.2.25"),
        ("www", "192.0.2.10"),
    ]
    assert b'SOAP-ENC:arrayType="ns1:DnsRecord[2]"' in response.http.body


# -- fancy records -------------------------------------------------------------------------------


def test_add_fancy_record_counts_an_email_forward(seven_with_zone):
    record = ok(seven_with_zone, "dns-addFancyRecord", "addFancyRecord")
    assert len(record.pop("changeDate")) == 19
    assert record == {
        "id": 1, "zone": "example.com", "name": "info", "type": "MBOXFW", "value": "alice@example.net",
        "priority": 0, "ttl": 7200, "owner": 7, "customer": 7, "reseller": 7,
    }  # fmt: skip
    assert used(seven_with_zone, "reseller", 7, "email_credit") == 1
    assert audit_rows(seven_with_zone, "dns_fancy_record") == [("create", "1")]


def test_add_fancy_record_twice_is_7003(seven_with_zone):
    ok(seven_with_zone, "dns-addFancyRecord", "addFancyRecord")
    assert fault(seven_with_zone, "dns-addFancyRecord").errorcode == 7003
    assert used(seven_with_zone, "reseller", 7, "email_credit") == 1


def test_get_fancy_records(seven_with_records):
    seven_with_records.admin().call(
        "Dns", "addFancyRecord",
        record=("DnsFancyRecord", {"zone": "example.com", "name": "www", "type": "URL", "value": "https://example.net/"}),
    )  # fmt: skip
    response = read_response(
        replay(seven_with_records.url, "dns-getFancyRecords"), "Dns", "getFancyRecords"
    )
    result = response.value
    assert result["total"] == 1
    assert [(r["id"], r["name"], r["value"]) for r in result["records"]] == [
        (43, "info", "alice@example.net")
    ]
    assert b'SOAP-ENC:arrayType="ns1:DnsFancyRecord[1]"' in response.http.body


def test_delete_fancy_record_gives_the_email_credit_back(seven_with_records):
    assert used(seven_with_records, "reseller", 7, "email_credit") == 1
    assert ok(seven_with_records, "dns-deleteFancyRecord", "deleteFancyRecord") is None
    assert used(seven_with_records, "reseller", 7, "email_credit") == 0
    assert fault(seven_with_records, "dns-deleteFancyRecord").errorcode == 7004


def test_regular_and_fancy_operations_do_not_see_each_others_ids(seven_with_records):
    # record 42 is a regular record and 43 a fancy one: swapped, neither is found
    assert fault_with_record_id(seven_with_records, "dns-deleteRecord", 42, 43).errorcode == 7004
    assert (
        fault_with_record_id(seven_with_records, "dns-deleteFancyRecord", 43, 42).errorcode == 7004
    )
    assert fault_with_record_id(seven_with_records, "dns-getRecord", 42, 43).errorcode == 7004
    assert ok(seven_with_records, "dns-getRecord", "getRecord")["id"] == 42


def fault_with_record_id(server, name: str, captured: int, record_id: int) -> SoapFault:
    """The Fault for a capture replayed with another recordId."""
    body = capture(name)[2]
    old = f'<recordId xsi:type="xsd:int">{captured}</recordId>'.encode()
    assert old in body
    body = body.replace(old, f'<recordId xsi:type="xsd:int">{record_id}</recordId>'.encode())
    with pytest.raises(SoapFault) as info:
        read_response(replay(server.url, name, body=body))
    return info.value
