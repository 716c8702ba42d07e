"""Hostile and broken XML costs the server nothing: entity tricks, external references, deep
nesting, oversized bodies and garbage are all answered quickly with a proper SOAP Fault
(HTTP 500, text/xml, an errorcode), nothing is fetched or leaked, and the server answers the
next request as usual."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.conftest import ADMIN
from tests.support.wire import ENC, ENV, TYPES, XSI, HttpResponse, SoapFault, post, read_response

XSD = "http://www.w3.org/2001/XMLSchema"
CUSTOMER_NS = "urn:AGProjects:NGNPro:Customer"
MIB = 1024 * 1024

PROLOG = '<?xml version="1.0" encoding="{encoding}"?>\n'
ENVELOPE_OPEN = (
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{ENV}" xmlns:xsd="{XSD}" xmlns:xsi="{XSI}" '
    f'xmlns:SOAP-ENC="{ENC}" xmlns:ns4="{TYPES}" xmlns:ns5="{CUSTOMER_NS}">'
    "<SOAP-ENV:Header><auth>"
    f'<username xsi:type="xsd:string">{ADMIN[0]}</username>'
    f'<password xsi:type="xsd:string">{ADMIN[1]}</password>'
    '<admin xsi:type="xsd:boolean">true</admin></auth></SOAP-ENV:Header><SOAP-ENV:Body>'
)
ENVELOPE_CLOSE = "</SOAP-ENV:Body></SOAP-ENV:Envelope>"


def add_account_envelope(first_name: str, doctype: str = "", encoding: str = "UTF-8") -> str:
    """An admin addAccount for username "eve" whose firstName is ``first_name`` (raw XML)."""
    return (
        PROLOG.format(encoding=encoding)
        + doctype
        + ENVELOPE_OPEN
        + '<ns5:addAccount><account xsi:type="ns4:CustomerAccount">'
        + '<username xsi:type="xsd:string">eve</username>'
        + f'<firstName xsi:type="xsd:string">{first_name}</firstName>'
        + "</account></ns5:addAccount>"
        + ENVELOPE_CLOSE
    )


def billion_laughs() -> str:
    entities = ['<!ENTITY lol "lol">']
    for level in range(1, 10):
        entities.append(
            f'<!ENTITY lol{level} "{("&lol%s;" % (level - 1 if level > 1 else "")) * 10}">'
        )
    return f"<!DOCTYPE SOAP-ENV:Envelope [{''.join(entities)}]>\n"


def hostile_fault(
    server, body: bytes, code: int | tuple[int, ...], within: float = 2.0
) -> tuple[SoapFault, HttpResponse]:
    """Send ``body``; the answer must be a proper SOAP Fault with ``code`` (or one of them)
    within ``within`` seconds, and the server must then answer a normal call."""
    started = time.monotonic()
    response = post(server.url, body)
    elapsed = time.monotonic() - started
    assert response.status == 500
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    with pytest.raises(SoapFault) as info:
        read_response(response)
    error = info.value
    assert error.errorcode in (code if isinstance(code, tuple) else (code,)), (
        error.errorcode,
        error.errorstring,
    )
    assert error.faultcode == "SOAP-ENV:Client"
    assert b"Traceback" not in response.body
    assert elapsed < within, f"took {elapsed:.2f} s"
    assert_still_answers(server)
    return error, response


def assert_still_answers(server) -> None:
    result = server.admin().call("Customer", "getCustomers", query=("CustomerQuery", {}))
    assert isinstance(result["total"], int)


def customer_count(server) -> int:
    return server.admin().call("Customer", "getCustomers", query=("CustomerQuery", {}))["total"]


# -- entities and document types ---------------------------------------------------------------


def test_billion_laughs_is_refused_with_2002_quickly(server):
    body = add_account_envelope("&lol9;", billion_laughs()).encode("utf-8")
    hostile_fault(server, body, 2002, within=1.0)
    assert customer_count(server) == 0


def test_billion_laughs_in_utf_16_is_refused_with_2002_quickly(server):
    body = add_account_envelope("&lol9;", billion_laughs(), encoding="UTF-16").encode("utf-16")
    hostile_fault(server, body, 2002, within=1.0)


def test_billion_laughs_in_utf_16_is_still_refused_cheaply(server):
    body = add_account_envelope("&lol9;", billion_laughs(), encoding="UTF-16").encode("utf-16")
    hostile_fault(server, body, (2001, 2002), within=1.0)
    assert customer_count(server) == 0


@pytest.mark.parametrize("encoding", ["UTF-8", "UTF-16", "UTF-16BE", "UTF-32"])
def test_an_external_entity_is_refused_and_nothing_is_read(server, encoding):
    doctype = '<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    body = add_account_envelope("&x;", doctype, encoding).encode(encoding)
    _, response = hostile_fault(server, body, 2002)
    assert b"root:" not in response.body and b"/bin/" not in response.body
    assert customer_count(server) == 0


@pytest.fixture
def listener():
    """A TCP socket that records whether anything connects to it (an external entity or DTD
    the server must never fetch)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    contacted = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            contacted.set()
            conn.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield sock.getsockname()[1], contacted
    stop.set()
    thread.join(2)
    sock.close()


