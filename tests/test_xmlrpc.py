"""One suite, two transports: the same calls over SOAP (as CDRTool's PEAR client sends them)
and over XML-RPC (Python's xmlrpc.client) give the same records, the same refusals with the
same codes and sentences, and the same scope; then what only XML-RPC has (Basic
credentials, the query's admin and impersonate, faults as HTTP 200, hostile XML refused
before it is read)."""

from __future__ import annotations

import base64
import subprocess
import sys
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from ngnserver.app import build_port_map
from tests.support.wire import Client, SoapFault

PORTS = build_port_map()
DOMAIN = "xr.example.com"


class Refused(Exception):
    def __init__(self, code: int, sentence: str) -> None:
        super().__init__(f"{code}: {sentence}")
        self.code, self.sentence = code, sentence


@dataclass
class Login:
    """One login over one transport; ``call`` takes the parameters by position."""

    transport: str
    call_function: Callable[..., Any]

    def call(self, port: str, operation: str, *args: Any) -> Any:
        return self.call_function(port, operation, *args)

    def refused(self, code: int, port: str, operation: str, *args: Any) -> str:
        with pytest.raises(Refused) as info:
            self.call(port, operation, *args)
        assert info.value.code == code, info.value
        return info.value.sentence


def xmlrpc_url(server: Any, username: str, password: str, admin: bool = False, impersonate: int = 0) -> str:
    host = server.base_url.removeprefix("http://")
    query = "?admin=1" + (f"&impersonate={impersonate}" if impersonate else "") if admin else ""
    return f"http://{quote(username, safe='')}:{quote(password, safe='')}@{host}{server.app.path}xmlrpc{query}"


def soap_login(server: Any, username: str, password: str, admin: bool = False, impersonate: int = 0) -> Login:
    client = Client(server.url, username, password, admin, impersonate)

    def call(port: str, operation: str, *args: Any) -> Any:
        names = [name for name, _ in PORTS.named(f"{port}.{operation}").params]
        try:
            return client.call(port, operation, **dict(zip(names, args)))
        except SoapFault as fault:
            raise Refused(fault.errorcode, fault.errorstring) from None

    return Login("soap", call)


def xmlrpc_login(server: Any, username: str, password: str, admin: bool = False, impersonate: int = 0) -> Login:
    proxy = xmlrpc.client.ServerProxy(xmlrpc_url(server, username, password, admin, impersonate))

    def call(port: str, operation: str, *args: Any) -> Any:
        try:
            return getattr(getattr(proxy, port), operation)(*args)
        except xmlrpc.client.Fault as fault:
            raise Refused(fault.faultCode, fault.faultString) from None

    return Login("xmlrpc", call)


LOGINS = {"soap": soap_login, "xmlrpc": xmlrpc_login}


@pytest.fixture(params=sorted(LOGINS))
def login(request: pytest.FixtureRequest, server: Any) -> Callable[..., Login]:
    """``login(username, password, admin=False, impersonate=0)`` over one transport."""
    make = LOGINS[request.param]
    return lambda *args, **kwargs: make(server, *args, **kwargs)


@pytest.fixture
def admin(login: Callable[..., Login]) -> Login:
    return login("admin", "secret", admin=True)


def sip_id(username: str, domain: str = DOMAIN) -> dict[str, str]:
    return {"username": username, "domain": domain}


def customer_with_account(admin: Login, name: str, domain: str) -> int:
    """A customer ``name`` (password ``pw-<name>``) holding ``domain`` with SIP account ann."""
    customer = admin.call("Customer", "addAccount", {"username": name, "password": f"pw-{name}"})["id"]
    admin.call("Sip", "addDomain", {"domain": domain, "customer": customer})
    admin.call("Sip", "addAccount", {"id": sip_id("ann", domain), "password": "sip-pw", "firstName": "Ann",
                                     "groups": ["voicemail"]})  # fmt: skip
    return customer


# -- what both transports do alike -------------------------------------------------------------


def test_admin_creates_a_customer_a_sip_domain_and_an_account_and_reads_them_back(admin):
    customer = customer_with_account(admin, "alice", DOMAIN)
    assert admin.call("Customer", "getAccount", customer)["username"] == "alice"
    account = admin.call("Sip", "getAccount", sip_id("ann"))
    assert (account["id"], account["password"], account["firstName"]) == (sip_id("ann"), "sip-pw", "Ann")
    assert (account["customer"], account["groups"], account["prepaid"]) == (customer, ["voicemail"], False)
    assert admin.call("Sip", "getGroups", sip_id("ann")) == ["voicemail"]


