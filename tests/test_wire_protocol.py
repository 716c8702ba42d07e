"""The SOAP wire protocol as NGNPro clients meet it: what the server accepts leniently, what
it refuses and how (Faults with errorcodes, never a traceback), how every answer is framed,
the WSDL and health routes, and that passwords never reach the logs or the database in
clear. Everything goes over real HTTP to the real application; raw envelopes are used where
the exact XML matters."""

from __future__ import annotations

import json
import logging
import re
import socket
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from ngnserver import config, db
from ngnserver.app import NGNProApp
from tests.conftest import ADMIN, make_settings, serve_app
from tests.support.wire import (
    ENC,
    ENV,
    TYPES,
    XSI,
    Client,
    HttpResponse,
    SoapFault,
    http_exchange,
    post,
    read_response,
)

XSD = "http://www.w3.org/2001/XMLSchema"
CUSTOMER_NS = "urn:AGProjects:NGNPro:Customer"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"

ADMIN_AUTH = (
    "<auth>"
    f'<username xsi:type="xsd:string">{ADMIN[0]}</username>'
    f'<password xsi:type="xsd:string">{ADMIN[1]}</password>'
    '<admin xsi:type="xsd:boolean">true</admin>'
    "</auth>"
)


def envelope(body: str, header: str | None = ADMIN_AUTH, extra_ns: str = "") -> bytes:
    """A SOAP 1.1 envelope with PEAR's prefixes; ``body`` goes inside SOAP-ENV:Body as is,
    ``header`` (None: no Header at all) inside SOAP-ENV:Header."""
    head = "" if header is None else f"<SOAP-ENV:Header>{header}</SOAP-ENV:Header>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{ENV}" xmlns:xsd="{XSD}" xmlns:xsi="{XSI}" '
        f'xmlns:SOAP-ENC="{ENC}" xmlns:ns4="{TYPES}" xmlns:ns5="{CUSTOMER_NS}"{extra_ns} '
        f'SOAP-ENV:encodingStyle="{ENC}">{head}<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>'
    ).encode()


def customer_call(operation: str, parts: str, header: str | None = ADMIN_AUTH) -> bytes:
    return envelope(f"<ns5:{operation}>{parts}</ns5:{operation}>", header)


def ok(server, body: bytes, operation: str | None = None):
    return read_response(post(server.url, body), "Customer" if operation else None, operation).value


def fault(server, body: bytes) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        read_response(post(server.url, body))
    return info.value


def add_customer(server, **fields) -> dict:
    fields.setdefault("password", "pw")
    return server.admin().call("Customer", "addAccount", account=("CustomerAccount", fields))


def get_account(server, customer_id: int) -> dict:
    return server.admin().call("Customer", "getAccount", id=customer_id)


def customer_count(server) -> int:
    return server.admin().call("Customer", "getCustomers", query=("CustomerQuery", {}))["total"]


