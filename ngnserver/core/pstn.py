"""PSTN routing: carriers, their gateways, the gateways' number translation rules, routes
and trusted peers.

Routing belongs to resellers (CDRTool offers these pages to resellers and admin only): a
plain customer login is refused every operation here. A carrier is placed like any parent
record (``records.placement``); its gateways and routes inherit its customer and reseller,
and a gateway's rules inherit the gateway's. A reseller sees and changes only its own, admin
everything, and a record outside the caller's scope is "not found". A carrier with gateways
or routes, and a gateway with rules, cannot be deleted: the Fault says what is left.
Placement is fixed at creation: CDRTool echoes ``reseller`` (and sends 0 for it when admin
edits a trusted peer), so an update never moves a record to another reseller by itself; a
gateway or route moves only with the carrier it is given.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ngnserver.core import audit, ownership, records
from ngnserver.core.callers import Caller, Role
from ngnserver.core.errors import E, ErrorCode, NGNError
from ngnserver.core.queries import Query, fetch_page
from ngnserver.models.base import utcnow
from ngnserver.models.pstn import Carrier, Gateway, GatewayRule, Route, TrustedPeer

TRANSPORTS = ("udp", "tcp", "tls")
DEFAULT_PORT = 5060

_DIGITS_RE = re.compile(r"^[0-9]*\Z")
_PREPEND_RE = re.compile(r"^[0-9+*#]*\Z")
_HOST_RE = re.compile(r"^(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")

GATEWAY_FIELDS = ("name", "transport", "ip", "port")
RULE_FIELDS = ("prefix", "strip", "prepend", "min_length", "max_length")
ROUTE_FIELDS = ("prefix", "originator", "priority")
PEER_FIELDS = (
    "description", "call_limit", "blocked", "prepaid", "enum_lookup", "transit", "msteams", "tenant",
    "carrier_name", "originator", "prefix", "strip", "auth_token", "tags", "billing_id",
)  # fmt: skip


def _name(value: Any, what: str) -> str:
    name = (value or "").strip()
    if not name:
        raise NGNError(E.MISSING_PARAMETER, f"A {what} needs a name.")
    return name


def _host(value: Any, what: str) -> str:
    """An IP address or a host name, as stored (lower case)."""
    host = (value or "").strip().lower()
    if not host:
        raise NGNError(E.MISSING_PARAMETER, f"A {what} needs an address.")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOST_RE.match(host.rstrip(".")):
        raise NGNError(E.INVALID_VALUE, f"{value!r} is not an IP address or a host name.")
    return host.rstrip(".")


def _peer_address(value: Any) -> str:
    """A trusted peer's key: an IP address, a network (``10.0.0.0/24``) or a host name."""
    address = (value or "").strip().lower()
    if "/" in address:
        try:
            return str(ipaddress.ip_network(address, strict=False))
        except ValueError:
            raise NGNError(E.INVALID_VALUE, f"{value!r} is not an IP network.") from None
    return _host(address, "trusted peer")


def _digits(value: Any, what: str) -> str:
    text = (value or "").strip()
    if not _DIGITS_RE.match(text):
        raise NGNError(E.INVALID_VALUE, f"{what} {value!r} must be digits only (00 + E.164, empty for every number).")
    return text


def _count(value: Any, what: str) -> int:
    if value < 0:
        raise NGNError(E.INVALID_VALUE, f"{what} cannot be negative ({value}).")
    return value


def _given(fields: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: fields[name] for name in names if fields.get(name) is not None}


def _id(value: Any, what: str) -> int:
    if not value:
        raise NGNError(E.MISSING_PARAMETER, f"A {what} id is required.")
    return int(value)


def _left(counts: Mapping[str, int]) -> str:
    """ "2 gateways and 1 route" for what still hangs under a record."""
    parts = [f"{n} {name if n == 1 else name + 's'}" for name, n in counts.items() if n]
    return " and ".join(parts)


