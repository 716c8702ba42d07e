"""Customers and resellers: creation, changes, deletion, queries and properties, with every
rule of NGNPro's customer model (see README, "Customers and resellers")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
    WELL_KNOWN,
    may_change,
    permission_of,
    stricter,
    validate_value,
)
from ngnserver.core.queries import Page, page_limit, page_total
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import Raw, driver_rows, raw_first
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


_CUSTOMERS = Customer.__table__
_COLUMNS = ", ".join(c.name for c in _CUSTOMERS.c)
# One customer by id in the caller's scope (the columns are replaced by those asked for, see
# _account_statements); one per role, the second "?" being the reseller (reseller) or the
# customer itself.
_BY_ID = {
    Role.ADMIN: f"SELECT {_COLUMNS} FROM customers WHERE id = ?",
    Role.RESELLER: f"SELECT {_COLUMNS} FROM customers WHERE id = ? AND reseller = ?",
    Role.CUSTOMER: f"SELECT {_COLUMNS} FROM customers WHERE id = ? AND id = ?",
}
_PROPERTIES_OF = (
    "SELECT customer_id, name, value, category, permission FROM customer_properties "
    "WHERE customer_id IN ({}) ORDER BY customer_id, name"
)
# A listing's properties as a column of its page on PostgreSQL: each customer's as a text[][]
# of (name, value, category, permission), by name, which the driver parses into lists. (On
# SQLite a second query costs no round trip, and JSON would cost more than it saves.)
_PROPERTIES_COLUMN = {
    "postgresql": (
        "ARRAY(SELECT ARRAY[p.name, p.value, p.category, p.permission] FROM customer_properties p "
        "WHERE p.customer_id = customers.id ORDER BY p.name)"
    ),
}


@cache
def _account_statements(columns: tuple[str, ...], dialect: str) -> dict[Role, Raw]:
    """getAccount's SELECT of ``columns`` per role (as _BY_ID), on PostgreSQL with the
    properties as a last column: fixed statements, prepared once per connection (planned
    afresh on every call, the properties' subquery cost PostgreSQL more than running it)."""
    selected = ", ".join(columns)
    if dialect == "postgresql":
        selected += f", {_PROPERTIES_COLUMN['postgresql']}"
    return {role: Raw(sql.replace(_COLUMNS, selected, 1), reads=True) for role, sql in _BY_ID.items()}
# A listing's LIKE filters as SQLAlchemy's ilike() writes them on each backend.
_ILIKE = {"sqlite": "lower({}) LIKE lower(?)", "postgresql": "{} ILIKE ?"}
# A listing's total from the per-reseller counters (ResellerSize).
_COUNTED_CUSTOMERS = "SELECT coalesce(sum(customers), 0) FROM reseller_sizes"
_COUNTED_RESELLERS = "SELECT count(*) FROM reseller_sizes"


@dataclass(frozen=True)
class CustomerRows:
    """A page of a customer listing: ``rows`` hold the columns asked for, ``properties``
    map a customer id of the page to its (name, value, category, permission), by name (a
    customer without properties may be missing)."""

    total: int
    rows: list[tuple[Any, ...]]
    properties: dict[int, Sequence[Sequence[str]]]


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
        changes[name] = PropertyChange(name, value, item.get("category"), item.get("permission"))
    return list(changes.values())


class Customers:
    """Customer operations for one request: a session, the caller and the password sealer."""

    def __init__(self, session: Session, caller: Caller, sealer: PasswordSealer, max_rows: int = 1000,
                 reseller_default_credits: Mapping[str, int] | None = None) -> None:
        self.session = session
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

    def get(self, customer_id: int | None, with_properties: bool = True) -> Customer:
        """The customer, or the same "not found" for one that does not exist and one outside
        the caller's scope, so scope cannot be probed."""
        if not customer_id:
            raise NGNError(E.MISSING_PARAMETER, "A customer id is required.")
        stmt = select(Customer).where(Customer.id == customer_id, *self._scope())
        if with_properties:
            stmt = stmt.options(selectinload(Customer.properties))
        customer = self.session.execute(stmt).scalar_one_or_none()
        if customer is None:
            raise NGNError(E.CUSTOMER_NOT_FOUND, f"Customer {customer_id} does not exist.")
        return customer

    def find_by_username(self, username: str) -> Customer:
        stmt = select(Customer).where(Customer.username == username, *self._scope())
        customer = self.session.execute(stmt.options(selectinload(Customer.properties))).scalar_one_or_none()
        if customer is None:
            raise NGNError(E.CUSTOMER_NOT_FOUND, f"Customer with username {username!r} does not exist.")
        return customer

    def account_values(self, customer_id: int | None, columns: Sequence[str]) -> tuple[tuple[Any, ...], Sequence[Sequence[str]]]:
        """``columns`` of a customer in the caller's scope, as the driver's tuple, and its
        properties as (name, value, category, permission) by name: the reads of getAccount
        and getProperties, fixed SQL on the driver (one query on PostgreSQL), for writing
        the answer straight from the row (as listings do)."""
        if not customer_id:
            raise NGNError(E.MISSING_PARAMETER, "A customer id is required.")
        caller = self.caller
        params = [customer_id]
        if caller.role is Role.RESELLER:
            params.append(caller.reseller_id)
        elif caller.role is Role.CUSTOMER:
            params.append(caller.customer_id)
        connection = self.session.connection()
        statements = _account_statements(tuple(columns), connection.dialect.name)
        row = raw_first(connection, statements[caller.role], params)
        if row is None:
            raise NGNError(E.CUSTOMER_NOT_FOUND, f"Customer {customer_id} does not exist.")
        if connection.dialect.name == "postgresql":  # the properties came as the last column
            return row[:-1], row[-1]
        return row, [p[1:] for p in driver_rows(connection, _PROPERTIES_OF.format("?"), [customer_id])]

    def _resize(self, reseller: int, delta: int) -> None:
        """Keep ``reseller_sizes`` in step (a reseller's row goes when it has no customers)."""
        sizes = ResellerSize.__table__
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        self.session.execute(insert(sizes).values(reseller=reseller, customers=0).on_conflict_do_nothing())
        self.session.execute(
            update(sizes).where(sizes.c.reseller == reseller).values(customers=sizes.c.customers + delta)
        )
        self.session.execute(sizes.delete().where(sizes.c.reseller == reseller, sizes.c.customers <= 0))

    def _counter(
        self, filters: Mapping[str, Any], only_resellers: bool
    ) -> tuple[str, list[Any]] | None:
        """The SELECT (and its parameters) of a listing's total from the reseller counters,
        when the query filters on nothing but the reseller (CDRTool's customer list as it
        opens); None when the matching rows must be counted."""
        if any(filters.get(name) for name in (*self.LIKE, "customer")):
            return None
        caller, reseller = self.caller, filters.get("reseller") or 0
        if caller.role is Role.CUSTOMER:
            return None
        if caller.role is Role.RESELLER:
            if reseller and reseller != caller.reseller_id:
                return "SELECT 0", []
            reseller = caller.reseller_id
        sql = _COUNTED_RESELLERS if only_resellers else _COUNTED_CUSTOMERS
        if reseller:
            return f"{sql} WHERE reseller = ?", [int(reseller)]
        return sql, []

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
            customer.reseller = customer.id  # a new reseller
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
        self.session.delete(customer)
        self.session.flush()
        self._resize(customer.reseller, -1)
        audit.record(self.session, caller, "delete", "customer", customer.id)

    # -- queries -------------------------------------------------------------------------

    ORDER = {
        "changeDate": Customer.change_date,
        "username": Customer.username,
        "firstName": Customer.first_name,
        "lastName": Customer.last_name,
        "organization": Customer.organization,
        "customer": Customer.id,
        "id": Customer.id,
    }
    LIKE = {
        "username": Customer.username,
        "firstName": Customer.first_name,
        "lastName": Customer.last_name,
        "organization": Customer.organization,
        "tel": Customer.tel,
        "email": Customer.email,
        "web": Customer.web,
        "city": Customer.city,
        "country": Customer.country,
    }
    EQUAL = {"customer": Customer.id, "reseller": Customer.reseller}

    def list_rows(
        self, filters: Mapping[str, Any], page: Page, resellers_only: bool, columns: Sequence[str]
    ) -> CustomerRows:
        """A page of the customers in the caller's scope that match ``filters``: the
        ``columns`` asked for (``id`` among them) as the driver's tuples, the properties of
        those customers and the total of matches. Fixed SQL on the driver: what
        ``like_filters``, ``equal_filters`` and ``fetch_page`` would send, without building
        statements or processing results on every listing. A total from the counters, and
        on PostgreSQL the properties, come as extra columns of the page: no more round
        trips."""
        connection = self.session.connection()
        dialect = connection.dialect.name
        only_resellers = resellers_only or str(filters.get("only_resellers") or "") == "1"
        where, params = self._listing_where(dialect, filters, only_resellers)
        attribute, direction = page.order or ("customer", "ASC")
        column = self.ORDER.get(attribute)
        if column is None:
            known = ", ".join(sorted(self.ORDER))
            raise NGNError(E.INVALID_QUERY, f"Cannot order by {attribute!r}; use one of: {known}.")
        limit = page_limit(page, self.max_rows)
        selected, selected_params = [*columns], []
        properties_column = _PROPERTIES_COLUMN.get(dialect)
        if properties_column:
            selected.append(properties_column)
        counter = self._counter(filters, only_resellers)
        if counter is not None:
            selected.append(f"({counter[0]})")  # computed once, not per row
            selected_params = counter[1]
        sql = (
            f"SELECT {', '.join(selected)} FROM customers{where} "
            f"ORDER BY {column.name} {direction}, id {direction} LIMIT ? OFFSET ?"
        )
        rows = driver_rows(connection, sql, [*selected_params, *params, limit, page.start], prepare=True)
        counted = rows[0][-1] if counter is not None and rows else None
        n, id_index = len(columns), columns.index("id")
        properties = None
        if properties_column:
            properties = {row[id_index]: row[n] for row in rows if row[n]}
        if len(selected) > n:
            rows = [row[:n] for row in rows]
        if properties is None:
            properties = self._properties_of(connection, rows, id_index)

        def count() -> int:
            if counted is not None:
                return int(counted)
            if counter is not None:  # a page past the end
                return int(driver_rows(connection, *counter)[0][0])
            counting = f"SELECT count(*) FROM customers{where}"
            return int(driver_rows(connection, counting, params, prepare=True)[0][0])

        return CustomerRows(page_total(page, limit, len(rows), count), rows, properties)

    def _listing_where(
        self, dialect: str, filters: Mapping[str, Any], only_resellers: bool
    ) -> tuple[str, list[Any]]:
        """`` WHERE ...`` (or "") and its parameters: the caller's scope, then the filters."""
        caller = self.caller
        clauses, params = [], []
        if caller.role is Role.RESELLER:
            clauses.append("reseller = ?")
            params.append(caller.reseller_id)
        elif caller.role is Role.CUSTOMER:
            clauses.append("id = ?")
            params.append(caller.customer_id)
        like = _ILIKE[dialect]
        for name, column in self.LIKE.items():
            value = filters.get(name)
            if value:
                clauses.append(like.format(column.name))
                params.append(str(value))
        for name, column in self.EQUAL.items():
            if filters.get(name):
                clauses.append(f"{column.name} = ?")
                params.append(int(filters[name]))
        if only_resellers:
            clauses.append("id = reseller")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _properties_of(
        self, connection: Connection, rows: Sequence[Sequence[Any]], id_index: int
    ) -> dict[int, list[tuple[str, str, str, str]]]:
        """Customer id -> its properties as (name, value, category, permission), by name,
        for the customers of ``rows``, in one query."""
        if not rows:
            return {}
        ids = [row[id_index] for row in rows]
        by_id: dict[int, list[tuple[str, str, str, str]]] = {}
        for prop in driver_rows(connection, _PROPERTIES_OF.format(", ".join("?" * len(ids))), ids):
            by_id.setdefault(prop[0], []).append(prop[1:])
        return by_id

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
            if not may_change(self.caller, customer, needed):
                refused.append(change.name)
            planned.append((change, existing, category, permission))
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
