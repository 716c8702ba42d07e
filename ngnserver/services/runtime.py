"""Runtime data in SipPort (calls, registered devices, SIP and media traces, media
sessions) and the Presence port, with the names and types CDRTool's pages use, answered
as a provisioning server that holds no runtime data can answer (``core.runtime``): an empty
result where a customer's page lists what it gets, 13001 where emptiness would mislead.

The types were worked out from how CDRTool builds each request and reads each answer
(sip_settings.php: call history, monthly usage, devices; the SIP and media trace pages; the
media sessions page; NGNPro/Presence.php). The Presence port is served in the namespace
CDRTool's Presence class sends (``urn:AGProjects:SoapSIMPLEProxy:Presence``); its calls carry
the SIP account's password as a parameter and no ``auth`` header, and, holding nothing,
they answer 13001 to anyone.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Double, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.runtime import Runtime, refuse
from ngnserver.core.sip import Sip
from ngnserver.services.context import RequestContext
from ngnserver.services.sip import PORT, SipId
from ngnserver.services.types import NGNType, StringArray

PRESENCE_NAMESPACE = "urn:AGProjects:SoapSIMPLEProxy:Presence"
PRESENCE_PORT = "PresencePort"


class CallQuery(NGNType):
    __type_name__ = "CallQuery"
    _type_info = [("fromDate", Integer32), ("toDate", Integer32), ("limit", Integer32)]


class CallsQuery(NGNType):
    __type_name__ = "CallsQuery"
    _type_info = [("placed", CallQuery), ("received", CallQuery)]


class Call(NGNType):
    """A call of the history; times are Unix timestamps, ``duration`` seconds."""

    __type_name__ = "Call"
    _type_info = [
        ("fromURI", Unicode),
        ("toURI", Unicode),
        ("fromHeader", Unicode),
        ("startTime", Integer32),
        ("stopTime", Integer32),
        ("duration", Integer32),
        ("status", Integer32),
        ("price", Double),
        ("sessionId", Unicode),
        ("fromTag", Unicode),
        ("toTag", Unicode),
        ("proxyIP", Unicode),
        ("applicationTypes", StringArray),
    ]


class Calls(NGNType):
    __type_name__ = "Calls"
    _type_info = [("placed", Array(Call, type_name="CallArray")), ("received", Array(Call, type_name="CallArray"))]


class CallStatistic(NGNType):
    __type_name__ = "CallStatistic"
    _type_info = [("calls", Integer32), ("price", Double)]


class CallStatistics(NGNType):
    __type_name__ = "CallStatistics"
    _type_info = [("placed", CallStatistic), ("received", CallStatistic)]


class SipDeviceLocation(NGNType):
    """A registered device: its contact address, the public one it registered from,
    seconds until the registration expires."""

    __type_name__ = "SipDeviceLocation"
    _type_info = [
        ("address", Unicode),
        ("port", Integer32),
        ("publicAddress", Unicode),
        ("publicPort", Integer32),
        ("expires", Integer32),
        ("userAgent", Unicode),
        ("transport", Unicode),
    ]


class SipDeviceLocations(NGNType):
    __type_name__ = "SipDeviceLocations"
    _type_info = [("id", SipId), ("locations", Array(SipDeviceLocation, type_name="SipDeviceLocationArray"))]


# which call's trace: the proxy (nodeIp) and the dialog's Call-ID and tags
_TRACE_FILTER = [("nodeIp", Unicode), ("callId", Unicode), ("fromTag", Unicode), ("toTag", Unicode)]


class SipTraceFilter(NGNType):
    __type_name__ = "SipTraceFilter"
    _type_info = list(_TRACE_FILTER)


class MediaTraceFilter(NGNType):
    __type_name__ = "MediaTraceFilter"
    _type_info = list(_TRACE_FILTER)


SipIdArray = Array(SipId, type_name="SipIdArray")


def _runtime(ctx: RequestContext) -> Runtime:
    return Runtime(Sip(ctx.session, ctx.caller, ctx.sealer, ctx.settings.query_max_rows))


class RuntimeService(ServiceBase):
    """Runtime data of SipPort."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(SipId, CallsQuery, _returns=Calls, _port_type=PORT)
    def getCalls(ctx: RequestContext, sipId: dict[str, Any] | None, query: dict[str, Any] | None) -> dict[str, Any]:
        _runtime(ctx).calls("Sip.getCalls", sipId)
        return {"placed": [], "received": []}

    @rpc(SipId, CallsQuery, _returns=CallStatistics, _port_type=PORT)
    def getCallStatistics(
        ctx: RequestContext, sipId: dict[str, Any] | None, query: dict[str, Any] | None
    ) -> dict[str, Any]:
        _runtime(ctx).calls("Sip.getCallStatistics", sipId)
        none = {"calls": 0, "price": 0.0}
        return {"placed": none, "received": none}

    @rpc(SipIdArray, _returns=Array(SipDeviceLocations, type_name="SipDeviceLocationsArray"), _port_type=PORT)
    def getSipDeviceLocations(ctx: RequestContext, sipIds: list[dict[str, Any] | None] | None) -> list[dict[str, Any]]:
        accounts = _runtime(ctx).device_locations("Sip.getSipDeviceLocations", sipIds)
        return [{"id": {"username": a.username, "domain": a.domain}, "locations": []} for a in accounts]

    @rpc(SipTraceFilter, _returns=Unicode, _port_type=PORT)
    def getSipTrace(ctx: RequestContext, filter: dict[str, Any] | None) -> str:
        raise refuse("Sip.getSipTrace", "SIP traces")

    @rpc(MediaTraceFilter, _returns=Unicode, _port_type=PORT)
    def getMediaTrace(ctx: RequestContext, filter: dict[str, Any] | None) -> str:
        raise refuse("Sip.getMediaTrace", "media traces")

    @rpc(_returns=Unicode, _port_type=PORT)
    def getMediaSessions(ctx: RequestContext) -> str:
        raise refuse("Sip.getMediaSessions", "media sessions")

    @rpc(_returns=Unicode, _port_type=PORT)
    def getMediaSummary(ctx: RequestContext) -> str:
        raise refuse("Sip.getMediaSummary", "media sessions")


