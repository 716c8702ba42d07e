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

from sqlalchemy import func, select, union_all, update
from sqlalchemy.orm import Session

from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Credit
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


def _limits(session: Session, credit: Credit, keys: list[Key]) -> dict[Key, int | None]:
    """Each holder's bound: its credit property when that holds a whole number; else 0 for
    a reseller (no credit, no records) and none for a customer (bounded by its reseller)."""
    values = dict(
        session.execute(
            select(CustomerProperty.customer_id, CustomerProperty.value).where(
                CustomerProperty.customer_id.in_({holder for _, holder in keys}),
                CustomerProperty.name == credit.value,
            )
        ).all()
    )
    limits: dict[Key, int | None] = {}
    for scope, holder in keys:
        value = (values.get(holder) or "").strip()
        limits[(scope, holder)] = int(value) if value.isdigit() else (0 if scope == RESELLER else None)
    return limits


def _counter(credit: Credit, key: Key) -> list[Any]:
    scope, holder = key
    return [CreditUsage.scope == scope, CreditUsage.holder == holder, CreditUsage.credit == credit.value]


def _bump(session: Session, credit: Credit, key: Key, n: int, limit: int | None) -> bool:
    """Move one counter by ``n`` in one conditional UPDATE: up only while ``limit`` allows
    it, down only as far as 0. Whether it moved (False also when the counter is missing)."""
    where = _counter(credit, key)
    if n > 0 and limit is not None:
        where.append(CreditUsage.used + n <= limit)
    elif n < 0:
        where.append(CreditUsage.used >= -n)
    moved = session.execute(update(CreditUsage).where(*where).values(used=CreditUsage.used + n))
    return moved.rowcount == 1


def _used(session: Session, credit: Credit, key: Key) -> int | None:
    return session.execute(select(CreditUsage.used).where(*_counter(credit, key))).scalar_one_or_none()


def _change(session: Session, credit: Credit, deltas: dict[Key, int], limited: bool) -> None:
    """Apply ``deltas`` to the counters, in key order; a charge beyond a holder's bound
    refuses the whole change (CREDIT_EXHAUSTED; the transaction is then rolled back)."""
    deltas = {key: n for key, n in deltas.items() if n}
    charged = [key for key, n in deltas.items() if n > 0]
    limits = _limits(session, credit, charged) if limited and charged else {}
    for key in sorted(deltas):
        n, limit = deltas[key], limits.get(key)
        if _bump(session, credit, key, n, limit):
            continue
        if n > 0 and _used(session, credit, key) is None:  # a holder's first record
            scope, holder = key
            insert_skipping_duplicates(
                session, CreditUsage.__table__, [{"scope": scope, "holder": holder, "credit": credit.value, "used": 0}]
            )
            if _bump(session, credit, key, n, limit):
                continue
        if n > 0:
            raise _exhausted(credit, key, n, _used(session, credit, key) or 0, limit)
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
