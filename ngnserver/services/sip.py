"""SipPort (``urn:AGProjects:NGNPro:Sip``): SIP domains, accounts, aliases and groups.

Thin: wire structs into calls on ``core.sip`` and stored records back into wire structs.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Boolean, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.sip import Sip
from ngnserver.models import sip as rows
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

NAMESPACE = "urn:AGProjects:NGNPro:Sip"
PORT = "SipPort"


class SipId(NGNType):
    __type_name__ = "SipId"
    _type_info = [("username", Unicode), ("domain", Unicode)]


class SipDomain(NGNType):
    __type_name__ = "SipDomain"
    _type_info = [
        ("domain", Unicode),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("certificate", Unicode),
        ("private_key", Unicode),
        ("match_ip_address", Unicode),
        ("match_sip_domain", Unicode),
        ("verify_cert", Boolean),
        ("require_cert", Boolean),
        ("changeDate", Unicode),
    ]


class SipDomainFilter(NGNType):
    __type_name__ = "SipDomainFilter"
    _type_info = [("domain", Unicode), ("customer", Integer32), ("reseller", Integer32)]


class SipDomainQuery(NGNType):
    __type_name__ = "SipDomainQuery"
    _type_info = [("filter", SipDomainFilter), ("orderBy", OrderBy), ("range", Range)]


class SipDomainQueryResult(NGNType):
    __type_name__ = "SipDomainQueryResult"
    _type_info = [("total", Integer32), ("domains", Array(SipDomain, type_name="SipDomainArray"))]


class SipACL(NGNType):
    __type_name__ = "SipACL"
    _type_info = [("ip", Unicode), ("mask", Integer32)]


class SipProperty(NGNType):
    __type_name__ = "SipProperty"
    _type_info = [("name", Unicode), ("value", Unicode)]


class SipAccount(NGNType):
    __type_name__ = "SipAccount"
    _type_info = [
        ("id", SipId),
        ("password", Unicode),
        ("firstName", Unicode),
        ("lastName", Unicode),
        ("email", Unicode),
        ("rpid", Unicode),
        ("timezone", Unicode),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("groups", StringArray),
        ("prepaid", Boolean),
        ("quota", Integer32),
        ("callLimit", Integer32),
        ("acl", Array(SipACL, type_name="SipACLArray")),
        ("properties", Array(SipProperty, type_name="SipPropertyArray")),
        ("timeout", Integer32),
        ("answerTimeout", Integer32),
        ("quickdialPrefix", Unicode),
        ("region", Unicode),
        ("createDate", Unicode),
        ("changeDate", Unicode),
    ]


class SipFilter(NGNType):
    __type_name__ = "SipFilter"
    _type_info = [
        ("username", Unicode),
        ("domain", Unicode),
        ("firstName", Unicode),
        ("lastName", Unicode),
        ("email", Unicode),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("groups", StringArray),
    ]


class SipQuery(NGNType):
    __type_name__ = "SipQuery"
    _type_info = [("filter", SipFilter), ("orderBy", OrderBy), ("range", Range)]


class SipQueryResult(NGNType):
    __type_name__ = "SipQueryResult"
    _type_info = [("total", Integer32), ("accounts", Array(SipAccount, type_name="SipAccountArray"))]


class SipAlias(NGNType):
    __type_name__ = "SipAlias"
    _type_info = [
        ("id", SipId),
        ("target", SipId),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
        ("changeDate", Unicode),
    ]


class AliasFilter(NGNType):
    __type_name__ = "AliasFilter"
    _type_info = [
        ("aliasUsername", Unicode),
        ("aliasDomain", Unicode),
        ("targetUsername", Unicode),
        ("targetDomain", Unicode),
        ("owner", Integer32),
        ("customer", Integer32),
        ("reseller", Integer32),
    ]


class AliasQuery(NGNType):
    __type_name__ = "AliasQuery"
    _type_info = [("filter", AliasFilter), ("orderBy", OrderBy), ("range", Range)]


class AliasQueryResult(NGNType):
    __type_name__ = "AliasQueryResult"
    _type_info = [("total", Integer32), ("aliases", Array(SipAlias, type_name="SipAliasArray"))]


# -- wire <-> domain ---------------------------------------------------------------------------

_ACCOUNT_WIRE = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "rpid": "rpid",
    "timezone": "timezone",
    "quota": "quota",
    "callLimit": "call_limit",
    "timeout": "timeout",
    "answerTimeout": "answer_timeout",
    "quickdialPrefix": "quickdial_prefix",
    "region": "region",
}


def account_fields(account: dict[str, Any]) -> dict[str, Any]:
    fields = {attr: account.get(name) for name, attr in _ACCOUNT_WIRE.items()}
    fields.update(
        id=account.get("id"),
        password=account.get("password"),
        owner=account.get("owner"),
        groups=account.get("groups"),
        prepaid=account.get("prepaid"),
        acl=_clean_list(account.get("acl"), ("ip", "mask")),
        properties=_clean_list(account.get("properties"), ("name", "value")),
    )
    return fields


def _clean_list(items: list[dict[str, Any]] | None, keys: tuple[str, ...]) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    return [{k: item.get(k) for k in keys if item.get(k) is not None} for item in items if item]


def account_to_wire(account: Any, password: str, groups: list[str]) -> dict[str, Any]:
    """A SIP account (a SipAccount or its stored row) on the wire."""
    wire = {name: getattr(account, attr) for name, attr in _ACCOUNT_WIRE.items()}
    wire.update(
        id={"username": account.username, "domain": account.domain},
        password=password,
        owner=account.owner,
        customer=account.customer,
        reseller=account.reseller,
        groups=groups,
        prepaid=account.prepaid,
        acl=account.acl,
        properties=account.properties,
        createDate=wire_date(account.create_date),
        changeDate=wire_date(account.change_date),
    )
    return wire


def domain_to_wire(domain: rows.SipDomain, private_key: str) -> dict[str, Any]:
    return {
        "domain": domain.domain,
        "customer": domain.customer,
        "reseller": domain.reseller,
        "certificate": domain.certificate,
        "private_key": private_key,
        "match_ip_address": domain.match_ip_address,
        "match_sip_domain": domain.match_sip_domain,
        "verify_cert": domain.verify_cert,
        "require_cert": domain.require_cert,
        "changeDate": wire_date(domain.change_date),
    }


def alias_to_wire(alias: rows.SipAlias) -> dict[str, Any]:
    return {
        "id": {"username": alias.username, "domain": alias.domain},
        "target": {"username": alias.target_username, "domain": alias.target_domain},
        "owner": alias.owner,
        "customer": alias.customer,
        "reseller": alias.reseller,
        "changeDate": wire_date(alias.change_date),
    }


def _sip(ctx: RequestContext) -> Sip:
    return Sip(ctx.session, ctx.caller, ctx.sealer, ctx.settings.query_max_rows)


DOMAINS = Listing(
    like={"domain": rows.SipDomain.domain},
    equal={"customer": rows.SipDomain.customer, "reseller": rows.SipDomain.reseller},
    order={"changeDate": rows.SipDomain.change_date, "domain": rows.SipDomain.domain, "id": rows.SipDomain.id},
    default=("domain", "ASC"),
    lowercase=frozenset({"domain"}),
)
ACCOUNTS = Listing(
    like={"username": rows.SipAccount.username, "domain": rows.SipAccount.domain,
          "firstName": rows.SipAccount.first_name, "lastName": rows.SipAccount.last_name,
          "email": rows.SipAccount.email},
    equal={"owner": rows.SipAccount.owner, "customer": rows.SipAccount.customer,
           "reseller": rows.SipAccount.reseller},
    order={"changeDate": rows.SipAccount.change_date, "username": rows.SipAccount.username,
           "domain": rows.SipAccount.domain, "id": rows.SipAccount.id},
    default=("id", "ASC"),
    lowercase=frozenset({"domain"}),
)  # fmt: skip
ALIASES = Listing(
    like={"aliasUsername": rows.SipAlias.username, "aliasDomain": rows.SipAlias.domain,
          "targetUsername": rows.SipAlias.target_username, "targetDomain": rows.SipAlias.target_domain},
    equal={"owner": rows.SipAlias.owner, "customer": rows.SipAlias.customer, "reseller": rows.SipAlias.reseller},
    order={"changeDate": rows.SipAlias.change_date, "aliasUsername": rows.SipAlias.username,
           "aliasDomain": rows.SipAlias.domain, "username": rows.SipAlias.username,
           "domain": rows.SipAlias.domain, "id": rows.SipAlias.id},
    default=("id", "ASC"),
    lowercase=frozenset({"aliasDomain"}),
)  # fmt: skip


class SipService(ServiceBase):
    """SIP domains, accounts, aliases and groups."""

    __service_name__ = "NGNPro"
    __port_types__ = (PORT,)

    @rpc(SipDomain, _port_type=PORT)
    def addDomain(ctx: RequestContext, domain: dict[str, Any] | None) -> None:
        _sip(ctx).add_domain(domain or {})

    @rpc(SipDomain, _port_type=PORT)
    def updateDomain(ctx: RequestContext, domain: dict[str, Any] | None) -> None:
        _sip(ctx).update_domain(domain or {})

    @rpc(Unicode, _port_type=PORT)
    def deleteDomain(ctx: RequestContext, domain: str | None) -> None:
        _sip(ctx).delete_domain(domain)

    @rpc(SipDomainQuery, _returns=SipDomainQueryResult, _port_type=PORT)
    def getDomains(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        sip = _sip(ctx)
        total, domains = sip.domains(DOMAINS.query(query))
        return {"total": total, "domains": [domain_to_wire(d, sip.private_key_of(d)) for d in domains]}

    @rpc(SipAccount, _returns=SipAccount, _port_type=PORT)
    def addAccount(ctx: RequestContext, account: dict[str, Any] | None) -> dict[str, Any]:
        refuse_lost_lists(account, ("groups", "acl", "properties"), "account")
        fields = account_fields(account or {})
        created, groups = _sip(ctx).add_account(fields)
        # the password just sealed and stored, as sent (opening it again would cost a decrypt)
        return account_to_wire(created, fields.get("password") or "", groups)

    @rpc(SipAccount, _port_type=PORT)
    def updateAccount(ctx: RequestContext, account: dict[str, Any] | None) -> None:
        _sip(ctx).update_account(account_fields(account or {}))

    @rpc(SipId, _port_type=PORT)
    def deleteAccount(ctx: RequestContext, sipId: dict[str, Any] | None) -> None:
        _sip(ctx).delete_account(sipId)

    @rpc(SipId, _returns=SipAccount, _port_type=PORT)
    def getAccount(ctx: RequestContext, sipId: dict[str, Any] | None) -> dict[str, Any]:
        sip = _sip(ctx)
        account = sip.account(sipId)
        return account_to_wire(account, sip.password_of(account), [g.name for g in account.groups])

    @rpc(SipQuery, _returns=SipQueryResult, _port_type=PORT)
    def getAccounts(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        sip = _sip(ctx)
        groups = ((query or {}).get("filter") or {}).get("groups")
        total, accounts = sip.accounts(ACCOUNTS.query(query), groups)
        return {"total": total, "accounts": [account_to_wire(a, sip.password_of(a), [g.name for g in a.groups])
                                             for a in accounts]}  # fmt: skip

    @rpc(SipAlias, _port_type=PORT)
    def addAlias(ctx: RequestContext, alias: dict[str, Any] | None) -> None:
        _sip(ctx).add_alias(alias or {})

    @rpc(SipAlias, _port_type=PORT)
    def updateAlias(ctx: RequestContext, alias: dict[str, Any] | None) -> None:
        _sip(ctx).update_alias(alias or {})

    @rpc(SipId, _port_type=PORT)
    def deleteAlias(ctx: RequestContext, id: dict[str, Any] | None) -> None:
        _sip(ctx).delete_alias(id)

    @rpc(SipId, _returns=SipAlias, _port_type=PORT)
    def getAlias(ctx: RequestContext, id: dict[str, Any] | None) -> dict[str, Any]:
        return alias_to_wire(_sip(ctx).alias(id))

    @rpc(AliasQuery, _returns=AliasQueryResult, _port_type=PORT)
    def getAliases(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        total, aliases = _sip(ctx).aliases(ALIASES.query(query))
        return {"total": total, "aliases": [alias_to_wire(a) for a in aliases]}

    @rpc(SipId, Unicode, _port_type=PORT)
    def addToGroup(ctx: RequestContext, sipId: dict[str, Any] | None, group: str | None) -> None:
        _sip(ctx).add_to_group(sipId, group)

    @rpc(SipId, Unicode, _port_type=PORT)
    def removeFromGroup(ctx: RequestContext, sipId: dict[str, Any] | None, group: str | None) -> None:
        _sip(ctx).remove_from_group(sipId, group)

    @rpc(SipId, _returns=StringArray, _port_type=PORT)
    def getGroups(ctx: RequestContext, sipId: dict[str, Any] | None) -> list[str]:
        return _sip(ctx).groups_of(sipId)
