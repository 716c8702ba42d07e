"""What still belongs to a customer: the check that guards customer deletion and moves.

Each area that stores things owned by customers (customers of a reseller, SIP records,
ENUM records, DNS records, PSTN routing, vendor services) registers a counter here.
Deleting a customer, or moving it to another reseller, asks every counter and is refused,
naming what remains, while any of them counts more than zero. Registering is all a new
record port has to do to take part.

What no operation deletes by hand but that is placed with a customer all the same (a DSL
qualification: a vendor's answer for an address) registers as following its customer
instead: it is deleted with the customer and moves with it to its new reseller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from ngnserver.models import Customer

Counter = Callable[[Session, int], int]

_counters: list[tuple[str, str, Counter]] = []
_followers: list[Any] = []


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
    """Register a record table (a ``Placed`` model): a row belongs to the customer it names as
    ``customer``, as ``reseller`` (admin may place a record with a reseller and no customer)
    or as ``owner`` where the table has one."""
    columns = [model.customer, model.reseller] + ([model.owner] if hasattr(model, "owner") else [])

    @belongs_to_customer(singular, plural)
    def _count(session: Session, customer_id: int) -> int:
        where = or_(*(column == customer_id for column in columns))
        return session.execute(select(func.count()).select_from(model).where(where)).scalar_one()


def follows_customer(model: Any) -> None:
    """Register a table (a ``Placed`` model) whose rows go with their customer: see the module."""
    _followers.append(model)


def forget(session: Session, customer_id: int) -> None:
    """The customer is being deleted: delete what follows it (placed with it as customer, or
    as reseller)."""
    for model in _followers:
        session.execute(delete(model).where(or_(model.customer == customer_id, model.reseller == customer_id)))


def moved(session: Session, customer_id: int, reseller_id: int) -> None:
    """The customer moves under ``reseller_id``: what follows it moves too."""
    for model in _followers:
        session.execute(update(model).where(model.customer == customer_id).values(reseller=reseller_id))
