"""SIP domains, accounts, aliases and groups, under the reseller credit model.

Accounts and aliases inherit ``customer``/``reseller`` from their domain; moving a domain to
another customer moves them too and re-checks that customer's credits. Non-admin callers
need their reseller's ``pstn_access`` to give an account PSTN access (group ``free-pstn``),
``pstn_access`` or ``pstn_changes`` to take it away, and ``prepaid_changes`` to switch it
between prepaid and postpaid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, bindparam, cast, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ngnserver.core import audit, credits, lengths, ownership, records
from ngnserver.core.callers import Caller, Role
from ngnserver.core.credits import Holders
from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Credit, Right
from ngnserver.core.queries import Query, fetch_page
from ngnserver.core.sealing import PasswordSealer
from ngnserver.models import CustomerProperty
from ngnserver.models.base import utcnow
from ngnserver.models.sip import SipAccount, SipAlias, SipDomain, SipGroupMember

AUTOINCREMENT = "<autoincrement>"
FIRST_AUTOINCREMENT = 1000
NUMERIC_DIGITS = 18  # the longest numeric username <autoincrement> reads (a BIGINT)
FREE_PSTN = "free-pstn"
PREPAID = "prepaid"

_DOMAIN_RE = re.compile(r"^(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-*#!~%&=$,;?]{0,63}\Z")
_GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")

ACCOUNT_FIELDS = (
    "first_name", "last_name", "email", "rpid", "timezone", "quota", "call_limit", "timeout",
    "answer_timeout", "quickdial_prefix", "region", "acl", "properties",
)  # fmt: skip
DOMAIN_FIELDS = ("certificate", "match_ip_address", "match_sip_domain", "verify_cert", "require_cert")
# a domain's placement, share-locked, and whether a username is taken in it (one read)
_PLACEMENT = (
    select(
        SipDomain.domain, SipDomain.customer, SipDomain.reseller,
        exists().where(SipAccount.domain == SipDomain.domain, SipAccount.username == bindparam("username")).label("taken"),
    )
    .where(SipDomain.domain == bindparam("name"))
    .with_for_update(read=True, of=SipDomain)
)  # fmt: skip
# per role, built once: the placement within the caller's scope (records.visible, bound)
_PLACEMENT_IN_SCOPE = {
    Role.ADMIN: _PLACEMENT,
    Role.RESELLER: _PLACEMENT.where(SipDomain.reseller == bindparam("scope")),
    Role.CUSTOMER: _PLACEMENT.where(SipDomain.customer == bindparam("scope")),
}
_ACCOUNTS = SipAccount.__table__
_INSERT_ACCOUNT = insert(_ACCOUNTS).returning(*_ACCOUNTS.c)


def normalise_domain(name: str | None) -> str:
    domain = (name or "").strip().lower().rstrip(".")
    if not domain:
        raise NGNError(E.MISSING_PARAMETER, "A SIP domain name is required.")
    if not _DOMAIN_RE.match(domain):
        raise NGNError(E.INVALID_VALUE, f"{name!r} is not a valid domain name.")
    return domain


def _sip_id(sip_id: Mapping[str, Any] | None, what: str = "SIP account") -> tuple[str, str]:
    sip_id = sip_id or {}
    username = (sip_id.get("username") or "").strip()
    if not username:
        raise NGNError(E.MISSING_PARAMETER, f"A {what} needs a username and a domain.")
    return username, normalise_domain(sip_id.get("domain"))


def account_in_scope(
    session: Session, caller: Caller, sip_id: Mapping[str, Any] | None, lock: bool = False, options: Any = ()
) -> SipAccount:
    """The account ``sip_id`` names, in the caller's scope, or 1012 (``lock``: for a change
    of it or of what hangs off it)."""
    username, domain = _sip_id(sip_id)
    return records.in_scope(
        session, caller, SipAccount, SipAccount.username == username, SipAccount.domain == domain,
        missing=(E.SIP_ACCOUNT_NOT_FOUND, f"SIP account {username}@{domain} does not exist."),
        lock=lock, options=options,
    )  # fmt: skip


def _check_username(username: str) -> None:
    if not _USERNAME_RE.match(username):
        raise NGNError(E.INVALID_VALUE, f"{username!r} is not a valid SIP username.")


def _groups(names: list[str] | None) -> list[str] | None:
    if names is None:
        return None
    cleaned = sorted({(n or "").strip() for n in names} - {""})
    for name in cleaned:
        if not _GROUP_RE.match(name):
            raise NGNError(E.INVALID_VALUE, f"{name!r} is not a valid group name.")
    return cleaned


def _account_fields_given(fields: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The account fields (ACCOUNT_FIELDS) a request sets, with their values."""
    return [(name, fields[name]) for name in ACCOUNT_FIELDS if fields.get(name) is not None]