def get(
    server, path: str, host: str | None = None, headers: dict[str, str] | None = None
) -> HttpResponse:
    host = host or server.base_url.split("//", 1)[1]
    lines = [
        f"GET {path} HTTP/1.0",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return http_exchange(server.base_url, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


# -- leniency ---------------------------------------------------------------------------------


def test_an_int_sent_as_xsd_string_is_coerced(server):
    for n in range(1, 8):
        add_customer(server, username=f"user{n}")
    account = ok(
        server, customer_call("getAccount", '<id xsi:type="xsd:string">7</id>'), "getAccount"
    )
    assert account["id"] == 7 and account["username"] == "user7"


def test_an_int_member_sent_as_xsd_string_inside_a_struct_is_coerced(server):
    add_customer(server, username="alice")
    parts = (
        '<query xsi:type="ns4:CustomerQuery"><filter>'
        '<customer xsi:type="xsd:string">1</customer></filter>'
        '<range><start xsi:type="xsd:string">0</start><count xsi:type="xsd:string">5</count></range></query>'
    )
    result = ok(server, customer_call("getCustomers", parts), "getCustomers")
    assert result["total"] == 1 and result["accounts"][0]["username"] == "alice"


@pytest.mark.parametrize(
    ("xsi_type", "sent", "stored"),
    [
        ("xsd:int", "1", True),
        ("xsd:int", "0", False),
        ("xsd:string", "true", True),
        ("xsd:string", "false", False),
        ("xsd:boolean", "true", True),
        ("xsd:boolean", "false", False),
        ("xsd:string", "True", True),
    ],
)
def test_reseller_active_accepts_ints_and_words(server, xsi_type, sent, stored):
    parts = (
        '<account xsi:type="ns4:CustomerAccount"><username xsi:type="xsd:string">alice</username>'
        f'<resellerActive xsi:type="{xsi_type}">{sent}</resellerActive></account>'
    )
    created = ok(server, customer_call("addAccount", parts), "addAccount")
    assert created["resellerActive"] is stored
    assert get_account(server, created["id"])["resellerActive"] is stored


def test_members_qualified_in_an_arbitrary_namespace_still_match(server):
    parts = (
        '<account xmlns:q="urn:example:whatever" xsi:type="ns4:CustomerAccount">'
        '<q:username xsi:type="xsd:string">alice</q:username>'
        '<q:firstName xsi:type="xsd:string">Alice</q:firstName>'
        '<ns4:city xsi:type="xsd:string">Delft</ns4:city></account>'
    )
    created = ok(server, customer_call("addAccount", parts), "addAccount")
    assert (created["username"], created["firstName"], created["city"]) == (
        "alice",
        "Alice",
        "Delft",
    )


def test_an_untyped_empty_member_is_not_given_and_keeps_the_old_value(server):
    created = add_customer(server, username="alice", firstName="Alice", city="Delft")
    parts = (
        f'<account xsi:type="ns4:CustomerAccount"><id xsi:type="xsd:int">{created["id"]}</id>'
        "<firstName/><city></city></account>"
    )
    assert ok(server, customer_call("updateAccount", parts), "updateAccount") is None
    account = get_account(server, created["id"])
    assert account["firstName"] == "Alice" and account["city"] == "Delft"


def test_a_typed_empty_string_sets_the_member_to_empty(server):
    created = add_customer(server, username="alice", firstName="Alice", city="Delft")
    parts = (
        f'<account xsi:type="ns4:CustomerAccount"><id xsi:type="xsd:int">{created["id"]}</id>'
        '<firstName xsi:type="xsd:string"></firstName><city xsi:type="xsd:string"/></account>'
    )
    assert ok(server, customer_call("updateAccount", parts), "updateAccount") is None
    account = get_account(server, created["id"])
    assert account["firstName"] == "" and account["city"] == ""


def test_unknown_members_are_ignored(server):
    parts = (
        '<account xsi:type="ns4:CustomerAccount"><username xsi:type="xsd:string">alice</username>'
        '<favouriteColour xsi:type="xsd:string">blue</favouriteColour>'
        '<createDate xsi:type="xsd:string">2001-01-01 00:00:00</createDate>'
        "<nested><deeper>1</deeper></nested></account>"
    )
    created = ok(server, customer_call("addAccount", parts), "addAccount")
    assert created["username"] == "alice"
    assert "favouriteColour" not in created


def test_unknown_parts_of_an_operation_are_ignored(server):
    created = add_customer(server, username="alice")
    parts = f'<id xsi:type="xsd:int">{created["id"]}</id><trace xsi:type="xsd:string">x</trace>'
    assert ok(server, customer_call("getAccount", parts), "getAccount")["username"] == "alice"


@pytest.mark.parametrize(
    "auth_open",
    [
        "<auth>",
        f'<auth xmlns="{TYPES}">',
        '<ns4:auth SOAP-ENV:mustUnderstand="1">',
        '<auth SOAP-ENV:mustUnderstand="1">',
        '<auth SOAP-ENV:mustUnderstand="0" SOAP-ENV:actor="http://schemas.xmlsoap.org/soap/actor/next">',
    ],
    ids=[
        "no-namespace",
        "types-namespace-default",
        "types-namespace-mustUnderstand",
        "mustUnderstand",
        "actor",
    ],
)
def test_the_auth_header_is_accepted_in_no_namespace_and_in_the_types_namespace(server, auth_open):
    add_customer(server, username="alice")
    close = "</ns4:auth>" if auth_open.startswith("<ns4:") else "</auth>"
    header = (
        f"{auth_open}<username>{ADMIN[0]}</username><password>{ADMIN[1]}</password>"
        f"<admin>1</admin>{close}"
    )
    result = ok(server, customer_call("getCustomers", "<query/>", header=header), "getCustomers")
    assert result["total"] == 1


def test_the_auth_header_members_are_matched_whatever_their_namespace(server):
    header = (
        '<auth xmlns:q="urn:example:q"><q:username>admin</q:username>'
        '<q:password xsi:type="xsd:string">secret</q:password><q:admin xsi:type="xsd:int">1</q:admin></auth>'
    )
    assert (
        ok(server, customer_call("getCustomers", "<query/>", header=header), "getCustomers")[
            "total"
        ]
        == 0
    )


def test_array_items_may_have_any_element_name(server):
    created = add_customer(server, username="alice")
    parts = (
        f'<customer xsi:type="xsd:int">{created["id"]}</customer>'
        '<properties xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="Struct[3]" xmlns:z="urn:example:z">'
        "<item><name>first</name><value>1</value></item>"
        "<property><name>second</name><value>2</value></property>"
        "<z:entry><name>third</name><value>3</value></z:entry>"
        "</properties>"
    )
    assert ok(server, customer_call("setProperties", parts), "setProperties") is None
    props = server.admin().call("Customer", "getProperties", customer=created["id"])
    assert {p["name"]: p["value"] for p in props} == {"first": "1", "second": "2", "third": "3"}


ALICE_AUTH = "<auth><username>alice</username><password>pw</password><admin>false</admin></auth>"


@pytest.mark.parametrize("item", ["<item/>", "<item></item>", '<item xsi:nil="true"/>'])
def test_an_empty_property_item_is_ignored_for_any_caller(server, item):
    created = add_customer(server, username="alice")
    parts = (
        f'<customer xsi:type="xsd:int">{created["id"]}</customer>'
        f"<properties>{item}<item><name>kept</name><value>1</value></item></properties>"
    )
    for header in (ADMIN_AUTH, ALICE_AUTH):
        assert ok(server, customer_call("setProperties", parts, header), "setProperties") is None
    assert [p["name"] for p in server.admin().call("Customer", "getProperties", customer=created["id"])] == ["kept"]


@pytest.mark.parametrize(
    ("item", "errorcode"),
    [
        ("<item>text</item>", 2006),
        ("<item><value>1</value></item>", 5007),
        ("<item><name>x</name><value>1</value><permission>god</permission></item>", 5007),
    ],
)
def test_a_property_without_a_name_or_with_an_unknown_permission_is_a_client_fault(server, item, errorcode):
    created = add_customer(server, username="alice")
    parts = f'<customer xsi:type="xsd:int">{created["id"]}</customer><properties>{item}</properties>'
    for header in (ADMIN_AUTH, ALICE_AUTH):
        failure = fault(server, customer_call("setProperties", parts, header))
        assert (failure.errorcode, failure.faultcode) == (errorcode, "SOAP-ENV:Client"), failure
    assert server.admin().call("Customer", "getProperties", customer=created["id"]) == []


def test_lists_and_properties_per_customer_are_bounded(server):
    created = add_customer(server, username="alice")
    alice = server.login("alice", "pw")

    def props(n, start=0, size=1):
        return [{"name": f"p{i}", "value": "v" * size} for i in range(start, start + n)]

    too_many = pytest.raises(SoapFault)
    with too_many as info:
        alice.call("Customer", "setProperties", customer=created["id"], properties=props(101))
    assert info.value.errorcode == 2006 and "at most 100" in info.value.errorstring
    # a list within the bound, repeated, still cannot pile up more than the bound
    alice.call("Customer", "setProperties", customer=created["id"], properties=props(60))
    with pytest.raises(SoapFault) as info:
        alice.call("Customer", "setProperties", customer=created["id"], properties=props(60, start=60))
    assert info.value.errorcode == 2006 and "would keep 120 properties" in info.value.errorstring
    with pytest.raises(SoapFault) as info:
        alice.call("Customer", "setProperties", customer=created["id"], properties=props(40, start=60, size=1000))
    assert info.value.errorcode == 2006 and "32768 bytes" in info.value.errorstring
    assert len(server.admin().call("Customer", "getProperties", customer=created["id"])) == 60
    # deleting some makes room
    alice.call("Customer", "setProperties", customer=created["id"],
               properties=[{"name": f"p{i}", "value": ""} for i in range(20)] + props(60, start=60))  # fmt: skip
    assert len(server.admin().call("Customer", "getProperties", customer=created["id"])) == 100


def test_soap_enc_offset_and_an_undeclared_array_type_in_a_request_are_accepted(server):
    created = add_customer(server, username="alice")
    parts = (
        f'<customer xsi:type="xsd:int">{created["id"]}</customer>'
        '<properties xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="Struct[1]" SOAP-ENC:offset="[0]">'
        '<item><name xsi:type="xsd:string">colour</name><value xsi:type="xsd:string">blue</value>'
        '<category xsi:type="xsd:string">web</category><permission xsi:type="xsd:string">customer</permission>'
        "</item></properties>"
    )
    assert ok(server, customer_call("setProperties", parts), "setProperties") is None
    props = server.admin().call("Customer", "getProperties", customer=created["id"])
    assert props == [
        {"name": "colour", "value": "blue", "category": "web", "permission": "customer"}
    ]


def test_an_empty_self_closed_array_is_accepted(server):
    created = add_customer(server, username="alice")
    parts = (
        f'<customer xsi:type="xsd:int">{created["id"]}</customer>'
        '<properties xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="xsd:anyType[0]" SOAP-ENC:offset="[0]"/>'
    )
    assert ok(server, customer_call("setProperties", parts), "setProperties") is None


def test_comments_and_processing_instructions_in_the_body_are_harmless(server):
    body = envelope(
        "<!-- before --><?php echo 1; ?><ns5:addAccount><!-- a comment -->"
        '<account xsi:type="ns4:CustomerAccount"><username xsi:type="xsd:string">alice</username>'
        '<firstName xsi:type="xsd:string">Al<!-- split -->i<?pi x?>ce</firstName></account>'
        "</ns5:addAccount>"
    )
    created = ok(server, body, "addAccount")
    assert created["username"] == "alice" and created["firstName"] == "Alice"


def test_a_request_in_iso_8859_1_decodes(server):
    body = (
        envelope(
            '<ns5:addAccount><account xsi:type="ns4:CustomerAccount">'
            '<username xsi:type="xsd:string">jose</username>'
            '<firstName xsi:type="xsd:string">José</firstName></account></ns5:addAccount>'
        )
        .decode("utf-8")
        .replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    )
    response = post(
        server.url,
        body.encode("iso-8859-1"),
        headers={"Content-Type": "text/xml; charset=ISO-8859-1"},
    )
    created = read_response(response, "Customer", "addAccount").value
    assert created["firstName"] == "José"
    assert get_account(server, created["id"])["firstName"] == "José"


# -- bad values -------------------------------------------------------------------------------


def test_a_non_numeric_int_is_fault_2006_naming_the_field(server):
    response = post(server.url, customer_call("getAccount", '<id xsi:type="xsd:int">abc</id>'))
    assert response.status == 500
    assert response.headers["content-type"] == XML_CONTENT_TYPE
    with pytest.raises(SoapFault) as info:
        read_response(response)
    error = info.value
    assert error.errorcode == 2006 and error.faultcode == "SOAP-ENV:Client"
    assert "id" in error.errorstring and "abc" in error.errorstring


def test_a_non_numeric_int_inside_a_struct_names_its_path(server):
    parts = '<query xsi:type="ns4:CustomerQuery"><range><count xsi:type="xsd:int">twenty</count></range></query>'
    error = fault(server, customer_call("getCustomers", parts))
    assert error.errorcode == 2006
    assert "range.count" in error.errorstring and "twenty" in error.errorstring


def test_a_boolean_that_is_neither_true_nor_false_is_fault_2006(server):
    parts = (
        '<account xsi:type="ns4:CustomerAccount"><username xsi:type="xsd:string">alice</username>'
        '<resellerActive xsi:type="xsd:string">maybe</resellerActive></account>'
    )
    error = fault(server, customer_call("addAccount", parts))
    assert error.errorcode == 2006 and error.faultcode == "SOAP-ENV:Client"
    assert "resellerActive" in error.errorstring and "maybe" in error.errorstring
    assert customer_count(server) == 0


def test_a_non_numeric_double_is_fault_2006(server):
    parts = (
        '<account xsi:type="ns4:CustomerAccount"><username xsi:type="xsd:string">alice</username>'
        '<credit xsi:type="xsd:float">lots</credit></account>'
    )
    error = fault(server, customer_call("addAccount", parts))
    assert error.errorcode == 2006 and "credit" in error.errorstring


def test_a_structure_where_a_string_belongs_is_fault_2006(server):
    parts = (
        '<account xsi:type="ns4:CustomerAccount"><username><first>a</first></username></account>'
    )
    error = fault(server, customer_call("addAccount", parts))
    assert error.errorcode == 2006 and "username" in error.errorstring


def test_an_int_beyond_the_xsd_int_range_is_fault_2006(server):
    parts = (
        '<query xsi:type="ns4:CustomerQuery"><range>'
        '<start xsi:type="xsd:int">99999999999999999999</start><count xsi:type="xsd:int">5</count>'
        "</range></query>"
    )
    error = fault(server, customer_call("getCustomers", parts))
    assert error.faultcode == "SOAP-ENV:Client"
    assert error.errorcode == 2006 and "range.start" in error.errorstring


def test_a_string_longer_than_its_column_is_a_client_fault(server):
    parts = (
        '<account xsi:type="ns4:CustomerAccount">'
        f'<username xsi:type="xsd:string">{"u" * 300}</username></account>'
    )
    error = fault(server, customer_call("addAccount", parts))
    assert error.faultcode == "SOAP-ENV:Client" and error.errorcode == 2006
    assert "username" in error.errorstring
    assert customer_count(server) == 0


# -- dispatch ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        '<op:getAccount xmlns:op="urn:AGProjects:NGNPro:Nowhere"><id>1</id></op:getAccount>',
        '<op:getAccount xmlns:op="urn:AGProjects:NGNPro"><id>1</id></op:getAccount>',
        "<getAccount><id>1</id></getAccount>",
        "<ns5:getAccounts><id>1</id></ns5:getAccounts>",
    ],
    ids=["unknown-namespace", "types-namespace", "no-namespace", "unknown-name"],
)
def test_an_operation_no_port_offers_is_fault_2005_with_a_sentence(server, operation):
    error = fault(server, envelope(operation))
    assert error.errorcode == 2005 and error.faultcode == "SOAP-ENV:Client"
    assert "getAccount" in error.errorstring
    assert error.errorstring[0].isupper() and error.errorstring.endswith(".")


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><customer><id>1</id></customer>',
        (
            b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>'
            b'<m:getAccount xmlns:m="urn:AGProjects:NGNPro:Customer"/></env:Body></env:Envelope>'
        ),
        b'<Envelope><Body><m:getAccount xmlns:m="urn:AGProjects:NGNPro:Customer"/></Body></Envelope>',
    ],
    ids=["plain-xml", "soap-1.2", "unqualified-envelope"],
)
def test_a_body_that_is_not_a_soap_1_1_envelope_is_fault_2004(server, body):
    error = fault(server, body)
    assert error.errorcode == 2004 and error.faultcode == "SOAP-ENV:Client"


