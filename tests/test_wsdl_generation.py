"""The generated RPC/encoded WSDL, proven with zeep and no network and no server: zeep loads
it (and our SOAP encoding schema) from an in-memory transport, builds requests the server
accepts, and decodes responses shaped like the server's into typed Python values."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from lxml import etree
from spyne import Array, DateTime, Integer32, ServiceBase, Unicode, rpc
from zeep import Client
from zeep.transports import Transport

from ngnserver.services import ALIASES, PORTS
from ngnserver.services.customer import CustomerProperty
from ngnserver.services.types import AuthHeader
from ngnserver.soap import SOAP_ENC_NS, TYPES_NS, WSDL_NS, WSDL_SOAP_NS, XSD_NS
from ngnserver.soap.ports import Port, PortMap
from ngnserver.soap.wsdl import build_wsdl, encoding_schema

ENDPOINT = "http://ngnpro.invalid/ngnpro/"
CUSTOMER_NS = "urn:AGProjects:NGNPro:Customer"
ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {"wsdl": WSDL_NS, "soap": WSDL_SOAP_NS, "xsd": XSD_NS, "env": ENV_NS}
AUTH = {"auth": {"username": "admin", "password": "secret", "admin": True}}
CUSTOMER_OPERATIONS = {
    "addAccount",
    "updateAccount",
    "deleteAccount",
    "getAccount",
    "getCustomers",
    "getResellers",
    "setProperties",
    "getProperties",
}

# A response as the server writes it: prefixes, xsi:type on every scalar and struct,
# SOAP-ENC arrays with arrayType.
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"'
    ' xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"'
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:ns1="urn:AGProjects:NGNPro" xmlns:ns2="urn:AGProjects:NGNPro:Customer"'
    ' SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
    "<SOAP-ENV:Body>{}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
)
GET_ACCOUNT_RESPONSE = ENVELOPE.format(
    "<ns2:getAccountResponse>"
    '<getAccountResult xsi:type="ns1:CustomerAccount">'
    '<id xsi:type="xsd:int">7</id>'
    '<resellerActive xsi:type="xsd:boolean">true</resellerActive>'
    '<balance xsi:type="xsd:double">1.5</balance>'
    '<username xsi:type="xsd:string">alice</username>'
    '<properties xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="ns1:CustomerProperty[1]">'
    '<item xsi:type="ns1:CustomerProperty">'
    '<name xsi:type="xsd:string">sip_credit</name><value xsi:type="xsd:string">5</value>'
    "</item></properties>"
    "</getAccountResult></ns2:getAccountResponse>"
)


def port_map() -> PortMap:
    return PortMap([Port.build(n, ns, svc) for n, ns, svc in PORTS], ALIASES)


def wsdl_bytes() -> bytes:
    return build_wsdl(port_map(), ENDPOINT, ("auth", AuthHeader))


def probe_ports(first: type, second: type) -> PortMap:
    """A port map whose one operation takes parameters of the two given types."""

    class ProbeService(ServiceBase):
        @rpc(first, second)
        def probe(ctx, first, second) -> None:
            pass

    return PortMap([Port.build("Probe", "urn:probe", ProbeService)])


class OfflineTransport(Transport):
    """Serves the WSDL and the encoding schema from memory, refuses every other URL, and
    answers each POST with the next canned reply (recording what was sent)."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        super().__init__()
        self.documents = documents
        self.loaded: list[str] = []
        self.replies: list[bytes] = []
        self.sent: list[tuple[etree._Element, dict[str, str]]] = []

    def load(self, url: str) -> bytes:
        self.loaded.append(url)
        if url not in self.documents:
            raise AssertionError(f"zeep tried to load {url}")
        return self.documents[url]

    def post_xml(self, address: str, envelope: etree._Element, headers: dict) -> requests.Response:
        self.sent.append((envelope, headers))
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        response._content = self.replies.pop(0)
        return response


def offline_transport() -> OfflineTransport:
    return OfflineTransport(
        {ENDPOINT + "wsdl": wsdl_bytes(), ENDPOINT + "soap-encoding.xsd": encoding_schema()}
    )


@pytest.fixture(scope="module")
def transport() -> OfflineTransport:
    return offline_transport()