class Sip:
    """SIP operations for one request."""

    def __init__(self, session: Session, caller: Caller, sealer: PasswordSealer, max_rows: int = 1000) -> None:
        self.session = session
        self.caller = caller
        self.sealer = sealer
        self.max_rows = max_rows

    # -- domains ---------------------------------------------------------------------------

    def domain(self, name: str | None, lock: bool = False) -> SipDomain:
        """The domain, in the caller's scope (``lock``: for a change of the domain itself)."""
        domain_name = normalise_domain(name)
        return records.in_scope(
            self.session, self.caller, SipDomain, SipDomain.domain == domain_name,
            missing=(E.SIP_DOMAIN_NOT_FOUND, f"SIP domain {domain_name} does not exist."), lock=lock,
        )  # fmt: skip

    def _placement(self, name: str | None, username: str) -> Any:
        """The domain's placement (``domain``, ``customer``, ``reseller``), in the caller's
        scope, share-locked: no move or deletion of it until the transaction ends, while
        other creations in the domain go on, so that what is created in it follows its
        placement at commit (a domain move locks the row first too); and whether an account
        ``username`` is there (``taken``)."""
        domain_name = normalise_domain(name)
        caller = self.caller
        scope = caller.reseller_id if caller.role is Role.RESELLER else caller.customer_id
        found = self.session.connection().execute(
            _PLACEMENT_IN_SCOPE[caller.role], {"name": domain_name, "username": username, "scope": scope}
        ).first()
        if found is None:
            raise NGNError(E.SIP_DOMAIN_NOT_FOUND, f"SIP domain {domain_name} does not exist.")
        return found

    def _require_domain_manager(self) -> None:
        if self.caller.role is Role.CUSTOMER:
            raise NGNError(E.PERMISSION_DENIED, "Only admin and resellers manage SIP domains.")

    def add_domain(self, fields: Mapping[str, Any]) -> SipDomain:
        self._require_domain_manager()
        records.require_active_reseller(self.caller)
        name = normalise_domain(fields.get("domain"))
        if self.session.execute(select(SipDomain.id).where(SipDomain.domain == name)).first():
            raise NGNError(E.SIP_DOMAIN_EXISTS, f"SIP domain {name} already exists.")
        customer, reseller = records.placement(self.session, self.caller, fields.get("customer"), fields.get("reseller"))
        domain = SipDomain(domain=name, customer=customer, reseller=reseller)
        self._apply_domain_fields(domain, fields)
        self.session.add(domain)
        records.flush_unique(self.session, E.SIP_DOMAIN_EXISTS, f"SIP domain {name} already exists.")
        audit.record(self.session, self.caller, "create", "sip_domain", name, records.given(fields))
        return domain

    def update_domain(self, fields: Mapping[str, Any]) -> None:
        self._require_domain_manager()
        domain = self.domain(fields.get("domain"), lock=True)
        customer_id = fields.get("customer")
        if customer_id is not None and customer_id != domain.customer:
            new_customer, new_reseller = records.placement(self.session, self.caller, customer_id, fields.get("reseller"))
            self._move_domain(domain, new_customer, new_reseller)
        self._apply_domain_fields(domain, fields)
        domain.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "sip_domain", domain.domain, records.given(fields))

    def _apply_domain_fields(self, domain: SipDomain, fields: Mapping[str, Any]) -> None:
        for name in DOMAIN_FIELDS:
            if fields.get(name) is not None:
                setattr(domain, name, fields[name])
        if fields.get("private_key") is not None:
            domain.private_key_sealed = self.sealer.seal(fields["private_key"]) if fields["private_key"] else b""

    def _move_domain(self, domain: SipDomain, customer: int, reseller: int) -> None:
        """Move a domain and everything in it to another customer, re-checking credits."""
        limited = records.limited(self.caller)
        old, new = (domain.customer, domain.reseller), (customer, reseller)
        for model, credit in ((SipAccount, Credit.SIP_ACCOUNT), (SipAlias, Credit.SIP_ALIAS)):
            records.move_children(self.session, model, model.domain == domain.domain, old, new, credit, limited)
        domain.customer, domain.reseller = customer, reseller

    def delete_domain(self, name: str | None) -> None:
        self._require_domain_manager()
        domain = self.domain(name, lock=True)
        left = {
            names: self.session.execute(
                select(func.count()).select_from(model).where(model.domain == domain.domain)
            ).scalar_one()
            for names, model in ((("account", "accounts"), SipAccount), (("alias", "aliases"), SipAlias))
        }
        if any(left.values()):
            what = " and ".join(f"{n} {names[n != 1]}" for names, n in left.items() if n)
            raise NGNError(
                E.SIP_DOMAIN_NOT_EMPTY,
                f"SIP domain {domain.domain} still has {what}; delete them first.",
            )
        self.session.delete(domain)
        audit.record(self.session, self.caller, "delete", "sip_domain", domain.domain)

    def domains(self, query: Query) -> tuple[int, list[SipDomain]]:
        total, rows = fetch_page(
            self.session, select(SipDomain), records.visible(self.caller, SipDomain), query,
            (SipDomain.domain, "ASC"), SipDomain.id, self.max_rows,
        )  # fmt: skip
        return total, [r[0] for r in rows]

    def private_key_of(self, domain: SipDomain) -> str:
        return self.sealer.open(domain.private_key_sealed)

    # -- accounts --------------------------------------------------------------------------

    def account(self, sip_id: Mapping[str, Any] | None, lock: bool = False) -> SipAccount:
        """The account, in the caller's scope (``lock``: for a change or a deletion)."""
        return account_in_scope(self.session, self.caller, sip_id, lock, [selectinload(SipAccount.groups)])

    def add_account(self, fields: Mapping[str, Any]) -> tuple[Any, list[str]]:
        """A new account under its domain's customer and reseller: its stored row (as
        SipAccount's attributes) and its groups. The domain row is share-locked before any
        credit counter is changed (a domain move locks it first too), so the account and the
        credits it is charged to follow the domain's placement at commit."""
        caller = self.caller
        sip_id = fields.get("id") or {}
        username = (sip_id.get("username") or "").strip()
        domain = self._placement(sip_id.get("domain"), username)
        records.require_active_reseller(caller)
        if username == AUTOINCREMENT:
            username = self._next_numeric_username(domain.domain)
        if not username:
            raise NGNError(E.MISSING_PARAMETER, "A SIP account needs a username (or <autoincrement>).")
        _check_username(username)
        exists_message = f"SIP account {username}@{domain.domain} already exists."
        if domain.taken:
            raise NGNError(E.SIP_ACCOUNT_EXISTS, exists_message)
        owner = records.owner_for(self.session, caller, fields.get("owner"), domain.reseller)
        groups = _groups(fields.get("groups")) or []
        prepaid = bool(fields.get("prepaid")) or PREPAID in groups
        groups = sorted(set(groups) | {PREPAID}) if prepaid else groups
        self._check_rights(domain.reseller, domain.domain, set(), set(groups), False, prepaid)
        credits.charge(
            self.session, Credit.SIP_ACCOUNT, Holders.of(domain.reseller, domain.customer, owner),
            limited=records.limited(caller),
        )  # fmt: skip
        values = {
            "username": username, "domain": domain.domain, "owner": owner, "customer": domain.customer,
            "reseller": domain.reseller, "prepaid": prepaid, "password_sealed": self.sealer.seal(fields.get("password") or ""),
            **dict(_account_fields_given(fields)),
        }  # fmt: skip
        lengths.check_row(SipAccount, values)
        # a plain insert (Core, the column defaults applied), returning the stored row: the
        # ORM's unit of work cost several times the insert, on the path of every busy
        # provisioning client, and nothing else in the request uses the object
        connection = self.session.connection()
        try:
            account = connection.execute(_INSERT_ACCOUNT, values).one()
        except IntegrityError:
            raise NGNError(E.SIP_ACCOUNT_EXISTS, exists_message) from None
        if groups:
            connection.execute(insert(SipGroupMember), [{"account_id": account.id, "name": g} for g in groups])
        audit.record(self.session, caller, "create", "sip_account", f"{username}@{domain.domain}", records.given(fields))
        return account, groups

    def _next_numeric_username(self, domain: str) -> str:
        """The next free numeric username in the domain (the domain row is locked)."""
        highest = self.session.execute(
            select(func.max(cast(SipAccount.username, BigInteger))).where(
                SipAccount.domain == domain, SipAccount.username.regexp_match(f"^[0-9]{{1,{NUMERIC_DIGITS}}}$")
            )
        ).scalar_one_or_none()
        following = max(FIRST_AUTOINCREMENT, (highest or 0) + 1)
        if len(str(following)) > NUMERIC_DIGITS:  # past what the lookup above reads
            raise NGNError(E.INVALID_VALUE, f"Domain {domain} has no numeric username left for <autoincrement>.")
        return str(following)

    def update_account(self, fields: Mapping[str, Any]) -> None:
        caller = self.caller
        account = self.account(fields.get("id"), lock=True)
        if fields.get("owner") is not None and fields["owner"] != account.owner:
            owner = records.owner_for(self.session, caller, fields["owner"], account.reseller)
            credits.move(
                self.session, Credit.SIP_ACCOUNT,
                Holders.of(account.reseller, account.customer, account.owner),
                Holders.of(account.reseller, account.customer, owner), limited=records.limited(caller),
            )  # fmt: skip
            account.owner = owner
        before = {g.name for g in account.groups}
        after = set(_groups(fields["groups"])) if fields.get("groups") is not None else set(before)
        prepaid = account.prepaid if fields.get("prepaid") is None else bool(fields["prepaid"])
        if fields.get("groups") is not None and fields.get("prepaid") is None:
            prepaid = PREPAID in after
        after = after | {PREPAID} if prepaid else after - {PREPAID}
        self._check_rights(account.reseller, account.domain, before, after, account.prepaid, prepaid)
        self._set_groups(account, after)
        account.prepaid = prepaid
        if fields.get("password"):
            account.password_sealed = self.sealer.seal(fields["password"])
        for name, value in _account_fields_given(fields):
            setattr(account, name, value)
        account.change_date = utcnow()
        audit.record(self.session, caller, "update", "sip_account", account.address, records.given(fields))

    def delete_account(self, sip_id: Mapping[str, Any] | None) -> None:
        account = self.account(sip_id, lock=True)
        credits.release(
            self.session, Credit.SIP_ACCOUNT, Holders.of(account.reseller, account.customer, account.owner)
        )
        self.session.delete(account)
        audit.record(self.session, self.caller, "delete", "sip_account", account.address)

    def password_of(self, account: SipAccount) -> str:
        return self.sealer.open(account.password_sealed)

    def accounts(self, query: Query, groups: list[str] | None = None) -> tuple[int, list[SipAccount]]:
        """A page of the accounts in the caller's scope that match ``query`` and are in every
        one of ``groups``."""
        scope = records.visible(self.caller, SipAccount)
        for group in _groups(groups) or []:
            scope.append(exists().where(SipGroupMember.account_id == SipAccount.id, SipGroupMember.name == group))
        total, rows = fetch_page(
            self.session, select(SipAccount).options(selectinload(SipAccount.groups)), scope, query,
            (SipAccount.id, "ASC"), SipAccount.id, self.max_rows,
        )  # fmt: skip
        return total, [r[0] for r in rows]

    # -- groups ----------------------------------------------------------------------------

    def groups_of(self, sip_id: Mapping[str, Any] | None) -> list[str]:
        return [g.name for g in self.account(sip_id).groups]

    def add_to_group(self, sip_id: Mapping[str, Any] | None, group: str | None) -> None:
        name = (_groups([group or ""]) or [None])[0]
        if name is None:
            raise NGNError(E.MISSING_PARAMETER, "A group name is required.")
        account = self.account(sip_id, lock=True)
        before = {g.name for g in account.groups}
        if name in before:
            return
        prepaid = account.prepaid or name == PREPAID
        self._change_groups(account, before, before | {name}, prepaid, {"addToGroup": name})

    def remove_from_group(self, sip_id: Mapping[str, Any] | None, group: str | None) -> None:
        account = self.account(sip_id, lock=True)
        name = (group or "").strip()
        before = {g.name for g in account.groups}
        if name not in before:
            raise NGNError(E.SIP_NOT_IN_GROUP, f"SIP account {account.address} is not in group {name!r}.")
        prepaid = account.prepaid and name != PREPAID
        self._change_groups(account, before, before - {name}, prepaid, {"removeFromGroup": name})

    def _change_groups(
        self, account: SipAccount, before: set[str], after: set[str], prepaid: bool, change: dict[str, str]
    ) -> None:
        self._check_rights(account.reseller, account.domain, before, after, account.prepaid, prepaid)
        self._set_groups(account, after)
        account.prepaid = prepaid
        account.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "sip_account", account.address, change)

    def _set_groups(self, account: SipAccount, names: set[str]) -> None:
        current = {g.name: g for g in account.groups}
        for name in set(current) - names:
            account.groups.remove(current[name])
        for name in sorted(names - set(current)):
            account.groups.append(SipGroupMember(name=name))

    def _check_rights(
        self, reseller: int, domain: str, before: set[str], after: set[str], prepaid_before: bool, prepaid_after: bool
    ) -> None:
        """PSTN access and prepaid switches in ``domain`` need its reseller's rights (admin
        is free)."""
        pstn_changes = FREE_PSTN in before ^ after
        if self.caller.role is Role.ADMIN or not (pstn_changes or prepaid_before != prepaid_after):
            return
        rights = self._reseller_rights(reseller)
        if FREE_PSTN in after - before and rights.get(Right.PSTN_ACCESS) != "1":
            raise NGNError(
                E.SIP_RIGHT_MISSING,
                f"Reseller {reseller} has no pstn_access right, so accounts in {domain} cannot get PSTN access.",
            )
        if FREE_PSTN in before - after and "1" not in (rights.get(Right.PSTN_ACCESS), rights.get(Right.PSTN_CHANGES)):
            raise NGNError(
                E.SIP_RIGHT_MISSING,
                f"Reseller {reseller} has no pstn_changes right, so PSTN access cannot be changed in {domain}.",
            )
        if prepaid_before != prepaid_after and rights.get(Right.PREPAID_CHANGES) != "1":
            raise NGNError(
                E.SIP_RIGHT_MISSING,
                f"Reseller {reseller} has no prepaid_changes right, so accounts in {domain} "
                "cannot switch between prepaid and postpaid.",
            )

    def _reseller_rights(self, reseller: int) -> dict[str, str]:
        rows = self.session.execute(
            select(CustomerProperty.name, CustomerProperty.value).where(
                CustomerProperty.customer_id == reseller,
                CustomerProperty.name.in_([r.value for r in Right]),
            )
        ).all()
        return {name: value for name, value in rows}

    # -- aliases ---------------------------------------------------------------------------

    def alias(self, sip_id: Mapping[str, Any] | None, lock: bool = False) -> SipAlias:
        username, domain = _sip_id(sip_id, "SIP alias")
        return records.in_scope(
            self.session, self.caller, SipAlias, SipAlias.username == username, SipAlias.domain == domain,
            missing=(E.SIP_ALIAS_NOT_FOUND, f"SIP alias {username}@{domain} does not exist."), lock=lock,
        )  # fmt: skip

    def add_alias(self, fields: Mapping[str, Any]) -> SipAlias:
        caller = self.caller
        username, domain_name = _sip_id(fields.get("id"), "SIP alias")
        _check_username(username)
        domain = self._placement(domain_name, "")  # before the credit counters, as add_account
        records.require_active_reseller(caller)
        target_username, target_domain = _sip_id(fields.get("target"), "SIP alias target")
        exists_message = f"SIP alias {username}@{domain.domain} already exists."
        if self.session.execute(
            select(SipAlias.id).where(SipAlias.domain == domain.domain, SipAlias.username == username)
        ).first():
            raise NGNError(E.SIP_ALIAS_EXISTS, exists_message)
        owner = records.owner_for(self.session, caller, fields.get("owner"), domain.reseller)
        credits.charge(
            self.session, Credit.SIP_ALIAS, Holders.of(domain.reseller, domain.customer, owner),
            limited=records.limited(caller),
        )  # fmt: skip
        alias = SipAlias(
            username=username, domain=domain.domain, target_username=target_username, target_domain=target_domain,
            owner=owner, customer=domain.customer, reseller=domain.reseller,
        )  # fmt: skip
        self.session.add(alias)
        records.flush_unique(self.session, E.SIP_ALIAS_EXISTS, exists_message)
        audit.record(self.session, caller, "create", "sip_alias", f"{username}@{domain.domain}", records.given(fields))
        return alias

    def update_alias(self, fields: Mapping[str, Any]) -> None:
        alias = self.alias(fields.get("id"), lock=True)
        if fields.get("target"):
            alias.target_username, alias.target_domain = _sip_id(fields["target"], "SIP alias target")
        if fields.get("owner") is not None and fields["owner"] != alias.owner:
            owner = records.owner_for(self.session, self.caller, fields["owner"], alias.reseller)
            credits.move(
                self.session, Credit.SIP_ALIAS,
                Holders.of(alias.reseller, alias.customer, alias.owner),
                Holders.of(alias.reseller, alias.customer, owner), limited=records.limited(self.caller),
            )  # fmt: skip
            alias.owner = owner
        alias.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "sip_alias", f"{alias.username}@{alias.domain}", records.given(fields))

    def delete_alias(self, sip_id: Mapping[str, Any] | None) -> None:
        alias = self.alias(sip_id, lock=True)
        credits.release(self.session, Credit.SIP_ALIAS, Holders.of(alias.reseller, alias.customer, alias.owner))
        self.session.delete(alias)
        audit.record(self.session, self.caller, "delete", "sip_alias", f"{alias.username}@{alias.domain}")

    def aliases(self, query: Query) -> tuple[int, list[SipAlias]]:
        total, rows = fetch_page(
            self.session, select(SipAlias), records.visible(self.caller, SipAlias), query,
            (SipAlias.id, "ASC"), SipAlias.id, self.max_rows,
        )  # fmt: skip
        return total, [r[0] for r in rows]


ownership.count_records(SipDomain, "SIP domain", "SIP domains")
ownership.count_records(SipAccount, "SIP account", "SIP accounts")
ownership.count_records(SipAlias, "SIP alias", "SIP aliases")
credits.counts(Credit.SIP_ACCOUNT, SipAccount)
credits.counts(Credit.SIP_ALIAS, SipAlias)