@pytest.mark.parametrize("encoding", ["UTF-8", "UTF-16"])
@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/evil.dtd"> %p;]>\n',
        '<!DOCTYPE SOAP-ENV:Envelope SYSTEM "http://127.0.0.1:{port}/evil.dtd">\n',
        '<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">]>\n',
    ],
    ids=["parameter-entity", "external-dtd", "external-entity"],
)
def test_external_dtds_and_parameter_entities_are_refused_and_never_fetched(
    server, listener, doctype, encoding
):
    port, contacted = listener
    body = add_account_envelope("&x;", doctype.format(port=port), encoding).encode(encoding)
    hostile_fault(server, body, 2002)
    time.sleep(0.3)
    assert not contacted.is_set(), "the server fetched an external reference"


def test_a_parameter_entity_from_a_local_file_is_refused(server, tmp_path):
    evil = tmp_path / "evil.dtd"
    evil.write_text('<!ENTITY leak "LEAKED-CONTENT">')
    doctype = f'<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY % p SYSTEM "file://{evil}"> %p;]>\n'
    _, response = hostile_fault(server, add_account_envelope("&leak;", doctype).encode(), 2002)
    assert b"LEAKED-CONTENT" not in response.body
    assert customer_count(server) == 0


def test_an_internal_entity_is_refused_too(server):
    doctype = '<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY name "Eve">]>\n'
    hostile_fault(server, add_account_envelope("&name;", doctype).encode(), 2002)
    assert customer_count(server) == 0


# -- size and shape ---------------------------------------------------------------------------


def test_a_100000_level_deep_body_is_fault_2001(server):
    depth = 100_000
    body = (
        ENVELOPE_OPEN
        + "<ns5:getCustomers>"
        + "<query>" * depth
        + "</query>" * depth
        + "</ns5:getCustomers>"
        + ENVELOPE_CLOSE
    ).encode()
    assert len(body) < 2 * MIB
    hostile_fault(server, body, 2001)


def test_a_deep_but_small_nesting_inside_a_known_member_is_harmless(server):
    # 200 levels: within the parser's limit, so it reaches the decoder, which ignores it
    nested = "<junk>" * 200 + "</junk>" * 200
    body = (
        PROLOG.format(encoding="UTF-8")
        + ENVELOPE_OPEN
        + '<ns5:getCustomers><query xsi:type="ns4:CustomerQuery">'
        + nested
        + "</query></ns5:getCustomers>"
        + ENVELOPE_CLOSE
    ).encode()
    result = read_response(post(server.url, body), "Customer", "getCustomers").value
    assert result["total"] == 0


def _send_head_and_a_little(server, declared: int, sent: bytes, timeout: float = 5.0) -> bytes:
    """Announce ``declared`` bytes of body, send only ``sent``, keep the connection open
    for writing and read the answer: a server that waited for the whole body would time out."""
    port = int(server.base_url.rsplit(":", 1)[1])
    head = (
        "POST /ngnpro/ HTTP/1.0\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: text/xml; charset=UTF-8\r\n"
        'SOAPAction: ""\r\n'
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + sent)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def test_a_body_declared_over_twice_the_limit_is_fault_2003_without_reading_it(server):
    started = time.monotonic()
    raw = _send_head_and_a_little(
        server, 5 * MIB, (PROLOG.format(encoding="UTF-8") + ENVELOPE_OPEN).encode()
    )
    assert time.monotonic() - started < 2.0
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split()[1] == b"500", head
    assert b"content-type: text/xml; charset=utf-8" in head.lower()
    assert b'<errorcode xsi:type="xsd:int">2003</errorcode>' in body
    assert_still_answers(server)


