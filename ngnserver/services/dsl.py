"""DslPort (``urn:AGProjects:NGNPro:Dsl``): DSL qualification, packages and services.

Every call returns at once; vendor work runs in jobs and the records say how far it got
(``status`` of a qualification: P pending, Q qualifies, D does not, E failed; ``state`` of a
service: pending, active, suspended, disconnecting, disconnected, cancelled, failed).
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Boolean, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.dsl import Dsl
from ngnserver.models import dsl as rows
from ngnserver.services.context import RequestContext
from ngnserver.services.types import Listing, NGNType, OrderBy, Range, StringArray, wire_date

NAMESPACE = "urn:AGProjects:NGNPro:Dsl"
PORT = "DslPort"

# wire member -> model attribute (the keys of a qualification's stored address)
_ADDRESS = {"addressLine1": "address_line1", "unitType": "unit_type", "unitValue": "unit_value", "city": "city",
            "state": "state", "zipCode": "zip_code", "country": "country"}  # fmt: skip


class DslAddress(NGNType):
    __type_name__ = "DslAddress"
    _type_info = [(name, Unicode) for name in _ADDRESS]


class DslPackage(NGNType):
    __type_name__ = "DslPackage"
    _type_info = [("id", Integer32), ("name", Unicode), ("vendorPackageId", Unicode)]


DslPackageArray = Array(DslPackage, type_name="DslPackageArray")


class DslQualification(NGNType):
    __type_name__ = "DslQualification"
    _type_info = [
        ("id", Integer32),
        ("status", Unicode),
        ("vendorQualId", Unicode),
        ("address", DslAddress),
        ("phoneNumber", Unicode),
        ("locationType", Unicode),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("packages", DslPackageArray),
        ("unconfiguredProducts", StringArray),
        ("createDate", Unicode),
    ]


class DslNote(NGNType):
    __type_name__ = "DslNote"
    _type_info = [("date", Unicode), ("text", Unicode), ("author", Unicode), ("highPriority", Boolean)]


_SERVICE_STRINGS = {
    "phoneNumber": "phone_number",
    "loopType": "loop_type",
    "firstName": "first_name",
    "lastName": "last_name",
    "companyName": "company_name",
    "contactPhone": "contact_phone",
    "ispPrevious": "isp_previous",
    "currentProvider": "current_provider",
    "orderType": "order_type",
    "vendorOrderId": "vendor_order_id",
    "vendorOrderStatus": "vendor_order_status",
    "vendorUsername": "vendor_username",
    "state": "state",
    "failure": "failure",
}


class DslService(NGNType):
    __type_name__ = "DslService"
    _type_info = [
        ("id", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("owner", Integer32),
        ("package", Integer32),
        ("qualification", Integer32),
        *[(name, Unicode) for name in _SERVICE_STRINGS],
        ("ispChange", Boolean),
        ("password", Unicode),
        ("desiredDueDate", Unicode),
        ("dueDate", Unicode),
        ("expireDate", Unicode),
        ("staticIps", StringArray),
        ("notes", Array(DslNote, type_name="DslNoteArray")),
        ("changeDate", Unicode),
    ]


class DslServiceFilter(NGNType):
    __type_name__ = "DslServiceFilter"
    _type_info = [
        ("phoneNumber", Unicode),
        ("lastName", Unicode),
        ("state", Unicode),
        ("vendorOrderId", Unicode),
        ("package", Integer32),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class DslServiceQuery(NGNType):
    __type_name__ = "DslServiceQuery"
    _type_info = [("filter", DslServiceFilter), ("orderBy", OrderBy), ("range", Range)]


class DslServiceQueryResult(NGNType):
    __type_name__ = "DslServiceQueryResult"
    _type_info = [("total", Integer32), ("services", Array(DslService, type_name="DslServiceArray"))]


# wire member -> model attribute of the members a client sends (addService, updateService)
_SERVICE_IN = {**{name: attr for name, attr in _SERVICE_STRINGS.items() if name not in ("state", "failure")},
               "id": "id", "customer": "customer", "owner": "owner", "package": "package_id",
               "qualification": "qualification_id", "ispChange": "isp_change", "password": "password",
               "desiredDueDate": "desired_due_date", "expireDate": "expire_date"}  # fmt: skip

SERVICES = Listing(
    like={"phoneNumber": rows.DslService.phone_number, "lastName": rows.DslService.last_name,
          "state": rows.DslService.state, "vendorOrderId": rows.DslService.vendor_order_id},
    equal={"owner": rows.DslService.owner, "customer": rows.DslService.customer,
           "reseller": rows.DslService.reseller, "package": rows.DslService.package_id},
    order={"id": rows.DslService.id, "changeDate": rows.DslService.change_date, "state": rows.DslService.state,
           "phoneNumber": rows.DslService.phone_number, "lastName": rows.DslService.last_name},
    default=("id", "ASC"),
)  # fmt: skip


def service_fields(service: dict[str, Any]) -> dict[str, Any]:
    """Model attribute -> value for every member of a DslService the client sent."""
    return {attr: service[name] for name, attr in _SERVICE_IN.items() if service.get(name) is not None}


def address_fields(address: dict[str, Any] | None) -> dict[str, Any]:
    return {attr: (address or {}).get(name) for name, attr in _ADDRESS.items()}


def package_to_wire(package: rows.DslPackage) -> dict[str, Any]:
    return {"id": package.id, "name": package.name, "vendorPackageId": package.vendor_package_id}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _dsl(ctx: RequestContext) -> Dsl:
    return Dsl(ctx.session, ctx.caller, ctx.sealer, ctx.settings)


def qualification_to_wire(dsl: Dsl, q: rows.DslQualification) -> dict[str, Any]:
    packages, unconfigured = dsl.offered_packages(q)
    return {
        "id": q.id, "status": q.status, "vendorQualId": q.vendor_qual_id,
        "address": {name: q.address.get(attr) for name, attr in _ADDRESS.items()},
        "phoneNumber": q.phone_number, "locationType": q.location_type, "customer": q.customer,
        "reseller": q.reseller, "packages": [package_to_wire(p) for p in packages],
        "unconfiguredProducts": unconfigured, "createDate": wire_date(q.create_date),
    }  # fmt: skip


def service_to_wire(dsl: Dsl, service: rows.DslService) -> dict[str, Any]:
    wire: dict[str, Any] = {name: getattr(service, attr) for name, attr in _SERVICE_STRINGS.items()}
    wire.update(
        id=service.id, customer=service.customer, reseller=service.reseller, owner=service.owner,
        package=service.package_id, qualification=service.qualification_id, ispChange=service.isp_change,
        password=dsl.sealer.open(service.password_sealed), desiredDueDate=_iso(service.desired_due_date),
        dueDate=_iso(service.due_date), expireDate=_iso(service.expire_date), staticIps=service.static_ips,
        notes=[{"date": n.date, "text": n.text, "author": n.author, "highPriority": n.high_priority}
               for n in dsl.notes(service)],
        changeDate=wire_date(service.change_date),
    )  # fmt: skip
    return wire


class DslServicePort(ServiceBase):
    """DSL qualification, packages and services."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(DslAddress, Unicode, Unicode, Integer32, _returns=DslQualification, _port_type=PORT)
    def qualify(ctx: RequestContext, address: dict[str, Any] | None, phoneNumber: str | None,
                locationType: str | None, customer: int | None) -> dict[str, Any]:
        dsl = _dsl(ctx)
        return qualification_to_wire(dsl, dsl.qualify(address_fields(address), phoneNumber, locationType, customer))

    @rpc(Integer32, _returns=DslQualification, _port_type=PORT)
    def getQualification(ctx: RequestContext, id: int | None) -> dict[str, Any]:
        dsl = _dsl(ctx)
        return qualification_to_wire(dsl, dsl.qualification(id))

    @rpc(DslPackage, _returns=DslPackage, _port_type=PORT)
    def addPackage(ctx: RequestContext, package: dict[str, Any] | None) -> dict[str, Any]:
        package = package or {}
        return package_to_wire(_dsl(ctx).add_package(package.get("name"), package.get("vendorPackageId")))

    @rpc(_returns=DslPackageArray, _port_type=PORT)
    def getPackages(ctx: RequestContext) -> list[dict[str, Any]]:
        return [package_to_wire(p) for p in _dsl(ctx).packages()]

    @rpc(Integer32, _port_type=PORT)
    def deletePackage(ctx: RequestContext, id: int | None) -> None:
        _dsl(ctx).delete_package(id)

    @rpc(DslService, _returns=DslService, _port_type=PORT)
    def addService(ctx: RequestContext, service: dict[str, Any] | None) -> dict[str, Any]:
        dsl = _dsl(ctx)
        return service_to_wire(dsl, dsl.add_service(service_fields(service or {})))

    @rpc(Integer32, _returns=DslService, _port_type=PORT)
    def getService(ctx: RequestContext, id: int | None) -> dict[str, Any]:
        dsl = _dsl(ctx)
        return service_to_wire(dsl, dsl.service(id))

    @rpc(DslServiceQuery, _returns=DslServiceQueryResult, _port_type=PORT)
    def getServices(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        dsl = _dsl(ctx)
        total, services = dsl.services(SERVICES.query(query))
        return {"total": total, "services": [service_to_wire(dsl, s) for s in services]}

    @rpc(DslService, _port_type=PORT)
    def updateService(ctx: RequestContext, service: dict[str, Any] | None) -> None:
        _dsl(ctx).update_service(service_fields(service or {}))

    @rpc(Integer32, Unicode, _returns=Unicode, _port_type=PORT)
    def deleteService(ctx: RequestContext, id: int | None, expireDate: str | None) -> str:
        return _dsl(ctx).delete_service(id, expireDate)

    @rpc(Integer32, _port_type=PORT)
    def suspendService(ctx: RequestContext, id: int | None) -> None:
        _dsl(ctx).suspend_service(id, suspend=True)

    @rpc(Integer32, _port_type=PORT)
    def resumeService(ctx: RequestContext, id: int | None) -> None:
        _dsl(ctx).suspend_service(id, suspend=False)