def test_an_envelope_without_a_body_is_fault_2004(server):
    body = (
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{ENV}" xmlns:xsi="{XSI}">'
        f"<SOAP-ENV:Header>{ADMIN_AUTH}</SOAP-ENV:Header></SOAP-ENV:Envelope>"
    ).encode()
    error = fault(server, body)
    assert error.errorcode == 2004 and "Body" in error.errorstring


def test_an_empty_body_is_fault_2004(server):
    assert fault(server, envelope("")).errorcode == 2004


def test_a_missing_auth_header_is_fault_4001(server):
    add_customer(server, username="alice")
    for header in (None, "", "<other>x</other>"):
        error = fault(server, customer_call("getCustomers", "<query/>", header=header))
        assert error.errorcode == 4001 and error.faultcode == "SOAP-ENV:Client"
        assert "alice" not in error.errorstring


def test_a_wrong_password_is_fault_4002_and_nothing_is_written(server):
    add_customer(server, username="alice")
    before = customer_count(server)
    intruder = Client(server.url, ADMIN[0], "not-the-password")
    with pytest.raises(SoapFault) as info:
        intruder.call(
            "Customer", "addAccount", account=("CustomerAccount", {"username": "mallory"})
        )
    assert info.value.errorcode == 4002 and info.value.faultcode == "SOAP-ENV:Client"
    with pytest.raises(SoapFault) as info:
        intruder.call("Customer", "deleteAccount", id=1)
    assert info.value.errorcode == 4002
    assert customer_count(server) == before == 1
    assert get_account(server, 1)["username"] == "alice"