def test_a_body_just_over_2_mib_sent_in_full_is_fault_2003(server):
    filler = "<x/>" * ((2 * MIB) // 4)
    body = (
        PROLOG.format(encoding="UTF-8")
        + ENVELOPE_OPEN
        + "<ns5:getCustomers><query>"
        + filler
        + "</query></ns5:getCustomers>"
        + ENVELOPE_CLOSE
    ).encode()
    assert len(body) > 2 * MIB
    try:
        response = post(server.url, body)
    except ConnectionResetError:
        pytest.fail("the server reset the connection instead of answering")
    assert response.status == 500
    with pytest.raises(SoapFault) as info:
        read_response(response)
    assert info.value.errorcode == 2003
    assert_still_answers(server)


def test_a_1_9_mib_body_of_many_elements_gets_a_normal_answer(server):
    server.admin().call(
        "Customer", "addAccount", account=("CustomerAccount", {"username": "alice"})
    )
    prefix = (
        PROLOG.format(encoding="UTF-8")
        + ENVELOPE_OPEN
        + '<ns5:getCustomers><query xsi:type="ns4:CustomerQuery">'
        + '<filter><username xsi:type="xsd:string">al%</username></filter>'
    )
    suffix = "</query></ns5:getCustomers>" + ENVELOPE_CLOSE
    room = int(1.9 * MIB) - len(prefix) - len(suffix)
    filler = '<echo xsi:type="xsd:int">1</echo>' * (room // 33)
    body = (prefix + filler + suffix).encode()
    assert 1.8 * MIB < len(body) < 2 * MIB
    started = time.monotonic()
    result = read_response(post(server.url, body), "Customer", "getCustomers").value
    assert time.monotonic() - started < 5.0  # CDRTool's timeout
    assert result["total"] == 1 and result["accounts"][0]["username"] == "alice"


def test_a_1_9_mib_array_of_many_items_is_refused_promptly_with_2006(server):
    created = server.admin().call(
        "Customer", "addAccount", account=("CustomerAccount", {"username": "alice"})
    )
    item = (
        "<item><name>n</name><value></value></item>"  # empty value: deletes nothing, adds nothing
    )
    prefix = (
        PROLOG.format(encoding="UTF-8")
        + ENVELOPE_OPEN
        + "<ns5:setProperties>"
        + f'<customer xsi:type="xsd:int">{created["id"]}</customer>'
        + '<properties xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="Struct[1]">'
    )
    suffix = "</properties></ns5:setProperties>" + ENVELOPE_CLOSE
    count = (int(1.9 * MIB) - len(prefix) - len(suffix)) // len(item)
    body = (prefix + item * count + suffix).encode()
    started = time.monotonic()
    with pytest.raises(SoapFault) as info:
        read_response(post(server.url, body), "Customer", "setProperties")
    assert time.monotonic() - started < 5.0
    assert info.value.errorcode == 2006 and f"properties holds {count} items; at most 100" in info.value.errorstring
    assert server.admin().call("Customer", "getProperties", customer=created["id"]) == []


# -- broken XML -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        (PROLOG.format(encoding="UTF-8") + ENVELOPE_OPEN + "<ns5:getCustomers><query>").encode(),
        (
            PROLOG.format(encoding="UTF-8")
            + ENVELOPE_OPEN
            + "<ns5:getCustomers></ns5:getAccount>"
            + ENVELOPE_CLOSE
        ).encode(),
        (
            PROLOG.format(encoding="UTF-8")
            + ENVELOPE_OPEN
            + "<ns5:getCustomers a='1' a='2'/>"
            + ENVELOPE_CLOSE
        ).encode(),
        (
            PROLOG.format(encoding="UTF-8")
            + ENVELOPE_OPEN
            + "<undeclared:getCustomers/>"
            + ENVELOPE_CLOSE
        ).encode(),
        (
            PROLOG.format(encoding="UTF-8")
            + ENVELOPE_OPEN
            + "<ns5:getCustomers>&nope;</ns5:getCustomers>"
            + ENVELOPE_CLOSE
        ).encode(),
        (
            PROLOG.format(encoding="UTF-8")
            + ENVELOPE_OPEN
            + "<ns5:getCustomers>\x01</ns5:getCustomers>"
            + ENVELOPE_CLOSE
        ).encode(),
        (
            PROLOG.format(encoding="UTF-8")
            + ENVELOPE_OPEN
            + "<ns5:getCustomers>&#0;</ns5:getCustomers>"
            + ENVELOPE_CLOSE
        ).encode(),
        PROLOG.format(encoding="UTF-8").encode()
        + ENVELOPE_OPEN.encode()
        + b"\xff\xfe\xc3("
        + ENVELOPE_CLOSE.encode(),
        b"",
        b"not xml at all",
        b"<a></b>",
        b"<?xml version='1.0'?><a/><b/>",
    ],
    ids=[
        "truncated",
        "mismatched-tags",
        "duplicate-attribute",
        "undeclared-prefix",
        "undefined-entity",
        "control-character",
        "nul-reference",
        "invalid-utf-8",
        "empty",
        "text",
        "mismatch",
        "two-roots",
    ],
)
def test_malformed_xml_is_fault_2001(server, body):
    hostile_fault(server, body, 2001)


