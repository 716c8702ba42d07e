"""Credits: bounds on how many records of a kind a reseller and a customer may have.

Usage is kept in counters (``credit_usage``) changed in the same transaction as the records.
A charge is one conditional ``UPDATE ... SET used = used + n WHERE used + n <= limit`` per
holder: the database's row lock makes concurrent charges against the last unit wait for
each other and re-check, on PostgreSQL across processes and hosts, and on SQLite the write
transaction serialises them. No Python lock is involved. Every transaction changes the
counters it touches in one order (``_keys``), so two never wait for each other in a cycle.

Admin's records are counted but not limited. A reseller's credit bounds everything created
under it; a customer's credit (when the property exists) bounds what belongs to it.

Each area registers the table whose rows a credit counts (``counts``), which is what
``recount`` rebuilds the counters from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, bindparam, case, cast, func, select, union_all, update
from sqlalchemy.orm import Session

from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import MAX_CREDIT_DIGITS, Credit, credit_bound
from ngnserver.db import insert_skipping_duplicates
from ngnserver.models import CustomerProperty
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
    Credit.SERVER: "server",
}

Key = tuple[str, int]  # (scope, holder)


@dataclass(frozen=True)
class Holders:
    """Who a record counts against: its reseller (0: admin's own, not counted) and the
    customers it belongs to (its ``customer`` and its ``owner``)."""

    reseller: int
    customers: frozenset[int]

    @classmethod
    def of(cls, reseller: int, *customers: int | None) -> Holders:
        return cls(reseller or 0, frozenset(c for c in customers if c))


def _keys(holders: Holders) -> list[Key]:
    """The counters a record changes. A reseller's own records are bounded by its reseller
    credit, the same property, so it has no separate customer counter."""
    keys = [(CUSTOMER, c) for c in holders.customers if c != holders.reseller]
    if holders.reseller:
        keys.append((RESELLER, holders.reseller))
    return keys


# The statements every charge runs, built once (building a statement costs more than
# running it) and run on the session's connection as plain Core statements; the values are
# bound on every call. A holder's bound is its credit property when that holds a whole
# number (the server stores nothing else there), read inside the UPDATE; without one, the
# default bound given (0 for a reseller: no credit, no records; none for a customer, which
# its reseller bounds).
_HOLDER = [CreditUsage.scope == bindparam("b_scope"), CreditUsage.holder == bindparam("b_holder"),
           CreditUsage.credit == bindparam("b_credit")]  # fmt: skip
_PROPERTY = select(CustomerProperty.value).where(
    CustomerProperty.customer_id == bindparam("b_holder"), CustomerProperty.name == bindparam("b_credit")
)
_BOUND = select(
    case((CustomerProperty.value.regexp_match(f"^[0-9]{{1,{MAX_CREDIT_DIGITS}}}$"), cast(CustomerProperty.value, BigInteger)))
).where(CustomerProperty.customer_id == CreditUsage.holder, CustomerProperty.name == CreditUsage.credit)
_MOVE = update(CreditUsage).where(*_HOLDER).values(used=CreditUsage.used + bindparam("n"))
_UP_WITHIN = _MOVE.where(
    CreditUsage.used + bindparam("n") <= func.coalesce(_BOUND.scalar_subquery(), bindparam("default"))
)
_DOWN_TO_ZERO = _MOVE.where(CreditUsage.used + bindparam("n") >= 0)
_USED = select(CreditUsage.used).where(*_HOLDER)
_NO_BOUND = 2**62


def _bump(session: Session, credit: Credit, key: Key, n: int, limited: bool) -> bool:
    """Move one counter by ``n`` in one conditional UPDATE: up only while the holder's bound
    allows it (``limited``), down only as far as 0. Whether it moved (False also when the
    counter is missing)."""
    scope, holder = key
    values = {"b_scope": scope, "b_holder": holder, "b_credit": credit.value, "n": n}
    if n < 0:
        statement = _DOWN_TO_ZERO
    elif limited:
        statement, values["default"] = _UP_WITHIN, 0 if scope == RESELLER else _NO_BOUND
    else:
        statement = _MOVE
    return session.connection().execute(statement, values).rowcount == 1


def _used(session: Session, credit: Credit, key: Key) -> int | None:
    scope, holder = key
    found = session.connection().execute(_USED, {"b_scope": scope, "b_holder": holder, "b_credit": credit.value})
    return found.scalar_one_or_none()


def _limit(session: Session, credit: Credit, key: Key) -> int | None:
    """The holder's bound as ``_UP_WITHIN`` applies it (None: none), for the refusal."""
    scope, holder = key
    value = session.connection().execute(_PROPERTY, {"b_holder": holder, "b_credit": credit.value}).scalar()
    bound = credit_bound((value or "").strip())
    return bound if bound is not None else (0 if scope == RESELLER else None)


def _change(session: Session, credit: Credit, deltas: dict[Key, int], limited: bool) -> None:
    """Apply ``deltas`` to the counters, in key order; a charge beyond a holder's bound
    refuses the whole change (CREDIT_EXHAUSTED; the transaction is then rolled back)."""
    for key in sorted(deltas):
        n = deltas[key]
        if not n or _bump(session, credit, key, n, limited):
            continue
        if n > 0:
            # a holder's first record: the counter is created (or another transaction's, just
            # committed, is found) and tried once more, so that two first records at once
            # both count rather than one being refused
            if _used(session, credit, key) is None:
                scope, holder = key
                insert_skipping_duplicates(
                    session, CreditUsage.__table__,
                    [{"scope": scope, "holder": holder, "credit": credit.value, "used": 0}],
                )  # fmt: skip
            if _bump(session, credit, key, n, limited):
                continue
            raise _exhausted(credit, key, n, _used(session, credit, key) or 0, _limit(session, credit, key))
        # a release below 0: the counter was already short (rows loaded behind our back)


def _exhausted(credit: Credit, key: Key, n: int, used: int, limit: int | None) -> NGNError:
    scope, holder = key
    return NGNError(
        E.CREDIT_EXHAUSTED,
        f"{LABELS[credit]} credit of {scope} {holder} is exhausted "
        f"({used} of {limit} used{'' if n == 1 else f'; {n} more needed'}).",
    )


def charge(session: Session, credit: Credit, holders: Holders, n: int = 1, limited: bool = True) -> None:
    """Count ``n`` new records against their holders, refusing (CREDIT_EXHAUSTED) when a
    bound would be exceeded. ``limited=False`` (admin) counts without bounds."""
    if n > 0:
        _change(session, credit, dict.fromkeys(_keys(holders), n), limited)


def release(session: Session, credit: Credit, holders: Holders, n: int = 1) -> None:
    """Give back ``n`` records' worth of usage (on delete)."""
    if n > 0:
        _change(session, credit, dict.fromkeys(_keys(holders), -n), limited=False)


def move(
    session: Session, credit: Credit, old: Holders, new: Holders, n: int = 1, limited: bool = True
) -> None:
    """Records change holders: the old ones give back, the new ones are charged (checked);
    a holder on both sides is not touched."""
    if old == new or n <= 0:
        return
    deltas = dict.fromkeys(_keys(old), -n)
    for key in _keys(new):
        deltas[key] = deltas.get(key, 0) + n
    _change(session, credit, deltas, limited)


# credit -> (the table whose rows it counts, which rows count), registered by each area
_counted: dict[Credit, tuple[Any, Callable[[Any], list[Any]]]] = {}


def counts(credit: Credit, model: Any, which: Callable[[Any], list[Any]] = lambda _c: []) -> None:
    """Register that ``credit`` counts the rows of ``model``; ``which(columns)`` gives the
    conditions a row must meet to count (none: every row)."""
    _counted[credit] = (model.__table__, which)


def recount(session: Session) -> int:
    """Rebuild every usage counter from the records (after records were loaded with SQL
    behind the server's back); the same holders ``charge`` counts: the reseller, and each
    customer a record names as customer or owner other than that reseller. Returns the number
    of counters written."""
    usage = CreditUsage.__table__
    session.execute(usage.delete())
    written = 0
    for credit, (table, which) in _counted.items():
        c = table.c
        conditions = which(c)
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
            for holder, n in session.execute(stmt)
        ]
        if rows:
            session.execute(usage.insert(), rows)
            written += len(rows)
    return written