def test_a_wrong_customer_password_is_fault_4002(server):
    add_customer(server, username="alice", password="right")
    with pytest.raises(SoapFault) as info:
        server.login("alice", "wrong").call("Customer", "getAccount", id=1)
    assert info.value.errorcode == 4002
    assert (
        server.login("alice", "right").call("Customer", "getAccount", id=1)["username"] == "alice"
    )


# -- responses --------------------------------------------------------------------------------

_EXCEPTION_NAME = re.compile(rb"\b[A-Z][A-Za-z]*(?:Error|Exception|Warning)\b")


def _assorted_requests(server) -> list[bytes]:
    created = add_customer(server, username="alice")
    return [
        customer_call("getAccount", f'<id xsi:type="xsd:int">{created["id"]}</id>'),
        customer_call("getCustomers", "<query/>"),
        customer_call("getProperties", f'<customer xsi:type="xsd:int">{created["id"]}</customer>'),
        customer_call("deleteAccount", '<id xsi:type="xsd:int">999</id>'),
        customer_call("getAccount", '<id xsi:type="xsd:int">abc</id>'),
        customer_call("getAccount", "<id>1</id>", header=None),
        customer_call("getAccount", "<id>1</id>", header=ADMIN_AUTH.replace(ADMIN[1], "nope")),
        envelope('<op:x xmlns:op="urn:nowhere"/>'),
        envelope("<ns5:addAccount><account><username>"),
        b"",
        b"\x00\xff\xfe garbage",
        b"<notsoap/>",
        customer_call(
            "addAccount",
            '<account xsi:type="ns4:CustomerAccount"><username>alice</username></account>',
        ),
    ]


