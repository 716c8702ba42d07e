"""Customer properties: the well-known ones (credits, rights) and who may change which.

A property carries the permission level needed to change it. The level of a well-known
property is fixed here, so no client can lower it by sending another ``permission``.
"""

from __future__ import annotations

import enum

from ngnserver.core.callers import Caller, Role
from ngnserver.models import Customer


class Permission(enum.StrEnum):
    ADMIN = "admin"
    RESELLER = "reseller"
    CUSTOMER = "customer"


PERMISSIONS = tuple(p.value for p in Permission)


class Credit(enum.StrEnum):
    """Credit properties: each bounds how many records of one kind may be created."""

    SIP_ACCOUNT = "sip_credit"
    SIP_ALIAS = "sip_alias_credit"
    ENUM_RANGE = "enum_range_credit"
    ENUM_NUMBER = "enum_number_credit"
    DNS_ZONE = "dns_zone_credit"
    EMAIL = "email_credit"
    DSL = "dsl_credit"
    SERVER = "server_credit"


class Right(enum.StrEnum):
    """Rights (value "1"): a reseller's PSTN and prepaid rights bound what its customers'
    SIP accounts may get; ``qualify_service`` lets a customer (or a reseller and all its
    customers) qualify addresses for DSL."""

    PSTN_ACCESS = "pstn_access"
    PSTN_CHANGES = "pstn_changes"
    PREPAID_CHANGES = "prepaid_changes"
    QUALIFY_SERVICE = "qualify_service"


CREDIT_CATEGORY = "credit"
CREDIT_NAMES = frozenset(c.value for c in Credit)
MAX_CREDIT_DIGITS = 18  # a credit's value as the credit rule reads it: ASCII digits that fit a BIGINT
RIGHT_NAMES = frozenset(r.value for r in Right)

# name -> (category, permission) fixed by the server
WELL_KNOWN: dict[str, tuple[str, Permission]] = {
    **{c.value: (CREDIT_CATEGORY, Permission.ADMIN) for c in Credit},
    **{r.value: ("sip", Permission.ADMIN) for r in Right},
}

OPERATOR_ONLY = frozenset({Right.QUALIFY_SERVICE.value})
"""Properties only admin may change, on any customer: a reseller that could set one on a
child customer would grant itself the right through that customer's staff login."""

_RANK = {Permission.CUSTOMER: 0, Permission.RESELLER: 1, Permission.ADMIN: 2}


def permission_of(value: str | None) -> Permission:
    """Unknown or empty permission strings are customer-level, as NGNPro treats them."""
    try:
        return Permission(value or Permission.CUSTOMER)
    except ValueError:
        return Permission.CUSTOMER


def stricter(a: Permission, b: Permission) -> Permission:
    return a if _RANK[a] >= _RANK[b] else b


def may_change(caller: Caller, target: Customer, name: str, permission: Permission) -> bool:
    """Whether ``caller`` may change property ``name`` of ``permission`` level on ``target``.

    admin: any. :data:`OPERATOR_ONLY` properties: admin alone. ``admin`` level: a reseller
    on its child customers, never on itself. ``reseller`` level: the target's reseller.
    Anything else: the target itself too. The caller is assumed to have ``target`` in scope.
    """
    if caller.role is Role.ADMIN:
        return True
    if name in OPERATOR_ONLY:
        return False
    own_reseller = caller.role is Role.RESELLER and caller.reseller_id == target.reseller
    if permission is Permission.ADMIN:
        return own_reseller and target.id != target.reseller
    if permission is Permission.RESELLER:
        return own_reseller
    return own_reseller or caller.customer_id == target.id


def credit_bound(value: str) -> int | None:
    """The number a credit property's value stands for, when the credit rule can read it
    (ASCII digits, at most MAX_CREDIT_DIGITS of them); None otherwise."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= MAX_CREDIT_DIGITS else None


def validate_value(name: str, value: str) -> str | None:
    """A sentence saying what is wrong with ``value``, or None when it is acceptable."""
    if name in CREDIT_NAMES:
        if credit_bound(value) is None:
            return (f"Property {name} is a credit and must be a whole number of 0 or more "
                    f"(at most {MAX_CREDIT_DIGITS} digits), not {value!r}.")
    elif name in RIGHT_NAMES and value not in ("0", "1"):
        return f"Property {name} is a right and must be 0 or 1, not {value!r}."
    return None