@pytest.fixture(scope="module")
def client(transport: OfflineTransport) -> Client:
    return Client(ENDPOINT + "wsdl", transport=transport)


@pytest.fixture(scope="module")
def customer(client: Client):
    return client.bind("NGNPro", "CustomerPort")


def call(transport: OfflineTransport, service, operation: str, reply: str, **params):
    """The Python value zeep returns for ``operation`` when the server sends ``reply``."""
    transport.replies.append(reply.encode())
    return getattr(service, operation)(_soapheaders=AUTH, **params)


def test_zeep_loads_the_wsdl_and_our_encoding_schema_and_nothing_else(client, transport):
    assert transport.loaded == [ENDPOINT + "wsdl", ENDPOINT + "soap-encoding.xsd"]


def test_customer_port_exposes_every_customer_operation(customer):
    assert set(customer._binding._operations) == CUSTOMER_OPERATIONS


def test_request_is_the_namespaced_operation_with_unqualified_parts(client, customer):
    envelope = client.create_message(customer, "getAccount", id=7, _soapheaders=AUTH)
    (operation,) = envelope.find("env:Body", NS)
    assert operation.tag == f"{{{CUSTOMER_NS}}}getAccount"
    assert [(child.tag, child.text) for child in operation] == [("id", "7")]


def test_request_carries_an_unqualified_auth_header(client, customer):
    envelope = client.create_message(customer, "getAccount", id=7, _soapheaders=AUTH)
    (auth,) = envelope.find("env:Header", NS)
    assert auth.tag == "auth"
    assert [(child.tag, child.text) for child in auth] == [
        ("username", "admin"),
        ("password", "secret"),
        ("admin", "true"),
    ]


def test_request_is_sent_with_an_empty_soap_action(customer, transport):
    call(
        transport, customer, "deleteAccount", ENVELOPE.format("<ns2:deleteAccountResponse/>"), id=3
    )
    _, headers = transport.sent[-1]
    assert headers["SOAPAction"] == '""'


def test_default_soap_headers_authenticate_every_call():
    transport = offline_transport()
    client = Client(ENDPOINT + "wsdl", transport=transport)
    client.set_default_soapheaders(AUTH)
    customer = client.bind("NGNPro", "CustomerPort")
    transport.replies.append(ENVELOPE.format("<ns2:deleteAccountResponse/>").encode())
    customer.deleteAccount(id=3)
    envelope, _ = transport.sent[-1]
    assert envelope.find("env:Header/auth", NS).findtext("username") == "admin"


def test_add_account_sends_nested_properties_as_items(client, customer):
    account = {
        "username": "bob",
        "properties": [{"name": "sip_credit", "value": "5"}, {"name": "lang", "value": "en"}],
    }
    envelope = client.create_message(customer, "addAccount", account=account, _soapheaders=AUTH)
    (operation,) = envelope.find("env:Body", NS)
    (sent,) = operation
    assert sent.tag == "account"
    assert sent.findtext("username") == "bob"
    items = sent.findall("properties/item")
    assert [(i.findtext("name"), i.findtext("value")) for i in items] == [
        ("sip_credit", "5"),
        ("lang", "en"),
    ]


def test_typed_encoded_response_decodes_to_python_values(customer, transport):
    account = call(transport, customer, "getAccount", GET_ACCOUNT_RESPONSE, id=7)
    assert type(account.id) is int and account.id == 7
    assert account.resellerActive is True
    assert type(account.balance) is float and account.balance == 1.5
    assert account.username == "alice"
    assert account.credit is None  # absent members are None
    assert isinstance(account.properties, list) and len(account.properties) == 1
    assert account.properties[0].name == "sip_credit"
    assert account.properties[0].value == "5"


def test_empty_encoded_array_decodes_to_an_empty_list(customer, transport):
    reply = ENVELOPE.format(
        '<ns2:getAccountResponse><getAccountResult xsi:type="ns1:CustomerAccount">'
        '<id xsi:type="xsd:int">7</id>'
        '<properties xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="ns1:CustomerProperty[0]"/>'
        "</getAccountResult></ns2:getAccountResponse>"
    )
    account = call(transport, customer, "getAccount", reply, id=7)
    assert account.properties == []


