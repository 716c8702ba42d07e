"""A simulator of Ikano's Osiris XML API, served over real HTTP on 127.0.0.1, for the tests of
the Ikano client and of the DSL jobs built on it.

Typical use::

    with IkanoSimulator() as ikano:                    # a free port, stopped on exit
        client = IkanoClient(ikano.keyid, ikano.password, url=ikano.url)
        prequal = client.prequal(...)                  # the default table serves ZIP 10001
        order = client.order_new(...)
        ikano.advance(order.order_id)                  # NEW -> PENDING -> COMPLETED

It behaves as vendors.md 1.6 describes: it checks the credentials (a FAILURE in an HTTP 200
when they are wrong), validates every request against its own copy of the schema (element
names, namespace, attributes and the ``xs:sequence`` order, so a request with children out of
order gets FAILURE "schema validation: ..."), keeps orders, qualifications and DSL services in
memory behind one lock, and advances orders NEW -> PENDING -> COMPLETED through
:meth:`IkanoSimulator.advance` or a clock (``auto_advance_seconds``, applied whenever a request
arrives). Going PENDING sets ActivationDate (to the DateToOrder asked for), gives a STANDALONE
order its VirtualPhoneNumber and adds an Ikano note; completing adds another.

Failure knobs: :meth:`IkanoSimulator.fail_next` (see :data:`FAILURE_KINDS`) and
:meth:`IkanoSimulator.delay`. Introspection: ``requests`` (command and parsed request root, in
arrival order), ``orders``, ``services`` (DSLServiceId -> account state), ``prequals`` and
:meth:`IkanoSimulator.count`.

The response root's name (``OsirisResponse``) and namespace, the ``Name`` of a Network, the
``type`` attribute of an Order and the ``StaticIps/StaticIp`` layout are our assumptions; the
public sources show only what Freeside reads.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

from lxml import etree

from tests.support.loopback import Serving

PATH = "/OsirisWebService/XmlApi.aspx"
SCHEMA_ROOT = "https://orders.value.net/osiriswebservice/schema/v1"
REQUEST_NAMESPACE = f"{SCHEMA_ROOT}/osirisrequest.xsd"
RESPONSE_NAMESPACE = f"{SCHEMA_ROOT}/osirisresponse.xsd"
STANDALONE = "STANDALONE"

FAILURE_KINDS = (
    "http500",  # HTTP 500 with an HTML body; the request is not processed
    "timeout",  # processed, then the answer waits ``timeout_sleep`` seconds
    "no_responseid",  # processed, the response root has no responseid
    "wrong_type",  # processed, the response type answers another command
    "two_products",  # processed, the returned Order has its Product twice (order commands)
    "not_xml",  # HTTP 200 with an HTML body; the request is not processed
)
"""The kinds ``fail_next`` takes, besides "failure:<message>" (a FAILURE with that message)
and "body:<text>" (HTTP 200 with exactly that body), which do not process the request either."""

DEFAULT_PREQUALS: dict[str, dict[str, list[tuple[str, list[str]]]]] = {
    # key (a 5-digit ZIP, a postal code or a TN) -> network -> [(TermsId, [ProductCustomId])]
    "10001": {
        "ATT": [("36", ["ATT-6M", "ATT-12M"]), ("24", ["ATT-DRY-6M"])],
        "VER": [("12", ["VER-3M"])],
        "BELLCA": [("12", ["BELL-5M"])],
    },
    "2125550100": {"VERTAS": [("12", ["VERTAS-7M"])]},
    "M6C 2J9": {"BELLCA": [("12", ["BELL-5M"])]},
}

_ORDER_COMMANDS = frozenset({"ORDER", "ORDERSTATUS", "CANCEL"})
_UNIT_TYPES = frozenset(
    {"", "APT", "BLDG", "FLR", "LOT", "RM", "SLIP", "SUIT", "TRLR", "UNIT", "WING"}
)
_AUTHORS = {"ikano": ("17", "-1"), "us": ("-1", "42"), "unknown": ("-1", "-1")}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class _Child:
    """One particle of an ``xs:sequence``: ``children`` None is a text-only element."""

    name: str
    min: int = 1
    max: int | None = 1
    children: tuple[_Child, ...] | None = None


def _optional(*names: str) -> tuple[_Child, ...]:
    return tuple(_Child(name, min=0) for name in names)


# The simulator's own copy of the schema, deliberately not imported from the client: a
# regression in the client's element order must not change what the simulator accepts.
_SCHEMA: dict[str, tuple[str, dict[str, frozenset[str]], tuple[_Child, ...]]] = {
    "PREQUAL": (
        "PreQual",
        {},
        (
            _Child(
                "Address",
                children=tuple(
                    _Child(name)
                    for name in (
                        "AddressLine1",
                        "AddressUnitType",
                        "AddressUnitValue",
                        "AddressCity",
                        "AddressState",
                        "ZipCode",
                        "Country",
                        "LocationType",
                    )
                ),
            ),
            _Child("PhoneNumber"),
            _Child("CheckNetworks", children=(_Child("Network", max=None),)),
            _Child("RequestClientIP"),
        ),
    ),
    "ORDER": (
        "Order",
        {"type": frozenset({"NEW", "CANCEL", "CHANGE"})},
        (
            _Child("ProductCustomId", max=None),
            _Child("DSLPhoneNumber"),
            *_optional(
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
            ),
        ),
    ),
    "ORDERSTATUS": ("OrderStatus", {}, (_Child("OrderId"),)),
    "CANCEL": ("Cancel", {}, (_Child("OrderId"),)),
    "PASSWORDCHANGE": ("PasswordChange", {}, (_Child("DSLPhoneNumber"), _Child("NewPassword"))),
    "CUSTOMERLOOKUP": ("CustomerLookup", {}, (_Child("PhoneNumber"),)),
    "ACCOUNTSTATUSCHANGE": (
        "AccountStatusChange",
        {"type": frozenset({"SUSPEND", "UNSUSPEND"})},
        (_Child("DSLServiceId"), _Child("DSLPhoneNumber")),
    ),
}
_ROOT_ATTRIBUTES = frozenset({"type", "keyid", "username", "password", "version"})


class _Failure(Exception):
    """Answer the request with type FAILURE and this message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class SimulatedNote:
    text: str
    by: str  # "ikano", "us" or "unknown"
    high_priority: bool
    date: datetime