def test_a_void_operation_answers_nothing_and_changes_the_record(admin):
    customer_with_account(admin, "alice", DOMAIN)
    assert admin.call("Sip", "addToGroup", sip_id("ann"), "free-pstn") is None
    assert admin.call("Sip", "getGroups", sip_id("ann")) == ["free-pstn", "voicemail"]


def test_a_refusal_carries_its_errorcode_and_sentence(admin):
    admin.call("Sip", "addDomain", {"domain": DOMAIN})
    sentence = admin.refused(1012, "Sip", "getAccount", sip_id("nobody"))
    assert sentence == f"SIP account nobody@{DOMAIN} does not exist."
    assert admin.refused(1001, "Sip", "addDomain", {"domain": DOMAIN}).startswith("SIP domain")


def test_a_customer_sees_its_own_account_and_not_another_customers(admin, login):
    customer_with_account(admin, "alice", DOMAIN)
    customer_with_account(admin, "bob", "bob.example.com")
    alice = login("alice", "pw-alice")
    assert alice.call("Sip", "getAccount", sip_id("ann"))["id"] == sip_id("ann")
    assert alice.refused(1012, "Sip", "getAccount", sip_id("ann", "bob.example.com"))
    listed = alice.call("Sip", "getAccounts", {})
    assert (listed["total"], [a["id"]["domain"] for a in listed["accounts"]]) == (1, [DOMAIN])


def test_admin_impersonating_a_customer_acts_as_that_customer(admin, login):
    customer_with_account(admin, "alice", DOMAIN)
    bob = customer_with_account(admin, "bob", "bob.example.com")
    as_bob = login("admin", "secret", admin=True, impersonate=bob)
    assert as_bob.call("Sip", "getAccount", sip_id("ann", "bob.example.com"))["customer"] == bob
    assert as_bob.refused(1012, "Sip", "getAccount", sip_id("ann"))


def test_wrong_credentials_are_refused(admin, login):
    customer_with_account(admin, "alice", DOMAIN)
    assert login("alice", "wrong").refused(4002, "Sip", "getAccount", sip_id("ann"))
    assert login("admin", "wrong", admin=True).refused(4002, "Sip", "getAccount", sip_id("ann"))


def test_a_value_of_the_wrong_type_is_refused_with_its_path(admin):
    sentence = admin.refused(2006, "Customer", "getAccount", "seven")
    assert sentence.startswith("id must be a whole number")


def test_runtime_data_is_empty_for_a_customers_page_and_refused_for_traces(admin, login):
    customer_with_account(admin, "alice", DOMAIN)
    alice = login("alice", "pw-alice")
    assert alice.call("Sip", "getCalls", sip_id("ann"), {"placed": {"limit": 50}}) == {"placed": [], "received": []}
    assert alice.call("Sip", "getSipDeviceLocations", [sip_id("ann")]) == [{"id": sip_id("ann"), "locations": []}]
    sentence = admin.refused(13001, "Sip", "getSipTrace", {"callId": "abc", "fromTag": "x"})
    assert "holds no SIP traces" in sentence
    nobody = login("", "")  # the Presence port's calls carry no credentials
    assert "presence" in nobody.refused(13001, "Presence", "getPresenceInformation", sip_id("ann"), "sip-pw")


def test_both_transports_read_the_same_record(server):
    soap = soap_login(server, "admin", "secret", admin=True)
    customer_with_account(soap, "alice", DOMAIN)
    via_xmlrpc = xmlrpc_login(server, "admin", "secret", admin=True).call("Sip", "getAccount", sip_id("ann"))
    assert via_xmlrpc == soap.call("Sip", "getAccount", sip_id("ann"))


# -- XML-RPC only ------------------------------------------------------------------------------


def raw(server: Any, body: bytes | str, auth: tuple[str, str] | None = ("admin", "secret"), query: str = "?admin=1",
        headers: dict[str, str] | None = None) -> requests.Response:  # fmt: skip
    return requests.post(f"{server.base_url}{server.app.path}xmlrpc{query}", data=body, auth=auth,
                         headers={"Content-Type": "text/xml", **(headers or {})}, timeout=30)  # fmt: skip


def fault_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200 and response.headers["content-type"] == "text/xml; charset=utf-8"
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(response.content)
    return {"code": info.value.faultCode, "sentence": info.value.faultString}


def test_a_fault_is_http_200_and_names_the_request_id(server):
    response = raw(server, xmlrpc.client.dumps(({"username": "x", "domain": "y"},), "Sip.getAccount"))
    assert fault_of(response)["code"] == 1012
    assert f"<name>requestId</name>\n<value><string>{response.headers['x-request-id']}</string>" in response.text


