"""PSTN routing in SipPort (carriers, gateways, gateway rules, routes, trusted peers) over
real HTTP on both backends: CDRTool's captured requests replayed, every operation, reseller
scope, parents with children refused, listing filters and pages, the audit log, and zeep
through the served WSDL."""

from __future__ import annotations

import re

import pytest
import zeep
from sqlalchemy import text
from zeep.exceptions import Fault

from tests.support.wire import SoapFault, read_response, replay
from tests.test_customer_captures import seed_reseller_seven

ALICE = ("alice", "pw")  # reseller 7's login, as in the captures


@pytest.fixture
def seven(server):
    """Reseller 7 (alice/pw, the captures' caller), reseller 8 (bob/pw) and customer 9
    (carol/c) under reseller 7."""
    seed_reseller_seven(server)
    admin = server.admin()
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "bob", "password": "pw", "resellerActive": True}))
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "carol", "password": "c", "reseller": 7}))
    return server


def ok(server, name: str, operation: str):
    return read_response(replay(server.url, name), "Sip", operation).value


def fault(server, name: str) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        read_response(replay(server.url, name))
    return info.value


def refused(code: int, client, operation: str, **params) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call("Sip", operation, **params)
    assert info.value.errorcode == code, info.value
    return info.value


def carrier(client, name: str, **extra) -> dict:
    return client.call("Sip", "addCarrier", carrier=("Carrier", {"name": name, **extra}))


def gateway(client, carrier_id: int, name: str = "gw", ip: str = "192.0.2.1", **extra) -> dict:
    return client.call("Sip", "addGateway", gateway=("Gateway", {"name": name, "carrier_id": carrier_id, "ip": ip, **extra}))


def rule(client, gateway_id: int, **extra) -> dict:
    return client.call("Sip", "addGatewayRule", rule=("GatewayRule", {"gateway_id": gateway_id, **extra}))


def routes(client, *items: dict) -> list:
    return client.call("Sip", "addRoutes", routes=list(items))


def query(**filters) -> tuple[str, dict]:
    return ("Query", {"filter": filters})


def with_captured_tree(server) -> None:
    """Carrier 1 with gateway 1, rule 1, route 1 and peer 10.0.0.9, all by the captures."""
    for name, op in (("pstn-addCarrier", "addCarrier"), ("pstn-addGateway", "addGateway"),
                     ("pstn-addGatewayRule", "addGatewayRule"), ("pstn-addRoutes", "addRoutes"),
                     ("pstn-addTrustedPeer", "addTrustedPeer")):  # fmt: skip
        ok(server, name, op)


# -- CDRTool's requests, replayed byte for byte ------------------------------------------------


def test_captured_add_requests_build_a_tree_owned_by_reseller_seven(seven):
    created = ok(seven, "pstn-addCarrier", "addCarrier")
    assert created | {"changeDate": None} == {"id": 1, "name": "Carrier A", "customer": 7, "reseller": 7, "changeDate": None}
    gw = ok(seven, "pstn-addGateway", "addGateway")
    assert (gw["id"], gw["carrier_id"], gw["carrier"], gw["ip"], gw["port"], gw["transport"], gw["reseller"]) == (
        1, 1, "Carrier A", "10.0.0.1", 5060, "udp", 7,
    )  # fmt: skip
    added = ok(seven, "pstn-addGatewayRule", "addGatewayRule")
    assert (added["gateway"], added["carrier"], added["prefix"], added["strip"], added["reseller"]) == ("gw1", "Carrier A", "0031", 2, 7)
    added_routes = ok(seven, "pstn-addRoutes", "addRoutes")
    assert [(r["prefix"], r["carrier"], r["reseller"]) for r in added_routes] == [("0031", "Carrier A", 7)]
    assert ok(seven, "pstn-addTrustedPeer", "addTrustedPeer") is None
    peer = seven.admin().call("Sip", "getTrustedPeers", query=query(ip="10.0.0.9"))["peers"][0]
    assert (peer["customer"], peer["reseller"], peer["callLimit"], peer["enumLookup"], peer["transit"]) == (7, 7, 30, True, False)