@dataclass
class SimulatedOrder:
    """An order as Ikano holds it. ``phone_number`` is the DSLPhoneNumber ordered with (a TN
    or STANDALONE); ``tn`` is the number the line is known by."""

    order_id: str
    order_type: str
    status: str
    product_ids: list[str]
    phone_number: str
    virtual_phone_number: str
    password: str
    first_name: str
    last_name: str
    company_name: str
    username: str
    dsl_service_id: str
    date_to_order: date
    date_to_disconnect: date | None = None
    activation_date: date | None = None
    static_ips: list[str] = field(default_factory=list)
    notes: list[SimulatedNote] = field(default_factory=list)
    changed_at: float = field(default_factory=time.monotonic)

    @property
    def tn(self) -> str:
        return self.virtual_phone_number if self.phone_number == STANDALONE else self.phone_number


@dataclass
class _Knob:
    kind: str
    remaining: int
    command: str | None


class IkanoSimulator:
    """The simulated Osiris service. ``prequals`` replaces :data:`DEFAULT_PREQUALS`;
    ``timeout_sleep`` is how long a "timeout" answer waits: longer than any read timeout a test
    gives its client."""

    def __init__(
        self,
        *,
        keyid: str = "SIM-KEY-7f3a",
        username: str = "admin",
        password: str = "sim-api-password",
        prequals: Mapping[str, dict[str, list[tuple[str, list[str]]]]] | None = None,
        auto_advance_seconds: float | None = None,
        timeout_sleep: float = 10.0,
    ) -> None:
        self.keyid = keyid
        self.username = username
        self.password = password
        self.prequal_table = dict(DEFAULT_PREQUALS if prequals is None else prequals)
        self.auto_advance_seconds = auto_advance_seconds
        self.timeout_sleep = timeout_sleep
        self.requests: list[tuple[str, etree._Element]] = []
        self.orders: dict[str, SimulatedOrder] = {}
        self.services: dict[str, str] = {}  # DSLServiceId -> ACTIVE | SUSPENDED
        self.prequals: dict[str, dict[str, str]] = {}  # PrequalId -> {ProductCustomId: TermsId}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._knobs: list[_Knob] = []
        self.lookup_shows_order_id = True
        self._delays: dict[str | None, float] = {}
        self._response_ids = itertools.count(700001)
        self._order_ids = itertools.count(100001)
        self._prequal_ids = itertools.count(5001)
        self._service_ids = itertools.count(880001)
        self._virtual_tns = itertools.count(5550000100)
        self._serving: Serving | None = None

    # lifecycle

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.simulator = self
        self._serving = Serving(server)
        return self

    def stop(self) -> None:
        """Stop serving; answers still waiting on a knob are released at once."""
        self._stopping.set()
        if self._serving is not None:
            self._serving.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._serving is not None, "the simulator is not started"
        return self._serving.root_url + PATH

    # test hooks

    def advance(self, order_id: str) -> str:
        """Move an order one step: NEW -> PENDING -> COMPLETED. Returns the new status."""
        with self._lock:
            order = self.orders[order_id]
            if order.status == "NEW":
                order.status = "PENDING"
                if order.order_type != "CANCEL":
                    order.activation_date = order.date_to_order
                if order.phone_number == STANDALONE and not order.virtual_phone_number:
                    order.virtual_phone_number = str(next(self._virtual_tns))
                self._note(order, "Order accepted by the carrier")
            elif order.status == "PENDING":
                order.status = "COMPLETED"
                self._note(order, "Disconnected" if order.order_type == "CANCEL" else "Activated")
            else:
                raise ValueError(f"order {order_id} is {order.status}; it does not advance")
            order.changed_at = time.monotonic()
            return order.status

    def add_note(
        self, order_id: str, text: str, by: str = "ikano", high_priority: bool = False
    ) -> None:
        """Add a note written by Ikano staff (``ikano``), by us (``us``) or ``unknown``."""
        if by not in _AUTHORS:
            raise ValueError(f"a note is written by one of {sorted(_AUTHORS)}, not {by!r}")
        with self._lock:
            self._note(self.orders[order_id], text, by=by, high_priority=high_priority)

    def assign_static_ips(self, order_id: str, ips: list[str]) -> None:
        """Replace the static IPs of an order."""
        with self._lock:
            self.orders[order_id].static_ips = list(ips)

    def fail_next(self, kind: str, times: int = 1, command: str | None = None) -> None:
        """Make the next ``times`` requests (of ``command`` only, if given) fail as ``kind``
        (see :data:`FAILURE_KINDS`). "two_products" waits for an order-bearing command."""
        if kind not in FAILURE_KINDS and not kind.startswith(("failure:", "body:")):
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._knobs.append(_Knob(kind, times, command))

    def delay(self, seconds: float, command: str | None = None) -> None:
        """Answer every request (of ``command`` only, if given) ``seconds`` late; 0 clears."""
        with self._lock:
            self._delays[command] = seconds

    def count(self, command: str) -> int:
        with self._lock:
            return sum(1 for sent, _ in self.requests if sent == command)

    # the service

    def respond(self, body: bytes) -> tuple[int, str, bytes, float]:
        """Answer one POSTed body: (HTTP status, content type, body, seconds to wait first)."""
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError:
            root = None
        command = "" if root is None else root.get("type", "")
        with self._lock:
            self._auto_advance()
            if root is not None:
                self.requests.append((command, root))
            knob = self._take_knob(command)
            wait = self._delays.get(command, self._delays.get(None, 0.0))
            kind = knob.kind if knob else ""
            if kind == "http500":
                return 500, "text/html", b"<html><body>Server Error</body></html>", wait
            if kind == "not_xml":
                return 200, "text/html", b"<html><body>Down for maintenance<br></body></html>", wait
            if kind.startswith("body:"):
                return 200, "text/xml", kind.removeprefix("body:").encode(), wait
            if kind.startswith("failure:"):
                response = self._envelope("FAILURE", _failure(kind.removeprefix("failure:")))
            else:
                response = self._process(root)
            if kind == "no_responseid":
                del response.attrib["responseid"]
            elif kind == "wrong_type":
                response.set("type", "PREQUAL" if command == "ORDERSTATUS" else "ORDERSTATUS")
            elif kind == "two_products":
                _duplicate_product(response)
            elif kind == "timeout":
                wait += self.timeout_sleep
            answer = etree.tostring(response, xml_declaration=True, encoding="UTF-8")
            return 200, "text/xml", answer, wait

    def wait(self, seconds: float) -> None:
        """Sleep, but wake at once when the simulator stops."""
        self._stopping.wait(seconds)

    def _take_knob(self, command: str) -> _Knob | None:
        for knob in self._knobs:
            if knob.command not in (None, command):
                continue
            if knob.kind == "two_products" and command not in _ORDER_COMMANDS:
                continue
            knob.remaining -= 1
            if knob.remaining <= 0:
                self._knobs.remove(knob)
            return knob
        return None

    def _auto_advance(self) -> None:
        if self.auto_advance_seconds is None:
            return
        now = time.monotonic()
        for order in self.orders.values():
            while order.status in ("NEW", "PENDING"):
                due = order.changed_at + self.auto_advance_seconds
                if due > now:
                    break
                self.advance(order.order_id)
                order.changed_at = due

    def _process(self, root: etree._Element | None) -> etree._Element:
        try:
            command, values = self._check_request(root)
            response_type, content = getattr(self, f"_{command.lower()}")(values)
        except _Failure as failure:
            return self._envelope("FAILURE", _failure(failure.message))
        return self._envelope(response_type, content)

    def _envelope(self, response_type: str, content: etree._Element) -> etree._Element:
        root = etree.Element(
            f"{{{RESPONSE_NAMESPACE}}}OsirisResponse", nsmap={None: RESPONSE_NAMESPACE}
        )
        root.set("responseid", str(next(self._response_ids)))
        root.set("version", "1.0")
        root.set("type", response_type)
        root.append(content)
        return root

    def _check_request(self, root: etree._Element | None) -> tuple[str, dict[str, list[str]]]:
        """Validate the envelope, the credentials, then the command's children. Returns the
        command and the texts of its simple elements by name, plus its ``type`` attribute."""
        if root is None:
            raise _Failure("schema validation: the request is not well-formed XML")
        if root.tag != f"{{{REQUEST_NAMESPACE}}}OsirisRequest":
            raise _Failure(f"schema validation: unexpected root element {root.tag}")
        if set(root.attrib) != _ROOT_ATTRIBUTES:
            raise _Failure(
                f"schema validation: OsirisRequest needs exactly the attributes "
                f"{sorted(_ROOT_ATTRIBUTES)}, got {sorted(root.attrib)}"
            )
        if root.get("version") != "1.0":
            raise _Failure(f"schema validation: unsupported version {root.get('version')}")
        command = root.get("type", "")
        if command not in _SCHEMA:
            raise _Failure(f"schema validation: unknown request type {command}")
        credentials = (root.get("keyid"), root.get("username"), root.get("password"))
        if credentials != (self.keyid, self.username, self.password):
            raise _Failure("Authentication failed: invalid keyid, username or password")
        payload_name, attributes, sequence = _SCHEMA[command]
        children = list(root)
        if len(children) != 1 or children[0].tag != f"{{{REQUEST_NAMESPACE}}}{payload_name}":
            raise _Failure(f"schema validation: {command} takes exactly one {payload_name}")
        payload = children[0]
        if set(payload.attrib) != set(attributes):
            raise _Failure(
                f"schema validation: {payload_name} takes the attributes {sorted(attributes)}"
            )
        for name, allowed in attributes.items():
            if payload.get(name) not in allowed:
                raise _Failure(f"schema validation: {payload_name} {name}={payload.get(name)!r}")
        _check_sequence(payload, sequence, payload_name)
        values: dict[str, list[str]] = {"type": [payload.get("type", "")]}
        for element in payload.iterdescendants(etree.Element):
            if len(element) == 0:
                values.setdefault(etree.QName(element).localname, []).append(element.text or "")
        return command, values

    # commands: each takes the request's values and returns (response type, response content)

    def _prequal(self, values: dict[str, list[str]]) -> tuple[str, etree._Element]:
        if values["LocationType"][0] not in ("R", "B"):
            raise _Failure(f"Invalid LocationType {values['LocationType'][0]}")
        if values["AddressUnitType"][0] not in _UNIT_TYPES:
            raise _Failure(f"Invalid AddressUnitType {values['AddressUnitType'][0]}")
        phone = values["PhoneNumber"][0]
        table = self.prequal_table.get(phone) if phone != STANDALONE else None
        if table is None:
            table = self.prequal_table.get(values["ZipCode"][0], {})
        prequal_id = str(next(self._prequal_ids))
        offered: dict[str, str] = {}
        content = _element("PreQualResponse", _element("PrequalId", text=prequal_id))
        for network, groups in table.items():
            if network not in values["Network"]:
                continue
            network_element = _element("Network", _element("Name", text=network))
            for terms_id, product_ids in groups:
                group = _element("ProductGroup", _element("TermsId", text=terms_id))
                for product_id in product_ids:
                    offered.setdefault(product_id, terms_id)
                    group.append(_element("Product", _element("ProductCustomId", text=product_id)))
                network_element.append(group)
            content.append(network_element)
        self.prequals[prequal_id] = offered
        return "PREQUAL", content

    def _order(self, values: dict[str, list[str]]) -> tuple[str, etree._Element]:
        order_type = values["type"][0]
        if order_type == "CHANGE":
            raise _Failure("CHANGE orders are not supported by this simulator")
        when = _single(values, "DateToOrder")
        try:
            date_to_order = date.fromisoformat(when)
        except ValueError:
            raise _Failure(f"Invalid DateToOrder {when!r}") from None
        for name in ("FirstName", "LastName"):
            if not _single(values, name):
                raise _Failure(f"{name} is required")
        phone = values["DSLPhoneNumber"][0]
        virtual = _single(values, "VirtualPhoneNumber")
        order_id = str(next(self._order_ids))
        if order_type == "NEW":
            self._check_offer(values)
            service_id = str(next(self._service_ids))
            self.services[service_id] = "ACTIVE"
            username, password, virtual = f"u{order_id}", _single(values, "Password"), ""
        else:
            tn = virtual if phone == STANDALONE else phone
            if not tn:
                raise _Failure("VirtualPhoneNumber is required to cancel a STANDALONE line")
            active = self._service_orders(tn, status="COMPLETED")
            if not active:
                raise _Failure(f"No active DSL service on {tn}")
            service_id, username = active[-1].dsl_service_id, active[-1].username
            password = active[-1].password
        order = SimulatedOrder(
            order_id=order_id,
            order_type=order_type,
            status="NEW",
            product_ids=values["ProductCustomId"],
            phone_number=phone,
            virtual_phone_number=virtual,
            password=password,
            first_name=_single(values, "FirstName"),
            last_name=_single(values, "LastName"),
            company_name=_single(values, "CompanyName"),
            username=username,
            dsl_service_id=service_id,
            date_to_order=date_to_order,
            date_to_disconnect=date_to_order if order_type == "CANCEL" else None,
        )
        self.orders[order_id] = order
        return f"{order_type}ORDER", _order_response(order)

    def _orderstatus(self, values: dict[str, list[str]]) -> tuple[str, etree._Element]:
        return "ORDERSTATUS", _order_response(self._find_order(values["OrderId"][0]))

    def _cancel(self, values: dict[str, list[str]]) -> tuple[str, etree._Element]:
        order = self._find_order(values["OrderId"][0])
        if order.status not in ("NEW", "PENDING"):
            raise _Failure(f"Order {order.order_id} cannot be cancelled in status {order.status}")
        order.status = "CANCELLED"
        order.changed_at = time.monotonic()
        self._note(order, "Cancelled at the customer's request")
        return "ORDERCANCEL", _order_response(order)

    def _passwordchange(self, values: dict[str, list[str]]) -> tuple[str, etree._Element]:
        orders = self._service_orders(values["DSLPhoneNumber"][0])
        if not orders:
            raise _Failure(f"No DSL service on {values['DSLPhoneNumber'][0]}")
        for order in orders:
            order.password = values["NewPassword"][0]
        customer = _customer(orders[-1], "DSLServiceId", "PhoneNumber", "Username", "Password")
        return "PASSWORDCHANGE", _element("ChangePasswordResponse", customer)

    def _customerlookup(self, values: dict[str, list[str]]) -> tuple[str, etree._Element]:
        orders = self._service_orders(values["PhoneNumber"][0])
        if not orders:
            raise _Failure(f"Customer not found for {values['PhoneNumber'][0]}")
        customer = _customer(
            orders[-1],
            "DSLServiceId",
            # Our inference, not in any public source (which show only DSLServiceId): the
            # latest OrderId on the TN, so that an order whose answer was lost can be found;
            # ``lookup_shows_order_id = False`` plays an Ikano that does not show it.
            *(("OrderId",) if self.lookup_shows_order_id else ()),
            "PhoneNumber",
            "FirstName",
            "LastName",
            "CompanyName",
            "Username",
        )
        customer.append(_element("AccountStatus", text=self.services[orders[-1].dsl_service_id]))
        return "CUSTOMERLOOKUP", _element("CustomerLookupResponse", customer)

    def _accountstatuschange(self, values: dict[str, list[str]]) -> tuple[str, etree._Element]:
        service_id, tn = values["DSLServiceId"][0], values["DSLPhoneNumber"][0]
        orders = [order for order in self._service_orders(tn) if order.dsl_service_id == service_id]
        if not orders:
            raise _Failure(f"DSLServiceId {service_id} is not a service on {tn}")
        self.services[service_id] = "SUSPENDED" if values["type"][0] == "SUSPEND" else "ACTIVE"
        customer = _customer(orders[-1], "DSLServiceId", "PhoneNumber")
        customer.append(_element("AccountStatus", text=self.services[service_id]))
        return "ACCOUNTSTATUSCHANGE", _element("AccountStatusChangeResponse", customer)

    # helpers over the store

    def _check_offer(self, values: dict[str, list[str]]) -> None:
        prequal_id = _single(values, "PrequalId")
        offered = self.prequals.get(prequal_id)
        if offered is None:
            raise _Failure(f"Invalid PrequalId {prequal_id!r}")
        terms_id = _single(values, "TermsId")
        for product_id in values["ProductCustomId"]:
            if offered.get(product_id) != terms_id:
                raise _Failure(
                    f"ProductCustomId {product_id} with TermsId {terms_id} "
                    f"was not offered by prequal {prequal_id}"
                )

    def _find_order(self, order_id: str) -> SimulatedOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise _Failure(f"Order {order_id} not found")
        return order

    def _service_orders(self, tn: str, status: str | None = None) -> list[SimulatedOrder]:
        """Orders on a TN that were not cancelled, oldest first (none for an empty TN: a dry
        loop has none until Ikano assigns it one)."""
        if not tn:
            return []
        return [
            order
            for order in self.orders.values()
            if order.tn == tn
            and order.status != "CANCELLED"
            and (status is None or order.status == status)
        ]

    def _note(
        self, order: SimulatedOrder, text: str, by: str = "ikano", high_priority: bool = False
    ) -> None:
        now = datetime.now().replace(microsecond=0)
        order.notes.append(SimulatedNote(text, by, high_priority, now))