def test_system_list_methods_names_every_operation_as_port_dot_operation(server):
    methods = xmlrpc.client.ServerProxy(xmlrpc_url(server, "admin", "secret", admin=True)).system.listMethods()
    assert {"Sip.addAccount", "Customer.getAccount", "Presence.getPolicy", "system.listMethods"} <= set(methods)
    assert len(methods) == len(set(methods)) == sum(len(p.operations) for p in PORTS.ports) + 1


def test_credentials_are_required_and_must_be_basic(server):
    body = xmlrpc.client.dumps((7,), "Customer.getAccount")
    assert fault_of(raw(server, body, auth=None))["code"] == 4001
    bearer = fault_of(raw(server, body, auth=None, headers={"Authorization": "Bearer abc"}))
    assert bearer == {"code": 4001, "sentence": "XML-RPC takes HTTP Basic credentials, not 'Bearer' ones."}
    garbled = raw(server, body, auth=None, headers={"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()})
    assert fault_of(garbled)["code"] == 4001


def test_the_query_takes_admin_and_impersonate_only(server):
    body = xmlrpc.client.dumps((7,), "Customer.getAccount")
    assert fault_of(raw(server, body, query="?admn=1"))["code"] == 2006
    assert fault_of(raw(server, body, query="?admin=maybe"))["sentence"].startswith("admin must be true, false")


def test_failed_logins_over_xmlrpc_meet_the_same_brake(server):
    body = xmlrpc.client.dumps((7,), "Customer.getAccount")
    codes = [fault_of(raw(server, body, auth=("mallory", "guess"), query=""))["code"] for _ in range(11)]
    assert codes[0] == 4002 and codes[-1] == 4008


BAD_INT = ("<methodCall><methodName>Customer.getAccount</methodName><params><param><value><int>x</int></value>"
           "</param></params></methodCall>")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa">]><methodCall><methodName>&a;</methodName></methodCall>',
         2002),
        ("<methodCall><methodName>Sip.getAccount</methodName>" + "<x>" * 300 + "</x>" * 300 + "</methodCall>", 2001),
        ("<methodCall><methodName>Sip.getAccount", 2001),
        ("<methodResponse><params/></methodResponse>", 2009),
        ("<methodCall><params/></methodCall>", 2009),
        (BAD_INT, 2009),
        ("<methodCall><methodName>Nope.nothing</methodName></methodCall>", 2005),
    ],
    ids=["entity", "deep", "truncated", "response", "no-method", "bad-int", "unknown"],
)
def test_hostile_or_malformed_calls_are_refused_before_they_are_read(server, body, code):
    assert fault_of(raw(server, body))["code"] == code


def test_a_body_over_the_limit_is_refused(server):
    limit = server.app.settings.max_request_bytes
    assert fault_of(raw(server, b"<methodCall>" + b" " * limit + b"</methodCall>"))["code"] == 2003


def test_more_parameters_than_the_operation_takes_are_refused(server):
    sentence = fault_of(raw(server, xmlrpc.client.dumps((7, 8), "Customer.getAccount")))["sentence"]
    assert sentence == "Customer.getAccount takes 1 parameter (id), not 2."


def test_get_is_not_an_xmlrpc_call(server):
    response = requests.get(f"{server.base_url}{server.app.path}xmlrpc", timeout=10)
    assert response.status_code == 405


# -- the README's example and examples/xmlrpc_tour.py, as written ------------------------------

ROOT = Path(__file__).parent.parent


def test_the_readmes_xmlrpc_example_runs_as_written(server):
    readme = (ROOT / "README.md").read_text()
    example = next(block.split("```", 1)[0] for block in readme.split("```sh\n")[1:] if "xmlrpc.client" in block)
    host = server.base_url.removeprefix("http://")
    example = example.replace("admin:PASSWORD@127.0.0.1:9200", f"admin:secret@{host}")
    ran = subprocess.run(["bash", "-c", example], capture_output=True, text=True, timeout=60, check=False)
    assert (ran.returncode, ran.stdout) == (0, "s3cret\n"), ran.stderr
    account = server.admin().call("Sip", "getAccount", sipId={"username": "bob", "domain": "example.com"})
    assert account["password"] == "s3cret"


def test_the_xmlrpc_tour_in_examples_runs_against_a_fresh_server(server):
    ran = subprocess.run([sys.executable, str(ROOT / "examples" / "xmlrpc_tour.py"), server.url, "admin", "secret"],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "reseller 1 (xr-reseller), active: True",
        "customer 2 (xr-customer) under reseller 1",
        "SIP account ann@xr.example.com of customer 2",
        "refused with 1001: SIP domain xr.example.com already exists.",
        "the reseller sees 2 customers: xr-reseller, xr-customer",
        "admin as the customer reads ann's groups: voicemail",
    ]
