"""Runtime data this provisioning server does not hold (calls, registered devices, traces,
media sessions, presence), over SOAP as CDRTool sends it: empty results of the right type
(PEAR decodes an empty array as an array only with its arrayType, which the strict reader
checks) for accounts in the caller's scope, 13001 where emptiness would mislead, one log
line per call; and every operation CDRTool's port classes call is in the served WSDL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from tests.support.wire import Client, SoapFault, envelope, post, read_response

DOMAIN = "rt.example.com"
ANN = ("SipId", {"username": "ann", "domain": DOMAIN})
OPERATIONS = Path(__file__).parent / "fixtures" / "cdrtool-operations.txt"
WSDL = "http://schemas.xmlsoap.org/wsdl/"


@pytest.fixture
def admin(server: Any) -> Client:
    admin = server.admin()
    customer = admin.call("Customer", "addAccount", account={"username": "alice", "password": "pw-alice"})["id"]
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": DOMAIN, "customer": customer}))
    admin.call("Sip", "addAccount", account=("SipAccount", {"id": ANN[1], "password": "sip-pw"}))
    return admin


def refused(client: Client, operation: str, port: str = "Sip", **params: Any) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call(port, operation, **params)
    return info.value


def runtime_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ngnserver.runtime"]


def test_call_history_is_empty_arrays_for_an_account_in_scope(admin, server, caplog):
    query = ("CallsQuery", {"placed": {"fromDate": 1700000000, "toDate": 1701000000, "limit": 50},
                            "received": {"fromDate": 1700000000, "toDate": 1701000000, "limit": 50}})  # fmt: skip
    caplog.set_level(logging.INFO, "ngnserver.runtime")
    alice = server.login("alice", "pw-alice")
    assert alice.call("Sip", "getCalls", sipId=ANN, query=query) == {"placed": [], "received": []}
    assert runtime_lines(caplog) == ["Sip.getCalls asked for calls: this server holds no runtime data"]


def test_monthly_usage_is_no_calls_at_no_price(admin):
    usage = admin.call("Sip", "getCallStatistics", sipId=ANN, query=("CallsQuery", {"placed": {"limit": 1}}))
    assert usage == {"placed": {"calls": 0, "price": 0.0}, "received": {"calls": 0, "price": 0.0}}


def test_device_locations_name_each_account_with_no_locations(admin):
    found = admin.call("Sip", "getSipDeviceLocations", sipIds=[ANN[1]])
    assert found == [{"id": ANN[1], "locations": []}]


def test_runtime_data_of_an_account_outside_the_scope_is_not_found(admin, server, caplog):
    other = admin.call("Customer", "addAccount", account={"username": "bob", "password": "pw-bob"})["id"]
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "bob.example.com", "customer": other}))
    bob = server.login("bob", "pw-bob")
    caplog.set_level(logging.INFO, "ngnserver.runtime")
    assert refused(bob, "getCalls", sipId=ANN, query=("CallsQuery", {})).errorcode == 1012
    assert refused(bob, "getSipDeviceLocations", sipIds=[ANN[1]]).errorcode == 1012
    assert runtime_lines(caplog) == []  # refused before anything was asked


@pytest.mark.parametrize(
    ("operation", "params", "holder"),
    [
        ("getSipTrace", {"filter": ("SipTraceFilter", {"nodeIp": "10.0.0.1", "callId": "c1", "fromTag": "f"})},
         "SIP traces; the SIP proxy"),
        ("getMediaTrace", {"filter": ("MediaTraceFilter", {"nodeIp": "10.0.0.1", "callId": "c1", "fromTag": "f"})},
         "media traces; the media relay"),
        ("getMediaSessions", {}, "media sessions; the media relay"),
        ("getMediaSummary", {}, "media sessions; the media relay"),
    ],
)
def test_traces_and_media_sessions_are_refused_with_where_they_are_held(admin, caplog, operation, params, holder):
    caplog.set_level(logging.INFO, "ngnserver.runtime")
    fault = refused(admin, operation, **params)
    assert (fault.errorcode, fault.faultcode) == (13001, "SOAP-ENV:Client")
    assert fault.errorstring.startswith(f"This provisioning server holds no {holder}")
    assert len(runtime_lines(caplog)) == 1


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("setPresenceInformation", {"sipId": ANN, "password": "sip-pw",
                                    "information": ("PresenceInformation", {"activity": "idle", "note": "None"})}),
        ("getPresenceInformation", {"sipId": ANN, "password": "sip-pw"}),
        ("deletePresenceInformation", {"sipId": ANN, "password": "sip-pw"}),
        ("getWatchers", {"sipId": ANN, "password": "sip-pw"}),
        ("setPolicy", {"sipId": ANN, "password": "sip-pw", "policy": ("PresencePolicy", {"allow": ["sip:b@x"]})}),
        ("getPolicy", {"sipId": ANN, "password": "sip-pw"}),
    ],
)
def test_presence_calls_without_an_auth_header_are_told_no_presence_is_held(server, operation, params):
    # CDRTool's Presence class sends the SIP account's password and no auth header
    http = post(server.url, envelope("Presence", operation, params, None))
    with pytest.raises(SoapFault) as info:
        read_response(http, "Presence", operation)
    assert info.value.errorcode == 13001
    assert "holds no presence information" in info.value.errorstring


def served_operations(server: Any) -> set[tuple[str, str]]:
    wsdl = etree.fromstring(requests.get(server.url + "wsdl", timeout=30).content)
    return {
        (port_type.get("name").removesuffix("Port"), operation.get("name"))
        for port_type in wsdl.iterfind(f"{{{WSDL}}}portType")
        for operation in port_type.iterfind(f"{{{WSDL}}}operation")
    }


def test_every_operation_cdrtools_port_classes_call_is_in_the_served_wsdl(server):
    wanted = [tuple(line.split()) for line in OPERATIONS.read_text().splitlines() if line.strip()]
    assert len(wanted) == len(set(wanted)) == 108
    missing = [" ".join(op) for op in wanted if op not in served_operations(server)]
    assert missing == []
