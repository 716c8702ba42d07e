"""NetworkPort (``urn:AGProjects:NGNPro:Network``): server status and record statistics."""

from __future__ import annotations

from typing import Any

from spyne import Array, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core import network
from ngnserver.services.context import RequestContext
from ngnserver.services.types import NGNType

NAMESPACE = "urn:AGProjects:NGNPro:Network"
PORT = "NetworkPort"

_COUNTS = ["customers", "resellers", *network.KINDS]


class NetworkStatus(NGNType):
    __type_name__ = "NetworkStatus"
    _type_info = [
        ("status", Unicode),
        ("version", Unicode),
        ("uptime", Integer32),
        ("database", Unicode),
        ("databaseBackend", Unicode),
    ]


class RecordCounts(NGNType):
    __type_name__ = "RecordCounts"
    _type_info = [("reseller", Integer32), *[(name, Integer32) for name in _COUNTS]]


class NetworkStatistics(NGNType):
    __type_name__ = "NetworkStatistics"
    _type_info = [
        ("total", RecordCounts),
        ("resellers", Array(RecordCounts, type_name="RecordCountsArray")),
    ]


class NetworkService(ServiceBase):
    """Health and statistics."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(_returns=NetworkStatus, _port_type=PORT)
    def getStatus(ctx: RequestContext) -> dict[str, Any]:
        status = network.status(ctx.session)
        return {
            "status": "ok",
            "version": status.version,
            "uptime": status.uptime,
            "database": status.database,
            "databaseBackend": status.backend,
        }

    @rpc(_returns=NetworkStatistics, _port_type=PORT)
    def getStatistics(ctx: RequestContext) -> dict[str, Any]:
        totals, per_reseller = network.statistics(ctx.session, ctx.caller)
        return {
            "total": {name: totals.get(name, 0) for name in _COUNTS},
            "resellers": [
                {"reseller": reseller, **{name: counts.get(name, 0) for name in _COUNTS if name != "resellers"}}
                for reseller, counts in sorted(per_reseller.items())
            ],
        }
