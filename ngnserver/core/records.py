"""What every record port shares: who may see a record, which customer and reseller a new
parent record (SIP domain, ENUM range, DNS zone) belongs to, who may own a single record,
and the active-reseller rule for creation.

Parent records carry ``customer`` and ``reseller``; their children inherit both and add an
``owner``. Scope: admin sees everything, a reseller every record whose ``reseller`` is its
id, a customer the records whose ``customer`` or ``owner`` is its id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ngnserver.core import (
    credits,
    lengths,  # noqa: F401  (refuses overlong text before every flush)
)
from ngnserver.core.callers import Caller, Role
from ngnserver.core.credits import Holders
from ngnserver.core.errors import E, ErrorCode, NGNError
from ngnserver.core.properties import Credit
from ngnserver.models import Customer


def visible(caller: Caller, model: Any) -> list[Any]:
    """WHERE clauses limiting ``model`` (a record table) to the caller's scope."""
    if caller.role is Role.ADMIN:
        return []
    if caller.role is Role.RESELLER:
        return [model.reseller == caller.reseller_id]
    if hasattr(model, "owner"):
        return [or_(model.customer == caller.customer_id, model.owner == caller.customer_id)]
    return [model.customer == caller.customer_id]


def in_scope(
    session: Session,
    caller: Caller,
    model: Any,
    *where: Any,
    missing: tuple[ErrorCode, str],
    lock: bool = False,
    options: Sequence[Any] = (),
) -> Any:
    """The one record of ``model`` matching ``where`` that the caller may see, or the
    ``missing`` Fault (code, sentence): the same answer for a record that does not exist and
    one outside the caller's scope, so scope cannot be probed. ``lock`` (for a change or a
    deletion): the row is locked until the transaction ends, and read as it is now, so that
    concurrent changes of one record take turns and the later one finds what the earlier
    left (a record deleted meanwhile is not found)."""
    stmt = select(model).where(*where, *visible(caller, model)).options(*options)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NGNError(*missing)
    return found


def can_see(caller: Caller, record: Any) -> bool:
    if caller.role is Role.ADMIN:
        return True
    if caller.role is Role.RESELLER:
        return record.reseller == caller.reseller_id
    return caller.customer_id in (record.customer, getattr(record, "owner", None))


def require_active_reseller(caller: Caller) -> None:
    """Records are created by a reseller and its customers only while the reseller is
    active; admin is not limited. The flag was read with the caller's own row when it was
    authenticated, in this request's transaction."""
    if caller.role is Role.ADMIN:
        return
    if not caller.reseller_active:
        raise NGNError(
            E.RESELLER_INACTIVE,
            f"Reseller {caller.reseller_id} is not active, so no records can be created under it.",
        )


def _customer_in_scope(session: Session, caller: Caller, customer_id: int) -> Customer:
    """The customer a record is placed under or owned by, read with a share lock, so that
    it cannot move to another reseller until this transaction ends (a move locks the row
    before it counts the customer's records): the record either waits for the move and
    follows the customer's new reseller, or is counted by it, which then refuses (5008)."""
    customer = session.get(Customer, customer_id, with_for_update={"read": True}, populate_existing=True)
    in_scope = customer is not None and (
        caller.role is Role.ADMIN
        or (caller.role is Role.RESELLER and customer.reseller == caller.reseller_id)
        or customer.id == caller.customer_id
    )
    if not in_scope:
        raise NGNError(E.CUSTOMER_NOT_FOUND, f"Customer {customer_id} does not exist.")
    assert customer is not None
    return customer


def placement(session: Session, caller: Caller, customer_id: int | None, reseller_id: int | None) -> tuple[int, int]:
    """(customer, reseller) of a parent record the caller creates or moves.

    Setting ``customer`` to C sets ``reseller`` to C's reseller. Without a customer, a
    reseller's or customer's record belongs to the caller's own account; admin's belongs to
    nobody (0), under the ``reseller`` it names, if any.
    """
    if customer_id:
        customer = _customer_in_scope(session, caller, customer_id)
        if reseller_id and reseller_id != customer.reseller and caller.role is not Role.ADMIN:
            raise NGNError(E.ADMIN_ONLY_FIELD, f"Customer {customer_id} belongs to reseller {customer.reseller}.")
        return customer.id, customer.reseller
    if caller.role is not Role.ADMIN:
        assert caller.customer_id is not None and caller.reseller_id is not None
        return caller.customer_id, caller.reseller_id
    if reseller_id:
        # share-locked like a customer above: a delete or move of the reseller counts this record
        reseller = session.get(Customer, reseller_id, with_for_update={"read": True}, populate_existing=True)
        if reseller is None or not reseller.is_reseller:
            raise NGNError(E.RESELLER_NOT_FOUND, f"Reseller {reseller_id} does not exist.")
        return 0, reseller_id
    return 0, 0


def owner_for(session: Session, caller: Caller, owner_id: int | None, reseller_id: int) -> int:
    """A valid ``owner`` for a record under ``reseller_id``: 0 (none), or a customer in the
    caller's scope under the same reseller."""
    if not owner_id:
        return 0
    owner = _customer_in_scope(session, caller, owner_id)
    if reseller_id and owner.reseller != reseller_id:
        raise NGNError(
            E.INVALID_OWNER,
            f"Customer {owner_id} cannot own this record: it belongs to reseller {owner.reseller}, "
            f"the record to reseller {reseller_id}.",
        )
    return owner.id


def limited(caller: Caller) -> bool:
    """Whether credits bound this caller (admin's records are not limited)."""
    return caller.role is not Role.ADMIN


def given(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The members a request actually sent (for the change history)."""
    return {k: v for k, v in fields.items() if v is not None}


def flush_unique(session: Session, error: ErrorCode, message: str) -> None:
    """Flush; a concurrent request that created the same key loses here, cleanly (the
    whole transaction is rolled back)."""
    try:
        session.flush()
    except IntegrityError:
        raise NGNError(error, message) from None


def move_children(
    session: Session,
    model: Any,
    of_parent: Any,
    old: tuple[int, int],
    new: tuple[int, int],
    credit: Credit | None,
    limited: bool,
    charged: Any = None,
) -> None:
    """Move the records of a parent (``of_parent``: a WHERE clause) from (customer,
    reseller) ``old`` to ``new``: their credits move with them (only the ``charged`` ones,
    when given), re-checked against the new holders, and owners that would end up under
    another reseller are cleared."""
    old_customer, old_reseller = old
    customer, reseller = new
    owners = set(session.execute(select(model.owner).where(of_parent, model.owner != 0).distinct()).scalars())
    cleared: set[int] = set()
    if reseller and owners:
        staying = session.execute(
            select(Customer.id).where(Customer.id.in_(owners), Customer.reseller == reseller)
        ).scalars()
        cleared = owners - set(staying)
    if credit is not None:
        counted = [of_parent] + ([charged] if charged is not None else [])
        per_owner = session.execute(select(model.owner, func.count()).where(*counted).group_by(model.owner)).all()
        for owner, n in per_owner:
            credits.move(
                session, credit,
                Holders.of(old_reseller, old_customer, owner),
                Holders.of(reseller, customer, 0 if owner in cleared else owner), n, limited,
            )  # fmt: skip
    session.execute(update(model).where(of_parent).values(customer=customer, reseller=reseller))
    if cleared:
        session.execute(update(model).where(of_parent, model.owner.in_(cleared)).values(owner=0))