def test_bare_array_result_decodes_to_a_list(customer, transport):
    reply = ENVELOPE.format(
        "<ns2:getPropertiesResponse>"
        '<getPropertiesResult xsi:type="SOAP-ENC:Array"'
        ' SOAP-ENC:arrayType="ns1:CustomerProperty[2]">'
        '<item xsi:type="ns1:CustomerProperty"><name xsi:type="xsd:string">a</name></item>'
        '<item xsi:type="ns1:CustomerProperty"><name xsi:type="xsd:string">b</name></item>'
        "</getPropertiesResult></ns2:getPropertiesResponse>"
    )
    properties = call(transport, customer, "getProperties", reply, customer=7)
    assert isinstance(properties, list)
    assert [p.name for p in properties] == ["a", "b"]


def test_query_result_decodes_total_and_accounts(customer, transport):
    reply = ENVELOPE.format(
        '<ns2:getCustomersResponse><getCustomersResult xsi:type="ns1:CustomerQueryResult">'
        '<total xsi:type="xsd:int">41</total>'
        '<accounts xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="ns1:CustomerAccount[1]">'
        '<item xsi:type="ns1:CustomerAccount"><id xsi:type="xsd:int">3</id>'
        '<properties xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="ns1:CustomerProperty[0]"/>'
        "</item></accounts></getCustomersResult></ns2:getCustomersResponse>"
    )
    query = {"filter": {"username": "a%"}, "range": {"start": 0, "count": 20}}
    result = call(transport, customer, "getCustomers", reply, query=query)
    assert result.total == 41
    assert [(a.id, a.properties) for a in result.accounts] == [(3, [])]


def test_void_response_decodes_to_none(customer, transport):
    reply = ENVELOPE.format("<ns2:deleteAccountResponse/>")
    assert call(transport, customer, "deleteAccount", reply, id=7) is None


def test_message_names_are_unique_and_carry_the_port():
    wsdl = etree.fromstring(wsdl_bytes())
    names = wsdl.xpath("wsdl:message/@name", namespaces=NS)
    assert len(names) == len(set(names))
    assert "Customer.addAccountRequest" in names and "Customer.addAccountResponse" in names


def test_every_operation_is_rpc_encoded_with_an_empty_soap_action():
    wsdl = etree.fromstring(wsdl_bytes())
    binding = wsdl.find("wsdl:binding[@name='CustomerBinding']", NS)
    if binding is None:
        binding = next(b for b in wsdl.findall("wsdl:binding", NS) if "Customer" in b.get("name"))
    operations = binding.findall("wsdl:operation", NS)
    assert len(operations) == len(CUSTOMER_OPERATIONS)
    for operation in wsdl.findall("wsdl:binding/wsdl:operation", NS):
        assert operation.find("soap:operation", NS).attrib == {"soapAction": "", "style": "rpc"}
    for operation in operations:
        for body in operation.findall("*/soap:body", NS):
            assert body.attrib == {
                "use": "encoded",
                "namespace": CUSTOMER_NS,
                "encodingStyle": SOAP_ENC_NS,
            }
        header = operation.find("wsdl:input/soap:header", NS)
        assert header.get("part") == "auth" and header.get("use") == "encoded"


def test_arrays_restrict_soap_encoding_array_with_their_item_type():
    wsdl = etree.fromstring(wsdl_bytes())
    (restriction,) = wsdl.xpath(
        "//xsd:complexType[@name='CustomerPropertyArray']/xsd:complexContent/xsd:restriction",
        namespaces=NS,
    )
    assert restriction.get("base") == "SOAP-ENC:Array"
    attribute = restriction.find("xsd:attribute", NS)
    assert attribute.get("ref") == "SOAP-ENC:arrayType"
    assert attribute.get(f"{{{WSDL_NS}}}arrayType") == "tns:CustomerProperty[]"


def test_encoding_schema_is_imported_from_the_endpoint():
    wsdl = etree.fromstring(wsdl_bytes())
    (schema,) = wsdl.findall("wsdl:types/xsd:schema", NS)
    assert schema.get("targetNamespace") == TYPES_NS
    (imported,) = schema.findall("xsd:import", NS)
    assert imported.attrib == {
        "namespace": SOAP_ENC_NS,
        "schemaLocation": ENDPOINT + "soap-encoding.xsd",
    }


