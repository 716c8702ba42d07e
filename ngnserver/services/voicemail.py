"""VoicemailPort (``urn:AGProjects:NGNPro:Voicemail``): the voice mailbox of a SIP account,
as CDRTool's account page adds, reads, changes and deletes it.

Thin: wire structs into calls on ``core.voicemail`` and stored mailboxes back into wire
structs.
"""

from __future__ import annotations

from typing import Any

from spyne import Boolean, ServiceBase, Unicode, rpc

from ngnserver.core.voicemail import Voicemail
from ngnserver.models.sip import SipAccount
from ngnserver.models.voicemail import VoicemailAccount as Mailbox
from ngnserver.services.context import RequestContext
from ngnserver.services.sip import SipId
from ngnserver.services.types import NGNType

NAMESPACE = "urn:AGProjects:NGNPro:Voicemail"
PORT = "VoicemailPort"


class VoicemailOptions(NGNType):
    __type_name__ = "VoicemailOptions"
    _type_info = [("delete", Boolean)]


class VoicemailAccount(NGNType):
    __type_name__ = "VoicemailAccount"
    _type_info = [
        ("sipId", SipId),
        ("mailbox", Unicode),
        ("password", Unicode),
        ("name", Unicode),
        ("email", Unicode),
        ("info", Unicode),
        ("options", VoicemailOptions),
    ]


def mailbox_fields(account: dict[str, Any]) -> dict[str, Any]:
    options = account.get("options") or {}
    return {
        "sip_id": account.get("sipId"),
        "password": account.get("password"),
        "name": account.get("name"),
        "email": account.get("email"),
        "info": account.get("info"),
        "delete_after_email": options.get("delete"),
    }


def mailbox_to_wire(account: SipAccount, mailbox: Mailbox, password: str) -> dict[str, Any]:
    return {
        "sipId": {"username": account.username, "domain": account.domain},
        "mailbox": str(mailbox.id),
        "password": password,
        "name": mailbox.name,
        "email": mailbox.email,
        "info": mailbox.info,
        "options": {"delete": mailbox.delete_after_email},
    }


def _voicemail(ctx: RequestContext) -> Voicemail:
    return Voicemail(ctx.session, ctx.caller, ctx.sealer)


class VoicemailService(ServiceBase):
    """Voice mailboxes of SIP accounts."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(VoicemailAccount, _port_type=PORT)
    def addAccount(ctx: RequestContext, account: dict[str, Any] | None) -> None:
        _voicemail(ctx).add(mailbox_fields(account or {}))

    @rpc(VoicemailAccount, _port_type=PORT)
    def updateAccount(ctx: RequestContext, account: dict[str, Any] | None) -> None:
        _voicemail(ctx).update(mailbox_fields(account or {}))

    @rpc(SipId, _port_type=PORT)
    def deleteAccount(ctx: RequestContext, sipId: dict[str, Any] | None) -> None:
        _voicemail(ctx).delete(sipId)

    @rpc(SipId, _returns=VoicemailAccount, _port_type=PORT)
    def getAccount(ctx: RequestContext, sipId: dict[str, Any] | None) -> dict[str, Any]:
        voicemail = _voicemail(ctx)
        account, mailbox = voicemail.mailbox(sipId)
        return mailbox_to_wire(account, mailbox, voicemail.password_of(mailbox))

    @rpc(SipId, Unicode, _port_type=PORT)
    def setAnnouncement(ctx: RequestContext, sipId: dict[str, Any] | None, message: str | None) -> None:
        _voicemail(ctx).set_announcement(sipId, message)
