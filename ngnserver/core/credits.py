"""Credits: bounds on how many records of a kind a reseller and a customer may have.

Usage is kept in counters (``credit_usage``) changed in the same transaction as the records.
A charge is one conditional ``UPDATE ... SET used = used + n WHERE used + n <= limit`` per
holder: the database's row lock makes concurrent charges against the last unit wait for
each other and re-check, on PostgreSQL across processes and hosts, and on SQLite the
write transaction (BEGIN IMMEDIATE) serialises them. No Python lock is involved.

Admin's records are counted but not limited. A reseller's credit bounds everything created
under it; a customer's credit (when the property exists) bounds what belongs to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Credit
from ngnserver.db import Raw, raw_execute, raw_first
from ngnserver.models.credit import CreditUsage

RESELLER = "reseller"
CUSTOMER = "customer"

LABELS = {
    Credit.SIP_ACCOUNT: "SIP account",
    Credit.SIP_ALIAS: "SIP alias",
    Credit.ENUM_RANGE: "ENUM range",
    Credit.ENUM_NUMBER: "ENUM number",
    Credit.DNS_ZONE: "DNS zone",
    Credit.EMAIL: "e-mail forward",
    Credit.DSL: "DSL service",
}


@dataclass(frozen=True)
class Holders:
    """Who a record counts against: its reseller (0: admin's own, not counted) and the
    customers it belongs to (its ``customer`` and its ``owner``)."""

    reseller: int
    customers: frozenset[int]

    @classmethod
    def of(cls, reseller: int, *customers: int | None) -> Holders:
        return cls(reseller or 0, frozenset(c for c in customers if c))


def _keys(holders: Holders) -> list[tuple[str, int]]:
    """The counters a record changes, in one order everywhere (so two transactions never
    wait for each other in a cycle). A reseller's own records are bounded by its reseller
    credit, the same property, so it has no separate customer counter."""
    keys = [(CUSTOMER, c) for c in holders.customers if c != holders.reseller]
    if holders.reseller:
        keys.append((RESELLER, holders.reseller))
    return sorted(keys)


# Every creation runs these: fixed SQL run on the driver (db.Raw), not ORM or Core
# statements, whose machinery costs more than the statement itself.
_USAGE = CreditUsage.__table__
_INSERTS = {
    "postgresql": postgresql.insert(_USAGE).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(_USAGE).on_conflict_do_nothing(),
}


# The limit is the holder's credit property when it holds a whole number (as the server
# stores them); the last parameter is the default when it does not: 0 for a reseller (no credit,
# no records), no bound for a customer (it is bounded by its reseller only).
_DIGITS = {
    "sqlite": "value <> '' AND length(value) <= 18 AND value NOT GLOB '*[^0-9]*'",
    "postgresql": "value ~ '^[0-9]{1,18}$'",
}
_LIMIT_OF = (
    "SELECT CASE WHEN {digits} THEN CAST(value AS BIGINT) END FROM customer_properties "
    "WHERE customer_id = {holder} AND name = {credit}"
)
_LIMIT_SQL = _LIMIT_OF.replace("{holder}", "?").replace("{credit}", "?")
_RAW_BUMP_BOUNDED = Raw(**{
    dialect: "UPDATE credit_usage SET used = used + ? WHERE scope = ? AND holder = ? AND credit = ? "
    f"AND used + ? <= COALESCE(({_LIMIT_SQL.format(digits=digits)}), ?)"
    for dialect, digits in _DIGITS.items()
})  # fmt: skip
_RAW_BUMP = Raw("UPDATE credit_usage SET used = used + ? WHERE scope = ? AND holder = ? AND credit = ?")
_RAW_RELEASE = Raw(
    "UPDATE credit_usage SET used = used - ? WHERE scope = ? AND holder = ? AND credit = ? AND used >= ?"
)
_RAW_USED = Raw("SELECT used FROM credit_usage WHERE scope = ? AND holder = ? AND credit = ?", reads=True)
_RAW_LIMIT = Raw(reads=True, **{dialect: _LIMIT_SQL.format(digits=digits) for dialect, digits in _DIGITS.items()})
_NO_BOUND = 2**62


def _limit(session: Session, holder: int, credit: Credit) -> int | None:
    row = raw_first(session.connection(), _RAW_LIMIT, (holder, credit.value))
    return None if row is None or row[0] is None else int(row[0])


def _ensure_rows(session: Session, keys: Iterable[tuple[str, int]], credit: Credit) -> None:
    rows = [{"scope": s, "holder": h, "credit": credit.value, "used": 0} for s, h in keys]
    if rows:
        connection = session.connection()
        connection.execute(_INSERTS[connection.dialect.name], rows)


def _bump(session: Session, scope: str, holder: int, credit: Credit, n: int, limited: bool) -> bool:
    """One conditional UPDATE: the counter moves only while the holder's limit (read in the
    same statement) allows it."""
    key = (scope, holder, credit.value)
    if not limited:
        return raw_execute(session.connection(), _RAW_BUMP, (n, *key)) == 1
    default = 0 if scope == RESELLER else _NO_BOUND
    return raw_execute(session.connection(), _RAW_BUMP_BOUNDED, (n, *key, n, holder, credit.value, default)) == 1


def _used(session: Session, scope: str, holder: int, credit: Credit) -> int | None:
    row = raw_first(session.connection(), _RAW_USED, (scope, holder, credit.value))
    return None if row is None else row[0]


def charge(session: Session, credit: Credit, holders: Holders, n: int = 1, limited: bool = True) -> None:
    """Count ``n`` new records against their holders, refusing (CREDIT_EXHAUSTED) when a
    bound would be exceeded. ``limited=False`` (admin) counts without bounds.

    Each holder costs one statement when its counter exists (the usual case); a holder's
    first record creates the counter and tries again."""
    if n <= 0:
        return
    for scope, holder in _keys(holders):
        if _bump(session, scope, holder, credit, n, limited):
            continue
        if _used(session, scope, holder, credit) is None:
            _ensure_rows(session, [(scope, holder)], credit)
            if _bump(session, scope, holder, credit, n, limited):
                continue
        raise _exhausted(scope, holder, credit, n, *_state(session, scope, holder, credit))


def _state(session: Session, scope: str, holder: int, credit: Credit) -> tuple[int, int | None]:
    """A holder's counter (0 when it has none) and its limit (None: a customer without the
    credit property, bounded by its reseller only)."""
    limit = _limit(session, holder, credit)
    if limit is None and scope == RESELLER:
        limit = 0
    return _used(session, scope, holder, credit) or 0, limit


def _exhausted(scope: str, holder: int, credit: Credit, n: int, used: int, limit: int | None) -> NGNError:
    return NGNError(
        E.CREDIT_EXHAUSTED,
        f"{LABELS[credit]} credit of {scope} {holder} is exhausted "
        f"({used} of {limit} used{'' if n == 1 else f'; {n} more needed'}).",
    )


def refusal(session: Session, credit: Credit, holders: Holders, n: int = 1) -> NGNError:
    """The CREDIT_EXHAUSTED Fault for a charge of ``holders`` that was refused (by
    ``charging_sql``, in a transaction since rolled back): it names the first holder whose
    credit does not allow ``n`` more, read now."""
    keys = _keys(holders)
    for scope, holder in keys:
        used, limit = _state(session, scope, holder, credit)
        if limit is not None and used + n > limit:
            return _exhausted(scope, holder, credit, n, used, limit)
    # a concurrent deletion freed a unit since: name the reseller, whose credit was spent
    scope, holder = keys[-1]
    return _exhausted(scope, holder, credit, n, *_state(session, scope, holder, credit))


# One statement that charges a record's holders, for PostgreSQL's creations written as one
# statement; a row comes back per counter charged, so fewer rows than holders means a
# refusal. One holder (the usual case): a conditional UPDATE, as _bump, with the limit read
# in the same statement; a holder whose counter is not there yet is refused, so the caller of
# a refused charge makes sure the counters exist (ensure_counters) and tries once more.
# Several holders: an upsert, which also creates missing counters, and charges the holders in
# one order (the VALUES list, sorted as _keys), so that two transactions never wait for each
# other in a cycle; the row lock of either makes concurrent charges wait and re-check.
def _charge_limit(counter: str) -> str:
    """The limit of the holder of the counter row ``counter`` (an alias), with its default."""
    limit = _LIMIT_OF.format(digits=_DIGITS["postgresql"], holder=f"{counter}.holder", credit=f"{counter}.credit")
    return f"COALESCE(({limit}), CASE WHEN {counter}.scope = 'reseller' THEN 0 ELSE {_NO_BOUND} END)"


def charging_sql(holders_count: int, gate: str = "TRUE") -> str:
    """The charging statement (PostgreSQL, ``?`` placeholders) for that many holders; its
    parameters come from ``charging_parameters``. ``gate``: a condition without parameters
    that must hold for anything to be charged, evaluated once, before any counter is
    locked (PostgreSQL plans it as a one-time filter)."""
    if holders_count == 0:
        return "SELECT 1 WHERE FALSE"
    if holders_count == 1:
        return (
            "UPDATE credit_usage AS u SET used = u.used + CAST(? AS INTEGER) "
            f"WHERE ({gate}) AND u.scope = ? AND u.holder = CAST(? AS INTEGER) AND u.credit = ? "
            f"AND (NOT CAST(? AS BOOLEAN) OR u.used + CAST(? AS INTEGER) <= {_charge_limit('u')}) "
            "RETURNING 1"
        )
    values = ", ".join(["(?, CAST(? AS INTEGER), ?)"] * holders_count)
    return (
        "INSERT INTO credit_usage AS u (scope, holder, credit, used) "
        f"SELECT v.scope, v.holder, v.credit, CAST(? AS INTEGER) FROM (VALUES {values}) AS v (scope, holder, credit) "
        f"WHERE ({gate}) AND (NOT CAST(? AS BOOLEAN) OR CAST(? AS INTEGER) <= {_charge_limit('v')}) "
        "ON CONFLICT (scope, holder, credit) DO UPDATE SET used = u.used + excluded.used "
        f"WHERE NOT CAST(? AS BOOLEAN) OR u.used + excluded.used <= {_charge_limit('u')} "
        "RETURNING 1"
    )


def charging_parameters(credit: Credit, holders: Holders, n: int, limited: bool) -> tuple[int, list[Any]]:
    """How many holders ``charging_sql`` charges for this record, and its parameters."""
    keys = _keys(holders)
    if not keys:
        return 0, []
    if len(keys) == 1:
        return 1, [n, *keys[0], credit.value, limited, n]
    return len(keys), [n, *(value for key in keys for value in (*key, credit.value)), limited, n, limited]


def ensure_counters(session: Session, credit: Credit, holders: Holders) -> None:
    """Create the holders' counters that are not there yet (at 0), in one statement; one
    that another transaction is creating is waited for."""
    _ensure_rows(session, _keys(holders), credit)


def release(session: Session, credit: Credit, holders: Holders, n: int = 1) -> None:
    """Give back ``n`` records' worth of usage (on delete, or before a move)."""
    if n <= 0:
        return
    connection = session.connection()
    for scope, holder in _keys(holders):
        raw_execute(connection, _RAW_RELEASE, (n, scope, holder, credit.value, n))


