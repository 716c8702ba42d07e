"""CustomerPort (``urn:AGProjects:NGNPro:Customer``): customers, resellers and properties.

Thin: turns wire structs into calls on ``core.customers`` and stored customers back into
wire structs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from spyne import Array, Boolean, Double, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.customers import Customers, properties_from
from ngnserver.core.queries import Page
from ngnserver.models import Customer
from ngnserver.services.context import RequestContext
from ngnserver.services.types import NGNType, OrderBy, Range, wire_date
from ngnserver.soap.codec import Values, Written, values_writer

NAMESPACE = "urn:AGProjects:NGNPro:Customer"


class CustomerProperty(NGNType):
    __type_name__ = "CustomerProperty"
    _type_info = [("name", Unicode), ("value", Unicode), ("category", Unicode), ("permission", Unicode)]


CustomerPropertyArray = Array(CustomerProperty, type_name="CustomerPropertyArray")

# wire member -> model attribute, for the string members
_STRINGS = {
    "companyCode": "company_code",
    "username": "username",
    "firstName": "first_name",
    "lastName": "last_name",
    "organization": "organization",
    "vatNumber": "vat_number",
    "email": "email",
    "web": "web",
    "tel": "tel",
    "fax": "fax",
    "mobile": "mobile",
    "sip": "sip",
    "enum": "enum",
    "address": "address",
    "postcode": "postcode",
    "city": "city",
    "state": "state",
    "country": "country",
    "timezone": "timezone",
    "language": "language",
    "bankAccount": "bank_account",
    "billingAddress": "billing_address",
    "billingEmail": "billing_email",
}


class CustomerAccount(NGNType):
    __type_name__ = "CustomerAccount"
    _type_info = [
        ("id", Integer32),
        ("reseller", Integer32),
        ("impersonate", Integer32),
        ("resellerActive", Boolean),
        ("balance", Double),
        ("credit", Double),
        ("password", Unicode),
        *[(name, Unicode) for name in _STRINGS],
        ("changeDate", Unicode),
        ("properties", CustomerPropertyArray),
    ]


class CustomerFilter(NGNType):
    __type_name__ = "CustomerFilter"
    _type_info = [
        *[(name, Unicode) for name in
          ("username", "firstName", "lastName", "organization", "tel", "email", "web", "city", "country")],
        ("customer", Integer32),
        ("reseller", Integer32),
        ("only_resellers", Unicode),
    ]  # fmt: skip


class CustomerQuery(NGNType):
    __type_name__ = "CustomerQuery"
    _type_info = [("filter", CustomerFilter), ("orderBy", OrderBy), ("range", Range)]


CustomerAccountArray = Array(CustomerAccount, type_name="CustomerAccountArray")


class CustomerQueryResult(NGNType):
    __type_name__ = "CustomerQueryResult"
    _type_info = [("total", Integer32), ("accounts", CustomerAccountArray)]


def account_fields(account: dict[str, Any]) -> dict[str, Any]:
    """Model attribute -> value for every member the wire struct carries."""
    fields = {attr: account[name] for name, attr in _STRINGS.items() if account.get(name) is not None}
    for name, attr in (("reseller", "reseller"), ("impersonate", "impersonate"),
                       ("resellerActive", "reseller_active"), ("balance", "balance"),
                       ("credit", "credit"), ("password", "password")):  # fmt: skip
        if account.get(name) is not None:
            fields[attr] = account[name]
    return fields


_STRING_PAIRS = tuple(_STRINGS.items())


def account_to_wire(customer: Customer, password: str) -> dict[str, Any]:
    wire = {name: getattr(customer, attr) for name, attr in _STRING_PAIRS}
    wire.update(
        id=customer.id,
        reseller=customer.reseller,
        impersonate=customer.impersonate,
        resellerActive=customer.reseller_active,
        balance=customer.balance,
        credit=customer.credit,
        password=password,
        changeDate=wire_date(customer.change_date),
        properties=[property_to_wire(p) for p in customer.properties],
    )
    return wire


_PROPERTY_MEMBERS = ("name", "value", "category", "permission")


def property_to_wire(prop: Any) -> dict[str, str]:
    return {"name": prop.name, "value": prop.value, "category": prop.category, "permission": prop.permission}


def _customers(ctx: RequestContext) -> Customers:
    settings = ctx.settings
    return Customers(
        ctx.session,
        ctx.caller,
        ctx.sealer,
        max_rows=settings.query_max_rows,
        reseller_default_credits=settings.reseller_default_credits,
    )


# A listing reads the customer columns in the order of CustomerAccount's members and writes
# each row straight to XML (codec.values_writer): no dict per customer.
_COLUMN_OF = {
    "id": "id", "reseller": "reseller", "impersonate": "impersonate",
    "resellerActive": "reseller_active", "balance": "balance", "credit": "credit",
    "password": "password_sealed", **_STRINGS, "changeDate": "change_date",
}  # fmt: skip
_LISTED = tuple(name for name in CustomerAccount._type_info if name != "properties")
_LISTED_COLUMNS = tuple(_COLUMN_OF[name] for name in _LISTED)
_ID, _PASSWORD, _CHANGE_DATE = (_LISTED.index(name) for name in ("id", "password", "changeDate"))
assert list(CustomerAccount._type_info)[len(_LISTED)] == "properties"  # the last member
_write_accounts = values_writer(CustomerAccountArray, "accounts")


def _query(ctx: RequestContext, query: dict[str, Any] | None, resellers_only: bool) -> dict[str, Any]:
    query = query or {}
    customers = _customers(ctx)
    page = customers.list_rows(
        query.get("filter") or {},
        Page.from_wire(query.get("orderBy"), query.get("range")),
        resellers_only,
        _LISTED_COLUMNS,
    )
    open_password, properties = customers.sealer.open, page.properties
    accounts = [_wire_values(row, properties.get(row[_ID], ()), open_password) for row in page.rows]
    return {"total": page.total, "accounts": Written(_write_accounts(accounts))}


def _wire_values(row: Sequence[Any], properties: Any, open_password: Callable[[bytes], str]) -> list[Any]:
    """A customer row of _LISTED_COLUMNS as CustomerAccount's member values, in order."""
    values = list(row)
    values[_PASSWORD] = open_password(row[_PASSWORD])
    values[_CHANGE_DATE] = wire_date(row[_CHANGE_DATE])
    values.append(properties)
    return values