def _check_sequence(element: etree._Element, sequence: tuple[_Child, ...], path: str) -> None:
    children = list(element)
    position = 0
    for particle in sequence:
        seen = 0
        tag = f"{{{REQUEST_NAMESPACE}}}{particle.name}"
        while position < len(children) and children[position].tag == tag:
            child = children[position]
            if particle.children is None:
                if len(child):
                    raise _Failure(f"schema validation: {path}/{particle.name} holds text only")
            else:
                _check_sequence(child, particle.children, f"{path}/{particle.name}")
            seen += 1
            position += 1
        if seen < particle.min and position < len(children):
            found = etree.QName(children[position]).localname
            raise _Failure(
                f"schema validation: {path}/{found} is unknown or out of sequence; "
                f"expected {particle.name}"
            )
        if seen < particle.min:
            raise _Failure(f"schema validation: {path} lacks {particle.name}")
        if particle.max is not None and seen > particle.max:
            raise _Failure(f"schema validation: {path} has {particle.name} {seen} times")
    if position < len(children):
        unexpected = etree.QName(children[position]).localname
        raise _Failure(f"schema validation: {path}/{unexpected} is unknown or out of sequence")


def _single(values: dict[str, list[str]], name: str) -> str:
    return values.get(name, [""])[0]


def _element(name: str, *children: etree._Element, text: str | None = None) -> etree._Element:
    element = etree.Element(f"{{{RESPONSE_NAMESPACE}}}{name}")
    element.text = text
    element.extend(children)
    return element