def test_every_response_decodes_under_pears_rules_without_a_traceback(server):
    for body in _assorted_requests(server):
        response = post(server.url, body)
        try:
            read_response(response)  # enforces PEAR's rules on successes
        except SoapFault as error:
            assert error.faultcode in ("SOAP-ENV:Client", "SOAP-ENV:Server")
            assert error.errorcode and error.errorstring
        assert b"Traceback" not in response.body
        assert b'File "' not in response.body
        names = {m.decode() for m in _EXCEPTION_NAME.findall(response.body)} - {"NGNProException"}
        assert not names, (names, response.body)


def test_bad_input_faults_are_client_faults_with_a_typed_detail(server):
    response = post(server.url, customer_call("getAccount", '<id xsi:type="xsd:int">abc</id>'))
    body = response.body.decode()
    assert "<faultcode>SOAP-ENV:Client</faultcode>" in body
    # the title and the sentence (zeep shows only the faultstring); CDRTool reads the detail
    assert re.search(r"<faultstring>Invalid value: id must be a whole number[^<]*</faultstring>", body), body
    assert '<errorcode xsi:type="xsd:int">2006</errorcode>' in body
    assert re.search(
        r'<detail><exception[^>]*><errorcode [^>]*>2006</errorcode><errorstring xsi:type="xsd:string">',
        body,
    )


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_responses_have_a_content_length_no_chunking_and_the_exact_content_type(server, version):
    for body in _assorted_requests(server):
        response = post(server.url, body, version=version)
        assert response.headers["content-type"] == XML_CONTENT_TYPE
        assert "transfer-encoding" not in response.headers
        assert int(response.headers["content-length"]) == len(response.body)
        assert response.status in (200, 500)


