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
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, and_, cast, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ngnserver.core import audit, credits, lengths, ownership, records, rows
from ngnserver.core.callers import Caller, Role
from ngnserver.core.credits import Holders
from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Credit, Right
from ngnserver.core.queries import Page, equal_filters, fetch_page, like_filters
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import Raw, raw_batch, raw_first, rollback_failed
from ngnserver.models import CustomerProperty
from ngnserver.models.audit import AuditEntry
from ngnserver.models.base import utcnow
from ngnserver.models.sip import SipAccount, SipAlias, SipDomain, SipGroupMember

AUTOINCREMENT = "<autoincrement>"
FIRST_AUTOINCREMENT = 1000
FREE_PSTN = "free-pstn"
PREPAID = "prepaid"

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-*#!~%&=$,;?]{0,63}$")
_GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

ACCOUNT_FIELDS = (
    "first_name", "last_name", "email", "rpid", "timezone", "quota", "call_limit", "timeout",
    "answer_timeout", "quickdial_prefix", "region", "acl", "properties",
)  # fmt: skip
DOMAIN_FIELDS = ("certificate", "match_ip_address", "match_sip_domain", "verify_cert", "require_cert")


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


class NewAccount(SimpleNamespace):
    """A SIP account just created (``add_account``): the stored row's attribute values, read
    as a SipAccount's, without the cost of building a mapped object nothing else uses."""


class NewGroup(NamedTuple):
    name: str


class _DomainRow(NamedTuple):
    id: int
    domain: str
    customer: int
    reseller: int


# SIP account creation on PostgreSQL, per number of credit holders (_create_account_at_once)
_CREATE_ACCOUNT: dict[int, Raw] = {}
REFUSED = "NG001"  # ngn_refuse's SQLSTATE (migration 0006)

_DOMAIN_AND_TAKEN_SQL = (
    "SELECT d.id, d.domain, d.customer, d.reseller, "
    "EXISTS (SELECT 1 FROM sip_accounts a WHERE a.domain = d.domain AND a.username = ?) "
    "FROM sip_domains d WHERE d.domain = ?"
)
# per role, the domains the caller may see (records.visible: domains have no owner)
_DOMAIN_AND_TAKEN = {
    Role.ADMIN: Raw(_DOMAIN_AND_TAKEN_SQL, reads=True),
    Role.RESELLER: Raw(_DOMAIN_AND_TAKEN_SQL + " AND d.reseller = ?", reads=True),
    Role.CUSTOMER: Raw(_DOMAIN_AND_TAKEN_SQL + " AND d.customer = ?", reads=True),
}
_TAKEN = Raw("SELECT 1 FROM sip_accounts WHERE domain = ? AND username = ?", reads=True)
# SQLite: the domain's placement, read again once the writers' turn is taken (not a plain
# read: it opens the write transaction, see db._sqlite_begin)
_PLACEMENT = Raw("SELECT customer, reseller FROM sip_domains WHERE domain = ?")
# PostgreSQL: the same check inside the creation statement, with a lock (see add_account)
_PLACED = "SELECT 1 FROM sip_domains WHERE domain = ? AND customer = ? AND reseller = ? FOR SHARE"
KNOWN_DOMAINS = "ngn_sip_domains"  # pool connection info: domain rows read on it (add_account)
KNOWN_DOMAINS_MAX = 512


class _DomainChanged(Exception):
    """The domain a creation read was moved (or deleted) before the creation wrote."""