def test_an_unsupported_declared_encoding_is_a_fault(server):
    body = add_account_envelope("Eve", encoding="X-NO-SUCH-ENCODING").encode()
    with pytest.raises(SoapFault) as info:
        read_response(post(server.url, body))
    assert info.value.errorcode in (2001, 2004)
    assert_still_answers(server)


def test_processing_instructions_and_comments_in_the_body_are_harmless(server):
    body = (
        PROLOG.format(encoding="UTF-8")
        + "<!-- leading -->"
        + ENVELOPE_OPEN
        + "<?xml-stylesheet href='http://127.0.0.1:1/x.xsl'?><!-- c -->"
        + '<ns5:addAccount><?php system("id"); ?><account xsi:type="ns4:CustomerAccount">'
        + '<username xsi:type="xsd:string">e<!-- c -->ve</username>'
        + '<firstName xsi:type="xsd:string"><?pi?>Eve</firstName></account></ns5:addAccount>'
        + ENVELOPE_CLOSE
        + "<!-- trailing -->"
    ).encode()
    created = read_response(post(server.url, body), "Customer", "addAccount").value
    assert created["username"] == "eve" and created["firstName"] == "Eve"


def test_cdata_is_read_as_text(server):
    created = read_response(
        post(server.url, add_account_envelope("<![CDATA[<b>Eve</b> & co]]>").encode()),
        "Customer",
        "addAccount",
    ).value
    assert created["firstName"] == "<b>Eve</b> & co"


def test_an_iso_8859_1_body_decodes(server):
    body = add_account_envelope("Éve Müller", encoding="ISO-8859-1").encode("iso-8859-1")
    assert b"\xc9ve M\xfcller" in body
    response = post(server.url, body, headers={"Content-Type": "text/xml; charset=ISO-8859-1"})
    created = read_response(response, "Customer", "addAccount").value
    assert created["firstName"] == "Éve Müller"
    again = server.admin().call("Customer", "getAccount", id=created["id"])
    assert again["firstName"] == "Éve Müller"


def test_a_utf_16_body_without_a_doctype_decodes(server):
    body = add_account_envelope("Ève", encoding="UTF-16").encode("utf-16")
    created = read_response(post(server.url, body), "Customer", "addAccount").value
    assert created["firstName"] == "Ève"


def test_hostile_requests_in_a_row_leave_the_server_serving(server):
    bodies = [
        add_account_envelope("&lol9;", billion_laughs()).encode(),
        ("<a>" * 100_000).encode(),
        b"<a></b>",
        add_account_envelope(
            "&x;", '<!DOCTYPE x [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        ).encode(),
    ] * 5
    for body in bodies:
        response = post(server.url, body)
        assert response.status == 500 and b"<faultcode>SOAP-ENV:Client</faultcode>" in response.body
    created = server.admin().call(
        "Customer", "addAccount", account=("CustomerAccount", {"username": "after"})
    )
    assert created["username"] == "after"