class PresenceInformation(NGNType):
    __type_name__ = "PresenceInformation"
    _type_info = [("activity", Unicode), ("note", Unicode)]


class Watcher(NGNType):
    __type_name__ = "Watcher"
    _type_info = [("id", Unicode), ("status", Unicode)]


class PresencePolicy(NGNType):
    __type_name__ = "PresencePolicy"
    _type_info = [("allow", StringArray), ("deny", StringArray)]


class PresenceService(ServiceBase):
    """The Presence port: nothing is stored or known here, so every operation answers
    13001, without a login (these calls carry none) and without the database."""

    __service_name__ = "NGNPro"
    __port_types__ = (PRESENCE_PORT,)
    login_required = False

    @rpc(SipId, Unicode, PresenceInformation, _port_type=PRESENCE_PORT)
    def setPresenceInformation(ctx: None, sipId: Any, password: Any, information: Any) -> None:
        raise refuse("Presence.setPresenceInformation", "presence information")

    @rpc(SipId, Unicode, _returns=PresenceInformation, _port_type=PRESENCE_PORT)
    def getPresenceInformation(ctx: None, sipId: Any, password: Any) -> None:
        raise refuse("Presence.getPresenceInformation", "presence information")

    @rpc(SipId, Unicode, _port_type=PRESENCE_PORT)
    def deletePresenceInformation(ctx: None, sipId: Any, password: Any) -> None:
        raise refuse("Presence.deletePresenceInformation", "presence information")

    @rpc(SipId, Unicode, _returns=Array(Watcher, type_name="WatcherArray"), _port_type=PRESENCE_PORT)
    def getWatchers(ctx: None, sipId: Any, password: Any) -> None:
        raise refuse("Presence.getWatchers", "presence information")

    @rpc(SipId, Unicode, PresencePolicy, _port_type=PRESENCE_PORT)
    def setPolicy(ctx: None, sipId: Any, password: Any, policy: Any) -> None:
        raise refuse("Presence.setPolicy", "presence information")

    @rpc(SipId, Unicode, _returns=PresencePolicy, _port_type=PRESENCE_PORT)
    def getPolicy(ctx: None, sipId: Any, password: Any) -> None:
        raise refuse("Presence.getPolicy", "presence information")
