"""Every captured CDRTool request for EnumPort, replayed byte for byte over a socket, gets the
right answer: checked against the XML and against the stored state.

The captures talk about customer 7 (reseller alice/pw, active), range +3120 under e164.arpa
(11-digit numbers) and number +31201234567. enum-addNumber is admin impersonating 7, so
reseller 7 needs an ``enum_number_credit``; every other capture is full admin.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.support.wire import SoapFault, read_response, replay
from tests.test_customer_captures import seed_reseller_seven

RANGE_ID = {"prefix": "3120", "tld": "e164.arpa"}
NUMBER_ID = {"number": "31201234567", "tld": "e164.arpa"}
SIP_MAPPING = {"type": "sip", "mapto": "sip:bob@example.com", "ttl": 3600, "priority": 5}


def ok(server, name: str, operation: str):
    return read_response(replay(server.url, name), "Enum", operation)


def fault(server, name: str) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        read_response(replay(server.url, name))
    assert info.value.faultcode == "SOAP-ENV:Client"
    return info.value


def credit(server, enum_number_credit: int) -> None:
    server.admin().call(
        "Customer", "setProperties", customer=7,
        properties=[{"name": "enum_number_credit", "value": str(enum_number_credit), "category": "credit",
                     "permission": "admin"}],
    )  # fmt: skip


def seed_range(server, **fields: Any) -> None:
    """Range +3120 under e164.arpa of customer 7, as the addRange capture makes it."""
    enum_range = {"id": RANGE_ID, "ttl": 3600, "minDigits": 11, "maxDigits": 11, "info": "Amsterdam", "customer": 7}
    server.admin().call("Enum", "addRange", range=("EnumRange", {**enum_range, **fields}))


def seed_number(server, number: str = "31201234567", tld: str = "e164.arpa", **fields: Any) -> None:
    server.admin().call("Enum", "addNumber", number=("EnumNumber", {"id": {"number": number, "tld": tld}, **fields}))


def the_range(server, prefix: str = "3120") -> dict[str, Any]:
    result = server.admin().call("Enum", "getRanges", query={"filter": {"prefix": prefix}})
    assert result["total"] == 1
    return result["ranges"][0]


def usage(server, credit_name: str) -> dict[tuple[str, int], int]:
    with server.database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT scope, holder, used FROM credit_usage WHERE credit = :c"), {"c": credit_name}
        ).all()
    return {(scope, holder): used for scope, holder, used in rows}


def audit_trail(server) -> list[tuple[str, str, str, bool, int | None]]:
    with server.database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, kind, record_key, admin_login, acting_as FROM audit_log "
                 "WHERE kind LIKE 'enum%' ORDER BY id")
        ).all()  # fmt: skip
    return [tuple(r) for r in rows]


# -- ranges ----------------------------------------------------------------------------------


def test_add_range_stores_the_range_for_customer_seven(server):
    seed_reseller_seven(server)
    response = ok(server, "enum-addRange", "addRange")
    assert response.value is None
    assert b"<ns2:addRangeResponse/>" in response.http.body
    stored = the_range(server)
    assert len(stored.pop("changeDate")) == 19
    assert stored == {
        "id": RANGE_ID, "ttl": 3600, "minDigits": 11, "maxDigits": 11, "size": 0, "nameservers": [],
        "used": 0, "serial": 1, "customer": 7, "reseller": 7, "info": "Amsterdam",
    }  # fmt: skip
    # admin's ranges are counted, not limited; a reseller's own ranges count once, as the reseller's
    assert usage(server, "enum_range_credit") == {("reseller", 7): 1}
    assert audit_trail(server) == [("create", "enum_range", "3120@e164.arpa", True, None)]


def test_add_range_twice_is_refused_with_3001(server):
    seed_reseller_seven(server)
    ok(server, "enum-addRange", "addRange")
    error = fault(server, "enum-addRange")
    assert error.errorcode == 3001 and error.faultstring.startswith("Duplicate range" + ": ")
    assert error.errorstring == "ENUM range +3120 under e164.arpa already exists."
    assert usage(server, "enum_range_credit") == {("reseller", 7): 1}


def test_add_range_for_a_missing_customer_is_5002(server):
    error = fault(server, "enum-addRange")
    assert error.errorcode == 5002
    assert server.admin().call("Enum", "getRanges", query={})["total"] == 0


def test_get_ranges_filters_by_prefix_and_orders_by_change_date_descending(server):
    seed_reseller_seven(server)
    seed_range(server)
    seed_range(server, id={"prefix": "3130", "tld": "e164.arpa"}, info="Utrecht")
    seed_range(server, id={"prefix": "4420", "tld": "e164.arpa"}, info="London")
    seed_number(server)
    response = ok(server, "enum-getRanges", "getRanges")
    assert response.value["total"] == 2
    # equal change dates (same second) fall back to id, descending too
    assert [r["id"]["prefix"] for r in response.value["ranges"]] == ["3130", "3120"]
    assert [r["used"] for r in response.value["ranges"]] == [0, 1]
    assert b'SOAP-ENC:arrayType="ns1:EnumRange[2]"' in response.http.body
    assert b'<nameservers xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:string[0]"/>' in response.http.body


def test_get_ranges_with_nothing_to_show_is_an_empty_typed_array(server):
    response = ok(server, "enum-getRanges", "getRanges")
    assert response.value == {"total": 0, "ranges": []}
    assert b'SOAP-ENC:arrayType="ns1:EnumRange[0]"' in response.http.body


def test_update_range_changes_ttl_name_servers_and_bumps_the_serial(server):
    seed_reseller_seven(server)
    seed_range(server)
    seed_number(server)
    assert ok(server, "enum-updateRange", "updateRange").value is None
    stored = the_range(server)
    assert stored["ttl"] == 7200 and stored["nameservers"] == ["ns1.example.com"]
    assert stored["minDigits"] == stored["maxDigits"] == 11 and stored["info"] == "Amsterdam"
    assert stored["customer"] == 7 and stored["reseller"] == 7
    assert stored["serial"] == 3  # created 1, a number added 2, updated 3
    assert audit_trail(server)[-1] == ("update", "enum_range", "3120@e164.arpa", True, None)


def test_update_range_refused_when_numbers_would_fall_outside_the_digit_bounds(server):
    seed_reseller_seven(server)
    seed_range(server, minDigits=0, maxDigits=0)
    seed_number(server, "312012345678")
    error = fault(server, "enum-updateRange")
    assert error.errorcode == 3007
    assert error.errorstring == (
        "ENUM range +3120 under e164.arpa has 1 number outside 11 digits; change or delete them first."
    )
    stored = the_range(server)
    assert stored["ttl"] == 3600 and stored["maxDigits"] == 0 and stored["serial"] == 2


def test_update_range_of_a_missing_range_is_3003(server):
    seed_reseller_seven(server)
    error = fault(server, "enum-updateRange")
    assert error.errorcode == 3003 and error.errorstring == "ENUM range +3120 under e164.arpa does not exist."


def test_delete_range_removes_it_and_gives_its_credit_back(server):
    seed_reseller_seven(server)
    seed_range(server)
    assert ok(server, "enum-deleteRange", "deleteRange").value is None
    assert server.admin().call("Enum", "getRanges", query={})["total"] == 0
    assert usage(server, "enum_range_credit") == {("reseller", 7): 0}
    assert fault(server, "enum-deleteRange").errorcode == 3003


def test_delete_range_with_numbers_is_refused_saying_how_many(server):
    seed_reseller_seven(server)
    seed_range(server)
    seed_number(server)
    seed_number(server, "31207654321")
    error = fault(server, "enum-deleteRange")
    assert error.errorcode == 3004 and error.faultstring.startswith("Range not empty" + ": ")
    assert error.errorstring == "ENUM range +3120 under e164.arpa still has 2 numbers; delete them first."
    assert the_range(server)["used"] == 2


# -- numbers ---------------------------------------------------------------------------------


def test_add_number_as_admin_impersonating_the_reseller(server):
    seed_reseller_seven(server)
    seed_range(server)
    credit(server, 10)
    response = ok(server, "enum-addNumber", "addNumber")
    assert response.value is None and b"<ns2:addNumberResponse/>" in response.http.body
    number = server.admin().call("Enum", "getNumber", enumId=("EnumId", NUMBER_ID))
    assert len(number.pop("changeDate")) == 19
    mapping_id = number["mappings"][0]["id"]
    assert number == {
        "id": NUMBER_ID, "owner": 7, "info": "office", "customer": 7, "reseller": 7,
        "mappings": [{"id": mapping_id, **SIP_MAPPING}],
    }  # fmt: skip
    assert the_range(server)["serial"] == 2 and the_range(server)["used"] == 1
    assert usage(server, "enum_number_credit") == {("reseller", 7): 1}
    assert audit_trail(server)[-1] == ("create", "enum_number", "31201234567@e164.arpa", True, 7)


def test_add_number_without_the_resellers_number_credit_is_6001(server):
    seed_reseller_seven(server)
    seed_range(server)
    error = fault(server, "enum-addNumber")
    assert error.errorcode == 6001 and error.faultstring.startswith("Credit exhausted" + ": ")
    assert error.errorstring == "ENUM number credit of reseller 7 is exhausted (0 of 0 used)."
    assert fault(server, "enum-getNumber").errorcode == 3002


def test_add_number_twice_is_refused_with_3005(server):
    seed_reseller_seven(server)
    seed_range(server)
    credit(server, 10)
    ok(server, "enum-addNumber", "addNumber")
    error = fault(server, "enum-addNumber")
    assert error.errorcode == 3005
    assert error.errorstring == "ENUM number +31201234567 under e164.arpa already exists."
    assert usage(server, "enum_number_credit") == {("reseller", 7): 1}


def test_add_number_without_a_range_is_3006(server):
    seed_reseller_seven(server)
    credit(server, 10)
    error = fault(server, "enum-addNumber")
    assert error.errorcode == 3006
    assert error.errorstring == "No ENUM range under e164.arpa holds the number +31201234567."


def test_get_number_returns_it_with_typed_mappings(server):
    seed_reseller_seven(server)
    seed_range(server)
    seed_number(server, owner=7, info="office", mappings=[SIP_MAPPING])
    response = ok(server, "enum-getNumber", "getNumber")
    number = response.value
    assert number["id"] == NUMBER_ID and number["owner"] == 7 and number["customer"] == 7
    assert [{k: v for k, v in m.items() if k != "id"} for m in number["mappings"]] == [SIP_MAPPING]
    assert isinstance(number["mappings"][0]["id"], int)
    assert b'SOAP-ENC:arrayType="ns1:EnumMapping[1]"' in response.http.body


def test_get_number_of_a_missing_number_is_3002(server):
    error = fault(server, "enum-getNumber")
    assert error.errorcode == 3002 and error.faultstring.startswith("Number not found" + ": ")
    assert error.errorstring == "ENUM number +31201234567 under e164.arpa does not exist."


def test_get_numbers_matches_number_tld_and_mapping_type(server):
    seed_reseller_seven(server)
    seed_range(server)
    seed_range(server, id={"prefix": "3120", "tld": "e164.org"})
    seed_number(server, mappings=[SIP_MAPPING])
    seed_number(server, "31209999999", mappings=[{"type": "mailto", "mapto": "mailto:bob@example.com"}])
    seed_number(server, "31201111111", "e164.org", mappings=[SIP_MAPPING])
    response = ok(server, "enum-getNumbers", "getNumbers")
    assert response.value["total"] == 1
    [number] = response.value["numbers"]
    assert number["id"] == NUMBER_ID and number["mappings"][0]["mapto"] == "sip:bob@example.com"
    assert b'SOAP-ENC:arrayType="ns1:EnumNumber[1]"' in response.http.body


def test_update_number_sets_owner_info_and_replaces_the_mappings(server):
    seed_reseller_seven(server)
    seed_range(server)
    seed_number(server, mappings=[{"type": "tel", "mapto": "tel:+31201234567"}])
    assert usage(server, "enum_number_credit") == {("reseller", 7): 1}
    assert ok(server, "enum-updateNumber", "updateNumber").value is None
    number = server.admin().call("Enum", "getNumber", enumId=("EnumId", NUMBER_ID))
    assert number["owner"] == 7 and number["info"] == "office"
    assert [(m["type"], m["mapto"], m["ttl"], m["priority"]) for m in number["mappings"]] == [
        ("sip", "sip:bob@example.com", 3600, 5),
        ("mailto", "mailto:bob@example.com", 3600, 10),
    ]
    # owner 7 is the range's customer: the number still counts once
    assert usage(server, "enum_number_credit") == {("reseller", 7): 1}
    assert the_range(server)["serial"] == 3
    assert audit_trail(server)[-1] == ("update", "enum_number", "31201234567@e164.arpa", True, None)


def test_update_number_of_a_missing_number_is_3002(server):
    seed_reseller_seven(server)
    seed_range(server)
    assert fault(server, "enum-updateNumber").errorcode == 3002


def test_delete_number_removes_it_with_its_mappings_and_credit(server):
    seed_reseller_seven(server)
    seed_range(server)
    seed_number(server, owner=7, mappings=[SIP_MAPPING])
    assert ok(server, "enum-deleteNumber", "deleteNumber").value is None
    assert fault(server, "enum-getNumber").errorcode == 3002
    assert usage(server, "enum_number_credit") == {("reseller", 7): 0}
    assert the_range(server)["serial"] == 3 and the_range(server)["used"] == 0
    with server.database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM enum_mappings")).scalar_one() == 0
    assert audit_trail(server)[-1] == ("delete", "enum_number", "31201234567@e164.arpa", True, None)
    assert fault(server, "enum-deleteNumber").errorcode == 3002
