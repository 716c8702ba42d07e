"""CustomerPort (``urn:AGProjects:NGNPro:Customer``): customers, resellers and properties.

Thin: turns wire structs into calls on ``core.customers`` and stored customers back into
wire structs.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Boolean, Double, Integer32, ServiceBase, Unicode, rpc

from ngnserver.core.customers import Customers, properties_from
from ngnserver.core.errors import E, NGNError
from ngnserver.models import Customer
from ngnserver.services.context import RequestContext
from ngnserver.services.types import Listing, NGNType, OrderBy, Range, refuse_lost_lists, wire_date

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


def account_to_wire(customer: Any, password: str, properties: Any = None) -> dict[str, Any]:
    """A customer (a Customer, or its row with ``properties``) on the wire."""
    wire = {name: getattr(customer, attr) for name, attr in _STRINGS.items()}
    wire.update(
        id=customer.id,
        reseller=customer.reseller,
        impersonate=customer.impersonate,
        resellerActive=customer.reseller_active,
        balance=customer.balance,
        credit=customer.credit,
        password=password,
        changeDate=wire_date(customer.change_date),
        properties=[property_to_wire(p) for p in (customer.properties if properties is None else properties)],
    )
    return wire


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
        property_limits=(settings.max_list_items, settings.max_properties_bytes),
    )


CUSTOMERS = Listing(
    like={name: getattr(Customer, attr) for name, attr in _STRINGS.items() if name in CustomerFilter._type_info},
    equal={"customer": Customer.id, "reseller": Customer.reseller},
    order={"changeDate": Customer.change_date, "username": Customer.username, "firstName": Customer.first_name,
           "lastName": Customer.last_name, "organization": Customer.organization, "customer": Customer.id,
           "id": Customer.id},
    default=("customer", "ASC"),
)  # fmt: skip


def _query(ctx: RequestContext, query: dict[str, Any] | None, resellers_only: bool) -> dict[str, Any]:
    customers = _customers(ctx)
    only_resellers = resellers_only or str(((query or {}).get("filter") or {}).get("only_resellers") or "") == "1"
    total, found = customers.customers(CUSTOMERS.query(query), only_resellers)
    return {"total": total, "accounts": [account_to_wire(a.row, customers.password_of(a.row), a.properties)
                                         for a in found]}  # fmt: skip


class CustomerService(ServiceBase):
    """Customers and resellers."""

    __service_name__ = "NGNPro"
    __port_types__ = ("CustomerPort",)

    @rpc(CustomerAccount, _returns=CustomerAccount, _port_type="CustomerPort")
    def addAccount(ctx: RequestContext, account: dict[str, Any] | None) -> dict[str, Any]:
        refuse_lost_lists(account, ("properties",), "account")
        account = account or {}
        customers = _customers(ctx)
        customer = customers.add(account_fields(account), properties_from(account.get("properties")))
        return account_to_wire(customer, customers.password_of(customer))

    @rpc(CustomerAccount, _port_type="CustomerPort")
    def updateAccount(ctx: RequestContext, account: dict[str, Any] | None) -> None:
        account = account or {}
        customers = _customers(ctx)
        if account.get("id"):
            customer = customers.get(account["id"], lock=True)
        elif account.get("username"):
            # CDRTool's import calls updateCustomer without an id: find it by username.
            customer = customers.find_by_username(account["username"], lock=True)
        else:
            customer = customers.get(None)
        customers.update(customer, account_fields(account), properties_from(account.get("properties")))

    @rpc(Integer32, _port_type="CustomerPort")
    def deleteAccount(ctx: RequestContext, id: int | None) -> None:
        customers = _customers(ctx)
        customers.delete(customers.get(id, with_properties=False, lock=True))

    @rpc(Integer32, _returns=CustomerAccount, _port_type="CustomerPort")
    def getAccount(ctx: RequestContext, id: int | None) -> dict[str, Any]:
        customers = _customers(ctx)
        account = customers.account(id)
        return account_to_wire(account.row, customers.password_of(account.row), account.properties)

    @rpc(CustomerQuery, _returns=CustomerQueryResult, _port_type="CustomerPort")
    def getCustomers(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        return _query(ctx, query, resellers_only=False)

    @rpc(CustomerQuery, _returns=CustomerQueryResult, _port_type="CustomerPort")
    def getResellers(ctx: RequestContext, query: dict[str, Any] | None) -> dict[str, Any]:
        return _query(ctx, query, resellers_only=True)

    @rpc(Integer32, CustomerPropertyArray, _port_type="CustomerPort")
    def setProperties(ctx: RequestContext, customer: int | None, properties: list[dict[str, Any]] | None) -> None:
        if properties is None:
            raise NGNError(
                E.MISSING_PARAMETER,
                "setProperties got no properties: an empty list changes nothing, and an empty <properties/> is "
                "also what zeep sends for a list it dropped because it was given by position: pass properties=[...] "
                "by keyword.",
            )
        customers = _customers(ctx)
        customers.set_properties(customers.get(customer, lock=True), properties_from(properties))

    @rpc(Integer32, _returns=CustomerPropertyArray, _port_type="CustomerPort")
    def getProperties(ctx: RequestContext, customer: int | None) -> list[dict[str, str]]:
        return [property_to_wire(p) for p in _customers(ctx).account(customer).properties]