class Pstn:
    """PSTN routing operations for one request."""

    def __init__(self, session: Session, caller: Caller, max_rows: int = 1000) -> None:
        if caller.role is Role.CUSTOMER:
            raise NGNError(E.PERMISSION_DENIED, "Only admin and resellers manage PSTN routing and trusted peers.")
        self.session = session
        self.caller = caller
        self.max_rows = max_rows

    def _one(self, model: Any, record_id: Any, error: ErrorCode, what: str, lock: bool = False) -> Any:
        found_id = _id(record_id, what)
        return records.in_scope(
            self.session, self.caller, model, model.id == found_id,
            missing=(error, f"{what[0].upper()}{what[1:]} {found_id} does not exist."), lock=lock,
        )  # fmt: skip

    def _page(self, stmt: Any, model: Any, query: Query, default: tuple[Any, str]) -> tuple[int, list[Any]]:
        return fetch_page(
            self.session, stmt, records.visible(self.caller, model), query, default, model.id, self.max_rows
        )

    def _changed(self, record: Any, kind: str, fields: Mapping[str, Any]) -> None:
        record.change_date = utcnow()
        audit.record(self.session, self.caller, "update", kind, record.id, records.given(fields))

    # -- carriers --------------------------------------------------------------------------

    def carrier(self, carrier_id: Any, lock: bool = False) -> Carrier:
        return self._one(Carrier, carrier_id, E.PSTN_CARRIER_NOT_FOUND, "PSTN carrier", lock)

    def _check_carrier_name(self, reseller: int, name: str, other_than: int | None = None) -> None:
        taken = select(Carrier.id).where(Carrier.reseller == reseller, Carrier.name == name, Carrier.id != (other_than or 0))
        if self.session.execute(taken).first():
            raise NGNError(E.PSTN_CARRIER_EXISTS, f"Reseller {reseller} already has a PSTN carrier named {name!r}.")

    def add_carrier(self, fields: Mapping[str, Any]) -> Carrier:
        records.require_active_reseller(self.caller)
        name = _name(fields.get("name"), "PSTN carrier")
        customer, reseller = records.placement(self.session, self.caller, fields.get("customer"), fields.get("reseller"))
        self._check_carrier_name(reseller, name)
        carrier = Carrier(name=name, customer=customer, reseller=reseller)
        self.session.add(carrier)
        records.flush_unique(
            self.session, E.PSTN_CARRIER_EXISTS, f"Reseller {reseller} already has a PSTN carrier named {name!r}."
        )
        audit.record(self.session, self.caller, "create", "pstn_carrier", carrier.id, records.given(fields))
        return carrier

    def update_carrier(self, fields: Mapping[str, Any]) -> None:
        carrier = self.carrier(fields.get("id"), lock=True)
        if fields.get("name") is not None:
            name = _name(fields["name"], "PSTN carrier")
            self._check_carrier_name(carrier.reseller, name, carrier.id)
            carrier.name = name
        self._changed(carrier, "pstn_carrier", fields)
        records.flush_unique(
            self.session, E.PSTN_CARRIER_EXISTS, f"Reseller {carrier.reseller} already has a PSTN carrier of that name."
        )

    def delete_carrier(self, carrier_id: Any) -> None:
        carrier = self.carrier(carrier_id, lock=True)
        left = {
            "gateway": self._count(Gateway, Gateway.carrier_id == carrier.id),
            "route": self._count(Route, Route.carrier_id == carrier.id),
        }
        if any(left.values()):
            raise NGNError(
                E.PSTN_CARRIER_IN_USE,
                f"PSTN carrier {carrier.id} ({carrier.name}) still has {_left(left)}; delete them first.",
            )
        self.session.delete(carrier)
        audit.record(self.session, self.caller, "delete", "pstn_carrier", carrier.id, {"name": carrier.name})

    def _count(self, model: Any, where: Any) -> int:
        return self.session.execute(select(func.count()).select_from(model).where(where)).scalar_one()

    def carriers(self, query: Query) -> tuple[int, list[Carrier]]:
        total, rows = self._page(select(Carrier), Carrier, query, (Carrier.name, "ASC"))
        return total, [r[0] for r in rows]

    # -- gateways --------------------------------------------------------------------------

    def gateway(self, gateway_id: Any, lock: bool = False) -> Gateway:
        return self._one(Gateway, gateway_id, E.PSTN_GATEWAY_NOT_FOUND, "PSTN gateway", lock)

    def _gateway_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        values = _given(fields, GATEWAY_FIELDS)
        if "name" in values:
            values["name"] = _name(values["name"], "PSTN gateway")
        if "transport" in values:
            transport = str(values["transport"]).strip().lower() or TRANSPORTS[0]
            if transport not in TRANSPORTS:
                raise NGNError(E.INVALID_VALUE, f"Transport {values['transport']!r} is not one of {', '.join(TRANSPORTS)}.")
            values["transport"] = transport
        if "ip" in values:
            values["ip"] = _host(values["ip"], "PSTN gateway")
        if "port" in values:
            values["port"] = values["port"] or DEFAULT_PORT
            if not 1 <= values["port"] <= 65535:
                raise NGNError(E.INVALID_VALUE, f"Port {values['port']} is not between 1 and 65535.")
        return values

    def _gateway_exists(self, carrier: Carrier, name: str) -> str:
        return f"PSTN carrier {carrier.id} already has a gateway named {name!r}."

    def add_gateway(self, fields: Mapping[str, Any]) -> tuple[Gateway, str]:
        """A new gateway under its carrier, and the carrier's name. The carrier row is
        locked until the transaction ends, so that it cannot be deleted meanwhile."""
        records.require_active_reseller(self.caller)
        values = self._gateway_values(fields)
        for required in ("name", "ip"):
            if required not in values:
                raise NGNError(E.MISSING_PARAMETER, "A PSTN gateway needs a name, a carrier_id and an address (ip).")
        carrier = self.carrier(fields.get("carrier_id"), lock=True)
        if self.session.execute(
            select(Gateway.id).where(Gateway.carrier_id == carrier.id, Gateway.name == values["name"])
        ).first():
            raise NGNError(E.PSTN_GATEWAY_EXISTS, self._gateway_exists(carrier, values["name"]))
        gateway = Gateway(carrier_id=carrier.id, customer=carrier.customer, reseller=carrier.reseller, **values)
        self.session.add(gateway)
        self._flush_gateway(carrier, values["name"])
        audit.record(self.session, self.caller, "create", "pstn_gateway", gateway.id, records.given(fields))
        return gateway, carrier.name

    def _flush_gateway(self, carrier: Carrier, name: str) -> None:
        records.flush_unique(self.session, E.PSTN_GATEWAY_EXISTS, self._gateway_exists(carrier, name))

    def update_gateway(self, fields: Mapping[str, Any]) -> None:
        gateway = self.gateway(fields.get("id"), lock=True)
        values = self._gateway_values(fields)
        carrier_id = fields.get("carrier_id")
        carrier = self.carrier(carrier_id or gateway.carrier_id, lock=bool(carrier_id and carrier_id != gateway.carrier_id))
        if carrier.id != gateway.carrier_id:
            gateway.carrier_id, gateway.customer, gateway.reseller = carrier.id, carrier.customer, carrier.reseller
            self.session.execute(
                update(GatewayRule)
                .where(GatewayRule.gateway_id == gateway.id)
                .values(carrier_id=carrier.id, customer=carrier.customer, reseller=carrier.reseller)
            )
        for name, value in values.items():
            setattr(gateway, name, value)
        self._changed(gateway, "pstn_gateway", fields)
        self._flush_gateway(carrier, gateway.name)

    def delete_gateway(self, gateway_id: Any) -> None:
        gateway = self.gateway(gateway_id, lock=True)
        rules = self._count(GatewayRule, GatewayRule.gateway_id == gateway.id)
        if rules:
            raise NGNError(
                E.PSTN_GATEWAY_IN_USE,
                f"PSTN gateway {gateway.id} ({gateway.name}) still has {_left({'rule': rules})}; delete them first.",
            )
        self.session.delete(gateway)
        audit.record(self.session, self.caller, "delete", "pstn_gateway", gateway.id, {"name": gateway.name})

    def gateways(self, query: Query) -> tuple[int, list[Any]]:
        """A page of (gateway, carrier name)."""
        stmt = select(Gateway, Carrier.name).join(Carrier, Carrier.id == Gateway.carrier_id)
        total, rows = self._page(stmt, Gateway, query, (Gateway.name, "ASC"))
        return total, [tuple(r) for r in rows]

    # -- gateway rules ---------------------------------------------------------------------

    def rule(self, rule_id: Any, lock: bool = False) -> GatewayRule:
        return self._one(GatewayRule, rule_id, E.PSTN_RULE_NOT_FOUND, "gateway rule", lock)

    def _rule_values(self, fields: Mapping[str, Any], rule: GatewayRule | None = None) -> dict[str, Any]:
        values = _given(fields, RULE_FIELDS)
        if "prefix" in values:
            values["prefix"] = _digits(values["prefix"], "Prefix")
        if "prepend" in values:
            prepend = (values["prepend"] or "").strip()
            if not _PREPEND_RE.match(prepend):
                raise NGNError(E.INVALID_VALUE, f"prepend {values['prepend']!r} may hold only digits, +, * and #.")
            values["prepend"] = prepend
        for name, wire in (("strip", "strip"), ("min_length", "minLength"), ("max_length", "maxLength")):
            if name in values:
                _count(values[name], wire)
        low = values.get("min_length", rule.min_length if rule else 0)
        high = values.get("max_length", rule.max_length if rule else 0)
        if low and high and low > high:
            raise NGNError(E.INVALID_VALUE, f"minLength {low} is greater than maxLength {high}.")
        return values

    def add_rule(self, fields: Mapping[str, Any]) -> tuple[GatewayRule, str, str]:
        """A new rule under its gateway, with the gateway's and the carrier's names."""
        records.require_active_reseller(self.caller)
        values = self._rule_values(fields)
        gateway = self.gateway(fields.get("gateway_id"), lock=True)
        rule = GatewayRule(
            gateway_id=gateway.id, carrier_id=gateway.carrier_id, customer=gateway.customer,
            reseller=gateway.reseller, **values,
        )  # fmt: skip
        self.session.add(rule)
        self.session.flush()
        audit.record(self.session, self.caller, "create", "pstn_gateway_rule", rule.id, records.given(fields))
        return rule, gateway.name, self._carrier_name(gateway.carrier_id)

    def _carrier_name(self, carrier_id: int) -> str:
        return self.session.execute(select(Carrier.name).where(Carrier.id == carrier_id)).scalar_one()

    def update_rule(self, fields: Mapping[str, Any]) -> None:
        rule = self.rule(fields.get("id"), lock=True)
        values = self._rule_values(fields, rule)
        gateway_id = fields.get("gateway_id")
        if gateway_id and gateway_id != rule.gateway_id:
            gateway = self.gateway(gateway_id, lock=True)
            rule.gateway_id, rule.carrier_id = gateway.id, gateway.carrier_id
            rule.customer, rule.reseller = gateway.customer, gateway.reseller
        for name, value in values.items():
            setattr(rule, name, value)
        self._changed(rule, "pstn_gateway_rule", fields)

    def delete_rule(self, rule_id: Any) -> None:
        rule = self.rule(rule_id, lock=True)
        self.session.delete(rule)
        audit.record(self.session, self.caller, "delete", "pstn_gateway_rule", rule.id, {"gateway_id": rule.gateway_id})

    def rules(self, query: Query) -> tuple[int, list[Any]]:
        """A page of (rule, gateway name, carrier name)."""
        stmt = (
            select(GatewayRule, Gateway.name, Carrier.name)
            .join(Gateway, Gateway.id == GatewayRule.gateway_id)
            .join(Carrier, Carrier.id == GatewayRule.carrier_id)
        )
        total, rows = self._page(stmt, GatewayRule, query, (GatewayRule.id, "ASC"))
        return total, [tuple(r) for r in rows]

    # -- routes ----------------------------------------------------------------------------

    def _route_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        values = _given(fields, ROUTE_FIELDS)
        if "prefix" in values:
            values["prefix"] = _digits(values["prefix"], "Prefix")
        if "originator" in values:
            values["originator"] = values["originator"].strip()
        return values

    def add_routes(self, routes: Sequence[Mapping[str, Any]]) -> list[tuple[Route, str]]:
        """New routes, each under its carrier, all or none; with their carriers' names."""
        records.require_active_reseller(self.caller)
        if not routes:
            raise NGNError(E.MISSING_PARAMETER, "addRoutes needs at least one route.")
        added = []
        for fields in routes:
            values = self._route_values(fields)
            carrier = self.carrier(fields.get("carrier_id"), lock=True)
            route = Route(carrier_id=carrier.id, customer=carrier.customer, reseller=carrier.reseller, **values)
            self.session.add(route)
            self.session.flush()
            audit.record(self.session, self.caller, "create", "pstn_route", route.id, records.given(fields))
            added.append((route, carrier.name))
        return added

    def route(self, route_id: Any, lock: bool = False) -> Route:
        return self._one(Route, route_id, E.PSTN_ROUTE_NOT_FOUND, "PSTN route", lock)

    def update_routes(self, routes: Sequence[Mapping[str, Any]]) -> None:
        if not routes:
            raise NGNError(E.MISSING_PARAMETER, "updateRoutes needs at least one route.")
        for fields in routes:
            route = self.route(fields.get("id"), lock=True)
            values = self._route_values(fields)
            carrier_id = fields.get("carrier_id")
            if carrier_id and carrier_id != route.carrier_id:
                carrier = self.carrier(carrier_id, lock=True)
                route.carrier_id, route.customer, route.reseller = carrier.id, carrier.customer, carrier.reseller
            for name, value in values.items():
                setattr(route, name, value)
            self._changed(route, "pstn_route", fields)

    def delete_routes(self, routes: Sequence[Mapping[str, Any]]) -> None:
        if not routes:
            raise NGNError(E.MISSING_PARAMETER, "deleteRoutes needs at least one route.")
        seen: set[Any] = set()
        for fields in routes:
            route_id = fields.get("id")
            if route_id in seen:
                raise NGNError(E.INVALID_VALUE, f"deleteRoutes names route {route_id} twice.")
            seen.add(route_id)
            route = self.route(route_id, lock=True)
            self.session.delete(route)
            audit.record(self.session, self.caller, "delete", "pstn_route", route.id, {"prefix": route.prefix})

    def routes(self, query: Query) -> tuple[int, list[Any]]:
        """A page of (route, carrier name)."""
        stmt = select(Route, Carrier.name).join(Carrier, Carrier.id == Route.carrier_id)
        total, rows = self._page(stmt, Route, query, (Route.prefix, "ASC"))
        return total, [tuple(r) for r in rows]

    # -- trusted peers ---------------------------------------------------------------------

    def peer(self, address: Any, lock: bool = False) -> TrustedPeer:
        ip = _peer_address(address)
        return records.in_scope(
            self.session, self.caller, TrustedPeer, TrustedPeer.ip == ip,
            missing=(E.TRUSTED_PEER_NOT_FOUND, f"Trusted peer {ip} does not exist."), lock=lock,
        )  # fmt: skip

    def _peer_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        values = _given(fields, PEER_FIELDS)
        for name, wire in (("call_limit", "callLimit"), ("strip", "strip"), ("blocked", "blocked")):
            if name in values:
                _count(values[name], wire)
        if "prefix" in values:
            prefix = values["prefix"].strip()
            if not _PREPEND_RE.match(prefix):
                raise NGNError(E.INVALID_VALUE, f"prefix {values['prefix']!r} may hold only digits, +, * and #.")
            values["prefix"] = prefix
        return values

    def add_peer(self, fields: Mapping[str, Any]) -> TrustedPeer:
        records.require_active_reseller(self.caller)
        ip = _peer_address(fields.get("ip"))
        exists_message = f"Trusted peer {ip} already exists."
        if self.session.execute(select(TrustedPeer.id).where(TrustedPeer.ip == ip)).first():
            raise NGNError(E.TRUSTED_PEER_EXISTS, exists_message)
        customer, reseller = records.placement(self.session, self.caller, fields.get("customer"), fields.get("reseller"))
        owner = records.owner_for(self.session, self.caller, fields.get("owner"), reseller)
        peer = TrustedPeer(ip=ip, customer=customer, reseller=reseller, owner=owner, **self._peer_values(fields))
        self.session.add(peer)
        records.flush_unique(self.session, E.TRUSTED_PEER_EXISTS, exists_message)
        audit.record(self.session, self.caller, "create", "trusted_peer", ip, records.given(fields))
        return peer

    def update_peer(self, fields: Mapping[str, Any]) -> None:
        peer = self.peer(fields.get("ip"), lock=True)
        if fields.get("owner") is not None and fields["owner"] != peer.owner:
            peer.owner = records.owner_for(self.session, self.caller, fields["owner"], peer.reseller)
        for name, value in self._peer_values(fields).items():
            setattr(peer, name, value)
        peer.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "trusted_peer", peer.ip, records.given(fields))

    def delete_peer(self, address: Any) -> None:
        peer = self.peer(address, lock=True)
        self.session.delete(peer)
        audit.record(self.session, self.caller, "delete", "trusted_peer", peer.ip)

    def peers(self, query: Query) -> tuple[int, list[TrustedPeer]]:
        total, rows = self._page(select(TrustedPeer), TrustedPeer, query, (TrustedPeer.ip, "ASC"))
        return total, [r[0] for r in rows]


ownership.count_records(Carrier, "PSTN carrier", "PSTN carriers")
ownership.count_records(TrustedPeer, "trusted peer", "trusted peers")
