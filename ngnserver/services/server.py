"""ServerPort (``urn:AGProjects:NGNPro:Server``): dedicated servers and colocation from a
DCImanager pool.

Every call returns at once; DCImanager work runs in jobs and the records say how far it got
(``state``: pending, provisioning with ``step``, active, suspended, failed with
``failure``, deleting; ``steps``: each provisioning step done, with its result).
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.servers import Servers
from ngnserver.models import server as rows
from ngnserver.services.context import RequestContext
from ngnserver.services.types import Listing, NGNType, OrderBy, Range, StringArray, wire_date

NAMESPACE = "urn:AGProjects:NGNPro:Server"
PORT = "ServerPort"

# wire member -> model attribute
_PACKAGE = {"id": "id", "name": "name", "kind": "kind", "template": "template", "osTemplate": "os_template",
            "recipe": "recipe", "extraIpv4": "extra_ipv4", "extraIpv6": "extra_ipv6"}  # fmt: skip


class ServerPackage(NGNType):
    __type_name__ = "ServerPackage"
    _type_info = [
        ("id", Integer32),
        ("name", Unicode),
        ("kind", Unicode),
        ("template", Unicode),
        ("osTemplate", Unicode),
        ("recipe", Unicode),
        ("extraIpv4", Integer32),
        ("extraIpv6", Integer32),
    ]


ServerPackageArray = Array(ServerPackage, type_name="ServerPackageArray")


class ServerStep(NGNType):
    __type_name__ = "ServerStep"
    _type_info = [("step", Unicode), ("result", Unicode), ("date", Unicode)]


class ServerWelcome(NGNType):
    """What the customer is told once the server is active."""

    __type_name__ = "ServerWelcome"
    _type_info = [
        ("hostname", Unicode),
        ("mainIp", Unicode),
        ("ips", StringArray),
        ("panelUrl", Unicode),
        ("panelUsername", Unicode),
        ("panelPassword", Unicode),
        ("rootPassword", Unicode),
        ("osTemplate", Unicode),
    ]


class Server(NGNType):
    __type_name__ = "Server"
    _type_info = [
        ("id", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("owner", Integer32),
        ("package", Integer32),
        ("hostname", Unicode),
        ("state", Unicode),
        ("step", Unicode),
        ("failure", Unicode),
        ("dcimServerId", Unicode),
        ("mainIp", Unicode),
        ("ips", StringArray),
        ("panelUsername", Unicode),
        ("panelPassword", Unicode),
        ("rootPassword", Unicode),
        ("welcome", ServerWelcome),
        ("steps", Array(ServerStep, type_name="ServerStepArray")),
        ("createDate", Unicode),
        ("changeDate", Unicode),
    ]


class ServerFilter(NGNType):
    __type_name__ = "ServerFilter"
    _type_info = [
        ("hostname", Unicode),
        ("state", Unicode),
        ("mainIp", Unicode),
        ("dcimServerId", Unicode),
        ("package", Integer32),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class ServerQuery(NGNType):
    __type_name__ = "ServerQuery"
    _type_info = [("filter", ServerFilter), ("orderBy", OrderBy), ("range", Range)]


class ServerQueryResult(NGNType):
    __type_name__ = "ServerQueryResult"
    _type_info = [("total", Integer32), ("servers", Array(Server, type_name="ServerArray"))]


# wire member -> model attribute of the members a client sends (addServer, updateServer)
_SERVER_IN = {"id": "id", "customer": "customer", "owner": "owner", "package": "package_id", "hostname": "hostname",
              "panelUsername": "panel_username", "panelPassword": "panel_password",
              "rootPassword": "root_password"}  # fmt: skip

SERVERS = Listing(
    like={"hostname": rows.ServerService.hostname, "state": rows.ServerService.state,
          "mainIp": rows.ServerService.main_ip, "dcimServerId": rows.ServerService.dcim_server_id},
    equal={"owner": rows.ServerService.owner, "customer": rows.ServerService.customer,
           "reseller": rows.ServerService.reseller, "package": rows.ServerService.package_id},
    order={"id": rows.ServerService.id, "hostname": rows.ServerService.hostname, "state": rows.ServerService.state,
           "changeDate": rows.ServerService.change_date, "createDate": rows.ServerService.create_date},
    default=("id", "ASC"),
    lowercase=frozenset({"hostname"}),
)  # fmt: skip


def _fields(wire: dict[str, Any] | None, members: dict[str, str]) -> dict[str, Any]:
    """Model attribute -> value for every member the client sent."""
    wire = wire or {}
    return {attr: wire[name] for name, attr in members.items() if wire.get(name) is not None}


def package_to_wire(package: rows.ServerPackage) -> dict[str, Any]:
    return {name: getattr(package, attr) for name, attr in _PACKAGE.items()}


def server_to_wire(servers: Servers, service: rows.ServerService) -> dict[str, Any]:
    panel_password = servers.sealer.open(service.panel_password_sealed)
    root_password = servers.sealer.open(service.root_password_sealed)
    welcome = service.welcome or {}
    return {
        "id": service.id, "customer": service.customer, "reseller": service.reseller, "owner": service.owner,
        "package": service.package_id, "hostname": service.hostname, "state": service.state,
        "step": service.step, "failure": service.failure, "dcimServerId": service.dcim_server_id,
        "mainIp": service.main_ip, "ips": list(service.ips), "panelUsername": service.panel_username,
        "panelPassword": panel_password, "rootPassword": root_password,
        "welcome": {
            "hostname": welcome.get("hostname"), "mainIp": welcome.get("main_ip"), "ips": welcome.get("ips") or [],
            "panelUrl": welcome.get("panel_url"), "panelUsername": welcome.get("panel_username"),
            "panelPassword": panel_password if welcome else None, "rootPassword": root_password if welcome else None,
            "osTemplate": welcome.get("os_template"),
        } if welcome else None,
        "steps": [{"step": p["step"], "result": p["result"], "date": p["at"][:19]} for p in service.progress],
        "createDate": wire_date(service.create_date), "changeDate": wire_date(service.change_date),
    }  # fmt: skip


def _servers(ctx: RequestContext) -> Servers:
    return Servers(ctx.session, ctx.caller, ctx.sealer, ctx.settings)


class ServerServicePort(ServiceBase):
    """Dedicated server and colocation packages and servers."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(ServerPackage, _returns=ServerPackage, _port_type=PORT)
    def addPackage(ctx: RequestContext, package: dict[str, Any] | None) -> dict[str, Any]:
        return package_to_wire(_servers(ctx).add_package(_fields(package, _PACKAGE)))

    @rpc(_returns=ServerPackageArray, _port_type=PORT)
    def getPackages(ctx: RequestContext) -> list[dict[str, Any]]:
        return [package_to_wire(p) for p in _servers(ctx).packages()]

    @rpc(ServerPackage, _port_type=PORT)
    def updatePackage(ctx: RequestContext, package: dict[str, Any] | None) -> None:
        _servers(ctx).update_package(_fields(package, _PACKAGE))

    @rpc(Integer32, _port_type=PORT)
    def deletePackage(ctx: RequestContext, id: int | None) -> None:
        _servers(ctx).delete_package(id)

    @rpc(Server, _returns=Server, _port_type=PORT)
    def addServer(ctx: RequestContext, server: dict[str, Any] | None) -> dict[str, Any]:
        servers = _servers(ctx)
        return server_to_wire(servers, servers.add_server(_fields(server, _SERVER_IN)))

    @rpc(Integer32, _returns=Server, _port_type=PORT)
    def getServer(ctx: RequestContext, id: int | None) -> dict[str, Any]:
        servers = _servers(ctx)
        return server_to_wire(servers, servers.service(id))

    @rpc(ServerQuery, _returns=ServerQueryResult, _port_type=PORT)
    def getServers(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        servers = _servers(ctx)
        total, found = servers.servers(SERVERS.query(query))
        return {"total": total, "servers": [server_to_wire(servers, s) for s in found]}

    @rpc(Server, _port_type=PORT)
    def updateServer(ctx: RequestContext, server: dict[str, Any] | None) -> None:
        _servers(ctx).update_server(_fields(server, _SERVER_IN))

    @rpc(Integer32, _returns=Unicode, _port_type=PORT)
    def deleteServer(ctx: RequestContext, id: int | None) -> str:
        return _servers(ctx).delete_server(id)

    @rpc(Integer32, _port_type=PORT)
    def suspendServer(ctx: RequestContext, id: int | None) -> None:
        _servers(ctx).suspend_server(id, suspend=True)

    @rpc(Integer32, _port_type=PORT)
    def resumeServer(ctx: RequestContext, id: int | None) -> None:
        _servers(ctx).suspend_server(id, suspend=False)

    @rpc(Integer32, _port_type=PORT)
    def rebootServer(ctx: RequestContext, id: int | None) -> None:
        _servers(ctx).reboot_server(id)

    @rpc(Integer32, Unicode, _port_type=PORT)
    def addIp(ctx: RequestContext, id: int | None, family: str | None) -> None:
        _servers(ctx).add_ip(id, family)

    @rpc(Integer32, Unicode, _port_type=PORT)
    def deleteIp(ctx: RequestContext, id: int | None, ip: str | None) -> None:
        _servers(ctx).delete_ip(id, ip)

    @rpc(Integer32, Unicode, _port_type=PORT)
    def changePassword(ctx: RequestContext, id: int | None, password: str | None) -> None:
        _servers(ctx).change_password(id, password)