class CustomerService(ServiceBase):
    """Customers and resellers."""

    __service_name__ = "NGNPro"
    __port_types__ = ("CustomerPort",)

    @rpc(CustomerAccount, _returns=CustomerAccount, _port_type="CustomerPort")
    def addAccount(ctx: RequestContext, account: dict[str, Any] | None) -> dict[str, Any]:
        account = account or {}
        customers = _customers(ctx)
        customer = customers.add(account_fields(account), properties_from(account.get("properties")))
        return account_to_wire(customer, customers.password_of(customer))

    @rpc(CustomerAccount, _port_type="CustomerPort")
    def updateAccount(ctx: RequestContext, account: dict[str, Any] | None) -> None:
        account = account or {}
        customers = _customers(ctx)
        if account.get("id"):
            customer = customers.get(account["id"])
        elif account.get("username"):
            # CDRTool's import calls updateCustomer without an id: find it by username.
            customer = customers.find_by_username(account["username"])
        else:
            customer = customers.get(None)
        customers.update(customer, account_fields(account), properties_from(account.get("properties")))

    @rpc(Integer32, _port_type="CustomerPort")
    def deleteAccount(ctx: RequestContext, id: int | None) -> None:
        customers = _customers(ctx)
        customers.delete(customers.get(id, with_properties=False))

    @rpc(Integer32, _returns=CustomerAccount, _port_type="CustomerPort")
    def getAccount(ctx: RequestContext, id: int | None) -> Values:
        customers = _customers(ctx)
        row, properties = customers.account_values(id, _LISTED_COLUMNS)
        return Values(_wire_values(row, properties, customers.sealer.open))

    @rpc(CustomerQuery, _returns=CustomerQueryResult, _port_type="CustomerPort")
    def getCustomers(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        return _query(ctx, query, resellers_only=False)

    @rpc(CustomerQuery, _returns=CustomerQueryResult, _port_type="CustomerPort")
    def getResellers(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        return _query(ctx, query, resellers_only=True)

    @rpc(Integer32, CustomerPropertyArray, _port_type="CustomerPort")
    def setProperties(ctx: RequestContext, customer: int | None, properties: list[dict[str, Any]] | None) -> None:
        customers = _customers(ctx)
        customers.set_properties(customers.get(customer), properties_from(properties))

    @rpc(Integer32, _returns=CustomerPropertyArray, _port_type="CustomerPort")
    def getProperties(ctx: RequestContext, customer: int | None) -> list[dict[str, str]]:
        _, properties = _customers(ctx).account_values(customer, ("id",))
        return [dict(zip(_PROPERTY_MEMBERS, p, strict=True)) for p in properties]
