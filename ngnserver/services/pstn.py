"""PSTN routing in SipPort (``urn:AGProjects:NGNPro:Sip``): carriers, gateways, gateway
rules, routes and trusted peers, with the names and types CDRTool's routing pages use.

Thin: wire structs into calls on ``core.pstn`` and stored records back into wire structs.
Served by the Sip port beside ``services.sip.SipService``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spyne import Array, Boolean, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.pstn import Pstn
from ngnserver.core.queries import Query
from ngnserver.models import pstn as rows
from ngnserver.services.context import RequestContext
from ngnserver.services.sip import PORT
from ngnserver.services.types import Listing, NGNType, OrderBy, Range, wire_date

PLACED = [("customer", Integer32), ("reseller", Integer32), ("changeDate", Unicode)]


class Carrier(NGNType):
    __type_name__ = "Carrier"
    _type_info = [("id", Integer32), ("name", Unicode), *PLACED]


class CarrierFilter(NGNType):
    __type_name__ = "CarrierFilter"
    _type_info = [("id", Integer32), ("name", Unicode), ("customer", Integer32), ("reseller", Integer32)]


class CarrierQuery(NGNType):
    __type_name__ = "CarrierQuery"
    _type_info = [("filter", CarrierFilter), ("orderBy", OrderBy), ("range", Range)]


class CarrierQueryResult(NGNType):
    __type_name__ = "CarrierQueryResult"
    _type_info = [("total", Integer32), ("carriers", Array(Carrier, type_name="CarrierArray"))]


class Gateway(NGNType):
    __type_name__ = "Gateway"
    _type_info = [
        ("id", Integer32),
        ("name", Unicode),
        ("carrier_id", Integer32),
        ("carrier", Unicode),
        ("transport", Unicode),
        ("ip", Unicode),
        ("port", Integer32),
        *PLACED,
    ]


class GatewayFilter(NGNType):
    __type_name__ = "GatewayFilter"
    _type_info = [
        ("id", Integer32),
        ("name", Unicode),
        ("carrier_id", Integer32),
        ("ip", Unicode),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class GatewayQuery(NGNType):
    __type_name__ = "GatewayQuery"
    _type_info = [("filter", GatewayFilter), ("orderBy", OrderBy), ("range", Range)]


class GatewayQueryResult(NGNType):
    __type_name__ = "GatewayQueryResult"
    _type_info = [("total", Integer32), ("gateways", Array(Gateway, type_name="GatewayArray"))]


class GatewayRule(NGNType):
    __type_name__ = "GatewayRule"
    _type_info = [
        ("id", Integer32),
        ("gateway_id", Integer32),
        ("gateway", Unicode),
        ("carrier_id", Integer32),
        ("carrier", Unicode),
        ("prefix", Unicode),
        ("strip", Integer32),
        ("prepend", Unicode),
        ("minLength", Integer32),
        ("maxLength", Integer32),
        *PLACED,
    ]


class GatewayRuleFilter(NGNType):
    __type_name__ = "GatewayRuleFilter"
    _type_info = [
        ("id", Integer32),
        ("gateway_id", Integer32),
        ("carrier_id", Integer32),
        ("prefix", Unicode),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class GatewayRuleQuery(NGNType):
    __type_name__ = "GatewayRuleQuery"
    _type_info = [("filter", GatewayRuleFilter), ("orderBy", OrderBy), ("range", Range)]


class GatewayRuleQueryResult(NGNType):
    __type_name__ = "GatewayRuleQueryResult"
    _type_info = [("total", Integer32), ("gateway_rules", Array(GatewayRule, type_name="GatewayRuleArray"))]


class Route(NGNType):
    __type_name__ = "Route"
    _type_info = [
        ("id", Integer32),
        ("carrier_id", Integer32),
        ("carrier", Unicode),
        ("prefix", Unicode),
        ("originator", Unicode),
        ("priority", Integer32),
        *PLACED,
    ]


RouteArray = Array(Route, type_name="RouteArray")


class RouteFilter(NGNType):
    __type_name__ = "RouteFilter"
    _type_info = [
        ("id", Integer32),
        ("carrier_id", Integer32),
        ("prefix", Unicode),
        ("originator", Unicode),
        ("priority", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class RouteQuery(NGNType):
    __type_name__ = "RouteQuery"
    _type_info = [("filter", RouteFilter), ("orderBy", OrderBy), ("range", Range)]


class RouteQueryResult(NGNType):
    __type_name__ = "RouteQueryResult"
    _type_info = [("total", Integer32), ("routes", RouteArray)]


class TrustedPeer(NGNType):
    __type_name__ = "TrustedPeer"
    _type_info = [
        ("ip", Unicode),
        ("description", Unicode),
        ("callLimit", Integer32),
        ("blocked", Integer32),
        ("prepaid", Boolean),
        ("enumLookup", Boolean),
        ("transit", Boolean),
        ("msteams", Boolean),
        ("tenant", Unicode),
        ("carrierName", Unicode),
        ("originator", Unicode),
        ("prefix", Unicode),
        ("strip", Integer32),
        ("authToken", Unicode),
        ("tags", Unicode),
        ("billingId", Unicode),
        ("owner", Integer32),
        *PLACED,
    ]


class TrustedPeerFilter(NGNType):
    __type_name__ = "TrustedPeerFilter"
    _type_info = [
        ("ip", Unicode),
        ("description", Unicode),
        ("tenant", Unicode),
        ("tags", Unicode),
        ("billingId", Unicode),
        ("carrierName", Unicode),
        ("originator", Unicode),
        ("msteams", Boolean),
        ("blocked", Integer32),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class TrustedPeerQuery(NGNType):
    __type_name__ = "TrustedPeerQuery"
    _type_info = [("filter", TrustedPeerFilter), ("orderBy", OrderBy), ("range", Range)]


class TrustedPeerQueryResult(NGNType):
    __type_name__ = "TrustedPeerQueryResult"
    _type_info = [("total", Integer32), ("peers", Array(TrustedPeer, type_name="TrustedPeerArray"))]


# -- wire <-> domain ---------------------------------------------------------------------------

_RULE_WIRE = {"prefix": "prefix", "strip": "strip", "prepend": "prepend", "minLength": "min_length",
              "maxLength": "max_length"}  # fmt: skip
_PEER_WIRE = {
    "description": "description", "callLimit": "call_limit", "blocked": "blocked", "prepaid": "prepaid",
    "enumLookup": "enum_lookup", "transit": "transit", "msteams": "msteams", "tenant": "tenant",
    "carrierName": "carrier_name", "originator": "originator", "prefix": "prefix", "strip": "strip",
    "authToken": "auth_token", "tags": "tags", "billingId": "billing_id",
}  # fmt: skip
_KEYS = ("id", "customer", "reseller", "owner")


def _fields(wire: dict[str, Any] | None, names: dict[str, str], keys: tuple[str, ...] = _KEYS) -> dict[str, Any]:
    """Model attributes from a wire struct: the mapped members and the ids named in ``keys``
    (read-only members a client echoes, like ``carrier`` or ``changeDate``, are dropped)."""
    wire = wire or {}
    fields = {attr: wire.get(name) for name, attr in names.items()}
    fields.update((key, wire.get(key)) for key in keys)
    return fields


def _placed(record: Any) -> dict[str, Any]:
    return {"customer": record.customer, "reseller": record.reseller, "changeDate": wire_date(record.change_date)}


def carrier_to_wire(carrier: rows.Carrier) -> dict[str, Any]:
    return {"id": carrier.id, "name": carrier.name, **_placed(carrier)}


def gateway_to_wire(gateway: rows.Gateway, carrier: str) -> dict[str, Any]:
    return {
        "id": gateway.id, "name": gateway.name, "carrier_id": gateway.carrier_id, "carrier": carrier,
        "transport": gateway.transport, "ip": gateway.ip, "port": gateway.port, **_placed(gateway),
    }  # fmt: skip


def rule_to_wire(rule: rows.GatewayRule, gateway: str, carrier: str) -> dict[str, Any]:
    wire = {name: getattr(rule, attr) for name, attr in _RULE_WIRE.items()}
    wire.update(id=rule.id, gateway_id=rule.gateway_id, gateway=gateway, carrier_id=rule.carrier_id, carrier=carrier)
    return wire | _placed(rule)


def route_to_wire(route: rows.Route, carrier: str) -> dict[str, Any]:
    return {
        "id": route.id, "carrier_id": route.carrier_id, "carrier": carrier, "prefix": route.prefix,
        "originator": route.originator, "priority": route.priority, **_placed(route),
    }  # fmt: skip


def peer_to_wire(peer: rows.TrustedPeer) -> dict[str, Any]:
    wire = {name: getattr(peer, attr) for name, attr in _PEER_WIRE.items()}
    return wire | {"ip": peer.ip, "owner": peer.owner} | _placed(peer)


CARRIERS = Listing(
    like={"name": rows.Carrier.name},
    equal={"id": rows.Carrier.id, "customer": rows.Carrier.customer, "reseller": rows.Carrier.reseller},
    order={"changeDate": rows.Carrier.change_date, "name": rows.Carrier.name, "id": rows.Carrier.id},
    default=("name", "ASC"),
)
GATEWAYS = Listing(
    like={"name": rows.Gateway.name, "ip": rows.Gateway.ip},
    equal={"id": rows.Gateway.id, "carrier_id": rows.Gateway.carrier_id, "customer": rows.Gateway.customer,
           "reseller": rows.Gateway.reseller},
    order={"changeDate": rows.Gateway.change_date, "name": rows.Gateway.name, "carrier_id": rows.Gateway.carrier_id,
           "ip": rows.Gateway.ip, "id": rows.Gateway.id},
    default=("name", "ASC"),
)  # fmt: skip
GATEWAY_RULES = Listing(
    like={"prefix": rows.GatewayRule.prefix},
    equal={"id": rows.GatewayRule.id, "gateway_id": rows.GatewayRule.gateway_id,
           "carrier_id": rows.GatewayRule.carrier_id, "customer": rows.GatewayRule.customer,
           "reseller": rows.GatewayRule.reseller},
    order={"changeDate": rows.GatewayRule.change_date, "gateway": rows.Gateway.name, "carrier": rows.Carrier.name,
           "prefix": rows.GatewayRule.prefix, "id": rows.GatewayRule.id},
    default=("id", "ASC"),
)  # fmt: skip
ROUTES = Listing(
    like={"prefix": rows.Route.prefix, "originator": rows.Route.originator},
    equal={"id": rows.Route.id, "carrier_id": rows.Route.carrier_id, "priority": rows.Route.priority,
           "customer": rows.Route.customer, "reseller": rows.Route.reseller},
    order={"prefix": rows.Route.prefix, "priority": rows.Route.priority, "changeDate": rows.Route.change_date,
           "carrier": rows.Carrier.name, "id": rows.Route.id},
    default=("prefix", "ASC"),
)  # fmt: skip
PEERS = Listing(
    like={"ip": rows.TrustedPeer.ip, "description": rows.TrustedPeer.description,
          "tenant": rows.TrustedPeer.tenant, "tags": rows.TrustedPeer.tags,
          "billingId": rows.TrustedPeer.billing_id, "carrierName": rows.TrustedPeer.carrier_name,
          "originator": rows.TrustedPeer.originator},
    equal={"owner": rows.TrustedPeer.owner, "customer": rows.TrustedPeer.customer,
           "reseller": rows.TrustedPeer.reseller},
    order={"changeDate": rows.TrustedPeer.change_date, "description": rows.TrustedPeer.description,
           "ip": rows.TrustedPeer.ip, "id": rows.TrustedPeer.id},
    default=("ip", "ASC"),
)  # fmt: skip


def peers_query(wire: dict[str, Any] | None) -> Query:
    """The trusted peers' query: besides the usual filters, ``msteams`` (CDRTool always
    sends it: true lists the Microsoft Teams peers, false the others) and ``blocked``
    (CDRTool sends it only when the operator typed a value, so 0 means "not blocked")."""
    query = PEERS.query(wire)
    filters = (wire or {}).get("filter") or {}
    extra = {column: filters[name] for name, column in (("msteams", rows.TrustedPeer.msteams),
                                                        ("blocked", rows.TrustedPeer.blocked))
             if filters.get(name) is not None}  # fmt: skip
    return replace(query, equal={**query.equal, **extra}) if extra else query


def _pstn(ctx: RequestContext) -> Pstn:
    return Pstn(ctx.session, ctx.caller, ctx.settings.query_max_rows)


class PstnService(ServiceBase):
    """PSTN carriers, gateways, gateway rules, routes and trusted peers."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(Carrier, _returns=Carrier, _port_type=PORT)
    def addCarrier(ctx: RequestContext, carrier: dict[str, Any] | None) -> dict[str, Any]:
        return carrier_to_wire(_pstn(ctx).add_carrier(_fields(carrier, {"name": "name"})))

    @rpc(Carrier, _port_type=PORT)
    def updateCarrier(ctx: RequestContext, carrier: dict[str, Any] | None) -> None:
        _pstn(ctx).update_carrier(_fields(carrier, {"name": "name"}))

    @rpc(Integer32, _port_type=PORT)
    def deleteCarrier(ctx: RequestContext, id: int | None) -> None:
        _pstn(ctx).delete_carrier(id)

    @rpc(CarrierQuery, _returns=CarrierQueryResult, _port_type=PORT)
    def getCarriers(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, carriers = _pstn(ctx).carriers(CARRIERS.query(query))
        return {"total": total, "carriers": [carrier_to_wire(c) for c in carriers]}

    @rpc(Gateway, _returns=Gateway, _port_type=PORT)
    def addGateway(ctx: RequestContext, gateway: dict[str, Any] | None) -> dict[str, Any]:
        fields = _fields(gateway, {n: n for n in ("name", "carrier_id", "transport", "ip", "port")})
        return gateway_to_wire(*_pstn(ctx).add_gateway(fields))

    @rpc(Gateway, _port_type=PORT)
    def updateGateway(ctx: RequestContext, gateway: dict[str, Any] | None) -> None:
        _pstn(ctx).update_gateway(_fields(gateway, {n: n for n in ("name", "carrier_id", "transport", "ip", "port")}))

    @rpc(Integer32, _port_type=PORT)
    def deleteGateway(ctx: RequestContext, id: int | None) -> None:
        _pstn(ctx).delete_gateway(id)

    @rpc(GatewayQuery, _returns=GatewayQueryResult, _port_type=PORT)
    def getGateways(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, gateways = _pstn(ctx).gateways(GATEWAYS.query(query))
        return {"total": total, "gateways": [gateway_to_wire(g, carrier) for g, carrier in gateways]}

    @rpc(GatewayRule, _returns=GatewayRule, _port_type=PORT)
    def addGatewayRule(ctx: RequestContext, rule: dict[str, Any] | None) -> dict[str, Any]:
        return rule_to_wire(*_pstn(ctx).add_rule(_fields(rule, _RULE_WIRE | {"gateway_id": "gateway_id"})))

    @rpc(GatewayRule, _port_type=PORT)
    def updateGatewayRule(ctx: RequestContext, rule: dict[str, Any] | None) -> None:
        _pstn(ctx).update_rule(_fields(rule, _RULE_WIRE | {"gateway_id": "gateway_id"}))

    @rpc(Integer32, _port_type=PORT)
    def deleteGatewayRule(ctx: RequestContext, id: int | None) -> None:
        _pstn(ctx).delete_rule(id)

    @rpc(GatewayRuleQuery, _returns=GatewayRuleQueryResult, _port_type=PORT)
    def getGatewayRules(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, found = _pstn(ctx).rules(GATEWAY_RULES.query(query))
        return {"total": total, "gateway_rules": [rule_to_wire(*r) for r in found]}

    @rpc(RouteArray, _returns=RouteArray, _port_type=PORT)
    def addRoutes(ctx: RequestContext, routes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        added = _pstn(ctx).add_routes([_route_fields(r) for r in routes or []])
        return [route_to_wire(route, carrier) for route, carrier in added]

    @rpc(RouteArray, _port_type=PORT)
    def updateRoutes(ctx: RequestContext, routes: list[dict[str, Any]] | None) -> None:
        _pstn(ctx).update_routes([_route_fields(r) for r in routes or []])

    @rpc(RouteArray, _port_type=PORT)
    def deleteRoutes(ctx: RequestContext, routes: list[dict[str, Any]] | None) -> None:
        _pstn(ctx).delete_routes([_route_fields(r) for r in routes or []])

    @rpc(RouteQuery, _returns=RouteQueryResult, _port_type=PORT)
    def getRoutes(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, found = _pstn(ctx).routes(ROUTES.query(query))
        return {"total": total, "routes": [route_to_wire(route, carrier) for route, carrier in found]}

    @rpc(TrustedPeer, _port_type=PORT)
    def addTrustedPeer(ctx: RequestContext, peer: dict[str, Any] | None) -> None:
        _pstn(ctx).add_peer(_fields(peer, _PEER_WIRE | {"ip": "ip"}))

    @rpc(TrustedPeer, _port_type=PORT)
    def updateTrustedPeer(ctx: RequestContext, peer: dict[str, Any] | None) -> None:
        _pstn(ctx).update_peer(_fields(peer, _PEER_WIRE | {"ip": "ip"}, ("owner",)))

    @rpc(Unicode, _port_type=PORT)
    def deleteTrustedPeer(ctx: RequestContext, ip: str | None) -> None:
        _pstn(ctx).delete_peer(ip)

    @rpc(TrustedPeerQuery, _returns=TrustedPeerQueryResult, _port_type=PORT)
    def getTrustedPeers(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, peers = _pstn(ctx).peers(peers_query(query))
        return {"total": total, "peers": [peer_to_wire(p) for p in peers]}


def _route_fields(route: dict[str, Any] | None) -> dict[str, Any]:
    return _fields(route, {n: n for n in ("carrier_id", "prefix", "originator", "priority")}, ("id",))
