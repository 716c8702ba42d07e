"""A SIP account's call settings in SipPort (``urn:AGProjects:NGNPro:Sip``): call diversions,
accept rules, reject members, barring prefixes and phonebook entries, with the names and
types CDRTool's SIP settings page (``sip_settings.php``) uses.

Thin: wire structs into calls on ``core.sip_settings`` and stored settings back into wire
structs. Served by the Sip port beside ``services.sip.SipService``.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.sip_settings import CONDITIONS, SipSettings
from ngnserver.models.sip_settings import PhonebookEntry as EntryRow
from ngnserver.services.context import RequestContext
from ngnserver.services.sip import PORT, SipId
from ngnserver.services.types import NGNType, Range, StringArray

UNKNOWN = "unknown"  # where the decoder lists the members of CallDiversions that are no condition


class CallDiversions(NGNType):
    """Where calls go on each condition: a SIP address, ``<voice-mailbox>``, or "" (not
    diverted)."""

    __type_name__ = "CallDiversions"
    __unknown_members__ = UNKNOWN
    _type_info = [(condition, Unicode) for condition in CONDITIONS]


class PersistentAcceptRule(NGNType):
    __type_name__ = "PersistentAcceptRule"
    _type_info = [("days", Integer32), ("start", Unicode), ("stop", Unicode), ("groups", StringArray)]


class TemporaryAcceptRule(NGNType):
    __type_name__ = "TemporaryAcceptRule"
    _type_info = [("groups", StringArray), ("duration", Integer32)]


class AcceptRules(NGNType):
    __type_name__ = "AcceptRules"
    _type_info = [
        ("persistent", Array(PersistentAcceptRule, type_name="PersistentAcceptRuleArray")),
        ("temporary", TemporaryAcceptRule),
    ]


class AcceptRulesResult(NGNType):
    __type_name__ = "AcceptRulesResult"
    _type_info = [("rules", AcceptRules), ("nonEmptyGroups", StringArray)]


class PhonebookEntry(NGNType):
    """A phonebook entry; ``firstName`` and ``lastName`` (read-only) split ``name`` at its
    first space, for CDRTool's phonebook export."""

    __type_name__ = "PhonebookEntry"
    _type_info = [
        ("uri", Unicode),
        ("name", Unicode),
        ("group", Unicode),
        ("firstName", Unicode),
        ("lastName", Unicode),
    ]


class PhonebookEntryQueryResult(NGNType):
    __type_name__ = "PhonebookEntryQueryResult"
    _type_info = [("total", Integer32), ("entries", Array(PhonebookEntry, type_name="PhonebookEntryArray"))]


def entry_to_wire(entry: EntryRow) -> dict[str, Any]:
    first, _, last = entry.name.partition(" ")
    return {"uri": entry.uri, "name": entry.name, "group": entry.group_name, "firstName": first, "lastName": last}


def _settings(ctx: RequestContext) -> SipSettings:
    return SipSettings(ctx.session, ctx.caller, ctx.settings.query_max_rows)


class SipSettingsService(ServiceBase):
    """A SIP account's call diversions, accept and reject rules, barring prefixes and
    phonebook."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(SipId, CallDiversions, _port_type=PORT)
    def setCallDiversions(ctx: RequestContext, sipId: dict[str, Any] | None, diversions: dict[str, Any] | None) -> None:
        diversions = dict(diversions or {})
        unknown = diversions.pop(UNKNOWN, [])
        _settings(ctx).set_diversions(sipId, diversions, unknown)

    @rpc(SipId, _returns=CallDiversions, _port_type=PORT)
    def getCallDiversions(ctx: RequestContext, sipId: dict[str, Any] | None) -> dict[str, str]:
        return _settings(ctx).diversions(sipId)

    @rpc(SipId, AcceptRules, _port_type=PORT)
    def setAcceptRules(ctx: RequestContext, sipId: dict[str, Any] | None, rules: dict[str, Any] | None) -> None:
        _settings(ctx).set_accept_rules(sipId, rules)

    @rpc(SipId, _returns=AcceptRulesResult, _port_type=PORT)
    def getAcceptRules(ctx: RequestContext, sipId: dict[str, Any] | None) -> dict[str, Any]:
        rules, groups = _settings(ctx).accept_rules(sipId)
        return {"rules": rules, "nonEmptyGroups": groups}

    @rpc(SipId, StringArray, _port_type=PORT)
    def setRejectMembers(ctx: RequestContext, sipId: dict[str, Any] | None, members: list[str] | None) -> None:
        _settings(ctx).set_reject_members(sipId, members)

    @rpc(SipId, _returns=StringArray, _port_type=PORT)
    def getRejectMembers(ctx: RequestContext, sipId: dict[str, Any] | None) -> list[str]:
        return _settings(ctx).reject_members(sipId)

    @rpc(SipId, StringArray, _port_type=PORT)
    def setBarringPrefixes(ctx: RequestContext, sipId: dict[str, Any] | None, prefixes: list[str] | None) -> None:
        _settings(ctx).set_barring_prefixes(sipId, prefixes)

    @rpc(SipId, _returns=StringArray, _port_type=PORT)
    def getBarringPrefixes(ctx: RequestContext, sipId: dict[str, Any] | None) -> list[str]:
        return _settings(ctx).barring_prefixes(sipId)

    @rpc(SipId, PhonebookEntry, _port_type=PORT)
    def addPhonebookEntry(ctx: RequestContext, sipId: dict[str, Any] | None, entry: dict[str, Any] | None) -> None:
        _settings(ctx).add_entry(sipId, entry or {})

    @rpc(SipId, PhonebookEntry, _port_type=PORT)
    def updatePhonebookEntry(ctx: RequestContext, sipId: dict[str, Any] | None, entry: dict[str, Any] | None) -> None:
        _settings(ctx).update_entry(sipId, entry or {})

    @rpc(SipId, Unicode, _port_type=PORT)
    def deletePhonebookEntry(ctx: RequestContext, sipId: dict[str, Any] | None, uri: str | None) -> None:
        _settings(ctx).delete_entry(sipId, uri)

    @rpc(SipId, PhonebookEntry, Range, _returns=PhonebookEntryQueryResult, _port_type=PORT)
    def getPhonebookEntries(
        ctx: RequestContext, sipId: dict[str, Any] | None, match: dict[str, Any] | None, range: dict[str, Any] | None
    ) -> dict[str, Any]:
        page = range or {}
        total, entries = _settings(ctx).entries(sipId, match, int(page.get("start") or 0), page.get("count") or None)
        return {"total": total, "entries": [entry_to_wire(e) for e in entries]}
