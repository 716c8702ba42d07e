"""The Ikano Osiris client against the Ikano simulator over real HTTP: every command round-trips
into typed results, requests follow the schema's element order, each failure maps to the right
exception class (transient or permanent), and the debug log never shows a secret."""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
import requests
from lxml import etree

from ngnserver.vendors.ikano import (
    ADDRESS_SEQUENCE,
    ORDER_SEQUENCE,
    PREQUAL_SEQUENCE,
    Address,
    IkanoClient,
    IkanoError,
    IkanoFailure,
    IkanoOrderInvalid,
    IkanoProtocolError,
    IkanoTransientError,
    NewOrder,
    Order,
    PrequalResult,
)
from tests.support.ikano_simulator import RESPONSE_NAMESPACE, IkanoSimulator

NETWORKS = ["ATT", "ATTTAS", "VERTAS", "VER"]
ADDRESS = Address(line1="350 Fifth Avenue", city="New York", state="NY", zip_code="10001")
LINE = "2125557001"
LINE_PASSWORD = "ppp-Secret-line-1"
DUE = date(2031, 3, 14)
AUTH_FAILED = "Authentication failed: invalid keyid, username or password"


@pytest.fixture
def ikano() -> Iterator[IkanoSimulator]:
    with IkanoSimulator() as simulator:
        yield simulator


@pytest.fixture
def client(ikano: IkanoSimulator) -> IkanoClient:
    return _client(ikano)


def _client(ikano: IkanoSimulator, **options: object) -> IkanoClient:
    settings: dict[str, object] = {"url": ikano.url, "connect_timeout": 5.0, "read_timeout": 5.0}
    settings.update(options)
    return IkanoClient(ikano.keyid, ikano.password, **settings)  # type: ignore[arg-type]


def qualify(client: IkanoClient, **address: str) -> PrequalResult:
    return client.prequal(dataclasses.replace(ADDRESS, **address), None, "R", NETWORKS)


def new_order(prequal: PrequalResult, **changes: object) -> NewOrder:
    order = NewOrder(
        product_ids=["ATT-6M"],
        terms_id=prequal.offered()["ATT-6M"],
        prequal_id=prequal.prequal_id,
        dsl_phone_number=LINE,
        password=LINE_PASSWORD,
        first_name="Ada",
        last_name="Lovelace",
        company_name="Analytical Engines",
        date_to_order=DUE,
    )
    return dataclasses.replace(order, **changes)


def place(client: IkanoClient, **changes: object) -> Order:
    return client.order_new(new_order(qualify(client), **changes))


def completed_line(client: IkanoClient, ikano: IkanoSimulator, **changes: object) -> Order:
    order = place(client, **changes)
    ikano.advance(order.order_id)
    ikano.advance(order.order_id)
    return client.order_status(order.order_id)


def last_sent(ikano: IkanoSimulator, command: str) -> etree._Element:
    return [root for sent, root in ikano.requests if sent == command][-1]


def sent_text(root: etree._Element, name: str) -> str | None:
    found = root.xpath(f"//*[local-name()='{name}']")
    return (found[0].text or "") if found else None


