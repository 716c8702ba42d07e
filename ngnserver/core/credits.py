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

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Credit
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


def _limit(session: Session, holder: int, credit: Credit) -> int | None:
    value = session.execute(
        select(CustomerProperty.value).where(
            CustomerProperty.customer_id == holder, CustomerProperty.name == credit.value
        )
    ).scalar_one_or_none()
    return int(value) if value is not None and value.isdigit() else None


def _ensure_rows(session: Session, keys: Iterable[tuple[str, int]], credit: Credit) -> None:
    rows = [{"scope": s, "holder": h, "credit": credit.value, "used": 0} for s, h in keys]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(CreditUsage).values(rows).on_conflict_do_nothing())


def _bump(session: Session, scope: str, holder: int, credit: Credit, n: int, limit: int | None) -> bool:
    stmt = update(CreditUsage).where(
        CreditUsage.scope == scope, CreditUsage.holder == holder, CreditUsage.credit == credit.value
    )
    if limit is not None:
        stmt = stmt.where(CreditUsage.used + n <= limit)
    return session.execute(stmt.values(used=CreditUsage.used + n)).rowcount == 1


def _used(session: Session, scope: str, holder: int, credit: Credit) -> int:
    return session.execute(
        select(CreditUsage.used).where(
            CreditUsage.scope == scope, CreditUsage.holder == holder, CreditUsage.credit == credit.value
        )
    ).scalar_one()


def charge(session: Session, credit: Credit, holders: Holders, n: int = 1, limited: bool = True) -> None:
    """Count ``n`` new records against their holders, refusing (CREDIT_EXHAUSTED) when a
    bound would be exceeded. ``limited=False`` (admin) counts without bounds."""
    if n <= 0:
        return
    keys = _keys(holders)
    _ensure_rows(session, keys, credit)
    for scope, holder in keys:
        if limited:
            limit = _limit(session, holder, credit)
            if scope == RESELLER and limit is None:
                limit = 0  # a reseller without the credit may create none
        else:
            limit = None
        if not _bump(session, scope, holder, credit, n, limit):
            used = _used(session, scope, holder, credit)
            raise NGNError(
                E.CREDIT_EXHAUSTED,
                f"{LABELS[credit]} credit of {scope} {holder} is exhausted "
                f"({used} of {limit} used{'' if n == 1 else f'; {n} more needed'}).",
            )


def release(session: Session, credit: Credit, holders: Holders, n: int = 1) -> None:
    """Give back ``n`` records' worth of usage (on delete, or before a move)."""
    if n <= 0:
        return
    for scope, holder in _keys(holders):
        session.execute(
            update(CreditUsage)
            .where(
                CreditUsage.scope == scope,
                CreditUsage.holder == holder,
                CreditUsage.credit == credit.value,
                CreditUsage.used >= n,
            )
            .values(used=CreditUsage.used - n)
        )


def move(
    session: Session, credit: Credit, old: Holders, new: Holders, n: int = 1, limited: bool = True
) -> None:
    """Records change holders: release from the old, charge the new (checked)."""
    if old == new or n <= 0:
        return
    release(session, credit, old, n)
    charge(session, credit, new, n, limited)