def test_captured_listings_answer_what_the_pages_read(seven):
    with_captured_tree(seven)
    for name, op, plural in (("pstn-getCarriers", "getCarriers", "carriers"),
                             ("pstn-getCarriers-select", "getCarriers", "carriers"),
                             ("pstn-getGateways", "getGateways", "gateways"),
                             ("pstn-getGatewayRules", "getGatewayRules", "gateway_rules"),
                             ("pstn-getRoutes", "getRoutes", "routes"),
                             ("pstn-getTrustedPeers", "getTrustedPeers", "peers")):  # fmt: skip
        result = ok(seven, name, op)
        assert result["total"] == 1 and len(result[plural]) == 1, name
    response = read_response(replay(seven.url, "pstn-getGatewayRules"), "Sip", "getGatewayRules")
    assert re.search(rb'SOAP-ENC:arrayType="\w+:GatewayRule\[1\]"', response.http.body)


def test_captured_updates_change_what_the_form_sent(seven):
    with_captured_tree(seven)
    admin = seven.admin()
    assert ok(seven, "pstn-updateCarrier", "updateCarrier") is None
    assert admin.call("Sip", "getCarriers", query=query(id=1))["carriers"][0]["name"] == "Carrier B"
    assert ok(seven, "pstn-updateGateway", "updateGateway") is None
    gw = admin.call("Sip", "getGateways", query=query(id=1))["gateways"][0]
    assert (gw["ip"], gw["port"], gw["carrier"]) == ("gw.example.com", 5070, "Carrier B")
    assert ok(seven, "pstn-updateGatewayRule", "updateGatewayRule") is None
    found = admin.call("Sip", "getGatewayRules", query=query(id=1))["gateway_rules"][0]
    assert (found["strip"], found["prepend"], found["minLength"], found["maxLength"]) == (4, "+31", 8, 15)
    assert ok(seven, "pstn-updateRoutes", "updateRoutes") is None
    route = admin.call("Sip", "getRoutes", query=query(id=1))["routes"][0]
    assert (route["prefix"], route["originator"], route["priority"]) == ("0032", "pbx", 5)
    assert ok(seven, "pstn-updateTrustedPeer", "updateTrustedPeer") is None
    peer = admin.call("Sip", "getTrustedPeers", query=query(ip="10.0.0.9"))["peers"][0]
    # the form's nulls (authToken, tenant: not shown for a peer that is not MS Teams) keep what is stored
    assert (peer["description"], peer["callLimit"], peer["tags"], peer["billingId"], peer["tenant"]) == (
        "main pbx", 40, "gold", "B-1", "",
    )  # fmt: skip
    assert (peer["customer"], peer["reseller"]) == (7, 7)


def test_captured_deletes_refuse_parents_with_children_then_succeed_bottom_up(seven):
    with_captured_tree(seven)
    error = fault(seven, "pstn-deleteCarrier")
    assert error.errorcode == 1053
    assert error.errorstring == "PSTN carrier 1 (Carrier A) still has 1 gateway and 1 route; delete them first."
    error = fault(seven, "pstn-deleteGateway")
    assert error.errorcode == 1063 and "still has 1 rule" in error.errorstring
    for name, op in (("pstn-deleteGatewayRule", "deleteGatewayRule"), ("pstn-deleteGateway", "deleteGateway"),
                     ("pstn-deleteRoutes", "deleteRoutes"), ("pstn-deleteCarrier", "deleteCarrier"),
                     ("pstn-deleteTrustedPeer", "deleteTrustedPeer")):  # fmt: skip
        assert ok(seven, name, op) is None, name
    assert fault(seven, "pstn-deleteCarrier").errorcode == 1052
    assert fault(seven, "pstn-deleteTrustedPeer").errorcode == 1092
    admin = seven.admin()
    for op, plural in (("getCarriers", "carriers"), ("getGateways", "gateways"), ("getRoutes", "routes"),
                       ("getGatewayRules", "gateway_rules"), ("getTrustedPeers", "peers")):  # fmt: skip
        assert admin.call("Sip", op, query={}) == {"total": 0, plural: []}


def test_an_empty_listing_is_a_typed_empty_array(seven):
    response = read_response(replay(seven.url, "pstn-getGatewayRules"), "Sip", "getGatewayRules")
    assert response.value == {"total": 0, "gateway_rules": []}
    assert re.search(rb'SOAP-ENC:arrayType="\w+:GatewayRule\[0\]"', response.http.body)