def child_names(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def osiris_answer(response_type: str, content: str) -> str:
    return (
        f'<OsirisResponse xmlns="{RESPONSE_NAMESPACE}" responseid="1" version="1.0" '
        f'type="{response_type}">{content}</OsirisResponse>'
    )


# qualification


def test_prequal_returns_networks_product_groups_and_offers(client: IkanoClient) -> None:
    result = qualify(client)

    assert result.prequal_id
    assert result.qualified
    assert [network.name for network in result.networks] == ["ATT", "VER"]
    assert [group.terms_id for group in result.networks[0].product_groups] == ["36", "24"]
    assert result.networks[0].product_groups[0].product_ids == ["ATT-6M", "ATT-12M"]
    assert result.offered() == {"ATT-6M": "36", "ATT-12M": "36", "ATT-DRY-6M": "24", "VER-3M": "12"}


def test_prequal_asks_only_for_the_given_networks(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    result = client.prequal(ADDRESS, None, "B", ["VER"])

    assert [network.name for network in result.networks] == ["VER"]
    networks = last_sent(ikano, "PREQUAL").xpath("//*[local-name()='Network']")
    assert [network.text for network in networks] == ["VER"]
    assert sent_text(last_sent(ikano, "PREQUAL"), "LocationType") == "B"


def test_prequal_of_an_address_that_does_not_qualify_has_no_network(client: IkanoClient) -> None:
    result = qualify(client, zip_code="99501")

    assert result.prequal_id
    assert result.networks == []
    assert not result.qualified
    assert result.offered() == {}


@pytest.mark.parametrize("zip_code", ["10001-4321", "100014321", " 10001 "])
def test_prequal_cuts_a_us_zip_to_five_digits(
    client: IkanoClient, ikano: IkanoSimulator, zip_code: str
) -> None:
    result = qualify(client, zip_code=zip_code)

    assert sent_text(last_sent(ikano, "PREQUAL"), "ZipCode") == "10001"
    assert result.qualified


def test_prequal_keeps_a_canadian_postal_code(client: IkanoClient, ikano: IkanoSimulator) -> None:
    result = client.prequal(
        Address("123 Test Rd", "Toronto", "ON", "M6C 2J9", country="CA"), None, "R", ["BELLCA"]
    )

    assert sent_text(last_sent(ikano, "PREQUAL"), "ZipCode") == "M6C 2J9"
    assert result.offered() == {"BELL-5M": "12"}


UNIT_TYPES_SENT = [
    ("STE", "SUIT"),
    ("ste", "SUIT"),
    ("SUIT", "SUIT"),
    ("Suite", "SUIT"),
    ("apt", "APT"),
    ("", ""),
]


@pytest.mark.parametrize(("given", "sent"), UNIT_TYPES_SENT)
def test_prequal_sends_ikano_unit_types_reading_ste_as_suit(
    client: IkanoClient, ikano: IkanoSimulator, given: str, sent: str
) -> None:
    qualify(client, unit_type=given, unit_value="4B")

    request = last_sent(ikano, "PREQUAL")
    assert sent_text(request, "AddressUnitType") == sent
    assert sent_text(request, "AddressUnitValue") == "4B"


def test_prequal_refuses_an_unknown_unit_type(client: IkanoClient, ikano: IkanoSimulator) -> None:
    with pytest.raises(ValueError, match="unit type"):
        qualify(client, unit_type="PENTHOUSE")
    assert ikano.count("PREQUAL") == 0


def test_prequal_refuses_a_location_type_other_than_r_or_b(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    with pytest.raises(ValueError, match="R or B"):
        client.prequal(ADDRESS, None, "X", NETWORKS)  # type: ignore[arg-type]
    assert ikano.count("PREQUAL") == 0


def test_prequal_refuses_an_empty_list_of_networks(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    with pytest.raises(ValueError, match="at least one network"):
        client.prequal(ADDRESS, None, "R", [])
    assert ikano.count("PREQUAL") == 0


def test_prequal_without_a_phone_number_qualifies_standalone(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    qualify(client)

    assert sent_text(last_sent(ikano, "PREQUAL"), "PhoneNumber") == "STANDALONE"


def test_prequal_with_a_phone_number_qualifies_that_line(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    result = client.prequal(ADDRESS, "2125550100", "R", NETWORKS)

    assert sent_text(last_sent(ikano, "PREQUAL"), "PhoneNumber") == "2125550100"
    assert result.offered() == {"VERTAS-7M": "12"}


def test_prequal_request_follows_the_schema_sequence(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    qualify(client, unit_type="APT", unit_value="2")

    root = last_sent(ikano, "PREQUAL")
    assert etree.QName(root).namespace.endswith("/osirisrequest.xsd")
    assert dict(root.attrib) == {
        "type": "PREQUAL",
        "keyid": ikano.keyid,
        "username": "admin",
        "password": ikano.password,
        "version": "1.0",
    }
    (prequal,) = root
    assert child_names(prequal) == list(PREQUAL_SEQUENCE)
    assert child_names(prequal[0]) == list(ADDRESS_SEQUENCE)


# ordering


def test_new_order_round_trips_as_a_typed_order(client: IkanoClient, ikano: IkanoSimulator) -> None:
    order = place(client)

    assert order.order_id in ikano.orders
    assert (order.status, order.order_type) == ("NEW", "NEW")
    assert (order.first_name, order.last_name) == ("Ada", "Lovelace")
    assert order.company_name == "Analytical Engines"
    assert order.username
    assert order.password == LINE_PASSWORD
    assert order.phone_number == LINE
    assert order.virtual_phone_number == ""
    assert (order.date_to_order, order.date_to_disconnect, order.activation_date) == (
        DUE,
        None,
        None,
    )
    assert order.static_ips == []
    assert order.notes == []


def test_new_order_request_follows_the_schema_sequence(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    place(client)

    (order,) = last_sent(ikano, "ORDER")
    assert order.get("type") == "NEW"
    assert child_names(order) == [name for name in ORDER_SEQUENCE if name != "VirtualPhoneNumber"]
    assert sent_text(order, "DateToOrder") == "2031-03-14"
    assert sent_text(order, "ContactMethod") == "PHONE"
    assert sent_text(order, "ContactEmail") == "x@x.xx"
    assert sent_text(order, "MiddleName") == ""


def test_dry_loop_is_ordered_standalone_and_gets_its_number_when_pending(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    order = place(client, dsl_phone_number=None)

    assert sent_text(last_sent(ikano, "ORDER"), "DSLPhoneNumber") == "STANDALONE"
    assert (order.phone_number, order.virtual_phone_number) == ("STANDALONE", "")
    ikano.advance(order.order_id)
    pending = client.order_status(order.order_id)
    assert pending.phone_number == "STANDALONE"
    assert pending.virtual_phone_number.isdigit()


@pytest.mark.parametrize(
    ("isp_change", "sent"),
    [(True, ("YES", "OldNet", "")), (False, ("NO", "", "OldNet"))],
)
def test_previous_isp_goes_to_isp_previous_on_a_change_else_to_current_provider(
    client: IkanoClient, ikano: IkanoSimulator, isp_change: bool, sent: tuple[str, str, str]
) -> None:
    place(client, isp_change=isp_change, previous_isp="OldNet")

    order = last_sent(ikano, "ORDER")
    fields = ("IspChange", "IspPrevious", "CurrentProvider")
    assert tuple(sent_text(order, name) for name in fields) == sent


@pytest.mark.parametrize(("given", "sent"), [("(212) 555-0199", "2125550199"), ("", "5555555555")])
def test_contact_phone_is_sent_as_digits(
    client: IkanoClient, ikano: IkanoSimulator, given: str, sent: str
) -> None:
    place(client, contact_phone_number=given)

    assert sent_text(last_sent(ikano, "ORDER"), "ContactPhoneNumber") == sent


@pytest.mark.parametrize("product_ids", [[], ["ATT-6M", "ATT-12M"], [""]])
def test_order_without_exactly_one_product_is_refused_before_sending(
    client: IkanoClient, ikano: IkanoSimulator, product_ids: list[str]
) -> None:
    with pytest.raises(IkanoOrderInvalid, match="exactly one product"):
        place(client, product_ids=product_ids)
    assert ikano.count("ORDER") == 0


def test_order_without_a_name_is_refused_before_sending(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    with pytest.raises(IkanoOrderInvalid, match="first and a last name"):
        place(client, last_name="")
    assert ikano.count("ORDER") == 0


def test_order_for_terms_the_qualification_did_not_offer_is_a_failure(
    client: IkanoClient,
) -> None:
    with pytest.raises(IkanoFailure, match="was not offered") as raised:
        place(client, terms_id="24")
    assert not isinstance(raised.value, IkanoTransientError)


# order status


def test_order_status_follows_the_order_from_new_to_completed(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    order = place(client)
    assert client.order_status(order.order_id).status == "NEW"

    assert ikano.advance(order.order_id) == "PENDING"
    pending = client.order_status(order.order_id)
    assert pending.status == "PENDING"
    assert pending.activation_date == DUE
    assert [(note.author, note.text) for note in pending.notes] == [
        ("ikano", "Order accepted by the carrier")
    ]

    assert ikano.advance(order.order_id) == "COMPLETED"
    completed = client.order_status(order.order_id)
    assert completed.status == "COMPLETED"
    assert len(completed.notes) == 2


def test_order_status_reads_static_ips_and_notes_with_their_authors(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    order = place(client)
    ikano.assign_static_ips(order.order_id, ["192.0.2.10", "192.0.2.11"])
    ikano.add_note(order.order_id, "Tech visit booked", by="ikano", high_priority=True)
    ikano.add_note(order.order_id, "Customer asked for mornings", by="us")
    ikano.add_note(order.order_id, "Imported", by="unknown")

    status = client.order_status(order.order_id)

    assert status.static_ips == ["192.0.2.10", "192.0.2.11"]
    notes = [(n.author, n.high_priority, n.text) for n in status.notes]
    assert notes == [
        ("ikano", True, "Tech visit booked"),
        ("us", False, "Customer asked for mornings"),
        ("unknown", False, "Imported"),
    ]
    assert (status.notes[0].staff_id, status.notes[0].company_staff_id) == (17, -1)
    assert status.notes[0].date.year >= 2024


def test_orders_advance_on_the_simulator_clock() -> None:
    with IkanoSimulator(auto_advance_seconds=0.05) as ikano:
        client = _client(ikano)
        order = place(client)
        deadline = time.monotonic() + 10
        status = client.order_status(order.order_id)
        while status.status != "COMPLETED" and time.monotonic() < deadline:
            time.sleep(0.05)
            status = client.order_status(order.order_id)

    assert status.status == "COMPLETED"
    assert status.activation_date == DUE


def test_order_status_of_an_unknown_order_is_a_failure(client: IkanoClient) -> None:
    with pytest.raises(IkanoFailure) as raised:
        client.order_status("424242")
    assert raised.value.message == "Order 424242 not found"


# cancel and future disconnect


@pytest.mark.parametrize("steps", [0, 1])
def test_cancel_of_a_new_or_pending_order(
    client: IkanoClient, ikano: IkanoSimulator, steps: int
) -> None:
    order = place(client)
    for _ in range(steps):
        ikano.advance(order.order_id)

    cancelled = client.cancel(order.order_id)

    assert (cancelled.order_id, cancelled.status) == (order.order_id, "CANCELLED")
    assert ikano.orders[order.order_id].status == "CANCELLED"


def test_cancel_of_a_completed_order_is_a_failure(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    order = completed_line(client, ikano)

    with pytest.raises(IkanoFailure, match="cannot be cancelled in status COMPLETED"):
        client.cancel(order.order_id)


@pytest.mark.parametrize(("order_id", "status"), [("999", "CANCELLED"), ("100001", "PENDING")])
def test_cancel_answered_with_another_order_or_status_is_refused(
    client: IkanoClient, ikano: IkanoSimulator, order_id: str, status: str
) -> None:
    answer = osiris_answer(
        "ORDERCANCEL",
        f"<OrderResponse><Order><OrderId>{order_id}</OrderId><Status>{status}</Status>"
        "</Order></OrderResponse>",
    )
    ikano.fail_next(f"body:{answer}")

    with pytest.raises(IkanoOrderInvalid, match="cancelling order 100001"):
        client.cancel("100001")


def test_future_cancel_of_a_completed_line_is_a_new_cancel_order(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    line = completed_line(client, ikano)
    prequal_id = sent_text(last_sent(ikano, "ORDER"), "PrequalId") or ""

    cancel = client.order_future_cancel(
        product_ids=["ATT-6M"],
        terms_id="36",
        prequal_id=prequal_id,
        dsl_phone_number=LINE,
        virtual_phone_number=None,
        date_to_order=date(2031, 12, 31),
        password=LINE_PASSWORD,
        first_name="Ada",
        last_name="Lovelace",
        contact_phone_number="212-555-0199",
    )

    assert cancel.order_id != line.order_id
    assert (cancel.order_type, cancel.status) == ("CANCEL", "NEW")
    assert cancel.date_to_disconnect == date(2031, 12, 31)
    (order,) = last_sent(ikano, "ORDER")
    assert order.get("type") == "CANCEL"
    assert child_names(order) == [name for name in ORDER_SEQUENCE if name != "VirtualPhoneNumber"]
    assert sent_text(order, "OrderId") is None
    assert sent_text(order, "ContactPhoneNumber") == "2125550199"


def test_future_cancel_of_a_dry_loop_names_its_virtual_number(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    line = completed_line(client, ikano, dsl_phone_number=None)

    cancel = client.order_future_cancel(
        product_ids=["ATT-6M"],
        terms_id="36",
        prequal_id="",
        dsl_phone_number=None,
        virtual_phone_number=line.virtual_phone_number,
        date_to_order=date(2031, 12, 31),
        password=LINE_PASSWORD,
        first_name="Ada",
        last_name="Lovelace",
    )

    order = last_sent(ikano, "ORDER")
    assert sent_text(order, "DSLPhoneNumber") == "STANDALONE"
    assert sent_text(order, "VirtualPhoneNumber") == line.virtual_phone_number
    assert child_names(order[0]) == list(ORDER_SEQUENCE)
    assert cancel.order_type == "CANCEL"


def test_future_cancel_of_a_dry_loop_without_its_number_is_refused_before_sending(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    with pytest.raises(IkanoOrderInvalid, match="virtual phone number"):
        client.order_future_cancel(
            product_ids=["ATT-6M"],
            terms_id="36",
            prequal_id="",
            dsl_phone_number=None,
            virtual_phone_number=None,
            date_to_order=date(2031, 12, 31),
            password=LINE_PASSWORD,
            first_name="Ada",
            last_name="Lovelace",
        )
    assert ikano.count("ORDER") == 0


def test_future_cancel_of_a_line_not_yet_completed_is_a_failure(client: IkanoClient) -> None:
    place(client)

    with pytest.raises(IkanoFailure, match=f"No active DSL service on {LINE}"):
        client.order_future_cancel(
            product_ids=["ATT-6M"],
            terms_id="36",
            prequal_id="",
            dsl_phone_number=LINE,
            virtual_phone_number=None,
            date_to_order=date(2031, 12, 31),
            password=LINE_PASSWORD,
            first_name="Ada",
            last_name="Lovelace",
        )


# password, lookup, suspend


def test_password_change_changes_the_line_password(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    order = completed_line(client, ikano)

    client.password_change(LINE, "ppp-Secret-line-2")

    assert ikano.orders[order.order_id].password == "ppp-Secret-line-2"
    change = last_sent(ikano, "PASSWORDCHANGE")
    assert child_names(change[0]) == ["DSLPhoneNumber", "NewPassword"]


def test_password_change_that_ikano_does_not_confirm_is_refused(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    answer = osiris_answer(
        "PASSWORDCHANGE",
        "<ChangePasswordResponse><Customer><Password>old</Password></Customer>"
        "</ChangePasswordResponse>",
    )
    ikano.fail_next(f"body:{answer}")

    with pytest.raises(IkanoOrderInvalid, match="did not confirm"):
        client.password_change(LINE, "ppp-Secret-line-2")


def test_password_change_of_an_unknown_line_is_a_failure(client: IkanoClient) -> None:
    with pytest.raises(IkanoFailure, match="No DSL service on 2125550000"):
        client.password_change("2125550000", "whatever-1")


def test_customer_lookup_returns_the_service_id_and_latest_order(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    order = completed_line(client, ikano)

    customer = client.customer_lookup(LINE)

    assert customer.dsl_service_id == ikano.orders[order.order_id].dsl_service_id
    assert customer.order_id == order.order_id
    assert customer.fields["PhoneNumber"] == LINE
    assert customer.fields["AccountStatus"] == "ACTIVE"


def test_customer_lookup_without_an_order_id_gives_none(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    answer = osiris_answer(
        "CUSTOMERLOOKUP",
        "<CustomerLookupResponse><Customer><DSLServiceId>7</DSLServiceId></Customer>"
        "</CustomerLookupResponse>",
    )
    ikano.fail_next(f"body:{answer}")

    customer = client.customer_lookup(LINE)

    assert (customer.dsl_service_id, customer.order_id) == ("7", None)


def test_customer_lookup_of_an_unknown_line_is_a_failure(client: IkanoClient) -> None:
    with pytest.raises(IkanoFailure, match="Customer not found"):
        client.customer_lookup("2125550000")


def test_suspend_and_unsuspend_are_recorded(client: IkanoClient, ikano: IkanoSimulator) -> None:
    completed_line(client, ikano)
    service_id = client.customer_lookup(LINE).dsl_service_id

    client.account_status_change("SUSPEND", service_id, LINE)
    assert ikano.services[service_id] == "SUSPENDED"
    change = last_sent(ikano, "ACCOUNTSTATUSCHANGE")[0]
    assert change.get("type") == "SUSPEND"
    assert child_names(change) == ["DSLServiceId", "DSLPhoneNumber"]

    client.account_status_change("UNSUSPEND", service_id, LINE)
    assert ikano.services[service_id] == "ACTIVE"


def test_account_status_change_of_another_lines_service_is_a_failure(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    completed_line(client, ikano)

    with pytest.raises(IkanoFailure, match="is not a service on"):
        client.account_status_change("SUSPEND", "1", LINE)


def test_account_status_change_refuses_an_unknown_action(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    with pytest.raises(ValueError, match="SUSPEND or UNSUSPEND"):
        client.account_status_change("TERMINATE", "1", LINE)  # type: ignore[arg-type]
    assert ikano.count("ACCOUNTSTATUSCHANGE") == 0


# failures and transport


EMPTY_ORDERSTATUS = "<OsirisResponse responseid='1' version='1.0' type='ORDERSTATUS'/>"


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        ("http500", IkanoTransientError, "invalid HTTP response from Ikano: 500"),
        ("no_responseid", IkanoProtocolError, "no responseid"),
        (
            "wrong_type",
            IkanoProtocolError,
            "invalid response type PREQUAL for request type ORDERST",
        ),
        ("not_xml", IkanoProtocolError, "not an XML document"),
        (f"body:{EMPTY_ORDERSTATUS}", IkanoProtocolError, "no OrderResponse"),
        ("two_products", IkanoOrderInvalid, "has 2 products, not exactly one"),
        ("failure:Line is under maintenance", IkanoFailure, "Line is under maintenance"),
    ],
)
def test_each_failure_kind_maps_to_its_exception(
    client: IkanoClient, ikano: IkanoSimulator, kind: str, error: type[IkanoError], message: str
) -> None:
    order = place(client)
    ikano.fail_next(kind)

    with pytest.raises(error, match=message) as raised:
        client.order_status(order.order_id)

    permanent = (IkanoOrderInvalid, IkanoFailure)
    assert isinstance(raised.value, IkanoTransientError) != issubclass(error, permanent)
    assert client.order_status(order.order_id).order_id == order.order_id  # the knob is spent


def test_order_status_without_a_product_is_refused(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    answer = osiris_answer(
        "ORDERSTATUS",
        "<OrderResponse><Order><OrderId>1</OrderId><Status>NEW</Status></Order></OrderResponse>",
    )
    ikano.fail_next(f"body:{answer}")

    with pytest.raises(IkanoOrderInvalid, match="has 0 products"):
        client.order_status("1")


NOTE = (
    "<OrderNotes><HighPriority>false</HighPriority><StaffId>{staff}</StaffId>"
    "<CompanyStaffId>-1</CompanyStaffId><Date>2031-01-01T10:00:00</Date><Text>t</Text></OrderNotes>"
)


@pytest.mark.parametrize(
    ("status", "activation", "staff", "message"),
    [
        ("SHIPPED", "", "17", "has status SHIPPED"),
        ("PENDING", "soon", "17", "ActivationDate 'soon' is not a date"),
        ("PENDING", "2031-01-01", "nobody", "StaffId 'nobody' is not a number"),
    ],
)
def test_order_answer_with_an_invalid_field_is_a_protocol_error(
    client: IkanoClient,
    ikano: IkanoSimulator,
    status: str,
    activation: str,
    staff: str,
    message: str,
) -> None:
    answer = osiris_answer(
        "ORDERSTATUS",
        f"<OrderResponse><Order><OrderId>1</OrderId><Status>{status}</Status>"
        f"<Product><PhoneNumber>{LINE}</PhoneNumber><ActivationDate>{activation}</ActivationDate>"
        f"</Product>{NOTE.format(staff=staff)}</Order></OrderResponse>",
    )
    ikano.fail_next(f"body:{answer}")

    with pytest.raises(IkanoProtocolError, match=message):
        client.order_status("1")


def test_two_products_on_a_new_order_answer_are_refused(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    prequal = qualify(client)
    ikano.fail_next("two_products")

    with pytest.raises(IkanoOrderInvalid, match="2 products"):
        client.order_new(new_order(prequal))


def test_failure_message_is_kept_on_the_exception(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    ikano.fail_next("failure:Invalid PrequalId 'x'", command="PREQUAL")

    with pytest.raises(IkanoFailure) as raised:
        qualify(client)

    assert raised.value.message == "Invalid PrequalId 'x'"
    assert str(raised.value) == "FAILURE response received from Ikano: Invalid PrequalId 'x'"


def test_a_knob_for_one_command_leaves_the_others_alone(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    ikano.fail_next("http500", command="ORDERSTATUS")
    order = place(client)

    with pytest.raises(IkanoTransientError):
        client.order_status(order.order_id)


def test_a_knob_lasts_for_the_given_number_of_requests(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    ikano.fail_next("http500", times=2)

    for _ in range(2):
        with pytest.raises(IkanoTransientError):
            qualify(client)
    assert qualify(client).qualified


def test_a_timeout_honours_the_read_timeout_and_the_order_may_exist(ikano: IkanoSimulator) -> None:
    client = _client(ikano, read_timeout=0.3)
    prequal = qualify(client)
    ikano.fail_next("timeout", command="ORDER")

    started = time.monotonic()
    with pytest.raises(IkanoTransientError, match="no answer"):
        client.order_new(new_order(prequal))

    assert time.monotonic() - started < ikano.timeout_sleep / 2
    # Ikano processed the order before the answer was lost: a retry must look it up first.
    assert [order.phone_number for order in ikano.orders.values()] == [LINE]


def test_a_slow_answer_within_the_read_timeout_succeeds(ikano: IkanoSimulator) -> None:
    ikano.delay(0.3)
    client = _client(ikano, read_timeout=10.0)

    assert qualify(client).qualified


def test_a_delay_beyond_the_read_timeout_is_transient(ikano: IkanoSimulator) -> None:
    ikano.delay(5.0, command="PREQUAL")
    client = _client(ikano, read_timeout=0.3)

    with pytest.raises(IkanoTransientError):
        qualify(client)
    with pytest.raises(IkanoFailure):
        client.order_status("1")  # other commands are not delayed


def test_a_refused_connection_is_transient() -> None:
    with IkanoSimulator() as ikano:
        url = ikano.url
    client = IkanoClient("k", "p", url=url, connect_timeout=2.0, read_timeout=2.0)

    with pytest.raises(IkanoTransientError, match="no answer"):
        client.order_status("1")


def test_an_http_error_status_is_transient_and_names_the_status_line(ikano: IkanoSimulator) -> None:
    client = _client(ikano, url=ikano.url.replace("XmlApi.aspx", "Missing.aspx"))

    with pytest.raises(
        IkanoTransientError, match="invalid HTTP response from Ikano: 404 Not Found"
    ):
        client.order_status("1")


def test_a_malformed_url_is_a_permanent_client_error() -> None:
    client = IkanoClient("k", "p", url="no-scheme/OsirisWebService/XmlApi.aspx")

    with pytest.raises(IkanoError, match="cannot send the request") as raised:
        client.order_status("1")
    assert not isinstance(raised.value, IkanoTransientError)


def test_a_response_with_a_doctype_is_refused(client: IkanoClient, ikano: IkanoSimulator) -> None:
    answer = (
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        + osiris_answer("ORDERSTATUS", "<OrderResponse>&b;</OrderResponse>")
    )
    ikano.fail_next(f"body:{answer}")

    with pytest.raises(IkanoProtocolError, match="not an XML document"):
        client.order_status("1")


@pytest.mark.parametrize("wrong", ["keyid", "username", "password"])
def test_bad_credentials_are_a_failure_with_the_vendor_message(
    ikano: IkanoSimulator, wrong: str
) -> None:
    credentials = {"keyid": ikano.keyid, "username": ikano.username, "password": ikano.password}
    credentials[wrong] = "wrong"
    client = IkanoClient(
        credentials["keyid"],
        credentials["password"],
        username=credentials["username"],
        url=ikano.url,
    )

    with pytest.raises(IkanoFailure) as raised:
        qualify(client)

    assert raised.value.message == AUTH_FAILED
    assert not isinstance(raised.value, IkanoTransientError)


def test_the_simulator_refuses_requests_out_of_schema_order(
    client: IkanoClient, ikano: IkanoSimulator
) -> None:
    """The harness itself: a client regression in element order would be caught."""
    place(client)
    accepted = last_sent(ikano, "ORDER")
    swapped = copy.deepcopy(accepted)
    order = swapped[0]
    order.insert(0, order[1])  # DSLPhoneNumber before ProductCustomId
    missing = copy.deepcopy(accepted)
    missing[0].remove(missing[0][1])  # no DSLPhoneNumber

    for request, expected in [(swapped, "out of sequence"), (missing, "expected DSLPhoneNumber")]:
        reply = requests.post(
            ikano.url, data=etree.tostring(request), headers={"Content-Type": "text/xml"}, timeout=5
        )
        root = etree.fromstring(reply.content)
        assert (reply.status_code, root.get("type")) == (200, "FAILURE")
        message = root.xpath("string(//*[local-name()='FailureMessage'])")
        assert message.startswith("schema validation: ")
        assert expected in message


def test_debug_log_never_shows_credentials_or_passwords(ikano: IkanoSimulator) -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger(f"tests.ikano.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(Collect())
    client = _client(ikano, debug_log=logger)

    line = completed_line(client, ikano)
    client.password_change(LINE, "ppp-Secret-line-2")
    service_id = client.customer_lookup(LINE).dsl_service_id
    client.account_status_change("SUSPEND", service_id, LINE)
    with pytest.raises(IkanoFailure):
        client.cancel(line.order_id)
    ikano.fail_next("http500")
    with pytest.raises(IkanoTransientError):
        client.order_status(line.order_id)

    log = "\n".join(records)
    assert "<OsirisRequest" in log and "<OsirisResponse" in log
    assert 'keyid="***"' in log and 'password="***"' in log
    assert "<Password>***</Password>" in log and "<NewPassword>***</NewPassword>" in log
    for secret in (ikano.keyid, ikano.password, LINE_PASSWORD, "ppp-Secret-line-2"):
        assert secret not in log
