"""zeep from the served WSDL, each operation that takes a list called both ways: with keyword
arguments the list is stored; with positional ones zeep itself drops the list's items and
sends an empty, untyped element, which the server refuses with a sentence (2006, or 2007
for setProperties) rather than answering OK and storing nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import zeep

AUTH = {"auth": {"username": "admin", "password": "secret", "admin": True}}
P = {"name": "language", "value": "en"}


@pytest.fixture
def ports(server) -> dict[str, Any]:
    client = zeep.Client(server.url + "wsdl")
    client.set_default_soapheaders(AUTH)
    bound = {name: client.bind("NGNPro", f"{name}Port") for name in ("Customer", "Sip", "Enum", "Dns")}
    me = bound["Customer"].addAccount(account={"username": "owner", "password": "pw", "resellerActive": True})
    bound["me"] = me.id
    bound["Sip"].addDomain(domain={"domain": "zeep.example", "customer": me.id})
    bound["Enum"].addRange(range={"id": {"prefix": "3190", "tld": "e164.arpa"}, "customer": me.id})
    return bound


CASES: dict[str, tuple[Callable[[dict[str, Any], bool], Any], Callable[[dict[str, Any]], Any]]] = {
    "Customer.setProperties": (
        lambda p, kw: p["Customer"].setProperties(customer=p["me"], properties=[P]) if kw else p["Customer"].setProperties(p["me"], [P]),
        lambda p: [x.name for x in p["Customer"].getProperties(customer=p["me"])],
    ),
    "Customer.addAccount properties": (
        lambda p, kw: (p["Customer"].addAccount(account={"username": "c2", "password": "pw", "properties": [P]}) if kw
                       else p["Customer"].addAccount({"username": "c2", "password": "pw", "properties": [P]})),
        lambda p: [x.name for x in p["Customer"].getAccount(id=p["me"] + 1).properties],
    ),
    "Sip.addAccount groups and properties": (
        lambda p, kw: (p["Sip"].addAccount(account={"id": {"username": "bob", "domain": "zeep.example"}, "groups": ["voicemail"], "properties": [P]}) if kw
                       else p["Sip"].addAccount({"id": {"username": "bob", "domain": "zeep.example"}, "groups": ["voicemail"], "properties": [P]})),
        lambda p: list(p["Sip"].getAccount(sipId={"username": "bob", "domain": "zeep.example"}).groups),
    ),
    "Enum.addNumber mappings": (
        lambda p, kw: (p["Enum"].addNumber(number={"id": {"number": "31901", "tld": "e164.arpa"}, "mappings": [{"type": "sip", "mapto": "sip:bob@zeep.example"}]}) if kw
                       else p["Enum"].addNumber({"id": {"number": "31901", "tld": "e164.arpa"}, "mappings": [{"type": "sip", "mapto": "sip:bob@zeep.example"}]})),
        lambda p: [m.mapto for m in p["Enum"].getNumber(enumId={"number": "31901", "tld": "e164.arpa"}).mappings],
    ),
    "Dns.addZone nameservers": (
        lambda p, kw: (p["Dns"].addZone(zone={"name": "zeep.example", "nameservers": ["ns1.example.net"]}) if kw
                       else p["Dns"].addZone({"name": "zeep.example", "nameservers": ["ns1.example.net"]})),
        lambda p: list(p["Dns"].getZone(zone="zeep.example").nameservers),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_list_passed_by_keyword_is_stored(ports, case):
    call, read = CASES[case]
    call(ports, True)
    assert read(ports), case


@pytest.mark.parametrize("case", list(CASES))
def test_a_list_zeep_drops_from_a_positional_argument_is_refused_with_a_sentence(ports, case):
    call, _read = CASES[case]
    with pytest.raises(zeep.exceptions.Fault) as info:
        call(ports, False)
    assert "by keyword" in info.value.message, info.value.message