def test_wsdl_types_are_a_valid_xml_schema():
    class Documents(etree.Resolver):
        def resolve(self, url, pubid, context):
            assert url == ENDPOINT + "soap-encoding.xsd"
            return self.resolve_string(encoding_schema(), context)

    wsdl = etree.fromstring(wsdl_bytes())
    (types,) = wsdl.findall("wsdl:types/xsd:schema", NS)
    # the schema alone, with the namespace declarations its QName values use
    schema = etree.Element(types.tag, dict(types.attrib), nsmap=wsdl.nsmap)
    schema.extend(types)
    parser = etree.XMLParser()
    parser.resolvers.add(Documents())
    etree.XMLSchema(etree.fromstring(etree.tostring(schema), parser))


def test_encoding_schema_never_refers_to_its_own_namespace():
    schema = etree.fromstring(encoding_schema())
    assert schema.get("targetNamespace") == SOAP_ENC_NS
    assert not schema.xpath("//@ref")


@pytest.mark.parametrize("endpoint", [ENDPOINT, ENDPOINT.rstrip("/")])
def test_encoding_schema_is_under_the_endpoint_with_or_without_a_trailing_slash(endpoint):
    wsdl = etree.fromstring(build_wsdl(port_map(), endpoint, ("auth", AuthHeader)))
    imported = wsdl.find("wsdl:types/xsd:schema/xsd:import", NS)
    assert imported.get("schemaLocation") == ENDPOINT + "soap-encoding.xsd"
    assert wsdl.find("wsdl:service/wsdl:port/soap:address", NS).get("location") == endpoint


def test_equal_declarations_of_one_type_name_are_declared_once():
    first = Array(CustomerProperty, type_name="Properties")
    second = Array(CustomerProperty, type_name="Properties")
    wsdl = etree.fromstring(build_wsdl(probe_ports(first, second), ENDPOINT, ("auth", AuthHeader)))
    assert len(wsdl.xpath("//xsd:complexType[@name='Properties']", namespaces=NS)) == 1


def test_two_different_types_with_one_name_are_refused():
    first = Array(CustomerProperty, type_name="Things")
    second = Array(Unicode, type_name="Things")
    with pytest.raises(ValueError, match="Things"):
        build_wsdl(probe_ports(first, second), ENDPOINT, ("auth", AuthHeader))


def test_a_type_with_no_wire_equivalent_is_refused():
    with pytest.raises(TypeError, match="DateTime"):
        build_wsdl(probe_ports(DateTime, Integer32), ENDPOINT, ("auth", AuthHeader))


def test_same_inputs_give_the_same_bytes_in_any_process():
    script = (
        "import hashlib, sys; from tests.test_wsdl_generation import wsdl_bytes; "
        "sys.stdout.write(hashlib.sha256(wsdl_bytes()).hexdigest())"
    )
    digests = {hashlib.sha256(wsdl_bytes()).hexdigest()}
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONWARNINGS": "ignore"}
        digests.add(
            subprocess.run(
                [sys.executable, "-c", script],
                cwd=Path(__file__).parent.parent,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    assert len(digests) == 1


def test_the_readmes_client_example_runs_as_written(server):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace("http://127.0.0.1:9200/ngnpro/", server.url).replace('"password": "..."', '"password": "secret"')
    ran = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, timeout=60, check=False)
    assert (ran.returncode, ran.stdout) == (0, "alice\n"), ran.stderr
    props = server.admin().call("Customer", "getProperties", customer=1)
    assert [(p["name"], p["value"]) for p in props] == [("sip_credit", "10")]


def test_the_tour_in_examples_runs_against_a_fresh_server(server):
    tour = Path(__file__).parent.parent / "examples" / "tour.py"
    ran = subprocess.run([sys.executable, str(tour), server.url, "admin", "secret"],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "reseller 1 (tour-reseller), active: True"
    assert lines[2] == "SIP account ann@tour.example.com of customer 2"
    assert lines[3] == "the reseller sees 2 customers: tour-reseller, tour-customer"
    assert lines[4] == "and 1 SIP account: ann@tour.example.com"
