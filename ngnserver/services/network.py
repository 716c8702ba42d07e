"""NetworkPort (``urn:AGProjects:NGNPro:Network``): server status and record statistics.

CDRTool's network page reads both answers with ``json_decode``: each is a JSON document in
an ``xsd:string``, in the shapes CDRTool walks. getStatus: ``{node: {ip, version, roles,
...attributes}}``. getStatistics: ``{ip: {role: {section: {key: number}}}, "summary":
{"sip_proxy": {"total_accounts": {domain: n}}}}``, where our sections are the record counts
per kind (``records``), SIP accounts per domain, and, for admin, the counts per reseller
(``reseller <id>``).

For admin only, the syncs (``ixc-bqn``): ``startSync(name, dryRun)`` queues a run for the
worker and returns its id; ``getSyncRuns(query)`` lists the runs, newest first, with the
usual ``filter`` (``name``, ``status``), ``orderBy`` (``id``, ``name``, ``status``,
``startDate``, ``finishDate``), ``range`` and ``total``. A run's counts are an array of
``{kind, outcome, count}`` (``subscriber``, ``create``, 12): typed members zeep and PHP read
without a JSON decoder.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from spyne import Array, Boolean, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core import network
from ngnserver.models.sync import SyncRun
from ngnserver.services.context import RequestContext
from ngnserver.services.types import Listing, NGNType, OrderBy, Range, wire_date

NAMESPACE = "urn:AGProjects:NGNPro:Network"
PORT = "NetworkPort"
ROLE = "provisioning_server"


def _node() -> tuple[str, str]:
    name = socket.gethostname()
    try:
        return name, socket.gethostbyname(name)
    except OSError:
        return name, "127.0.0.1"


NODE, NODE_IP = _node()


class SyncCount(NGNType):
    """How many objects of one ``kind`` a run handled with one ``outcome`` (create, update,
    delete, failed, unchanged, skipped; in a dry run, the planned writes)."""

    __type_name__ = "SyncCount"
    _type_info = [("kind", Unicode), ("outcome", Unicode), ("count", Integer32)]


class SyncRunInfo(NGNType):
    __type_name__ = "SyncRun"
    _type_info = [
        ("id", Integer32),
        ("name", Unicode),
        ("status", Unicode),
        ("dryRun", Boolean),
        ("startedBy", Unicode),
        ("queueDate", Unicode),
        ("startDate", Unicode),
        ("finishDate", Unicode),
        ("writes", Integer32),
        ("errors", Integer32),
        ("message", Unicode),
        ("counts", Array(SyncCount, type_name="SyncCountArray")),
    ]


class SyncRunFilter(NGNType):
    __type_name__ = "SyncRunFilter"
    _type_info = [("name", Unicode), ("status", Unicode)]


class SyncRunQuery(NGNType):
    __type_name__ = "SyncRunQuery"
    _type_info = [("filter", SyncRunFilter), ("orderBy", OrderBy), ("range", Range)]


class SyncRunQueryResult(NGNType):
    __type_name__ = "SyncRunQueryResult"
    _type_info = [("total", Integer32), ("runs", Array(SyncRunInfo, type_name="SyncRunArray"))]


SYNC_RUNS = Listing(
    like={"name": SyncRun.sync_name, "status": SyncRun.status},
    equal={},
    order={"id": SyncRun.id, "name": SyncRun.sync_name, "status": SyncRun.status,
           "startDate": SyncRun.started_at, "finishDate": SyncRun.finished_at},
    default=("id", "DESC"),
)  # fmt: skip


def sync_run_to_wire(run: SyncRun) -> dict[str, Any]:
    counts = [{"kind": kind, "outcome": outcome, "count": n}
              for kind, outcomes in sorted(run.counts.items()) for outcome, n in sorted(outcomes.items())]  # fmt: skip
    return {
        "id": run.id, "name": run.sync_name, "status": run.status, "dryRun": run.dry_run,
        "startedBy": run.started_by, "queueDate": wire_date(run.queued_at), "startDate": wire_date(run.started_at),
        "finishDate": wire_date(run.finished_at), "writes": run.writes, "errors": run.error_count,
        "message": run.message, "counts": counts,
    }  # fmt: skip


class NetworkService(ServiceBase):
    """Health and statistics, as JSON documents for CDRTool."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(_returns=Unicode, _port_type=PORT)
    def getStatus(ctx: RequestContext) -> str:
        status = network.status(ctx.session, ctx.backend)
        return json.dumps({
            NODE: {
                "ip": NODE_IP, "version": status.version, "roles": [ROLE], "uptime": status.uptime,
                "database": status.database, "database_backend": status.backend,
            }
        })  # fmt: skip

    @rpc(_returns=Unicode, _port_type=PORT)
    def getStatistics(ctx: RequestContext) -> str:
        totals, per_reseller = network.statistics(ctx.session, ctx.caller)
        accounts = network.accounts_per_domain(ctx.session, ctx.caller)
        sections: dict[str, dict[str, int]] = {"records": totals, "sip_accounts": accounts}
        for reseller, counts in sorted(per_reseller.items()):
            sections[f"reseller {reseller}"] = counts
        return json.dumps({NODE_IP: {ROLE: sections}, "summary": {"sip_proxy": {"total_accounts": accounts}}})

    @rpc(Unicode, Boolean, _returns=Integer32, _port_type=PORT)
    def startSync(ctx: RequestContext, name: str | None, dryRun: bool | None) -> int:
        return network.start_sync(ctx.session, ctx.caller, ctx.settings, name, bool(dryRun))

    @rpc(SyncRunQuery, _returns=SyncRunQueryResult, _port_type=PORT)
    def getSyncRuns(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, runs = network.sync_runs(ctx.session, ctx.caller, SYNC_RUNS.query(query), ctx.settings.query_max_rows)
        return {"total": total, "runs": [sync_run_to_wire(run) for run in runs]}
