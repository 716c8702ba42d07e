"""DnsPort (``urn:AGProjects:NGNPro:Dns``): DNS zones, their records, and the fancy records
(e-mail forwards and URL redirects).

Thin: wire structs into calls on ``core.dns`` and stored rows back into wire structs.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.dns import RECORD_FIELDS, ZONE_FIELDS, Dns
from ngnserver.models import dns as rows
from ngnserver.services.context import RequestContext
from ngnserver.services.types import (
    Listing,
    NGNType,
    OrderBy,
    Range,
    StringArray,
    refuse_lost_lists,
    wire_date,
)

NAMESPACE = "urn:AGProjects:NGNPro:Dns"
PORT = "DnsPort"


class DnsZone(NGNType):
    __type_name__ = "DnsZone"
    _type_info = (
        ("name", Unicode),
        ("ttl", Integer32),
        ("minimum", Integer32),
        ("retry", Integer32),
        ("expire", Integer32),
        ("serial", Integer32),
        ("email", Unicode),
        ("info", Unicode),
        ("nameservers", StringArray),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("changeDate", Unicode),
    )


class DnsZoneFilter(NGNType):
    __type_name__ = "DnsZoneFilter"
    _type_info = (
        ("name", Unicode),
        ("info", Unicode),
        ("customer", Integer32),
        ("reseller", Integer32),
    )


class DnsZoneQuery(NGNType):
    __type_name__ = "DnsZoneQuery"
    _type_info = (("filter", DnsZoneFilter), ("orderBy", OrderBy), ("range", Range))


class DnsZoneQueryResult(NGNType):
    __type_name__ = "DnsZoneQueryResult"
    _type_info = (("total", Integer32), ("zones", Array(DnsZone, type_name="DnsZoneArray")))


_RECORD_MEMBERS = (
    ("id", Integer32),
    ("zone", Unicode),
    ("name", Unicode),
    ("type", Unicode),
    ("value", Unicode),
    ("priority", Integer32),
    ("ttl", Integer32),
    ("owner", Integer32),
    ("customer", Integer32),
    ("reseller", Integer32),
    ("changeDate", Unicode),
)


class DnsRecord(NGNType):
    __type_name__ = "DnsRecord"
    _type_info = _RECORD_MEMBERS


class DnsRecordFilter(NGNType):
    __type_name__ = "DnsRecordFilter"
    _type_info = (
        ("id", Integer32),
        ("zone", Unicode),
        ("name", Unicode),
        ("type", Unicode),
        ("value", Unicode),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
    )


class DnsRecordQuery(NGNType):
    __type_name__ = "DnsRecordQuery"
    _type_info = (("filter", DnsRecordFilter), ("orderBy", OrderBy), ("range", Range))


class DnsRecordQueryResult(NGNType):
    __type_name__ = "DnsRecordQueryResult"
    _type_info = (("total", Integer32), ("records", Array(DnsRecord, type_name="DnsRecordArray")))


class DnsFancyRecord(NGNType):
    __type_name__ = "DnsFancyRecord"
    _type_info = _RECORD_MEMBERS


class DnsFancyRecordQuery(NGNType):
    __type_name__ = "DnsFancyRecordQuery"
    _type_info = (("filter", DnsRecordFilter), ("orderBy", OrderBy), ("range", Range))


class DnsFancyRecordQueryResult(NGNType):
    __type_name__ = "DnsFancyRecordQueryResult"
    _type_info = (
        ("total", Integer32),
        ("records", Array(DnsFancyRecord, type_name="DnsFancyRecordArray")),
    )


# -- wire <-> domain ---------------------------------------------------------------------------

# what a client may set; serial, changeDate (and a record's customer and reseller) are read-only
_ZONE_WRITABLE = ("name", *ZONE_FIELDS)
_RECORD_WRITABLE = ("id", "zone", *RECORD_FIELDS)


def _writable(wire: dict[str, Any] | None, names: tuple[str, ...]) -> dict[str, Any]:
    wire = wire or {}
    return {name: wire.get(name) for name in names}


def zone_to_wire(zone: rows.DnsZone) -> dict[str, Any]:
    return {
        "name": zone.name,
        "ttl": zone.ttl,
        "minimum": zone.minimum,
        "retry": zone.retry,
        "expire": zone.expire,
        "serial": zone.serial,
        "email": zone.email,
        "info": zone.info,
        "nameservers": list(zone.nameservers),
        "customer": zone.customer,
        "reseller": zone.reseller,
        "changeDate": wire_date(zone.change_date),
    }


def record_to_wire(record: rows.DnsRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "zone": record.zone,
        "name": record.name,
        "type": record.type,
        "value": record.value,
        "priority": record.priority,
        "ttl": record.ttl,
        "owner": record.owner,
        "customer": record.customer,
        "reseller": record.reseller,
        "changeDate": wire_date(record.change_date),
    }


def _dns(ctx: RequestContext) -> Dns:
    return Dns(ctx.session, ctx.caller, ctx.settings.query_max_rows)


ZONES = Listing(
    like={"name": rows.DnsZone.name, "info": rows.DnsZone.info},
    equal={"customer": rows.DnsZone.customer, "reseller": rows.DnsZone.reseller},
    order={"changeDate": rows.DnsZone.change_date, "name": rows.DnsZone.name, "id": rows.DnsZone.id},
    default=("name", "ASC"),
    lowercase=frozenset({"name"}),
)
RECORDS = Listing(
    like={"zone": rows.DnsRecord.zone, "name": rows.DnsRecord.name, "type": rows.DnsRecord.type,
          "value": rows.DnsRecord.value},
    equal={"id": rows.DnsRecord.id, "owner": rows.DnsRecord.owner, "customer": rows.DnsRecord.customer,
           "reseller": rows.DnsRecord.reseller},
    order={"changeDate": rows.DnsRecord.change_date, "name": rows.DnsRecord.name, "type": rows.DnsRecord.type,
           "zone": rows.DnsRecord.zone, "id": rows.DnsRecord.id},
    default=("id", "ASC"),
    lowercase=frozenset({"zone"}),
)  # fmt: skip


def _records(ctx: RequestContext, query: dict[str, Any] | None, fancy: bool) -> dict[str, Any]:
    total, found = _dns(ctx).matching_records(RECORDS.query(query), fancy=fancy)
    return {"total": total, "records": [record_to_wire(r) for r in found]}


class DnsService(ServiceBase):
    """DNS zones, records and fancy records."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    # -- zones -------------------------------------------------------------------------------

    @rpc(DnsZone, _port_type=PORT)
    def addZone(ctx: RequestContext, zone: dict[str, Any] | None) -> None:
        refuse_lost_lists(zone, ("nameservers",), "zone")
        _dns(ctx).add_zone(_writable(zone, _ZONE_WRITABLE))

    @rpc(DnsZone, _port_type=PORT)
    def updateZone(ctx: RequestContext, zone: dict[str, Any] | None) -> None:
        _dns(ctx).update_zone(_writable(zone, _ZONE_WRITABLE))

    @rpc(Unicode, _port_type=PORT)
    def deleteZone(ctx: RequestContext, zone: str | None) -> None:
        _dns(ctx).delete_zone(zone)

    @rpc(Unicode, _returns=DnsZone, _port_type=PORT)
    def getZone(ctx: RequestContext, zone: str | None) -> dict[str, Any]:
        return zone_to_wire(_dns(ctx).zone(zone))

    @rpc(DnsZoneQuery, _returns=DnsZoneQueryResult, _port_type=PORT)
    def getZones(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, zones = _dns(ctx).zones(ZONES.query(query))
        return {"total": total, "zones": [zone_to_wire(z) for z in zones]}

    # -- records -----------------------------------------------------------------------------

    @rpc(DnsRecord, _returns=DnsRecord, _port_type=PORT)
    def addRecord(ctx: RequestContext, record: dict[str, Any] | None) -> dict[str, Any]:
        return record_to_wire(
            _dns(ctx).add_record(_writable(record, _RECORD_WRITABLE), fancy=False)
        )

    @rpc(DnsRecord, _port_type=PORT)
    def updateRecord(ctx: RequestContext, record: dict[str, Any] | None) -> None:
        _dns(ctx).update_record(_writable(record, _RECORD_WRITABLE), fancy=False)

    @rpc(Integer32, _port_type=PORT)
    def deleteRecord(ctx: RequestContext, recordId: int | None) -> None:
        _dns(ctx).delete_record(recordId, fancy=False)

    @rpc(Integer32, _returns=DnsRecord, _port_type=PORT)
    def getRecord(ctx: RequestContext, recordId: int | None) -> dict[str, Any]:
        return record_to_wire(_dns(ctx).record(recordId, fancy=False))

    @rpc(DnsRecordQuery, _returns=DnsRecordQueryResult, _port_type=PORT)
    def getRecords(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        return _records(ctx, query, fancy=False)

    # -- fancy records -----------------------------------------------------------------------

    @rpc(DnsFancyRecord, _returns=DnsFancyRecord, _port_type=PORT)
    def addFancyRecord(ctx: RequestContext, record: dict[str, Any] | None) -> dict[str, Any]:
        return record_to_wire(_dns(ctx).add_record(_writable(record, _RECORD_WRITABLE), fancy=True))

    @rpc(DnsFancyRecord, _port_type=PORT)
    def updateFancyRecord(ctx: RequestContext, record: dict[str, Any] | None) -> None:
        _dns(ctx).update_record(_writable(record, _RECORD_WRITABLE), fancy=True)

    @rpc(Integer32, _port_type=PORT)
    def deleteFancyRecord(ctx: RequestContext, recordId: int | None) -> None:
        _dns(ctx).delete_record(recordId, fancy=True)

    @rpc(Integer32, _returns=DnsFancyRecord, _port_type=PORT)
    def getFancyRecord(ctx: RequestContext, recordId: int | None) -> dict[str, Any]:
        return record_to_wire(_dns(ctx).record(recordId, fancy=True))

    @rpc(DnsFancyRecordQuery, _returns=DnsFancyRecordQueryResult, _port_type=PORT)
    def getFancyRecords(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        return _records(ctx, query, fancy=True)