# -- scope --------------------------------------------------------------------------------------


def test_a_reseller_sees_and_changes_only_its_own(seven):
    alice, bob, admin = seven.login(*ALICE), seven.login("bob", "pw"), seven.admin()
    mine = carrier(alice, "Mine")
    theirs = carrier(bob, "Theirs")
    assert theirs["reseller"] == 8
    gw = gateway(bob, theirs["id"])
    routes(bob, {"carrier_id": theirs["id"], "prefix": "0049"})
    bob.call("Sip", "addTrustedPeer", peer=("TrustedPeer", {"ip": "198.51.100.7"}))
    listing = alice.call("Sip", "getCarriers", query={})
    assert listing["total"] == 1 and listing["carriers"][0]["name"] == "Mine"
    # a filter on another reseller never widens the scope
    assert alice.call("Sip", "getCarriers", query=query(reseller=8))["total"] == 0
    for op, plural in (("getGateways", "gateways"), ("getRoutes", "routes"), ("getTrustedPeers", "peers")):
        assert alice.call("Sip", op, query={})["total"] == 0, op
    # another reseller's records do not exist for alice: same Fault as a missing one
    refused(1052, alice, "updateCarrier", carrier=("Carrier", {"id": theirs["id"], "name": "Stolen"}))
    refused(1052, alice, "deleteCarrier", id=theirs["id"])
    refused(1052, alice, "addGateway", gateway=("Gateway", {"name": "x", "carrier_id": theirs["id"], "ip": "192.0.2.9"}))
    refused(1052, alice, "addRoutes", routes=[{"carrier_id": theirs["id"], "prefix": "1"}])
    refused(1062, alice, "deleteGateway", id=gw["id"])
    refused(1062, alice, "addGatewayRule", rule=("GatewayRule", {"gateway_id": gw["id"]}))
    refused(1081, alice, "deleteRoutes", routes=[{"id": 1}])
    refused(1092, alice, "deleteTrustedPeer", ip="198.51.100.7")
    # alice cannot move her gateway under bob's carrier either
    own_gw = gateway(alice, mine["id"])
    refused(1052, alice, "updateGateway", gateway=("Gateway", {"id": own_gw["id"], "carrier_id": theirs["id"]}))
    # admin sees everything, and the names stayed
    assert admin.call("Sip", "getCarriers", query={})["total"] == 2
    assert admin.call("Sip", "getCarriers", query=query(reseller=8))["carriers"][0]["name"] == "Theirs"
    # admin impersonating reseller 7 acts exactly as alice
    assert admin.as_customer(7).call("Sip", "getCarriers", query={})["total"] == 1


def test_a_plain_customer_is_refused_pstn_routing(seven):
    carol = seven.login("carol", "c")
    error = refused(4004, carol, "getCarriers", query={})
    assert "Only admin and resellers" in error.errorstring
    refused(4004, carol, "addCarrier", carrier=("Carrier", {"name": "x"}))
    refused(4004, carol, "addTrustedPeer", peer=("TrustedPeer", {"ip": "192.0.2.1"}))


def test_admin_places_a_carrier_under_a_reseller_and_its_children_follow(seven):
    admin = seven.admin()
    created = carrier(admin, "Wholesale", reseller=8)
    assert (created["customer"], created["reseller"]) == (0, 8)
    gw = gateway(admin, created["id"])
    added = rule(admin, gw["id"], prefix="00")
    assert (gw["reseller"], added["reseller"], added["carrier_id"]) == (8, 8, created["id"])
    bob = seven.login("bob", "pw")
    assert bob.call("Sip", "getGatewayRules", query={})["total"] == 1
    refused(5004, admin, "addCarrier", carrier=("Carrier", {"name": "x", "reseller": 9}))


