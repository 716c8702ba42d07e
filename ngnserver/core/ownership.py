"""What still belongs to a customer: the check that guards customer deletion.

Each area that stores things owned by customers (customers of a reseller, SIP records,
ENUM records, DNS records, vendor services) registers a counter here. Deleting a customer
asks every counter and is refused, naming what remains, while any of them counts more
than zero. Registering is all a new record port has to do to take part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ngnserver.models import Customer

Counter = Callable[[Session, int], int]

_counters: list[tuple[str, str, Counter]] = []


def belongs_to_customer(singular: str, plural: str) -> Callable[[Counter], Counter]:
    """Decorator: register ``fn(session, customer_id) -> count`` under a name such as
    ("SIP account", "SIP accounts")."""

    def register(fn: Counter) -> Counter:
        _counters.append((singular, plural, fn))
        return fn

    return register


def remaining(session: Session, customer_id: int) -> dict[str, int]:
    """Plural name -> count for everything that still belongs to the customer."""
    found = {}
    for _singular, plural, count in _counters:
        n = count(session, customer_id)
        if n:
            found[plural] = n
    return found


def describe(found: dict[str, int]) -> str:
    """ "2 SIP accounts and 1 customer" for the result of :func:`remaining`."""
    names = {plural: singular for singular, plural, _ in _counters}
    parts = [f"{n} {plural if n != 1 else names[plural]}" for plural, n in found.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@belongs_to_customer("customer", "customers")
def _customers_of_reseller(session: Session, customer_id: int) -> int:
    return session.execute(
        select(func.count())
        .select_from(Customer)
        .where(Customer.reseller == customer_id, Customer.id != customer_id)
    ).scalar_one()


def count_records(model: Any, singular: str, plural: str) -> None:
    """Register a record table: a row belongs to the customer it names as ``customer``, or
    as ``owner`` where the table has one."""
    condition = (lambda c: (model.customer == c) | (model.owner == c)) if hasattr(model, "owner") else (
        lambda c: model.customer == c
    )

    @belongs_to_customer(singular, plural)
    def _count(session: Session, customer_id: int) -> int:
        return session.execute(select(func.count()).select_from(model).where(condition(customer_id))).scalar_one()
