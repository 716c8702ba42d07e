"""Prepaid balances in SipPort (``urn:AGProjects:NGNPro:Sip``): getPrepaidStatus,
addBalance, addBalanceFromVoucher and getCreditHistory as CDRTool's credit tab calls them,
and addVouchers (ours: NGNPro has no operation to make prepaid cards).

Thin: wire structs into calls on ``core.prepaid`` and results back into wire structs.
Served by the Sip port beside ``services.sip.SipService``.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Double, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.prepaid import Change, Prepaid, from_units, make_vouchers
from ngnserver.services.context import RequestContext
from ngnserver.services.sip import PORT, SipId
from ngnserver.services.types import NGNType, wire_date

SipIdArray = Array(SipId, type_name="SipIdArray")


class PrepaidCard(NGNType):
    """A voucher: CDRTool sends ``id`` and ``number``; addVouchers also answers ``value``."""

    __type_name__ = "PrepaidCard"
    _type_info = [("id", Integer32), ("number", Unicode), ("value", Double)]


class PrepaidStatus(NGNType):
    __type_name__ = "PrepaidStatus"
    _type_info = [("id", SipId), ("balance", Double), ("changeDate", Unicode)]


class BalanceChange(NGNType):
    __type_name__ = "BalanceChange"
    _type_info = [("old_balance", Double), ("new_balance", Double)]


class CreditHistoryEntry(NGNType):
    __type_name__ = "CreditHistoryEntry"
    _type_info = [
        ("date", Unicode),
        ("action", Unicode),
        ("description", Unicode),
        ("value", Double),
        ("balance", Double),
        ("voucher", Integer32),
    ]


class CreditHistory(NGNType):
    __type_name__ = "CreditHistory"
    _type_info = [("entries", Array(CreditHistoryEntry, type_name="CreditHistoryEntryArray"))]


def _prepaid(ctx: RequestContext) -> Prepaid:
    return Prepaid(ctx.session, ctx.caller, ctx.sealer, ctx.settings.query_max_rows)


def _change(change: Change) -> dict[str, Any]:
    return {"old_balance": change.old, "new_balance": change.new}


class PrepaidService(ServiceBase):
    """Balances of prepaid SIP accounts, their history and vouchers."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(SipIdArray, _returns=Array(PrepaidStatus, type_name="PrepaidStatusArray"), _port_type=PORT)
    def getPrepaidStatus(ctx: RequestContext, sipIds: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        return [
            {"id": {"username": account.username, "domain": account.domain}, "balance": balance,
             "changeDate": wire_date(account.change_date)}
            for account, balance in _prepaid(ctx).statuses(sipIds)
        ]  # fmt: skip

    @rpc(SipId, Double, Unicode, _returns=BalanceChange, _port_type=PORT)
    def addBalance(ctx: RequestContext, sipId: dict[str, Any] | None, value: float | None, description: str | None) -> dict[str, Any]:
        return _change(_prepaid(ctx).add_balance(sipId, value, description))

    @rpc(SipId, PrepaidCard, _returns=BalanceChange, _port_type=PORT)
    def addBalanceFromVoucher(ctx: RequestContext, sipId: dict[str, Any] | None, card: dict[str, Any] | None) -> dict[str, Any]:
        return _change(_prepaid(ctx).redeem(sipId, card))

    @rpc(SipId, Integer32, _returns=CreditHistory, _port_type=PORT)
    def getCreditHistory(ctx: RequestContext, sipId: dict[str, Any] | None, count: int | None) -> dict[str, Any]:
        entries = _prepaid(ctx).history(sipId, count)
        return {"entries": [
            {"date": wire_date(e.date), "action": e.action, "description": e.description,
             "value": from_units(e.value_units), "balance": from_units(e.balance_units), "voucher": e.voucher_id or 0}
            for e in entries
        ]}  # fmt: skip

    @rpc(Integer32, Double, Integer32, _returns=Array(PrepaidCard, type_name="PrepaidCardArray"), _port_type=PORT)
    def addVouchers(ctx: RequestContext, count: int | None, value: float | None, reseller: int | None) -> list[dict[str, Any]]:
        made = make_vouchers(ctx.session, ctx.caller, ctx.sealer, count, value, reseller)
        return [{"id": v.id, "number": v.number, "value": v.value} for v in made]