def test_a_gateway_moved_to_another_carrier_takes_its_rules_along(seven):
    admin = seven.admin()
    first, second = carrier(admin, "First", reseller=7), carrier(admin, "Second", reseller=8)
    gw = gateway(admin, first["id"])
    rule(admin, gw["id"], prefix="0031")
    admin.call("Sip", "updateGateway", gateway=("Gateway", {"id": gw["id"], "carrier_id": second["id"]}))
    moved = admin.call("Sip", "getGatewayRules", query=query(carrier_id=second["id"]))
    assert moved["total"] == 1 and moved["gateway_rules"][0]["carrier"] == "Second"
    assert moved["gateway_rules"][0]["reseller"] == 8
    assert seven.login(*ALICE).call("Sip", "getGatewayRules", query={})["total"] == 0


def test_an_inactive_reseller_cannot_add_routing(seven):
    seven.admin().call("Customer", "updateAccount", account=("CustomerAccount", {"id": 7, "resellerActive": False}))
    refused(4007, seven.login(*ALICE), "addCarrier", carrier=("Carrier", {"name": "x"}))


def test_a_reseller_with_carriers_cannot_be_deleted(seven):
    carrier(seven.admin(), "Held", reseller=8)
    with pytest.raises(SoapFault) as info:
        seven.admin().call("Customer", "deleteAccount", id=8)
    assert info.value.errorcode == 5005 and "1 PSTN carrier" in info.value.errorstring


# -- values -------------------------------------------------------------------------------------


def test_duplicates_and_bad_values_are_refused_with_a_sentence(seven):
    alice = seven.login(*ALICE)
    first = carrier(alice, "Dup")
    error = refused(1051, alice, "addCarrier", carrier=("Carrier", {"name": "Dup"}))
    assert error.errorstring == "Reseller 7 already has a PSTN carrier named 'Dup'."
    carrier(seven.login("bob", "pw"), "Dup")  # another reseller may use the name
    other = carrier(alice, "Other")
    refused(1051, alice, "updateCarrier", carrier=("Carrier", {"id": other["id"], "name": "Dup"}))
    refused(2007, alice, "addCarrier", carrier=("Carrier", {"name": "  "}))
    gateway(alice, first["id"], name="gw")
    refused(1061, alice, "addGateway", gateway=("Gateway", {"name": "gw", "carrier_id": first["id"], "ip": "192.0.2.2"}))
    refused(2006, alice, "addGateway", gateway=("Gateway", {"name": "g2", "carrier_id": first["id"], "ip": "not a host"}))
    refused(2006, alice, "addGateway", gateway=("Gateway", {"name": "g2", "carrier_id": first["id"], "ip": "192.0.2.2", "transport": "sctp"}))
    refused(2006, alice, "addGateway", gateway=("Gateway", {"name": "g2", "carrier_id": first["id"], "ip": "192.0.2.2", "port": 70000}))
    refused(2007, alice, "addGateway", gateway=("Gateway", {"name": "g2", "ip": "192.0.2.2"}))
    gw = alice.call("Sip", "getGateways", query={})["gateways"][0]
    refused(2006, alice, "addGatewayRule", rule=("GatewayRule", {"gateway_id": gw["id"], "prefix": "+31"}))
    refused(2006, alice, "addGatewayRule", rule=("GatewayRule", {"gateway_id": gw["id"], "strip": -1}))
    error = refused(2006, alice, "addGatewayRule", rule=("GatewayRule", {"gateway_id": gw["id"], "minLength": 9, "maxLength": 4}))
    assert error.errorstring == "minLength 9 is greater than maxLength 4."
    refused(2006, alice, "addRoutes", routes=[{"carrier_id": first["id"], "prefix": "00x"}])
    refused(2007, alice, "addRoutes", routes=[])
    alice.call("Sip", "addTrustedPeer", peer=("TrustedPeer", {"ip": "192.0.2.50"}))
    refused(1091, alice, "addTrustedPeer", peer=("TrustedPeer", {"ip": "192.0.2.50"}))
    refused(2006, alice, "addTrustedPeer", peer=("TrustedPeer", {"ip": "10.0.0.0/33"}))


def test_add_routes_is_all_or_nothing(seven):
    alice = seven.login(*ALICE)
    own = carrier(alice, "Own")
    refused(1052, alice, "addRoutes", routes=[{"carrier_id": own["id"], "prefix": "31"}, {"carrier_id": 999, "prefix": "32"}])
    assert alice.call("Sip", "getRoutes", query={})["total"] == 0