def _texts(pairs: list[tuple[str, str]]) -> list[etree._Element]:
    return [_element(name, text=value) for name, value in pairs]


def _failure(message: str) -> etree._Element:
    return _element("FailureResponse", _element("FailureMessage", text=message))


def _customer(order: SimulatedOrder, *names: str) -> etree._Element:
    fields = {
        "DSLServiceId": order.dsl_service_id,
        "OrderId": order.order_id,
        "PhoneNumber": order.tn,
        "FirstName": order.first_name,
        "LastName": order.last_name,
        "CompanyName": order.company_name,
        "Username": order.username,
        "Password": order.password,
    }
    return _element("Customer", *_texts([(name, fields[name]) for name in names]))


def _iso(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def _order_response(order: SimulatedOrder) -> etree._Element:
    element = _element(
        "Order",
        *_texts(
            [
                ("OrderId", order.order_id),
                ("Status", order.status),
                ("FirstName", order.first_name),
                ("LastName", order.last_name),
                ("CompanyName", order.company_name),
                ("Username", order.username),
                ("Password", order.password),
            ]
        ),
    )
    element.set("type", order.order_type)
    for product_id in order.product_ids:
        product = [
            ("ProductCustomId", product_id),
            ("PhoneNumber", order.phone_number),
            ("VirtualPhoneNumber", order.virtual_phone_number),
            ("DateToOrder", _iso(order.date_to_order)),
            ("DateToDisconnect", _iso(order.date_to_disconnect)),
            ("ActivationDate", _iso(order.activation_date)),
        ]
        element.append(_element("Product", *_texts(product)))
    if order.static_ips:
        element.append(
            _element("StaticIps", *_texts([("StaticIp", ip) for ip in order.static_ips]))
        )
    for note in order.notes:
        staff_id, company_staff_id = _AUTHORS[note.by]
        fields = [
            ("HighPriority", "true" if note.high_priority else "false"),
            ("StaffId", staff_id),
            ("CompanyStaffId", company_staff_id),
            ("Date", note.date.isoformat()),
            ("Text", note.text),
        ]
        element.append(_element("OrderNotes", *_texts(fields)))
    return _element("OrderResponse", element)


def _duplicate_product(response: etree._Element) -> None:
    products = response.findall(f".//{{{RESPONSE_NAMESPACE}}}Product")
    if products:
        products[0].addnext(copy.deepcopy(products[0]))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    simulator: IkanoSimulator

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a slow answer has closed its socket; that is expected


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path != PATH:
            self._send(404, "text/plain", b"Not Found")
            return
        if self.headers.get_content_type() != "text/xml":
            self._send(415, "text/plain", b"Content-Type must be text/xml")
            return
        status, content_type, answer, wait = self.server.simulator.respond(body)
        if wait:
            self.server.simulator.wait(wait)
        self._send(status, content_type, answer)

    def do_GET(self) -> None:
        self._send(405, "text/plain", b"Method Not Allowed")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client timed out and went away

    def log_message(self, format: str, *args: object) -> None:
        pass
