"""EnumPort (``urn:AGProjects:NGNPro:Enum``): ENUM ranges and the numbers in them.

Thin: wire structs into calls on ``core.enum`` and stored records back into wire structs.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.enum import Enum
from ngnserver.models import enum as rows
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

NAMESPACE = "urn:AGProjects:NGNPro:Enum"
PORT = "EnumPort"


class EnumRangeId(NGNType):
    __type_name__ = "EnumRangeId"
    _type_info = [("prefix", Unicode), ("tld", Unicode)]


class EnumRange(NGNType):
    __type_name__ = "EnumRange"
    _type_info = [
        ("id", EnumRangeId),
        ("ttl", Integer32),
        ("minDigits", Integer32),
        ("maxDigits", Integer32),
        ("size", Integer32),
        ("nameservers", StringArray),
        ("used", Integer32),
        ("serial", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("changeDate", Unicode),
        ("info", Unicode),
    ]


class EnumRangeFilter(NGNType):
    __type_name__ = "EnumRangeFilter"
    _type_info = [
        ("prefix", Unicode),
        ("tld", Unicode),
        ("info", Unicode),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class EnumRangeQuery(NGNType):
    __type_name__ = "EnumRangeQuery"
    _type_info = [("filter", EnumRangeFilter), ("orderBy", OrderBy), ("range", Range)]


class EnumRangeQueryResult(NGNType):
    __type_name__ = "EnumRangeQueryResult"
    _type_info = [("total", Integer32), ("ranges", Array(EnumRange, type_name="EnumRangeArray"))]


class EnumId(NGNType):
    __type_name__ = "EnumId"
    _type_info = [("number", Unicode), ("tld", Unicode)]


class EnumMapping(NGNType):
    __type_name__ = "EnumMapping"
    _type_info = [
        ("id", Integer32),
        ("type", Unicode),
        ("mapto", Unicode),
        ("ttl", Integer32),
        ("priority", Integer32),
    ]


class EnumNumber(NGNType):
    __type_name__ = "EnumNumber"
    _type_info = [
        ("id", EnumId),
        ("owner", Integer32),
        ("info", Unicode),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("changeDate", Unicode),
        ("mappings", Array(EnumMapping, type_name="EnumMappingArray")),
    ]


class EnumNumberFilter(NGNType):
    __type_name__ = "EnumNumberFilter"
    _type_info = [
        ("number", Unicode),
        ("tld", Unicode),
        ("type", Unicode),
        ("mapto", Unicode),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class EnumNumberQuery(NGNType):
    __type_name__ = "EnumNumberQuery"
    _type_info = [("filter", EnumNumberFilter), ("orderBy", OrderBy), ("range", Range)]


class EnumNumberQueryResult(NGNType):
    __type_name__ = "EnumNumberQueryResult"
    _type_info = [("total", Integer32), ("numbers", Array(EnumNumber, type_name="EnumNumberArray"))]


# -- wire <-> domain ---------------------------------------------------------------------------

_RANGE_WIRE = {
    "id": "id",
    "ttl": "ttl",
    "minDigits": "min_digits",
    "maxDigits": "max_digits",
    "size": "size",
    "nameservers": "nameservers",
    "info": "info",
    "customer": "customer",
    "reseller": "reseller",
}


def range_fields(enum_range: dict[str, Any]) -> dict[str, Any]:
    """The writable members of a wire EnumRange (``used``, ``serial`` and ``changeDate``,
    which clients echo back, are not)."""
    return {attr: enum_range.get(name) for name, attr in _RANGE_WIRE.items()}


def range_to_wire(enum_range: rows.EnumRange, used: int) -> dict[str, Any]:
    return {
        "id": {"prefix": enum_range.prefix, "tld": enum_range.tld},
        "ttl": enum_range.ttl,
        "minDigits": enum_range.min_digits,
        "maxDigits": enum_range.max_digits,
        "size": enum_range.size,
        "nameservers": enum_range.nameservers,
        "used": used,
        "serial": enum_range.serial,
        "customer": enum_range.customer,
        "reseller": enum_range.reseller,
        "changeDate": wire_date(enum_range.change_date),
        "info": enum_range.info,
    }


def number_fields(number: dict[str, Any]) -> dict[str, Any]:
    """The writable members of a wire EnumNumber (``customer`` and ``reseller`` come from
    the range)."""
    return {name: number.get(name) for name in ("id", "owner", "info", "mappings")}


def number_to_wire(number: rows.EnumNumber) -> dict[str, Any]:
    return {
        "id": {"number": number.number, "tld": number.tld},
        "owner": number.owner,
        "info": number.info,
        "customer": number.customer,
        "reseller": number.reseller,
        "changeDate": wire_date(number.change_date),
        "mappings": [
            {"id": m.id, "type": m.type, "mapto": m.mapto, "ttl": m.ttl, "priority": m.priority}
            for m in number.mappings
        ],
    }


def _enum(ctx: RequestContext) -> Enum:
    return Enum(ctx.session, ctx.caller, ctx.settings.query_max_rows)


RANGES = Listing(
    like={"prefix": rows.EnumRange.prefix, "tld": rows.EnumRange.tld, "info": rows.EnumRange.info},
    equal={"customer": rows.EnumRange.customer, "reseller": rows.EnumRange.reseller},
    order={"changeDate": rows.EnumRange.change_date, "prefix": rows.EnumRange.prefix, "tld": rows.EnumRange.tld},
    default=("prefix", "ASC"),
    lowercase=frozenset({"tld"}),
)
NUMBERS = Listing(
    like={"number": rows.EnumNumber.number, "tld": rows.EnumNumber.tld},
    equal={"owner": rows.EnumNumber.owner, "customer": rows.EnumNumber.customer,
           "reseller": rows.EnumNumber.reseller},
    order={"changeDate": rows.EnumNumber.change_date, "number": rows.EnumNumber.number,
           "tld": rows.EnumNumber.tld},
    default=("number", "ASC"),
    lowercase=frozenset({"tld"}),
)  # fmt: skip
# filter members that must hold for one and the same mapping of a number
MAPPING_FILTERS = {"type": rows.EnumMapping.type, "mapto": rows.EnumMapping.mapto}


class EnumService(ServiceBase):
    """ENUM ranges and numbers."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(EnumRange, _port_type=PORT)
    def addRange(ctx: RequestContext, range: dict[str, Any] | None) -> None:
        _enum(ctx).add_range(range_fields(range or {}))

    @rpc(EnumRange, _port_type=PORT)
    def updateRange(ctx: RequestContext, range: dict[str, Any] | None) -> None:
        _enum(ctx).update_range(range_fields(range or {}))

    @rpc(EnumRangeId, _port_type=PORT)
    def deleteRange(ctx: RequestContext, range: dict[str, Any] | None) -> None:
        _enum(ctx).delete_range(range)

    @rpc(EnumRangeQuery, _returns=EnumRangeQueryResult, _port_type=PORT)
    def getRanges(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, ranges = _enum(ctx).ranges(RANGES.query(query))
        return {"total": total, "ranges": [range_to_wire(r, used) for r, used in ranges]}

    @rpc(EnumNumber, _port_type=PORT)
    def addNumber(ctx: RequestContext, number: dict[str, Any] | None) -> None:
        refuse_lost_lists(number, ("mappings",), "number")
        _enum(ctx).add_number(number_fields(number or {}))

    @rpc(EnumNumber, _port_type=PORT)
    def updateNumber(ctx: RequestContext, number: dict[str, Any] | None) -> None:
        _enum(ctx).update_number(number_fields(number or {}))

    @rpc(EnumId, _port_type=PORT)
    def deleteNumber(ctx: RequestContext, enumId: dict[str, Any] | None) -> None:
        _enum(ctx).delete_number(enumId)

    @rpc(EnumId, _returns=EnumNumber, _port_type=PORT)
    def getNumber(ctx: RequestContext, enumId: dict[str, Any] | None) -> dict[str, Any]:
        return number_to_wire(_enum(ctx).number(enumId))

    @rpc(EnumNumberQuery, _returns=EnumNumberQueryResult, _port_type=PORT)
    def getNumbers(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        filters = (query or {}).get("filter") or {}
        mapping = {column: str(filters[name]) for name, column in MAPPING_FILTERS.items() if filters.get(name)}
        total, numbers = _enum(ctx).numbers(NUMBERS.query(query), mapping)
        return {"total": total, "numbers": [number_to_wire(n) for n in numbers]}