# -- WSDL and other routes -----------------------------------------------------------------------


def _soap_address(wsdl: bytes) -> str:
    match = re.search(rb'<soap:address location="([^"]+)"', wsdl)
    assert match, wsdl[:300]
    return match.group(1).decode()


@pytest.mark.parametrize("path", ["/ngnpro/wsdl", "/ngnpro/?wsdl", "/ngnpro?wsdl"])
def test_the_wsdl_names_the_address_the_client_used(server, path):
    response = get(server, path)
    assert response.status == 200
    assert response.headers["content-type"] == XML_CONTENT_TYPE
    assert int(response.headers["content-length"]) == len(response.body)
    assert _soap_address(response.body) == server.url
    assert b"urn:AGProjects:NGNPro:Customer" in response.body


def test_the_wsdl_follows_the_host_header(server):
    port = server.base_url.rsplit(":", 1)[1]
    response = get(server, "/ngnpro/wsdl", host=f"localhost:{port}")
    assert _soap_address(response.body) == f"http://localhost:{port}/ngnpro/"
    assert (
        f'schemaLocation="http://localhost:{port}/ngnpro/soap-encoding.xsd"'.encode()
        in response.body
    )


def test_the_wsdl_honours_forwarded_proto_and_host(server):
    response = get(
        server,
        "/ngnpro/?wsdl",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ngn.example.net"},
    )
    assert response.status == 200
    assert _soap_address(response.body) == "https://ngn.example.net/ngnpro/"
    assert b'schemaLocation="https://ngn.example.net/ngnpro/soap-encoding.xsd"' in response.body
    # and the next client, reaching it directly, is not given the proxy's address
    assert _soap_address(get(server, "/ngnpro/wsdl").body) == server.url