class Sip:
    """SIP operations for one request."""

    def __init__(self, session: Session, caller: Caller, sealer: PasswordSealer, max_rows: int = 1000) -> None:
        self.session = session
        self.caller = caller
        self.sealer = sealer
        self.max_rows = max_rows

    # -- domains ---------------------------------------------------------------------------

    def domain_row(self, name: str | None, lock: bool = False, share: bool = False) -> Any:
        """The domain's key columns (id, domain, customer, reseller) without loading the
        ORM object: what adding an account or alias needs, on every call. ``lock``: FOR
        UPDATE; ``share``: FOR SHARE (no move until the transaction ends, while other
        creations in the domain go on)."""
        domain_name = normalise_domain(name)
        table = SipDomain.__table__
        stmt = select(table.c.id, table.c.domain, table.c.customer, table.c.reseller).where(
            table.c.domain == domain_name, *records.visible(self.caller, table.c)
        )
        if lock or share:
            stmt = stmt.with_for_update(read=not lock)
        found = self.session.connection().execute(stmt).first()
        if found is None:
            raise NGNError(E.SIP_DOMAIN_NOT_FOUND, f"SIP domain {domain_name} does not exist.")
        return found

    def domain(self, name: str | None, lock: bool = False) -> SipDomain:
        domain_name = normalise_domain(name)
        stmt = select(SipDomain).where(SipDomain.domain == domain_name, *records.visible(self.caller, SipDomain))
        if lock:
            stmt = stmt.with_for_update()
        found = self.session.execute(stmt).scalar_one_or_none()
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

    DOMAIN_ORDER = {"changeDate": SipDomain.change_date, "domain": SipDomain.domain, "id": SipDomain.id}

    def domains(self, filters: Mapping[str, Any], page: Page) -> tuple[int, list[SipDomain]]:
        where = [
            *records.visible(self.caller, SipDomain),
            *like_filters({"domain": SipDomain.domain}, filters, lowercase=frozenset({"domain"})),
            *equal_filters({"customer": SipDomain.customer, "reseller": SipDomain.reseller}, filters),
        ]
        total, rows = fetch_page(
            self.session, select(SipDomain), where, self.DOMAIN_ORDER, ("domain", "ASC"), SipDomain.id, page, self.max_rows
        )
        return total, [r[0] for r in rows]

    def private_key_of(self, domain: SipDomain) -> str:
        return self.sealer.open(domain.private_key_sealed)

    # -- accounts --------------------------------------------------------------------------

    def account(self, sip_id: Mapping[str, Any] | None) -> SipAccount:
        username, domain = _sip_id(sip_id)
        found = self.session.execute(
            select(SipAccount).where(
                SipAccount.username == username,
                SipAccount.domain == domain,
                *records.visible(self.caller, SipAccount),
            )
        ).scalar_one_or_none()
        if found is None:
            raise NGNError(E.SIP_ACCOUNT_NOT_FOUND, f"SIP account {username}@{domain} does not exist.")
        return found

    def add_account(self, fields: Mapping[str, Any]) -> NewAccount:
        """A new account under its domain's customer and reseller.

        The domain is read before the transaction writes (outside SQLite's writers' turn,
        and on PostgreSQL outside the transaction), or taken from the rows this connection
        read before (``_known_domain``: one round trip less on every creation). Either may
        be out of date by the time the account is written, so the creation checks, in its
        write transaction, that the domain still has that customer and reseller: on
        PostgreSQL under a share lock on the domain row, taken before any credit counter is
        (a domain move locks the row first too), on SQLite in the writers' turn. When it
        has not, nothing is written, and the creation runs again with the domain read and
        locked in the transaction. The account, and the credits it is charged to, follow
        the domain's placement at commit."""
        sip_id = fields.get("id") or {}
        username = (sip_id.get("username") or "").strip()
        if username != AUTOINCREMENT:
            domain, taken = self._known_domain(sip_id.get("domain"), username)
            try:
                return self._add_account(fields, domain, username, taken, locked=False)
            except _DomainChanged:
                self._known().pop(domain.domain, None)
        domain = self.domain_row(sip_id.get("domain"), lock=True)
        if username == AUTOINCREMENT:
            username = self._next_numeric_username(domain.domain)
        return self._add_account(fields, domain, username, None, locked=True)

    def _add_account(
        self, fields: Mapping[str, Any], domain: Any, username: str, taken: bool | None, locked: bool
    ) -> NewAccount:
        """``taken``: whether the username was found taken in the domain (None: not read;
        the unique key refuses a duplicate)."""
        caller = self.caller
        records.require_active_reseller(caller)
        if not username:
            raise NGNError(E.MISSING_PARAMETER, "A SIP account needs a username (or <autoincrement>).")
        _check_username(username)
        exists_message = f"SIP account {username}@{domain.domain} already exists."
        if taken:
            raise NGNError(E.SIP_ACCOUNT_EXISTS, exists_message)
        owner = records.owner_for(self.session, caller, fields.get("owner"), domain.reseller)
        groups = _groups(fields.get("groups")) or []
        prepaid = bool(fields.get("prepaid")) or PREPAID in groups
        groups = sorted(set(groups) | {PREPAID}) if prepaid else groups
        self._check_rights(domain, before=set(), after=set(groups), prepaid_before=False, prepaid_after=prepaid)
        holders = Holders.of(domain.reseller, domain.customer, owner)
        account: rows.Row = {
            "username": username,
            "domain": domain.domain,
            "owner": owner,
            "customer": domain.customer,
            "reseller": domain.reseller,
            "prepaid": prepaid,
            "password_sealed": self.sealer.seal(fields.get("password") or ""),
        }
        account.update(_account_fields_given(fields))
        history = audit.entry(caller, "create", "sip_account", f"{username}@{domain.domain}", records.given(fields))
        limited = records.limited(caller)
        try:
            # written on the driver (core/rows.py): nothing reads the new rows back in this request
            if self.session.connection().dialect.name == "postgresql":
                self._create_account_at_once(account, groups, history, holders, limited, exists_message)
            else:
                if not locked:
                    self._check_placement(domain)
                credits.charge(self.session, Credit.SIP_ACCOUNT, holders, limited=limited)
                rows.insert(self.session, SipAccount, account, duplicate=(E.SIP_ACCOUNT_EXISTS, exists_message))
                rows.insert_all(
                    self.session,
                    [*((SipGroupMember, {"account_id": account["id"], "name": g}) for g in groups), (AuditEntry, history)],
                )
        except NGNError as error:
            # a taken username is the answer before an exhausted credit, as when it was read
            if taken is None and error.error is E.CREDIT_EXHAUSTED and self._taken(domain.domain, username):
                raise NGNError(E.SIP_ACCOUNT_EXISTS, exists_message) from None
            raise
        return NewAccount(groups=[NewGroup(name=g) for g in groups], **account)

    def _known(self) -> dict[str, Any]:
        """Domain rows read on this request's database connection, by name (a pool
        connection's, so they last while the connection does)."""
        info = self.session.connection().connection.info
        known = info.get(KNOWN_DOMAINS)
        if known is None:
            known = info[KNOWN_DOMAINS] = {}
        return known

    def _known_domain(self, name: str | None, username: str) -> tuple[Any, bool | None]:
        """The domain (as ``domain_row``) and whether ``username`` is taken in it (None: not
        read): the row read before on this connection when the caller may see it, else read
        now, with the username, in one statement. A row read before may be out of date;
        ``add_account`` checks it where it writes."""
        known = self._known()
        found = known.get(normalise_domain(name))
        if found is not None and records.can_see(self.caller, found):
            return found, None
        domain, taken = self._domain_row_and_taken(name, username)
        if len(known) >= KNOWN_DOMAINS_MAX:
            known.clear()
        known[domain.domain] = domain
        return domain, taken

    def _check_placement(self, domain: Any) -> None:
        """SQLite: the domain still has the customer and reseller read (this statement opens
        the write transaction, in the writers' turn, so that holds until the commit)."""
        now = raw_first(self.session.connection(), _PLACEMENT, (domain.domain,))
        if now is None or tuple(now) != (domain.customer, domain.reseller):
            raise _DomainChanged

    def _taken(self, domain: str, username: str) -> bool:
        return raw_first(self.session.connection(), _TAKEN, (domain, username)) is not None

    def _create_account_at_once(
        self, account: rows.Row, groups: list[str], history: rows.Row, holders: Holders, limited: bool, exists: str
    ) -> None:
        """PostgreSQL: the credit charge, the account, its groups and the audit row in one
        statement, sent with the COMMIT, where the steps on SQLite take a statement each.
        A credit that does not allow the account makes the statement fail (``ngn_refuse``,
        migration 0006), so nothing of it stays; then the Fault names the holder. (The reads
        before it ran outside the transaction, so sending it again is the whole retry.)"""
        session = self.session
        connection = session.connection()
        charged, charge_parameters = credits.charging_parameters(Credit.SIP_ACCOUNT, holders, 1, limited)
        account_sql, account_parameters = rows.insert_sql(session, SipAccount, account)
        for name in groups:
            lengths.check_row(SipGroupMember, {"account_id": 0, "name": name})
        history_sql, history_parameters = rows.insert_sql(session, AuditEntry, history)
        statement = _CREATE_ACCOUNT.get(charged)
        if statement is None:
            statement = _CREATE_ACCOUNT[charged] = Raw(
                f"WITH placed AS ({_PLACED}), "
                f"charged AS ({credits.charging_sql(charged, gate='EXISTS (SELECT 1 FROM placed)')}), "
                f"account AS ({account_sql}), "
                "members AS (INSERT INTO sip_account_groups (account_id, name) "
                "SELECT account.id, name FROM account, unnest(CAST(? AS TEXT[])) AS name), "
                f"history AS ({history_sql}) "
                "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM placed) THEN ngn_refuse('moved') "
                "WHEN c.n < ? THEN ngn_refuse('credit') END FROM (SELECT count(*) AS n FROM charged) AS c"
            )
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unflushed changes would be left out of the transaction")
        placement = [account["domain"], account["customer"], account["reseller"]]
        parameters = [*placement, *charge_parameters, *account_parameters, groups, *history_parameters, charged]
        for first_try in (True, False):
            try:
                raw_batch(connection, [statement], [parameters], finish=True)
                return
            except connection.dialect.loaded_dbapi.Error as exc:
                if rows.is_unique_violation(exc):
                    raise NGNError(E.SIP_ACCOUNT_EXISTS, exists) from None
                if getattr(exc, "pgcode", None) != REFUSED:
                    raise
                rollback_failed(connection)
                if exc.diag.message_primary == "moved":
                    raise _DomainChanged from None
            # refused, perhaps only because a holder's first record found no counter to
            # charge: once more with every counter there (a second refusal is the answer)
            if not first_try:
                raise credits.refusal(session, Credit.SIP_ACCOUNT, holders)
            credits.ensure_counters(session, Credit.SIP_ACCOUNT, holders)

    def _domain_row_and_taken(self, name: str | None, username: str) -> tuple[Any, bool]:
        """The domain's key columns, as ``domain_row``, and whether ``username`` is taken in
        it, in one read."""
        domain_name = normalise_domain(name)
        role = self.caller.role
        scope = () if role is Role.ADMIN else (self.caller.reseller_id if role is Role.RESELLER else self.caller.customer_id,)
        found = raw_first(self.session.connection(), _DOMAIN_AND_TAKEN[role], (username, domain_name, *scope))
        if found is None:
            raise NGNError(E.SIP_DOMAIN_NOT_FOUND, f"SIP domain {domain_name} does not exist.")
        domain_id, domain, customer, reseller, taken = found
        return _DomainRow(domain_id, domain, customer, reseller), bool(taken)

    def _next_numeric_username(self, domain: str) -> str:
        """The next free numeric username in the domain (the domain row is locked)."""
        if self.session.get_bind().dialect.name == "postgresql":
            numeric = SipAccount.username.regexp_match("^[0-9]{1,18}$")
        else:
            numeric = and_(
                ~SipAccount.username.op("GLOB", is_comparison=True)("*[^0-9]*"), func.length(SipAccount.username).between(1, 18)
            )
        highest = self.session.execute(
            select(func.max(cast(SipAccount.username, BigInteger))).where(SipAccount.domain == domain, numeric)
        ).scalar_one_or_none()
        return str(max(FIRST_AUTOINCREMENT, (highest or 0) + 1))

    def update_account(self, fields: Mapping[str, Any]) -> None:
        caller = self.caller
        account = self.account(fields.get("id"))
        domain = self.session.get(SipDomain, self._domain_id(account.domain))
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
        self._check_rights(domain, before, after, account.prepaid, prepaid)
        self._set_groups(account, after)
        account.prepaid = prepaid
        if fields.get("password"):
            account.password_sealed = self.sealer.seal(fields["password"])
        self._apply_account_fields(account, fields)
        account.change_date = utcnow()
        audit.record(self.session, caller, "update", "sip_account", account.address, records.given(fields))

    def _domain_id(self, name: str) -> int:
        return self.session.execute(select(SipDomain.id).where(SipDomain.domain == name)).scalar_one()

    def delete_account(self, sip_id: Mapping[str, Any] | None) -> None:
        account = self.account(sip_id)
        credits.release(
            self.session, Credit.SIP_ACCOUNT, Holders.of(account.reseller, account.customer, account.owner)
        )
        self.session.delete(account)
        audit.record(self.session, self.caller, "delete", "sip_account", account.address)

    def password_of(self, account: SipAccount) -> str:
        return self.sealer.open(account.password_sealed)

    ACCOUNT_ORDER = {
        "changeDate": SipAccount.change_date,
        "username": SipAccount.username,
        "domain": SipAccount.domain,
        "id": SipAccount.id,
    }

    def accounts(self, filters: Mapping[str, Any], page: Page) -> tuple[int, list[SipAccount]]:
        where = [
            *records.visible(self.caller, SipAccount),
            *like_filters(
                {
                    "username": SipAccount.username,
                    "domain": SipAccount.domain,
                    "firstName": SipAccount.first_name,
                    "lastName": SipAccount.last_name,
                    "email": SipAccount.email,
                },
                filters,
                lowercase=frozenset({"domain"}),
            ),
            *equal_filters(
                {"owner": SipAccount.owner, "customer": SipAccount.customer, "reseller": SipAccount.reseller},
                filters,
            ),
        ]
        for group in _groups(filters.get("groups")) or []:
            where.append(
                exists().where(SipGroupMember.account_id == SipAccount.id, SipGroupMember.name == group)
            )
        total, rows = fetch_page(
            self.session, select(SipAccount), where, self.ACCOUNT_ORDER, ("id", "ASC"), SipAccount.id, page, self.max_rows
        )
        accounts = [r[0] for r in rows]
        self._load_groups(accounts)
        return total, accounts

    def _load_groups(self, accounts: list[SipAccount]) -> None:
        if not accounts:
            return
        by_id: dict[int, list[SipGroupMember]] = {a.id: [] for a in accounts}
        for member in self.session.execute(
            select(SipGroupMember).where(SipGroupMember.account_id.in_(by_id)).order_by(SipGroupMember.name)
        ).scalars():
            by_id[member.account_id].append(member)
        for a in accounts:
            set_committed_value(a, "groups", by_id[a.id])

    # -- groups ----------------------------------------------------------------------------

    def groups_of(self, sip_id: Mapping[str, Any] | None) -> list[str]:
        return [g.name for g in self.account(sip_id).groups]

    def add_to_group(self, sip_id: Mapping[str, Any] | None, group: str | None) -> None:
        account = self.account(sip_id)
        name = (_groups([group or ""]) or [None])[0]
        if name is None:
            raise NGNError(E.MISSING_PARAMETER, "A group name is required.")
        before = {g.name for g in account.groups}
        if name in before:
            return
        domain = self.session.get(SipDomain, self._domain_id(account.domain))
        prepaid = account.prepaid or name == PREPAID
        self._check_rights(domain, before, before | {name}, account.prepaid, prepaid)
        self._set_groups(account, before | {name})
        account.prepaid = prepaid
        account.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "sip_account", account.address, {"addToGroup": name})

    def remove_from_group(self, sip_id: Mapping[str, Any] | None, group: str | None) -> None:
        account = self.account(sip_id)
        name = (group or "").strip()
        before = {g.name for g in account.groups}
        if name not in before:
            raise NGNError(E.SIP_NOT_IN_GROUP, f"SIP account {account.address} is not in group {name!r}.")
        domain = self.session.get(SipDomain, self._domain_id(account.domain))
        prepaid = account.prepaid and name != PREPAID
        self._check_rights(domain, before, before - {name}, account.prepaid, prepaid)
        self._set_groups(account, before - {name})
        account.prepaid = prepaid
        account.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "sip_account", account.address, {"removeFromGroup": name})

    def _set_groups(self, account: SipAccount, names: set[str]) -> None:
        current = {g.name: g for g in account.groups}
        for name in set(current) - names:
            account.groups.remove(current[name])
        for name in sorted(names - set(current)):
            account.groups.append(SipGroupMember(name=name))

    def _check_rights(
        self, domain: SipDomain, before: set[str], after: set[str], prepaid_before: bool, prepaid_after: bool
    ) -> None:
        """PSTN access and prepaid switches need the reseller's rights (admin is free)."""
        pstn_changes = FREE_PSTN in before ^ after
        if self.caller.role is Role.ADMIN or not (pstn_changes or prepaid_before != prepaid_after):
            return
        rights = self._reseller_rights(domain.reseller)
        if FREE_PSTN in after - before and rights.get(Right.PSTN_ACCESS) != "1":
            raise NGNError(
                E.SIP_RIGHT_MISSING,
                f"Reseller {domain.reseller} has no pstn_access right, so accounts in {domain.domain} cannot get PSTN access.",
            )
        if FREE_PSTN in before - after and "1" not in (rights.get(Right.PSTN_ACCESS), rights.get(Right.PSTN_CHANGES)):
            raise NGNError(
                E.SIP_RIGHT_MISSING,
                f"Reseller {domain.reseller} has no pstn_changes right, so PSTN access cannot be changed in {domain.domain}.",
            )
        if prepaid_before != prepaid_after and rights.get(Right.PREPAID_CHANGES) != "1":
            raise NGNError(
                E.SIP_RIGHT_MISSING,
                f"Reseller {domain.reseller} has no prepaid_changes right, so accounts in {domain.domain} "
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

    def _apply_account_fields(self, account: SipAccount, fields: Mapping[str, Any]) -> None:
        for name, value in _account_fields_given(fields):
            setattr(account, name, value)

    # -- aliases ---------------------------------------------------------------------------

    def alias(self, sip_id: Mapping[str, Any] | None) -> SipAlias:
        username, domain = _sip_id(sip_id, "SIP alias")
        found = self.session.execute(
            select(SipAlias).where(
                SipAlias.username == username, SipAlias.domain == domain, *records.visible(self.caller, SipAlias)
            )
        ).scalar_one_or_none()
        if found is None:
            raise NGNError(E.SIP_ALIAS_NOT_FOUND, f"SIP alias {username}@{domain} does not exist.")
        return found

    def add_alias(self, fields: Mapping[str, Any]) -> SipAlias:
        caller = self.caller
        username, domain_name = _sip_id(fields.get("id"), "SIP alias")
        _check_username(username)
        # locked before the credit counters, as a domain move locks it: the alias follows
        # the domain's placement at commit (see add_account)
        domain = self.domain_row(domain_name, share=True)
        records.require_active_reseller(caller)
        target_username, target_domain = _sip_id(fields.get("target"), "SIP alias target")
        if self.session.execute(
            select(SipAlias.id).where(SipAlias.domain == domain.domain, SipAlias.username == username)
        ).first():
            raise NGNError(E.SIP_ALIAS_EXISTS, f"SIP alias {username}@{domain.domain} already exists.")
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
        records.flush_unique(self.session, E.SIP_ALIAS_EXISTS, f"SIP alias {username}@{domain.domain} already exists.")
        audit.record(self.session, caller, "create", "sip_alias", f"{username}@{domain.domain}", records.given(fields))
        return alias

    def update_alias(self, fields: Mapping[str, Any]) -> None:
        alias = self.alias(fields.get("id"))
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
        alias = self.alias(sip_id)
        credits.release(self.session, Credit.SIP_ALIAS, Holders.of(alias.reseller, alias.customer, alias.owner))
        self.session.delete(alias)
        audit.record(self.session, self.caller, "delete", "sip_alias", f"{alias.username}@{alias.domain}")

    ALIAS_ORDER = {
        "changeDate": SipAlias.change_date,
        "aliasUsername": SipAlias.username,
        "aliasDomain": SipAlias.domain,
        "username": SipAlias.username,
        "domain": SipAlias.domain,
        "id": SipAlias.id,
    }

    def aliases(self, filters: Mapping[str, Any], page: Page) -> tuple[int, list[SipAlias]]:
        where = [
            *records.visible(self.caller, SipAlias),
            *like_filters(
                {
                    "aliasUsername": SipAlias.username,
                    "aliasDomain": SipAlias.domain,
                    "targetUsername": SipAlias.target_username,
                    "targetDomain": SipAlias.target_domain,
                },
                filters,
                lowercase=frozenset({"aliasDomain"}),
            ),
            *equal_filters(
                {"owner": SipAlias.owner, "customer": SipAlias.customer, "reseller": SipAlias.reseller}, filters
            ),
        ]
        total, rows = fetch_page(
            self.session, select(SipAlias), where, self.ALIAS_ORDER, ("id", "ASC"), SipAlias.id, page, self.max_rows
        )
        return total, [r[0] for r in rows]

ownership.count_records(SipDomain, "SIP domain", "SIP domains")
ownership.count_records(SipAccount, "SIP account", "SIP accounts")
ownership.count_records(SipAlias, "SIP alias", "SIP aliases")
