"""Client for Ikano's Osiris XML API: DSL qualification, ordering, order status, cancel,
password change and suspend/resume of a wholesale DSL line.

Every command is one ``POST`` of ``text/xml`` to a single URL. The credentials travel as
attributes of the request root, and the schema is ``xs:sequence`` throughout, so the children
of each command must appear in the order the ``*_SEQUENCE`` tuples below give. Ikano reports
most errors inside an HTTP 200 (``type="FAILURE"``), so every body is parsed (by a parser that
resolves no entity and fetches nothing) and checked. Response elements are matched by local
name: their namespace is not published.

Errors are split the way a job runner needs them:

- :class:`IkanoTransientError`: the call may be retried (timeouts, connection errors, non-2xx
  answers, and answers that are not a valid Osiris response: :class:`IkanoProtocolError`);
- :class:`IkanoFailure`: Ikano answered ``FAILURE``; retrying the same request will not help;
- :class:`IkanoOrderInvalid`: the order data breaks a rule Freeside enforces too, either before
  sending or in what Ikano answered (say, an order with two products).

The shapes follow Net::Ikano 0.01 and Freeside's ikano export; where neither shows the
response layout (network names, the order type, ``StaticIps``) the choice is marked *assumed*.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import requests
from lxml import etree

from ngnserver import metrics, safexml

DEFAULT_URL = "https://orders.value.net/OsirisWebService/XmlApi.aspx"
SCHEMA_ROOT = "https://orders.value.net/osiriswebservice/schema/v1"
REQUEST_NAMESPACE = f"{SCHEMA_ROOT}/osirisrequest.xsd"
API_VERSION = "1.0"

STANDALONE = "STANDALONE"
"""The phone number a dry loop (a DSL line without voice service) is ordered and qualified with."""

ORDER_STATUSES = ("NEW", "PENDING", "CANCELLED", "COMPLETED", "ERROR")

UNIT_TYPES = {
    "APT": "Apartment",
    "BLDG": "Building",
    "FLR": "Floor",
    "LOT": "Lot",
    "RM": "Room",
    "SLIP": "Slip",
    "SUIT": "Suite",
    "TRLR": "Trailer",
    "UNIT": "Unit",
    "WING": "Wing",
}
"""Ikano's address unit types and their names; USPS's ``STE`` is read as ``SUIT``."""

ADDRESS_SEQUENCE = (
    "AddressLine1",
    "AddressUnitType",
    "AddressUnitValue",
    "AddressCity",
    "AddressState",
    "ZipCode",
    "Country",
    "LocationType",
)
PREQUAL_SEQUENCE = ("Address", "PhoneNumber", "CheckNetworks", "RequestClientIP")
ORDER_SEQUENCE = (
    "ProductCustomId",
    "DSLPhoneNumber",
    "VirtualPhoneNumber",
    "Password",
    "TermsId",
    "PrequalId",
    "CompanyName",
    "FirstName",
    "MiddleName",
    "LastName",
    "ContactMethod",
    "ContactPhoneNumber",
    "ContactEmail",
    "ContactFax",
    "DateToOrder",
    "RequestClientIP",
    "IspChange",
    "IspPrevious",
    "CurrentProvider",
)
PASSWORD_CHANGE_SEQUENCE = ("DSLPhoneNumber", "NewPassword")
ACCOUNT_STATUS_CHANGE_SEQUENCE = ("DSLServiceId", "DSLPhoneNumber")

# The success types Ikano may answer each command with; any other command is answered with
# its own name.
_SUCCESS_TYPES = {
    "ORDER": frozenset({"NEWORDER", "CHANGEORDER", "CANCELORDER"}),
    "CANCEL": frozenset({"ORDERCANCEL"}),
}

# Attribute and element names (lower-cased) whose values never reach the debug log.
_SECRET_NAMES = frozenset({"keyid", "password", "newpassword"})

_US_ZIP = re.compile(r"(\d{5})(?:-?\d{4})?")

# A document that declares a DOCTYPE is refused after parsing.
_PARSER = safexml.parser()


class IkanoError(Exception):
    """Any failure talking to Ikano. Raised as such only for a client misconfiguration that no
    retry can mend (a malformed URL)."""


class IkanoTransientError(IkanoError):
    """The call did not get a usable answer (timeout, connection error, non-2xx status or an
    invalid response); a job may retry it. For an ORDER, the order may have been placed."""


class IkanoProtocolError(IkanoTransientError):
    """Ikano's answer is not a valid Osiris response: not XML, a root without ``responseid``,
    ``version`` or ``type``, a type that does not answer the command, a missing element."""


class IkanoFailure(IkanoError):
    """Ikano answered ``type="FAILURE"``; ``message`` is its ``FailureMessage``."""

    def __init__(self, message: str) -> None:
        super().__init__(f"FAILURE response received from Ikano: {message}")
        self.message = message


class IkanoOrderInvalid(IkanoError):
    """The order breaks a rule Freeside enforces too: refused before sending (no product, no
    name, a dry-loop cancel without its virtual number) or in Ikano's answer (not exactly one
    product, a cancel that did not cancel, a password that did not change)."""


@dataclass(frozen=True)
class Address:
    """A service address as Ikano qualifies it. ``unit_type`` is one of :data:`UNIT_TYPES`
    (its code or its name, any case; ``STE`` too) or empty."""

    line1: str
    city: str
    state: str
    zip_code: str
    country: str = "US"
    unit_type: str = ""
    unit_value: str = ""


@dataclass(frozen=True)
class ProductGroup:
    """Products sold under one set of terms; an order names the ``terms_id`` of the group that
    holds its product."""

    terms_id: str
    product_ids: list[str]


@dataclass(frozen=True)
class Network:
    """A telco network (ATT, VER, ...) that can serve the address. ``name`` is *assumed* to be
    the ``Name`` child; '' when Ikano does not send it."""

    name: str
    product_groups: list[ProductGroup]


@dataclass(frozen=True)
class PrequalResult:
    """The answer to a qualification: its id (an order quotes it) and what may be ordered."""

    prequal_id: str
    networks: list[Network]

    @property
    def qualified(self) -> bool:
        """True when any network serves the address (Freeside's status ``Q``, else ``D``)."""
        return bool(self.networks)

    def offered(self) -> dict[str, str]:
        """Every offered ProductCustomId and the TermsId to order it with. A product offered
        in several groups keeps the first group's terms."""
        offers: dict[str, str] = {}
        for network in self.networks:
            for group in network.product_groups:
                for product_id in group.product_ids:
                    offers.setdefault(product_id, group.terms_id)
        return offers


@dataclass(frozen=True)
class Note:
    """A note on an order. ``author`` is ``ikano`` when Ikano staff wrote it (CompanyStaffId
    -1), ``us`` when one of our staff did (StaffId -1), else ``unknown``."""

    high_priority: bool
    staff_id: int
    company_staff_id: int
    date: datetime
    text: str
    author: Literal["ikano", "us", "unknown"]


@dataclass(frozen=True)
class Order:
    """An Ikano order as ORDER, ORDERSTATUS and CANCEL return it. The phone numbers and dates
    come from the order's single Product; ``phone_number`` is ``STANDALONE`` for a dry loop,
    whose number is ``virtual_phone_number`` once Ikano assigns one. ``order_type`` is the
    *assumed* ``type`` attribute of the Order element, '' when absent; ``static_ips`` are read
    from the *assumed* ``StaticIps/StaticIp`` elements. The line's password is
    left out of ``repr`` so that logging an order does not leak it."""

    order_id: str
    status: str
    order_type: str
    first_name: str
    last_name: str
    company_name: str
    username: str
    password: str = field(repr=False)
    phone_number: str
    virtual_phone_number: str
    date_to_order: date | None
    date_to_disconnect: date | None
    activation_date: date | None
    static_ips: list[str]
    notes: list[Note]


@dataclass(frozen=True)
class Customer:
    """A DSL service found by CUSTOMERLOOKUP. ``fields`` holds every simple child of the
    Customer element as text (out of ``repr``: it may hold a password); ``order_id`` is its
    OrderId if Ikano sends one."""

    dsl_service_id: str
    order_id: str | None
    fields: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class NewOrder:
    """What an ORDER of type NEW sends. ``dsl_phone_number`` None orders a dry loop (sent as
    ``STANDALONE``). ``previous_isp`` goes to IspPrevious when ``isp_change`` is set, else to
    CurrentProvider. ``product_ids`` is repeatable on the wire, but Freeside orders exactly one
    product and refuses an order that comes back with any other number, so must we."""

    product_ids: list[str]
    terms_id: str
    prequal_id: str
    dsl_phone_number: str | None
    password: str = field(repr=False)
    first_name: str
    last_name: str
    date_to_order: date
    company_name: str = ""
    middle_name: str = ""
    contact_phone_number: str = "5555555555"
    contact_email: str = "x@x.xx"
    contact_method: str = "PHONE"
    contact_fax: str = ""
    isp_change: bool = False
    previous_isp: str = ""
    client_ip: str = "127.0.0.1"


class IkanoClient:
    """One Ikano account. ``connect_timeout`` and ``read_timeout`` are seconds; qualifications
    are slow, hence the long read default. ``debug_log`` receives every request and response
    at DEBUG level with the credentials and passwords replaced by ``***``."""

    def __init__(
        self,
        keyid: str,
        password: str,
        *,
        username: str = "admin",
        url: str = DEFAULT_URL,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        session: requests.Session | None = None,
        debug_log: logging.Logger | None = None,
    ) -> None:
        self._keyid = keyid
        self.username = username
        self._password = password
        self.url = url
        self.timeout = (connect_timeout, read_timeout)
        self._session = metrics.instrument(session or requests.Session(), "ikano")
        self._debug_log = debug_log

    def prequal(
        self,
        address: Address,
        phone_number: str | None,
        location_type: Literal["R", "B"],
        networks: Sequence[str],
        client_ip: str = "127.0.0.1",
    ) -> PrequalResult:
        """Qualify an address (and the TN on it, if any) on the given telco networks.
        ``location_type`` is R (residential) or B (business). Bad arguments raise ValueError."""
        if location_type not in ("R", "B"):
            raise ValueError(f"location type must be R or B, not {location_type!r}")
        if not networks:
            raise ValueError("at least one network to check is required")
        address_element = _sequence(
            "Address",
            ADDRESS_SEQUENCE,
            {
                "AddressLine1": address.line1,
                "AddressUnitType": _unit_type(address.unit_type),
                "AddressUnitValue": address.unit_value,
                "AddressCity": address.city,
                "AddressState": address.state,
                "ZipCode": _zip5(address.zip_code),
                "Country": address.country,
                "LocationType": location_type,
            },
        )
        payload = _sequence(
            "PreQual",
            PREQUAL_SEQUENCE,
            {
                "Address": address_element,
                "PhoneNumber": phone_number or STANDALONE,
                "CheckNetworks": _sequence("CheckNetworks", ("Network",), {"Network": networks}),
                "RequestClientIP": client_ip,
            },
        )
        response = _required_child(self._call("PREQUAL", payload), "PreQualResponse")
        return PrequalResult(
            prequal_id=_required_text(response, "PrequalId"),
            networks=[
                Network(
                    name=_text(network, "Name"),
                    product_groups=[
                        ProductGroup(
                            terms_id=_text(group, "TermsId"),
                            product_ids=[
                                _text(product, "ProductCustomId")
                                for product in _children(group, "Product")
                            ],
                        )
                        for group in _children(network, "ProductGroup")
                    ],
                )
                for network in _children(response, "Network")
            ],
        )

    def order_new(self, order: NewOrder) -> Order:
        """Place a NEW order; Ikano answers with the order in status NEW (usually)."""
        if not order.first_name or not order.last_name:
            raise IkanoOrderInvalid("an order needs a first and a last name")
        return self._order(
            "NEW",
            {
                "ProductCustomId": _one_product(order.product_ids),
                "DSLPhoneNumber": order.dsl_phone_number or STANDALONE,
                "Password": order.password,
                "TermsId": order.terms_id,
                "PrequalId": order.prequal_id,
                "CompanyName": order.company_name,
                "FirstName": order.first_name,
                "MiddleName": order.middle_name,
                "LastName": order.last_name,
                "ContactMethod": order.contact_method,
                "ContactPhoneNumber": _digits(order.contact_phone_number) or "5555555555",
                "ContactEmail": order.contact_email,
                "ContactFax": order.contact_fax,
                "DateToOrder": order.date_to_order.isoformat(),
                "RequestClientIP": order.client_ip,
                "IspChange": "YES" if order.isp_change else "NO",
                "IspPrevious": order.previous_isp if order.isp_change else "",
                "CurrentProvider": "" if order.isp_change else order.previous_isp,
            },
        )

    def order_future_cancel(
        self,
        *,
        product_ids: list[str],
        terms_id: str,
        prequal_id: str,
        dsl_phone_number: str | None,
        virtual_phone_number: str | None,
        date_to_order: date,
        password: str,
        first_name: str,
        last_name: str,
        company_name: str = "",
        contact_phone_number: str = "",
        client_ip: str = "127.0.0.1",
    ) -> Order:
        """Order the disconnection of a completed line on ``date_to_order``: an ORDER of type
        CANCEL, which Ikano answers with a new order (its own id, type CANCEL). As Freeside
        does, it repeats the line's order data and sends no OrderId: the schema has none.
        A dry loop (``dsl_phone_number`` None) is named by its ``virtual_phone_number``."""
        if dsl_phone_number is None and not virtual_phone_number:
            raise IkanoOrderInvalid("cancelling a dry loop needs its virtual phone number")
        return self._order(
            "CANCEL",
            {
                "ProductCustomId": _one_product(product_ids),
                "DSLPhoneNumber": dsl_phone_number or STANDALONE,
                "VirtualPhoneNumber": virtual_phone_number if dsl_phone_number is None else None,
                "Password": password,
                "TermsId": terms_id,
                "PrequalId": prequal_id,
                "CompanyName": company_name,
                "FirstName": first_name,
                "MiddleName": "",
                "LastName": last_name,
                "ContactMethod": "PHONE",
                "ContactPhoneNumber": _digits(contact_phone_number),
                "ContactEmail": "x@x.xx",
                "ContactFax": "",
                "DateToOrder": date_to_order.isoformat(),
                "RequestClientIP": client_ip,
                "IspChange": "NO",
                "IspPrevious": "",
                "CurrentProvider": "",
            },
        )

    def order_status(self, order_id: str) -> Order:
        """The full current state of an order (Ikano looks orders up by id only)."""
        payload = _sequence("OrderStatus", ("OrderId",), {"OrderId": order_id})
        response = self._call("ORDERSTATUS", payload)
        return _parse_order(response, product_required=True)

    def cancel(self, order_id: str) -> Order:
        """Cancel an order that is not yet completed (Ikano accepts NEW and PENDING ones)."""
        payload = _sequence("Cancel", ("OrderId",), {"OrderId": order_id})
        order = _parse_order(self._call("CANCEL", payload), product_required=False)
        if order.status != "CANCELLED" or order.order_id != order_id:
            raise IkanoOrderInvalid(
                f"cancelling order {order_id} returned order {order.order_id} "
                f"in status {order.status}"
            )
        return order

    def password_change(self, dsl_phone_number: str, new_password: str) -> None:
        """Change the PPP password of the line on ``dsl_phone_number``."""
        payload = _sequence(
            "PasswordChange",
            PASSWORD_CHANGE_SEQUENCE,
            {"DSLPhoneNumber": dsl_phone_number, "NewPassword": new_password},
        )
        response = _required_child(self._call("PASSWORDCHANGE", payload), "ChangePasswordResponse")
        customer = _required_child(response, "Customer")
        if _text(customer, "Password") != new_password:
            raise IkanoOrderInvalid(f"Ikano did not confirm the new password of {dsl_phone_number}")

    def customer_lookup(self, phone_number: str) -> Customer:
        """Find the DSL service on a TN; suspending or resuming it needs its DSLServiceId."""
        payload = _sequence("CustomerLookup", ("PhoneNumber",), {"PhoneNumber": phone_number})
        response = _required_child(self._call("CUSTOMERLOOKUP", payload), "CustomerLookupResponse")
        customer = _required_child(response, "Customer")
        fields = {
            etree.QName(child).localname: (child.text or "").strip()
            for child in customer
            if len(child) == 0
        }
        return Customer(
            dsl_service_id=_required_text(customer, "DSLServiceId"),
            order_id=fields.get("OrderId") or None,
            fields=fields,
        )

    def account_status_change(
        self,
        action: Literal["SUSPEND", "UNSUSPEND"],
        dsl_service_id: str,
        dsl_phone_number: str,
    ) -> None:
        """Suspend or resume a DSL service."""
        if action not in ("SUSPEND", "UNSUSPEND"):
            raise ValueError(f"account status change must be SUSPEND or UNSUSPEND, not {action!r}")
        payload = _sequence(
            "AccountStatusChange",
            ACCOUNT_STATUS_CHANGE_SEQUENCE,
            {"DSLServiceId": dsl_service_id, "DSLPhoneNumber": dsl_phone_number},
        )
        payload.set("type", action)
        response = self._call("ACCOUNTSTATUSCHANGE", payload)
        _required_child(_required_child(response, "AccountStatusChangeResponse"), "Customer")

    def _order(self, order_type: str, values: Mapping[str, str | list[str] | None]) -> Order:
        payload = _sequence("Order", ORDER_SEQUENCE, values)
        payload.set("type", order_type)
        return _parse_order(self._call("ORDER", payload), product_required=False)

    def _call(self, command: str, payload: etree._Element) -> etree._Element:
        """Send one command and return the response root once it is a success answering it."""
        root = etree.Element(
            f"{{{REQUEST_NAMESPACE}}}OsirisRequest", nsmap={None: REQUEST_NAMESPACE}
        )
        root.set("type", command)
        root.set("keyid", self._keyid)
        root.set("username", self.username)
        root.set("password", self._password)
        root.set("version", API_VERSION)
        root.append(payload)
        self._log(f"Ikano {command} request", root)
        body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        try:
            reply = self._session.post(
                self.url,
                data=body,
                headers={"Content-Type": "text/xml"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise IkanoTransientError(f"Ikano {command}: no answer: {exc}") from exc
        except requests.RequestException as exc:
            raise IkanoError(f"Ikano {command}: cannot send the request: {exc}") from exc
        status_line = f"{reply.status_code} {reply.reason}"
        if not 200 <= reply.status_code < 300:
            self._log(f"Ikano {command} response: {status_line}")
            raise IkanoTransientError(f"invalid HTTP response from Ikano: {status_line}")
        response = _parse(reply.content)
        if response is None:
            self._log(f"Ikano {command} response: {len(reply.content)} bytes, not XML")
            raise IkanoProtocolError(f"Ikano {command}: the response is not an XML document")
        self._log(f"Ikano {command} response", response)
        missing = [name for name in ("responseid", "version", "type") if response.get(name) is None]
        if missing:
            raise IkanoProtocolError(
                f"invalid response received from Ikano: no {', '.join(missing)} on the root"
            )
        response_type = response.get("type")
        if response_type == "FAILURE":
            failure = _child(response, "FailureResponse")
            raise IkanoFailure("" if failure is None else _text(failure, "FailureMessage"))
        if response_type not in _SUCCESS_TYPES.get(command, {command}):
            raise IkanoProtocolError(
                f"invalid response type {response_type} for request type {command}"
            )
        return response

    def _log(self, title: str, root: etree._Element | None = None) -> None:
        """Log a title, and the document under it with its secrets masked."""
        if self._debug_log is None or not self._debug_log.isEnabledFor(logging.DEBUG):
            return
        if root is None:
            self._debug_log.debug("%s", title)
        else:
            self._debug_log.debug("%s:\n%s", title, _redacted(root))


def _sequence(
    name: str,
    order: Sequence[str],
    values: Mapping[str, str | Sequence[str] | etree._Element | None],
) -> etree._Element:
    """An element of the request namespace whose children follow ``order``: None is left out,
    a string becomes one element ('' an empty one), a list one element per item."""
    unknown = set(values) - set(order)
    if unknown:
        raise AssertionError(f"{name} has no child {sorted(unknown)} in its sequence")
    element = etree.Element(f"{{{REQUEST_NAMESPACE}}}{name}")
    for child_name in order:
        value = values.get(child_name)
        if isinstance(value, etree._Element):
            element.append(value)
        elif isinstance(value, str):
            etree.SubElement(element, f"{{{REQUEST_NAMESPACE}}}{child_name}").text = value
        elif value is not None:
            for item in value:
                etree.SubElement(element, f"{{{REQUEST_NAMESPACE}}}{child_name}").text = item
    return element


def _unit_type(unit_type: str) -> str:
    wanted = unit_type.strip().upper()
    if wanted in ("", *UNIT_TYPES):
        return wanted
    if wanted == "STE":
        return "SUIT"
    for code, label in UNIT_TYPES.items():
        if label.upper() == wanted:
            return code
    raise ValueError(f"unknown address unit type {unit_type!r}")


def _zip5(zip_code: str) -> str:
    """A US ZIP+4 is cut to its 5 digits; anything else (a Canadian postal code) is kept."""
    zip_code = zip_code.strip()
    us_zip = _US_ZIP.fullmatch(zip_code)
    return us_zip.group(1) if us_zip else zip_code


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _one_product(product_ids: Sequence[str]) -> list[str]:
    if len(product_ids) != 1 or not product_ids[0]:
        raise IkanoOrderInvalid(f"an order carries exactly one product, not {list(product_ids)}")
    return list(product_ids)


def _parse(content: bytes) -> etree._Element | None:
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if root.getroottree().docinfo.doctype:
        return None
    return root


def _redacted(root: etree._Element) -> str:
    shown = copy.deepcopy(root)
    for element in shown.iter(etree.Element):
        for attribute in element.attrib:
            if attribute.lower() in _SECRET_NAMES:
                element.set(attribute, "***")
        if etree.QName(element).localname.lower() in _SECRET_NAMES:
            element.text = "***"
    return etree.tostring(shown, encoding="unicode")


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if etree.QName(child).localname == name]


def _child(element: etree._Element, name: str) -> etree._Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _required_child(element: etree._Element, name: str) -> etree._Element:
    found = _child(element, name)
    if found is None:
        where = etree.QName(element).localname
        raise IkanoProtocolError(f"invalid Ikano response: no {name} in {where}")
    return found


def _text(element: etree._Element, name: str) -> str:
    """The text of a child; '' for an empty or absent one, as Net::Ikano reads them."""
    found = _child(element, name)
    return "" if found is None else (found.text or "").strip()


def _required_text(element: etree._Element, name: str) -> str:
    text = _text(element, name)
    if not text:
        where = etree.QName(element).localname
        raise IkanoProtocolError(f"invalid Ikano response: no {name} in {where}")
    return text


def _date_time(text: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise IkanoProtocolError(f"invalid Ikano response: {what} {text!r} is not a date") from None


def _date(text: str, what: str) -> date | None:
    return _date_time(text, what).date() if text else None


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise IkanoProtocolError(
            f"invalid Ikano response: {what} {text!r} is not a number"
        ) from None


def _parse_order(response: etree._Element, *, product_required: bool) -> Order:
    """The Order of an OrderResponse. More than one Product is refused; none is refused only
    where Freeside reads the product (ORDERSTATUS): ORDER and CANCEL answers may be short."""
    order = _required_child(_required_child(response, "OrderResponse"), "Order")
    order_id = _required_text(order, "OrderId")
    status = _required_text(order, "Status")
    if status not in ORDER_STATUSES:
        raise IkanoProtocolError(f"invalid Ikano response: order {order_id} has status {status}")
    products = _children(order, "Product")
    if len(products) > 1 or (product_required and not products):
        raise IkanoOrderInvalid(f"order {order_id} has {len(products)} products, not exactly one")
    product = products[0] if products else etree.Element("Product")
    return Order(
        order_id=order_id,
        status=status,
        order_type=order.get("type", ""),
        first_name=_text(order, "FirstName"),
        last_name=_text(order, "LastName"),
        company_name=_text(order, "CompanyName"),
        username=_text(order, "Username"),
        password=_text(order, "Password"),
        phone_number=_text(product, "PhoneNumber"),
        virtual_phone_number=_text(product, "VirtualPhoneNumber"),
        date_to_order=_date(_text(product, "DateToOrder"), "DateToOrder"),
        date_to_disconnect=_date(_text(product, "DateToDisconnect"), "DateToDisconnect"),
        activation_date=_date(_text(product, "ActivationDate"), "ActivationDate"),
        static_ips=[
            (ip.text or "").strip()
            for ips in _children(order, "StaticIps")
            for ip in _children(ips, "StaticIp")
        ],
        notes=[_parse_note(note) for note in _children(order, "OrderNotes")],
    )


def _parse_note(note: etree._Element) -> Note:
    staff_id = _int(_required_text(note, "StaffId"), "StaffId")
    company_staff_id = _int(_required_text(note, "CompanyStaffId"), "CompanyStaffId")
    when = _date_time(_required_text(note, "Date"), "note Date")
    author: Literal["ikano", "us", "unknown"] = "unknown"
    if company_staff_id == -1 and staff_id != -1:
        author = "ikano"
    elif staff_id == -1 and company_staff_id != -1:
        author = "us"
    return Note(
        high_priority=_required_text(note, "HighPriority").lower() != "false",
        staff_id=staff_id,
        company_staff_id=company_staff_id,
        date=when,
        text=_text(note, "Text"),
        author=author,
    )