def _wsdl_address_from(source: str, url: str, headers: dict[str, str]) -> str:
    parts = urlsplit(url)
    request = "".join(
        [f"GET /ngnpro/?wsdl HTTP/1.0\r\nHost: {parts.netloc}\r\n", *(f"{k}: {v}\r\n" for k, v in headers.items()), "\r\n"]
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(request.encode())
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    return _soap_address(raw.partition(b"\r\n\r\n")[2])


def test_forwarded_headers_are_believed_only_from_the_trusted_proxies(server, tmp_path):
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/x"}
    # the default trusts the loopback proxy 127.0.0.1 and ::1 only
    assert _wsdl_address_from("127.0.0.1", server.url, forged) == "https://evil.example/x/ngnpro/"
    assert _wsdl_address_from("127.0.0.2", server.url, forged) == server.url
    settings = make_settings(tmp_path, server.database.url, forwarded_allow_ips="10.0.0.0/8, 127.0.0.2")
    base, httpd = serve_app(NGNProApp(settings, server.database))
    try:
        assert _wsdl_address_from("127.0.0.2", base + "/ngnpro/", forged) == "https://evil.example/x/ngnpro/"
        assert _wsdl_address_from("127.0.0.1", base + "/ngnpro/", forged) == base + "/ngnpro/"
    finally:
        httpd.shutdown()


def test_a_bad_trusted_proxy_list_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("NGNSERVER_FORWARDED_ALLOW_IPS", "127.0.0.1,proxy.example")
    with pytest.raises(config.ConfigError, match="NGNSERVER_FORWARDED_ALLOW_IPS"):
        config.load()


def test_the_soap_encoding_schema_is_served(server):
    response = get(server, "/ngnpro/soap-encoding.xsd")
    assert response.status == 200
    assert response.headers["content-type"] == XML_CONTENT_TYPE
    assert b'targetNamespace="http://schemas.xmlsoap.org/soap/encoding/"' in response.body
    assert b"Array" in response.body


def test_get_on_the_endpoint_without_wsdl_is_405(server):
    response = get(server, "/ngnpro/")
    assert response.status == 405
    assert "POST" in response.headers.get("allow", "")


@pytest.mark.parametrize("path", ["/", "/nope", "/ngnpro/other", "/ngnpro/wsdl/x", "/healthz"])
def test_an_unknown_path_is_404(server, path):
    assert get(server, path).status == 404


def test_post_to_an_unknown_path_is_404(server):
    response = post(
        server.url.replace("/ngnpro/", "/elsewhere/"), customer_call("getCustomers", "<query/>")
    )
    assert response.status == 404


def test_health_is_ok_with_a_database(server):
    response = get(server, "/health")
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.body)["status"] == "ok"


@pytest.fixture
def server_without_database(tmp_path):
    app = NGNProApp(make_settings(tmp_path, "postgresql+psycopg2://nobody@127.0.0.1:1/x"))
    base, httpd = serve_app(app)
    yield base
    httpd.shutdown()
    app.db.dispose()


def test_health_is_503_when_the_database_does_not_answer(server_without_database):
    response = http_exchange(
        server_without_database, b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n", timeout=10
    )
    assert response.status == 503
    assert json.loads(response.body)["status"] != "ok"


def test_a_call_without_a_database_is_server_fault_9002(server_without_database):
    response = post(server_without_database + "/ngnpro/", customer_call("getCustomers", "<query/>"))
    with pytest.raises(SoapFault) as info:
        read_response(response)
    assert info.value.errorcode == 9002 and info.value.faultcode == "SOAP-ENV:Server"
    assert b"Traceback" not in response.body and b"psycopg2" not in response.body
    assert b"127.0.0.1" not in response.body  # no connection details either


# -- secrets ----------------------------------------------------------------------------------

SECRETS = ("s3cr3t-pw", "wr0ng-s3cr3t", "m4lformed-pw", "0verflow-pw")


