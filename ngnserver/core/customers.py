"""Customers and resellers: creation, changes, deletion, queries and properties, with every
rule of NGNPro's customer model (see docs/rules.md, "Customers and resellers")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ngnserver.core import (
    audit,
    lengths,  # noqa: F401  (refuses overlong text before every flush)
    ownership,
)
from ngnserver.core.callers import Caller, Role
from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import (
    PERMISSIONS,
    WELL_KNOWN,
    may_change,
    permission_of,
    stricter,
    validate_value,
)
from ngnserver.core.queries import Query, fetch_page
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import insert_skipping_duplicates
from ngnserver.models import Customer, CustomerProperty, ResellerSize
from ngnserver.models.base import utcnow

# Fields any caller in scope may change, by model attribute.
PLAIN_FIELDS = (
    "username", "first_name", "last_name", "organization", "vat_number", "email", "web", "tel",
    "fax", "mobile", "sip", "enum", "address", "postcode", "city", "state", "country",
    "timezone", "language", "bank_account", "billing_address", "billing_email",
)  # fmt: skip
# Fields only admin may change (a client echoing their current value is not refused).
ADMIN_FIELDS = ("reseller", "reseller_active", "company_code", "credit", "balance")

# getAccount's read, built once per role (building a statement costs more than running it;
# every CDRTool page reads accounts): the customer in the caller's scope with its properties
# (a row per property, by name), as plain rows.
_CUSTOMERS, _PROPERTIES = Customer.__table__, CustomerProperty.__table__
_WITH_PROPERTIES = (
    select(_CUSTOMERS, *(_PROPERTIES.c[n].label(f"property_{n}") for n in ("name", "value", "category", "permission")))
    .outerjoin(_PROPERTIES, _PROPERTIES.c.customer_id == _CUSTOMERS.c.id)
    .where(_CUSTOMERS.c.id == bindparam("id"))
    .order_by(_PROPERTIES.c.name)
)
_ACCOUNT_IN_SCOPE = {
    Role.ADMIN: _WITH_PROPERTIES,
    Role.RESELLER: _WITH_PROPERTIES.where(_CUSTOMERS.c.reseller == bindparam("scope")),
    Role.CUSTOMER: _WITH_PROPERTIES.where(_CUSTOMERS.c.id == bindparam("scope")),
}


_PROPERTIES_OF = (
    select(_PROPERTIES)
    .where(_PROPERTIES.c.customer_id.in_(bindparam("ids", expanding=True)))
    .order_by(_PROPERTIES.c.customer_id, _PROPERTIES.c.name)
)

# a listing's total from the reseller counters: (resellers only, of one reseller) -> statement
_SIZES = ResellerSize.__table__
_COUNTED = {
    (False, False): select(func.coalesce(func.sum(_SIZES.c.customers), 0)),
    (False, True): select(func.coalesce(func.sum(_SIZES.c.customers), 0)).where(_SIZES.c.reseller == bindparam("reseller")),
    (True, False): select(func.count()).select_from(_SIZES),
    (True, True): select(func.count()).select_from(_SIZES).where(_SIZES.c.reseller == bindparam("reseller")),
}


@dataclass(frozen=True)
class Account:
    """A customer as read for the wire: its row (Customer's columns) and its properties
    (name, value, category, permission), by name."""

    row: Any
    properties: list[Any]


@dataclass
class PropertyChange:
    name: str
    value: str
    category: str | None
    permission: str | None


def properties_from(items: Iterable[Mapping[str, Any]] | None) -> list[PropertyChange]:
    """Property structs from the wire, validated; later entries of the same name win."""
    changes: dict[str, PropertyChange] = {}
    for item in items or ():
        if item is None:
            continue  # an empty <item/> carries nothing
        name = str(item.get("name") or "").strip()
        if not name:
            raise NGNError(E.INVALID_PROPERTY, "Every property needs a name.")
        if len(name) > 128:
            raise NGNError(E.INVALID_PROPERTY, f"Property name {name[:20]!r}... is longer than 128 characters.")
        value = "" if item.get("value") is None else str(item["value"])
        if len(value) > 1024:
            raise NGNError(E.INVALID_PROPERTY, f"The value of property {name} is longer than 1024 characters.")
        if value and (problem := validate_value(name, value)):
            raise NGNError(E.INVALID_PROPERTY, problem)
        permission = item.get("permission")
        if permission and permission not in PERMISSIONS:
            raise NGNError(
                E.INVALID_PROPERTY,
                f"The permission of property {name} must be one of {', '.join(PERMISSIONS)}, not {permission!r}.",
            )
        changes[name] = PropertyChange(name, value, item.get("category"), permission)
    return list(changes.values())


class Customers:
    """Customer operations for one request: a session, the caller and the password sealer."""

    def __init__(self, session: Session, caller: Caller, sealer: PasswordSealer, max_rows: int = 1000,
                 reseller_default_credits: Mapping[str, int] | None = None,
                 property_limits: tuple[int, int] = (100, 32 * 1024)) -> None:
        self.session = session
        self.property_limits = property_limits
        self.caller = caller
        self.sealer = sealer
        self.max_rows = max_rows
        self.reseller_default_credits = dict(reseller_default_credits or {})

    # -- scope ---------------------------------------------------------------------------

    def _scope(self) -> list[Any]:
        caller = self.caller
        if caller.role is Role.ADMIN:
            return []
        if caller.role is Role.RESELLER:
            return [Customer.reseller == caller.reseller_id]
        return [Customer.id == caller.customer_id]

    def get(self, customer_id: int | None, with_properties: bool = True, lock: bool = False) -> Customer:
        """The customer, or the same "not found" for one that does not exist and one outside
        the caller's scope, so scope cannot be probed. ``lock``: for a change or a deletion
        (concurrent ones take turns, and a customer deleted meanwhile is not found)."""
        if not customer_id:
            raise NGNError(E.MISSING_PARAMETER, "A customer id is required.")
        return self._one(Customer.id == customer_id, f"Customer {customer_id} does not exist.", with_properties, lock)

    def account(self, customer_id: int | None) -> Account:
        """What ``get`` finds, as plain rows, in one read: for getAccount and getProperties."""
        if not customer_id:
            raise NGNError(E.MISSING_PARAMETER, "A customer id is required.")
        caller = self.caller
        scope = caller.reseller_id if caller.role is Role.RESELLER else caller.customer_id
        rows = self.session.connection().execute(
            _ACCOUNT_IN_SCOPE[caller.role], {"id": customer_id, "scope": scope}
        ).all()
        if not rows:
            raise NGNError(E.CUSTOMER_NOT_FOUND, f"Customer {customer_id} does not exist.")
        properties = [
            PropertyChange(r.property_name, r.property_value, r.property_category, r.property_permission)
            for r in rows if r.property_name is not None
        ]  # fmt: skip
        return Account(rows[0], properties)

    def find_by_username(self, username: str, lock: bool = False) -> Customer:
        return self._one(Customer.username == username, f"Customer with username {username!r} does not exist.",
                         True, lock)  # fmt: skip

    def _one(self, where: Any, missing: str, with_properties: bool, lock: bool) -> Customer:
        stmt = select(Customer).where(where, *self._scope())
        if with_properties:
            stmt = stmt.options(selectinload(Customer.properties))
        if lock:
            stmt = stmt.with_for_update(of=Customer).execution_options(populate_existing=True)
        customer = self.session.execute(stmt).scalar_one_or_none()
        if customer is None:
            raise NGNError(E.CUSTOMER_NOT_FOUND, missing)
        return customer

    def _resize(self, reseller: int, delta: int) -> None:
        """Keep ``reseller_sizes`` in step (a reseller's row goes when it has no customers)."""
        sizes = ResellerSize.__table__
        insert_skipping_duplicates(self.session, sizes, [{"reseller": reseller, "customers": 0}])
        self.session.execute(
            update(sizes).where(sizes.c.reseller == reseller).values(customers=sizes.c.customers + delta)
        )
        self.session.execute(sizes.delete().where(sizes.c.reseller == reseller, sizes.c.customers <= 0))

    def _counted(self, query: Query, only_resellers: bool) -> int | None:
        """A listing's total from the reseller counters, when the query filters on nothing
        but the reseller (CDRTool's customer list as it opens); None when the matching rows
        must be counted."""
        caller = self.caller
        if query.like or Customer.id in query.equal or caller.role is Role.CUSTOMER:
            return None
        reseller = query.equal.get(Customer.reseller, 0)
        if caller.role is Role.RESELLER:
            if reseller and reseller != caller.reseller_id:
                return 0
            reseller = caller.reseller_id
        stmt = _COUNTED[only_resellers, bool(reseller)]
        return int(self.session.connection().execute(stmt, {"reseller": reseller}).scalar_one())

    def password_of(self, customer: Customer) -> str:
        return self.sealer.open(customer.password_sealed)

    # -- creation ------------------------------------------------------------------------

    def add(self, fields: Mapping[str, Any], properties: list[PropertyChange]) -> Customer:
        """Create a customer; by admin without ``reseller`` it is a new reseller.

        A reseller's new customer always goes under that reseller. Admin-only fields sent by
        a reseller (CDRTool's form sends resellerActive, credit and balance) are not applied:
        the account returned shows what was stored.
        """
        caller = self.caller
        requested_reseller = fields.get("reseller") or 0
        if caller.role is Role.CUSTOMER:
            raise NGNError(E.PERMISSION_DENIED, "Only admin and resellers may create customers.")
        if caller.role is Role.RESELLER:
            reseller = self._active_reseller_of_caller()
            if requested_reseller and requested_reseller != reseller.id:
                raise NGNError(
                    E.ADMIN_ONLY_FIELD,
                    f"Only admin may create a customer under another reseller ({requested_reseller}).",
                )
        elif requested_reseller:
            self._existing_reseller(requested_reseller)

        username = (fields.get("username") or "").strip()
        if not username:
            raise NGNError(E.CUSTOMER_USERNAME_REQUIRED, "A customer needs a username.")
        self._ensure_username_free(username)

        customer = Customer(reseller=requested_reseller or 0, username=username)
        self._apply_plain_fields(customer, fields)
        if caller.role is Role.RESELLER:
            customer.reseller = caller.reseller_id
        else:
            for name in ("reseller_active", "company_code", "credit", "balance"):
                if fields.get(name) is not None:
                    setattr(customer, name, fields[name])
        customer.password_sealed = self.sealer.seal(fields.get("password") or "")
        self.session.add(customer)
        self._flush_unique(username)
        if not customer.reseller:
            customer.reseller = customer.id  # a new reseller: active unless admin said otherwise
            if fields.get("reseller_active") is None:
                customer.reseller_active = True
            defaults = [
                PropertyChange(name, str(value), None, None)
                for name, value in self.reseller_default_credits.items()
            ]
            properties = defaults + properties
        self._check_impersonate(customer, fields.get("impersonate"), creating=True)
        self._merge_properties(customer, properties)
        self.session.flush()
        self._resize(customer.reseller, +1)
        audit.record(self.session, caller, "create", "customer", customer.id, _changes(fields, properties))
        return customer

    # -- changes -------------------------------------------------------------------------

    def update(self, customer: Customer, fields: Mapping[str, Any], properties: list[PropertyChange]) -> None:
        """Apply the fields given (absent fields stay as they are) and merge the properties
        by name; all or nothing."""
        caller = self.caller
        if caller.role is not Role.ADMIN:
            changed = [f for f in ADMIN_FIELDS if _given(fields.get(f)) and fields[f] != getattr(customer, f)]
            if changed:
                raise NGNError(E.ADMIN_ONLY_FIELD, f"Only admin may change {_wire_names(changed)}.")
        else:
            self._move_reseller(customer, fields.get("reseller"))
            for name in ("reseller_active", "company_code", "credit", "balance"):
                if fields.get(name) is not None:
                    setattr(customer, name, fields[name])

        username = fields.get("username")
        if username is not None and username.strip() != customer.username:
            if not username.strip():
                raise NGNError(E.CUSTOMER_USERNAME_REQUIRED, "A customer's username cannot be emptied.")
            self._ensure_username_free(username.strip())
        self._apply_plain_fields(customer, fields)
        if fields.get("password"):
            customer.password_sealed = self.sealer.seal(fields["password"])
        self._check_impersonate(customer, fields.get("impersonate"), creating=False)
        self._merge_properties(customer, properties)
        customer.change_date = utcnow()
        self._flush_unique(customer.username)
        audit.record(self.session, caller, "update", "customer", customer.id, _changes(fields, properties))

    def set_properties(self, customer: Customer, properties: list[PropertyChange]) -> None:
        self._merge_properties(customer, properties)
        if properties:
            customer.change_date = utcnow()
            audit.record(self.session, self.caller, "update", "customer", customer.id, _changes({}, properties))
        self.session.flush()

    # -- deletion ------------------------------------------------------------------------

    def delete(self, customer: Customer) -> None:
        caller = self.caller
        if caller.role is Role.CUSTOMER:
            raise NGNError(E.PERMISSION_DENIED, "A customer cannot delete accounts; ask its reseller.")
        if caller.role is Role.RESELLER and customer.id == caller.reseller_id:
            raise NGNError(E.PERMISSION_DENIED, "A reseller cannot delete itself; ask admin.")
        if caller.customer_id == customer.id:
            raise NGNError(E.PERMISSION_DENIED, "A login cannot delete its own account.")
        left = ownership.remaining(self.session, customer.id)
        if left:
            what = ownership.describe(left)
            raise NGNError(
                E.CUSTOMER_IN_USE,
                f"Customer {customer.id} cannot be deleted: it still has {what}. Delete or move them first.",
            )
        ownership.forget(self.session, customer.id)
        self.session.delete(customer)
        self.session.flush()
        self._resize(customer.reseller, -1)
        audit.record(self.session, caller, "delete", "customer", customer.id)

    # -- queries -------------------------------------------------------------------------

    def customers(self, query: Query, resellers_only: bool) -> tuple[int, list[Account]]:
        """A page of the customers (or only the resellers) in the caller's scope that match
        ``query``, as plain rows with their properties, and the total of matches."""
        scope = self._scope()
        if resellers_only:
            scope.append(Customer.id == Customer.reseller)
        # the page, then its customers' properties (one statement each: the page as a subquery
        # joined to the properties cost more to build, for 32 columns, than a round trip)
        total, rows = fetch_page(
            self.session, select(_CUSTOMERS), scope, query, (Customer.id, "ASC"), Customer.id, self.max_rows,
            lambda: self._counted(query, resellers_only),
        )  # fmt: skip
        by_customer = {row.id: Account(row, []) for row in rows}
        if by_customer:
            for prop in self.session.connection().execute(_PROPERTIES_OF, {"ids": list(by_customer)}):
                by_customer[prop.customer_id].properties.append(
                    PropertyChange(prop.name, prop.value, prop.category, prop.permission)
                )
        return total, list(by_customer.values())

    # -- helpers -------------------------------------------------------------------------

    def _active_reseller_of_caller(self) -> Customer:
        reseller = self.session.get(Customer, self.caller.reseller_id)
        if reseller is None or not reseller.reseller_active:
            raise NGNError(
                E.RESELLER_INACTIVE,
                f"Reseller {self.caller.reseller_id} is not active; ask admin to activate it.",
            )
        return reseller

    def _existing_reseller(self, reseller_id: int) -> Customer:
        reseller = self.session.get(Customer, reseller_id)
        if reseller is None or reseller.id != reseller.reseller:
            raise NGNError(E.RESELLER_NOT_FOUND, f"Reseller {reseller_id} does not exist.")
        return reseller

    def _move_reseller(self, customer: Customer, new_reseller: int | None) -> None:
        """Admin moves a customer under another reseller (or makes it one). Refused while
        it has records: they carry the old reseller and count against its credits, and a
        silent recount under the new one could break that reseller's bounds."""
        if not new_reseller:
            return
        # the row locked, and its placement read again, before the records are counted:
        # a record being created for this customer holds a share lock on the row (see
        # records.placement), so it is either committed and counted here, or waits and
        # then follows the new reseller; a concurrent move of the same customer waits too
        self.session.refresh(customer, attribute_names=["reseller", "impersonate"], with_for_update=True)
        if new_reseller == customer.reseller:
            return
        if new_reseller != customer.id:
            self._existing_reseller(new_reseller)
        left = ownership.remaining(self.session, customer.id)
        if left.pop("customers", 0) and customer.is_reseller:
            raise NGNError(
                E.INVALID_RESELLER_CHANGE,
                f"Customer {customer.id} is a reseller with customers; it cannot move under reseller {new_reseller}.",
            )
        if left:
            raise NGNError(
                E.INVALID_RESELLER_CHANGE,
                f"Customer {customer.id} still has {ownership.describe(left)}; "
                "delete or move them before moving the customer to another reseller.",
            )
        self._resize(customer.reseller, -1)
        self._resize(new_reseller, +1)
        customer.reseller = new_reseller
        ownership.moved(self.session, customer.id, new_reseller)
        if customer.impersonate and customer.impersonate != new_reseller:
            customer.impersonate = 0

    def _ensure_username_free(self, username: str) -> None:
        taken = self.session.execute(select(Customer.id).where(Customer.username == username)).first()
        if taken:
            raise NGNError(E.CUSTOMER_USERNAME_EXISTS, f"Username {username!r} is already taken by another customer.")

    def _flush_unique(self, username: str) -> None:
        """Flush; a concurrent request that took the same username loses here, cleanly."""
        try:
            self.session.flush()
        except IntegrityError as exc:
            if "username" in str(exc.orig).lower():
                raise NGNError(
                    E.CUSTOMER_USERNAME_EXISTS, f"Username {username!r} is already taken by another customer."
                ) from None
            raise

    @staticmethod
    def _apply_plain_fields(customer: Customer, fields: Mapping[str, Any]) -> None:
        for name in PLAIN_FIELDS:
            value = fields.get(name)
            if value is not None:
                setattr(customer, name, value.strip() if name == "username" else value)

    def _check_impersonate(self, customer: Customer, value: int | None, creating: bool) -> None:
        if value is None or (not creating and value == customer.impersonate):
            return
        if value not in (0, customer.reseller):
            raise NGNError(
                E.INVALID_IMPERSONATE,
                f"impersonate of customer {customer.id} can only be 0 or its reseller id {customer.reseller}.",
            )
        caller = self.caller
        if caller.role is not Role.ADMIN:
            if caller.customer_id == customer.id:
                raise NGNError(E.ADMIN_ONLY_FIELD, "A customer cannot change its own impersonate.")
            if caller.role is not Role.RESELLER:
                raise NGNError(E.ADMIN_ONLY_FIELD, "Only admin or the customer's reseller may set impersonate.")
        customer.impersonate = value

    def _merge_properties(self, customer: Customer, changes: list[PropertyChange]) -> None:
        """Upsert by name; an empty value deletes. Every change is checked before any is
        applied, and a change that leaves a property as it is needs no permission."""
        if not changes:
            return
        current = {p.name: p for p in customer.properties}
        planned: list[tuple[PropertyChange, CustomerProperty | None, str, str]] = []
        refused: list[str] = []
        for change in changes:
            existing = current.get(change.name)
            fixed = WELL_KNOWN.get(change.name)
            if fixed:
                category, permission = fixed[0], fixed[1].value
            else:
                category = change.category if change.category is not None else (existing.category if existing else "")
                permission = permission_of(change.permission or (existing.permission if existing else None)).value
            if existing is None and not change.value:
                continue  # deleting what is not there
            if existing is not None and (existing.value, existing.category, existing.permission) == (
                change.value, category, permission
            ):
                continue
            needed = permission_of(permission)
            if existing is not None:
                needed = stricter(needed, permission_of(existing.permission))
            if not may_change(self.caller, customer, change.name, needed):
                refused.append(change.name)
            planned.append((change, existing, category, permission))
        self._check_property_limits(customer, current, planned)
        if refused:
            raise NGNError(
                E.PROPERTY_PERMISSION,
                f"You may not change propert{'y' if len(refused) == 1 else 'ies'} {', '.join(refused)} "
                f"of customer {customer.id}; nothing was changed.",
            )
        for change, existing, category, permission in planned:
            if not change.value:
                customer.properties.remove(existing)
            elif existing is None:
                customer.properties.append(
                    CustomerProperty(name=change.name, value=change.value, category=category, permission=permission)
                )
            else:
                existing.value, existing.category, existing.permission = change.value, category, permission


    def _check_property_limits(
        self, customer: Customer, current: Mapping[str, CustomerProperty], planned: list[Any]
    ) -> None:
        """What the customer would keep after ``planned``: at most so many properties, of at
        most so many bytes of names and values together (2006)."""
        kept = {name: prop.value for name, prop in current.items()}
        for change, *_ in planned:
            if change.value:
                kept[change.name] = change.value
            else:
                kept.pop(change.name, None)
        most, most_bytes = self.property_limits
        size = sum(len(name.encode()) + len(value.encode()) for name, value in kept.items())
        if len(kept) > most or size > most_bytes:
            raise NGNError(
                E.INVALID_VALUE,
                f"The customer would keep {len(kept)} properties of {size} bytes; at most {most} "
                f"properties of {most_bytes} bytes in all are accepted. Nothing was changed.",
            )


def _changes(fields: Mapping[str, Any], properties: list[PropertyChange]) -> dict[str, Any]:
    changes = {k: v for k, v in fields.items() if v is not None}
    if properties:
        changes["properties"] = {p.name: p.value for p in properties}
    return changes


def _given(value: Any) -> bool:
    return value is not None and value != ""


_WIRE = {"reseller": "reseller", "reseller_active": "resellerActive", "company_code": "companyCode",
         "credit": "credit", "balance": "balance"}  # fmt: skip


def _wire_names(fields: Iterable[str]) -> str:
    return ", ".join(_WIRE[f] for f in fields)


def recount_reseller_sizes(session: Session) -> int:
    """Rebuild ``reseller_sizes`` from ``customers`` (after customers were loaded with SQL
    behind the server's back: ``ngnserver db recount``). Returns the number of resellers."""
    sizes = ResellerSize.__table__
    session.execute(sizes.delete())
    session.execute(
        sizes.insert().from_select(
            ["reseller", "customers"],
            select(Customer.reseller, func.count()).group_by(Customer.reseller),
        )
    )
    return session.execute(select(func.count()).select_from(sizes)).scalar_one()