def move(
    session: Session, credit: Credit, old: Holders, new: Holders, n: int = 1, limited: bool = True
) -> None:
    """Records change holders: release from the old, charge the new (checked)."""
    if old == new or n <= 0:
        return
    release(session, credit, old, n)
    charge(session, credit, new, n, limited)


def _counted_tables() -> list[tuple[Credit, Any, list[Any]]]:
    """Each credit, the table whose rows it counts, and which rows count."""
    from ngnserver.core.dsl import TERMINAL
    from ngnserver.models.dns import DnsRecord, DnsZone
    from ngnserver.models.dsl import DslService
    from ngnserver.models.enum import EnumNumber, EnumRange
    from ngnserver.models.sip import SipAccount, SipAlias

    return [
        (Credit.SIP_ACCOUNT, SipAccount.__table__, []),
        (Credit.SIP_ALIAS, SipAlias.__table__, []),
        (Credit.ENUM_RANGE, EnumRange.__table__, []),
        (Credit.ENUM_NUMBER, EnumNumber.__table__, []),
        (Credit.DNS_ZONE, DnsZone.__table__, []),
        (Credit.EMAIL, DnsRecord.__table__, [DnsRecord.__table__.c.type == "MBOXFW"]),
        (Credit.DSL, DslService.__table__, [DslService.__table__.c.state.not_in(TERMINAL)]),
    ]