def _record_texts(record: logging.LogRecord) -> list[str]:
    texts = [record.getMessage()]
    for value in record.__dict__.values():
        texts.append(repr(value))
    if record.exc_info:
        texts.append(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        texts.append(record.stack_info)
    return texts


def test_passwords_are_never_logged(server, caplog):
    caplog.set_level(logging.DEBUG)
    admin = server.admin()
    admin.call(
        "Customer",
        "addAccount",
        account=("CustomerAccount", {"username": "alice", "password": "s3cr3t-pw"}),
    )
    server.login("alice", "s3cr3t-pw").call("Customer", "getAccount", id=1)
    with pytest.raises(SoapFault):
        Client(server.url, ADMIN[0], "wr0ng-s3cr3t").call(
            "Customer", "getCustomers", query=("CustomerQuery", {})
        )
    with pytest.raises(SoapFault):
        server.login("alice", "wr0ng-s3cr3t").call("Customer", "getAccount", id=1)
    # malformed: the password sits in a request that does not parse
    with pytest.raises(SoapFault):
        read_response(
            post(
                server.url,
                customer_call("getAccount", "<id>1</id>", header=ADMIN_AUTH).replace(
                    b"</auth>", b"<password>m4lformed-pw</pass></auth>"
                ),
            )
        )
    # a password where a boolean belongs, and one in a request that fails on the server side
    with pytest.raises(SoapFault):
        read_response(
            post(
                server.url,
                customer_call(
                    "getAccount",
                    "<id>1</id>",
                    header=ADMIN_AUTH.replace("true</admin>", "m4lformed-pw</admin>"),
                ),
            )
        )
    overflow = customer_call(
        "updateAccount",
        '<account><id>1</id><password xsi:type="xsd:string">0verflow-pw</password>'
        '<reseller xsi:type="xsd:int">99999999999999999999</reseller></account>',
    )
    with pytest.raises(SoapFault):
        read_response(post(server.url, overflow))
    assert caplog.records, "the calls above were expected to log something"
    for record in caplog.records:
        for text_ in _record_texts(record):
            for secret in SECRETS:
                assert secret not in text_, (record.name, record.getMessage())


def test_passwords_are_sealed_at_rest(server):
    created = add_customer(server, username="alice", password="plain-pw-123")
    with server.database.engine.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM customers WHERE id = :id"), {"id": created["id"]})
            .mappings()
            .one()
        )
        props = conn.execute(text("SELECT * FROM customer_properties")).all()
    sealed = bytes(row["password_sealed"])
    assert sealed and b"plain-pw-123" not in sealed
    for name, value in row.items():
        raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
        assert b"plain-pw-123" not in raw, name
        assert b"cGxhaW4tcHctMTIz" not in raw, name  # not merely base64-encoded either
    assert all("plain-pw-123" not in repr(p) for p in props)
    assert get_account(server, created["id"])["password"] == "plain-pw-123"
    assert (
        server.login("alice", "plain-pw-123").call("Customer", "getAccount", id=created["id"])["id"]
        == created["id"]
    )


def test_the_same_password_is_sealed_differently_for_two_customers(server):
    add_customer(server, username="alice", password="same-pw")
    add_customer(server, username="bob", password="same-pw")
    with server.database.engine.connect() as conn:
        sealed = [
            bytes(v)
            for (v,) in conn.execute(text("SELECT password_sealed FROM customers ORDER BY id"))
        ]
    assert len(sealed) == 2 and sealed[0] != sealed[1]


# -- database connections ---------------------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["prepared", "unprepared"])
def pg_server(postgres, tmp_path, request):
    """A server of its own on PostgreSQL, so that its connections can be killed; with and
    without server-side prepared statements."""
    settings = make_settings(tmp_path, postgres.create_database("reconnect"), prepared_statements=request.param)
    app = NGNProApp(settings)
    app.db.migrate()
    base, httpd = serve_app(app)
    yield base + settings.endpoint_path, postgres
    httpd.shutdown()
    app.db.dispose()


@pytest.mark.parametrize("idle", [False, True], ids=["busy", "idle"])
def test_connections_killed_by_the_database_are_replaced(pg_server, monkeypatch, idle):
    """After the database drops every connection (a restart, a failover), a request fails at
    most with the 'try again' Fault and the next ones are served on new connections; a
    connection that sat idle is checked before use, so then no request fails at all."""
    url, postgres = pg_server
    if idle:  # as if every pooled connection had been idle longer than the ping threshold
        monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)
    admin = Client(url, *ADMIN)
    customer = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "rc", "password": "pw-rc"}))
    own_login = Client(url, "rc", "pw-rc", admin=False)  # authenticates with prepared statements
    assert own_login.call("Customer", "getAccount", id=customer["id"])["username"] == "rc"
    engine = create_engine(postgres.create_database("reconnect_killer"))
    try:
        with engine.connect() as conn:
            killed = conn.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'reconnect'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert killed >= 1
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(own_login.call("Customer", "getAccount", id=customer["id"])["username"])
        except SoapFault as fault:
            outcomes.append(fault.errorcode)
    assert outcomes[1:] == ["rc", "rc"]
    assert outcomes[0] == "rc" if idle else outcomes[0] in ("rc", 9002)
