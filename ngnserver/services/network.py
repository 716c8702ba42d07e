"""NetworkPort (``urn:AGProjects:NGNPro:Network``): server status and record statistics.

CDRTool's network page reads both answers with ``json_decode``: each is a JSON document in
an ``xsd:string``, in the shapes CDRTool walks. getStatus: ``{node: {ip, version, roles,
...attributes}}``. getStatistics: ``{ip: {role: {section: {key: number}}}, "summary":
{"sip_proxy": {"total_accounts": {domain: n}}}}``, where our sections are the record counts
per kind (``records``), SIP accounts per domain, and, for admin, the counts per reseller
(``reseller <id>``).
"""

from __future__ import annotations

import json
import socket

from spyne import ServiceBase, Unicode, rpc

from ngnserver.core import network
from ngnserver.services.context import RequestContext

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