def test_trusted_peers_by_network_and_host_name(seven):
    admin = seven.admin()
    admin.call("Sip", "addTrustedPeer", peer=("TrustedPeer", {"ip": "10.1.2.3/24", "description": "lan"}))
    admin.call("Sip", "addTrustedPeer", peer=("TrustedPeer", {"ip": "Sip.PSTNHub.Microsoft.com", "msteams": True, "tenant": "t1"}))
    found = admin.call("Sip", "getTrustedPeers", query={})
    assert sorted(p["ip"] for p in found["peers"]) == ["10.1.2.0/24", "sip.pstnhub.microsoft.com"]
    admin.call("Sip", "deleteTrustedPeer", ip="SIP.pstnhub.microsoft.com")
    assert admin.call("Sip", "getTrustedPeers", query={})["total"] == 1


# -- listings -----------------------------------------------------------------------------------


def test_listings_filter_order_and_page_with_the_total_of_every_match(seven):
    admin = seven.admin()
    first = carrier(admin, "Alpha", reseller=7)
    second = carrier(admin, "Beta", reseller=7)
    routes(admin, *({"carrier_id": first["id"], "prefix": f"00{n:02d}", "priority": n % 3} for n in range(25)))
    routes(admin, {"carrier_id": second["id"], "prefix": "0099"})
    page = admin.call("Sip", "getRoutes", query=("RouteQuery", {
        "filter": {"carrier_id": first["id"]}, "orderBy": {"attribute": "prefix", "direction": "DESC"},
        "range": {"start": 20, "count": 20}}))  # fmt: skip
    assert page["total"] == 25 and [r["prefix"] for r in page["routes"]] == ["0004", "0003", "0002", "0001", "0000"]
    assert admin.call("Sip", "getRoutes", query=query(prefix="001%"))["total"] == 10
    assert admin.call("Sip", "getRoutes", query=query(priority=2))["total"] == 8
    by_carrier = admin.call("Sip", "getRoutes", query=("RouteQuery", {"orderBy": {"attribute": "carrier", "direction": "DESC"},
                                                                     "range": {"start": 0, "count": 1}}))  # fmt: skip
    assert by_carrier["total"] == 26 and by_carrier["routes"][0]["carrier"] == "Beta"
    refused(2008, admin, "getRoutes", query=("RouteQuery", {"orderBy": {"attribute": "nonsense"}}))
    assert admin.call("Sip", "getCarriers", query=query(name="b%"))["carriers"][0]["name"] == "Beta"


def test_gateway_and_rule_listings_filter_by_their_parents(seven):
    admin = seven.admin()
    first, second = carrier(admin, "Alpha", reseller=7), carrier(admin, "Beta", reseller=7)
    gw_a, gw_b = gateway(admin, first["id"], "a"), gateway(admin, second["id"], "b", ip="gw.example.net")
    for n in range(3):
        rule(admin, gw_a["id"], prefix=f"00{n}")
    rule(admin, gw_b["id"], prefix="0044")
    assert admin.call("Sip", "getGateways", query=query(carrier_id=second["id"]))["gateways"][0]["ip"] == "gw.example.net"
    assert admin.call("Sip", "getGatewayRules", query=query(gateway_id=gw_a["id"]))["total"] == 3
    assert admin.call("Sip", "getGatewayRules", query=query(carrier_id=second["id"]))["gateway_rules"][0]["prefix"] == "0044"
    ordered = admin.call("Sip", "getGatewayRules", query=("GatewayRuleQuery", {"orderBy": {"attribute": "gateway", "direction": "DESC"}}))
    assert [r["gateway"] for r in ordered["gateway_rules"]] == ["b", "a", "a", "a"]


