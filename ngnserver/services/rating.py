"""RatingPort (``urn:AGProjects:NGNPro:Rating``): the rating profiles of an entity (a SIP
account, a SIP domain, a customer or a reseller), as CDRTool's account page sets, reads and
deletes them.

Thin: wire structs into calls on ``core.rating`` and stored profiles back into wire structs.
"""

from __future__ import annotations

from typing import Any

from spyne import ServiceBase, Unicode, rpc

from ngnserver.core.rating import Rating
from ngnserver.services.context import RequestContext
from ngnserver.services.types import NGNType, wire_date

NAMESPACE = "urn:AGProjects:NGNPro:Rating"
PORT = "RatingPort"

_WIRE = {
    "profileWeekday": "profile_weekday",
    "profileWeekdayAlt": "profile_weekday_alt",
    "profileWeekend": "profile_weekend",
    "profileWeekendAlt": "profile_weekend_alt",
    "timezone": "timezone",
}


class RatingEntityProfiles(NGNType):
    __type_name__ = "RatingEntityProfiles"
    _type_info = [("entity", Unicode), *((name, Unicode) for name in _WIRE), ("changeDate", Unicode)]


def _rating(ctx: RequestContext) -> Rating:
    return Rating(ctx.session, ctx.caller)


class RatingService(ServiceBase):
    """Rating profiles of SIP accounts, domains, customers and resellers."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(RatingEntityProfiles, _port_type=PORT)
    def setEntityProfiles(ctx: RequestContext, profiles: dict[str, Any] | None) -> None:
        profiles = profiles or {}
        _rating(ctx).set({"entity": profiles.get("entity"), **{attr: profiles.get(name) for name, attr in _WIRE.items()}})

    @rpc(Unicode, _port_type=PORT)
    def deleteEntityProfiles(ctx: RequestContext, entity: str | None) -> None:
        _rating(ctx).delete(entity)

    @rpc(Unicode, _returns=RatingEntityProfiles, _port_type=PORT)
    def getEntityProfiles(ctx: RequestContext, entity: str | None) -> dict[str, Any]:
        found = _rating(ctx).get(entity)
        wire = {"entity": found["entity"], **{name: found[attr] for name, attr in _WIRE.items()}}
        wire["changeDate"] = wire_date(found["change_date"])
        return wire