def recount(session: Session) -> int:
    """Rebuild every usage counter from the records (after records were loaded with SQL
    behind the server's back); the same holders ``charge`` counts: the reseller, and each
    customer a record names as customer or owner other than that reseller. Returns the number
    of counters written."""
    from sqlalchemy import func, union_all

    session.connection().execute(_USAGE.delete())
    written = 0
    for credit, table, conditions in _counted_tables():
        c = table.c
        by_reseller = select(c.reseller, func.count()).where(c.reseller != 0, *conditions).group_by(c.reseller)
        holders = [select(c.customer.label("holder")).where(c.customer != 0, c.customer != c.reseller, *conditions)]
        if "owner" in c:
            holders.append(
                select(c.owner.label("holder")).where(
                    c.owner != 0, c.owner != c.reseller, c.owner != c.customer, *conditions
                )
            )
        named = union_all(*holders).subquery()
        by_customer = select(named.c.holder, func.count()).group_by(named.c.holder)
        rows = [
            {"scope": scope, "holder": holder, "credit": credit.value, "used": n}
            for scope, stmt in ((RESELLER, by_reseller), (CUSTOMER, by_customer))
            for holder, n in session.connection().execute(stmt)
        ]
        if rows:
            session.connection().execute(_USAGE.insert(), rows)
            written += len(rows)
    return written