def test_trusted_peer_filters_msteams_and_blocked_as_cdrtool_sends_them(seven):
    admin = seven.admin()
    admin.call("Sip", "addTrustedPeer", peer=("TrustedPeer", {"ip": "192.0.2.1", "tags": "gold silver", "blocked": 1}))
    admin.call("Sip", "addTrustedPeer", peer=("TrustedPeer", {"ip": "192.0.2.2", "tags": "bronze"}))
    admin.call("Sip", "addTrustedPeer", peer=("TrustedPeer", {"ip": "teams.example.com", "msteams": True}))
    assert admin.call("Sip", "getTrustedPeers", query=query(msteams=False, tags="%%"))["total"] == 2
    teams = admin.call("Sip", "getTrustedPeers", query=query(msteams=True))
    assert [p["ip"] for p in teams["peers"]] == ["teams.example.com"]
    assert [p["ip"] for p in admin.call("Sip", "getTrustedPeers", query=query(tags="%silver%"))["peers"]] == ["192.0.2.1"]
    assert admin.call("Sip", "getTrustedPeers", query=query(blocked=0))["total"] == 2
    assert admin.call("Sip", "getTrustedPeers", query=query(blocked=1))["peers"][0]["ip"] == "192.0.2.1"
    assert admin.call("Sip", "getTrustedPeers", query={})["total"] == 3


# -- audit --------------------------------------------------------------------------------------


def test_every_routing_change_is_in_the_audit_log_without_the_auth_token(seven):
    alice = seven.login(*ALICE)
    created = carrier(alice, "Audited")
    alice.call("Sip", "updateCarrier", carrier=("Carrier", {"id": created["id"], "name": "Audited 2"}))
    alice.call("Sip", "addTrustedPeer", peer=("TrustedPeer", {"ip": "192.0.2.77", "authToken": "tok-secret"}))
    seven.admin().as_customer(7).call("Sip", "deleteCarrier", id=created["id"])
    with seven.database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT login, admin_login, acting_as, action, kind, record_key, changes FROM audit_log "
                "WHERE kind IN ('pstn_carrier', 'trusted_peer') ORDER BY id"
            )
        ).all()
    assert [(r.login, bool(r.admin_login), r.acting_as, r.action, r.kind, r.record_key) for r in rows] == [
        ("alice", False, 7, "create", "pstn_carrier", str(created["id"])),
        ("alice", False, 7, "update", "pstn_carrier", str(created["id"])),
        ("alice", False, 7, "create", "trusted_peer", "192.0.2.77"),
        ("admin", True, 7, "delete", "pstn_carrier", str(created["id"])),
    ]
    assert "tok-secret" not in str(rows)


# -- zeep ---------------------------------------------------------------------------------------


@pytest.fixture
def sip_port(seven):
    client = zeep.Client(seven.url + "wsdl")
    client.set_default_soapheaders({"auth": {"username": "alice", "password": "pw", "admin": False}})
    return client.bind("NGNPro", "SipPort")


def test_zeep_manages_routing_through_the_served_wsdl(sip_port):
    created = sip_port.addCarrier(carrier={"name": "Zeep carrier"})
    assert isinstance(created.id, int) and created.reseller == 7
    gw = sip_port.addGateway(gateway={"name": "zgw", "carrier_id": created.id, "ip": "192.0.2.10", "port": 5080})
    assert gw.carrier == "Zeep carrier" and gw.port == 5080
    added = sip_port.addGatewayRule(rule={"gateway_id": gw.id, "prefix": "0031", "strip": 2, "prepend": "+"})
    assert added.strip == 2
    new_routes = sip_port.addRoutes(routes=[{"carrier_id": created.id, "prefix": "0031", "priority": 1}])
    assert [r.prefix for r in new_routes] == ["0031"]
    sip_port.updateRoutes(routes=[{"id": new_routes[0].id, "priority": 7}])
    listed = sip_port.getRoutes(query={"filter": {"carrier_id": created.id}, "range": {"start": 0, "count": 10}})
    assert listed.total == 1 and listed.routes[0].priority == 7
    assert sip_port.addTrustedPeer(peer={"ip": "192.0.2.11", "enumLookup": False}) is None
    peers = sip_port.getTrustedPeers(query={"filter": {"ip": "192.0.2.11"}})
    assert peers.total == 1 and peers.peers[0].enumLookup is False
    with pytest.raises(Fault) as info:
        sip_port.deleteCarrier(id=created.id)
    assert info.value.detail.findtext(".//errorcode") == "1053"
    sip_port.deleteRoutes(routes=[{"id": new_routes[0].id}])
    sip_port.deleteGatewayRule(id=added.id)
    sip_port.deleteGateway(id=gw.id)
    sip_port.deleteCarrier(id=created.id)
    assert sip_port.getCarriers(query={}).total == 0
