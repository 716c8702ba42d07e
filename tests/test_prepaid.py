"""Prepaid SIP accounts over real HTTP on both backends: CDRTool's captured credit-tab
requests replayed, balances in exact decimals, the history of every change, the
prepaid_changes right, scope, vouchers used once (also by 20 concurrent redemptions against
gunicorn's worker processes), concurrent balance changes that lose nothing, and
``ngnserver vouchers create``."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from ngnserver.cli import main
from ngnserver.models.prepaid import PrepaidVoucher
from tests.support.gunicorn import Deployment
from tests.support.wire import Client, SoapFault, all_at_once, read_response, replay
from tests.test_customer_captures import seed_reseller_seven

SIP = ("SipId", {"username": "1001", "domain": "example.com"})
CAPTURED_CARD = (1, "0363906773448214")  # the card the capture redeems


def prop(name: str, value: str = "1") -> dict:
    return {"name": name, "value": value, "category": "sip", "permission": "admin"}


def account(client: Client, username: str, domain: str, prepaid: bool = True) -> None:
    client.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": username, "domain": domain}, "prepaid": prepaid}))


@pytest.fixture
def seven(server):
    """Reseller 7 (alice/pw, the captures' caller, with prepaid_changes) and its domain
    example.com with prepaid account 1001; reseller 8 (bob/pw, no rights) with bob.example
    and prepaid 2001; customer 9 (carol/c) of reseller 7 with carol.example and prepaid 3001."""
    seed_reseller_seven(server)
    admin = server.admin()
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "bob", "password": "pw", "resellerActive": True}))
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "carol", "password": "c", "reseller": 7}))
    credit = {"name": "sip_credit", "value": "10", "category": "credit", "permission": "admin"}
    admin.call("Customer", "setProperties", customer=7, properties=[prop("prepaid_changes"), credit])
    admin.call("Customer", "setProperties", customer=8, properties=[credit])
    for domain, customer in (("example.com", 7), ("bob.example", 8), ("carol.example", 9)):
        admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": domain, "customer": customer}))
    account(admin, "1001", "example.com")
    account(admin, "1002", "example.com", prepaid=False)
    account(admin, "2001", "bob.example")
    account(admin, "3001", "carol.example")
    return server


def alice(server) -> Client:
    return server.login("alice", "pw")


def sip_id(username: str, domain: str) -> tuple[str, dict]:
    return ("SipId", {"username": username, "domain": domain})


def sip_ids(*ids: tuple[str, dict]) -> list[dict]:
    """SipIds as items of a SipIdArray (an array's items carry no type of their own)."""
    return [i[1] for i in ids]


def refused(code: int, client: Client, operation: str, **params) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call("Sip", operation, **params)
    assert info.value.errorcode == code, info.value
    return info.value


def balance(client: Client, username: str = "1001", domain: str = "example.com") -> float:
    return client.call("Sip", "getPrepaidStatus", sipIds=sip_ids(sip_id(username, domain)))[0]["balance"]


def add(client: Client, value: float, username: str = "1001", domain: str = "example.com", description: str = "") -> dict:
    return client.call("Sip", "addBalance", sipId=sip_id(username, domain), value=value, description=description)


def voucher(server, reseller: int, number: str, value_units: int = 250_000) -> None:
    """A voucher with a known number, as `vouchers create` stores one (only its digest)."""
    with server.database.engine.begin() as conn:
        conn.execute(insert(PrepaidVoucher), {"reseller": reseller, "number_digest": server.app.sealer.digest(number),
                                              "value_units": value_units, "created_by": "test"})  # fmt: skip


def stored(server, sql: str) -> list[tuple]:
    with server.database.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def ok(server, name: str, operation: str):
    return read_response(replay(server.url, name), "Sip", operation).value


# -- CDRTool's credit tab, replayed byte for byte ----------------------------------------------


def test_captured_credit_tab_requests_read_add_refund_redeem_and_list(seven):
    voucher(seven, 7, CAPTURED_CARD[1])
    status = ok(seven, "sip-getPrepaidStatus", "getPrepaidStatus")
    assert [(s["id"], s["balance"]) for s in status] == [({"username": "1001", "domain": "example.com"}, 0.0)]
    assert ok(seven, "sip-addBalance", "addBalance") == {"old_balance": 0.0, "new_balance": 10.5}
    assert ok(seven, "sip-addBalance-refund", "addBalance") == {"old_balance": 10.5, "new_balance": 8.25}
    assert ok(seven, "sip-addBalanceFromVoucher", "addBalanceFromVoucher") == {"old_balance": 8.25, "new_balance": 33.25}
    entries = ok(seven, "sip-getCreditHistory", "getCreditHistory")["entries"]
    assert [(e["action"], e["description"], e["value"], e["balance"], e["voucher"]) for e in entries] == [
        ("Add balance", "Prepaid card 1", 25.0, 33.25, 1),
        ("Debit balance", "Refund 9XK2 with 7HH1", -2.25, 8.25, 0),
        ("Add balance", "Bank transfer 2024-001", 10.5, 10.5, 0),
    ]  # newest first, as CDRTool's daily summary reads them
    assert all(len(e["date"]) == 19 for e in entries)
    response = read_response(replay(seven.url, "sip-getCreditHistory"), "Sip", "getCreditHistory")
    assert re.search(rb'SOAP-ENC:arrayType="\w+:CreditHistoryEntry\[3\]"', response.http.body)


def test_the_captured_voucher_redeems_once(seven):
    voucher(seven, 7, CAPTURED_CARD[1])
    ok(seven, "sip-addBalanceFromVoucher", "addBalanceFromVoucher")
    with pytest.raises(SoapFault) as info:
        read_response(replay(seven.url, "sip-addBalanceFromVoucher"))
    assert info.value.errorcode == 1162 and "already used" in info.value.errorstring
    assert balance(seven.admin()) == 25.0


# -- balances ------------------------------------------------------------------------------------


def test_balance_arithmetic_is_exact_to_four_decimals(seven):
    admin = seven.admin()
    for _ in range(10):
        add(admin, 0.1)
    add(admin, 0.0003)
    assert balance(admin) == 1.0003
    assert add(admin, -1.0003) == {"old_balance": 1.0003, "new_balance": 0.0}
    rows = stored(seven, "SELECT balance_units FROM prepaid_balances")
    assert rows == [(0,)]


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [(0.0, 2006, "other than 0"), (1.00001, 2006, "more than 4 decimals"), (2e9, 2006, "beyond"), (None, 2007, "required")],
)
def test_bad_amounts_are_refused_with_a_sentence(seven, value, code, words):
    fault = refused(code, seven.admin(), "addBalance", sipId=SIP, value=value, description="x")
    assert words in fault.errorstring
    assert balance(seven.admin()) == 0.0


def test_a_balance_never_goes_below_zero_nor_above_its_maximum(seven):
    admin = seven.admin()
    add(admin, 5)
    fault = refused(1152, admin, "addBalance", sipId=SIP, value=-5.0001, description="")
    assert "balance of 1001@example.com is 5.0000" in fault.errorstring
    add(admin, 999_999_995)
    refused(1153, admin, "addBalance", sipId=SIP, value=0.0001, description="")
    assert balance(admin) == 1_000_000_000.0
    assert len(admin.call("Sip", "getCreditHistory", sipId=SIP, count=10)["entries"]) == 2  # refusals leave no entry


def test_only_prepaid_accounts_have_a_balance(seven):
    admin = seven.admin()
    for op, params in (("getPrepaidStatus", {"sipIds": sip_ids(sip_id("1002", "example.com"))}),
                       ("addBalance", {"sipId": sip_id("1002", "example.com"), "value": 1.0, "description": ""})):  # fmt: skip
        assert "not prepaid" in refused(1151, admin, op, **params).errorstring
    refused(1012, admin, "getPrepaidStatus", sipIds=sip_ids(SIP, sip_id("nobody", "example.com")))
    assert admin.call("Sip", "getPrepaidStatus", sipIds=[]) == []


def test_statuses_answer_in_the_order_asked(seven):
    admin = seven.admin()
    add(admin, 3, "2001", "bob.example")
    ids = sip_ids(sip_id("2001", "bob.example"), SIP, sip_id("3001", "carol.example"))
    assert [(s["id"]["username"], s["balance"]) for s in admin.call("Sip", "getPrepaidStatus", sipIds=ids)] == [
        ("2001", 3.0), ("1001", 0.0), ("3001", 0.0),
    ]  # fmt: skip


def test_history_records_who_when_how_much_and_why(seven):
    add(alice(seven), 7.5, description="")
    entry = seven.admin().call("Sip", "getCreditHistory", sipId=SIP, count=200)["entries"][0]
    assert (entry["action"], entry["description"], entry["value"], entry["balance"]) == ("Add balance", "Added by alice", 7.5, 7.5)
    assert stored(seven, "SELECT login, acting_as, voucher_id FROM prepaid_history") == [("alice", 7, None)]
    refused(2008, seven.admin(), "getCreditHistory", sipId=SIP, count=-1)


def test_a_deleted_account_takes_its_balance_and_history(seven):
    admin = seven.admin()
    add(admin, 2)
    admin.call("Sip", "deleteAccount", sipId=SIP)
    account(admin, "1001", "example.com")
    assert balance(admin) == 0.0
    assert admin.call("Sip", "getCreditHistory", sipId=SIP, count=5)["entries"] == []


# -- rights and scope --------------------------------------------------------------------------


def test_a_reseller_without_prepaid_changes_adds_only_through_vouchers(seven):
    bob = seven.login("bob", "pw")
    fault = refused(1041, bob, "addBalance", sipId=sip_id("2001", "bob.example"), value=1.0, description="")
    assert "prepaid_changes" in fault.errorstring
    voucher(seven, 8, "1111222233334444")
    assert bob.call("Sip", "addBalanceFromVoucher", sipId=sip_id("2001", "bob.example"),
                    card=("PrepaidCard", {"id": 1, "number": "1111 2222 3333 4444"}))["new_balance"] == 25.0  # fmt: skip


def test_a_customer_adds_balance_only_with_its_own_right_and_its_resellers(seven):
    carol = seven.login("carol", "c")
    target = sip_id("3001", "carol.example")
    assert "Customer 9" in refused(1041, carol, "addBalance", sipId=target, value=1.0, description="").errorstring
    seven.admin().call("Customer", "setProperties", customer=9, properties=[prop("prepaid_changes")])
    assert carol.call("Sip", "addBalance", sipId=target, value=1.0, description="")["new_balance"] == 1.0
    seven.admin().call("Customer", "setProperties", customer=7, properties=[prop("prepaid_changes", "0")])
    assert "Reseller 7" in refused(1041, carol, "addBalance", sipId=target, value=1.0, description="").errorstring


def test_nobody_sees_or_changes_a_balance_outside_its_scope(seven):
    add(seven.admin(), 4)
    voucher(seven, 7, "5555666677778888")
    for client in (seven.login("bob", "pw"), seven.login("carol", "c")):
        refused(1012, client, "getPrepaidStatus", sipIds=sip_ids(SIP))
        refused(1012, client, "addBalance", sipId=SIP, value=1.0, description="")
        refused(1012, client, "getCreditHistory", sipId=SIP, count=10)
        refused(1012, client, "addBalanceFromVoucher", sipId=SIP, card=("PrepaidCard", {"id": 1, "number": "5555666677778888"}))
    assert balance(seven.admin()) == 4.0
    assert balance(seven.login("carol", "c"), "3001", "carol.example") == 0.0  # its own account it sees


# -- vouchers ----------------------------------------------------------------------------------


def test_a_voucher_redeems_only_on_its_resellers_accounts_and_only_with_its_number(seven):
    voucher(seven, 8, "1234123412341234")
    admin = seven.admin()
    card = ("PrepaidCard", {"id": 1, "number": "1234123412341234"})
    fault = refused(1161, admin, "addBalanceFromVoucher", sipId=SIP, card=card)
    assert "no prepaid card 1 with that number for 1001@example.com" in fault.errorstring
    refused(1161, admin, "addBalanceFromVoucher", sipId=sip_id("2001", "bob.example"), card=("PrepaidCard", {"id": 1, "number": "1234123412341235"}))
    refused(2007, admin, "addBalanceFromVoucher", sipId=sip_id("2001", "bob.example"), card=("PrepaidCard", {"id": 1}))
    refused(1151, admin, "addBalanceFromVoucher", sipId=sip_id("1002", "example.com"), card=card)
    assert admin.call("Sip", "addBalanceFromVoucher", sipId=sip_id("2001", "bob.example"), card=card)["new_balance"] == 25.0
    refused(1162, admin, "addBalanceFromVoucher", sipId=sip_id("2001", "bob.example"), card=card)
    used = stored(seven, "SELECT redeemed_by FROM prepaid_vouchers")
    assert used == [("2001@bob.example",)]


def test_a_customer_redeems_a_voucher_on_its_own_account(seven):
    voucher(seven, 7, "9999000099990000", value_units=12_345)
    carol = seven.login("carol", "c")
    change = carol.call("Sip", "addBalanceFromVoucher", sipId=sip_id("3001", "carol.example"),
                        card=("PrepaidCard", {"id": 1, "number": "9999000099990000"}))  # fmt: skip
    assert change == {"old_balance": 0.0, "new_balance": 1.2345}


def test_add_vouchers_makes_numbered_cards_for_the_callers_reseller(seven):
    cards = alice(seven).call("Sip", "addVouchers", count=3, value=10.0, reseller=0)
    assert [c["id"] for c in cards] == [1, 2, 3] and all(len(c["number"]) == 16 and c["value"] == 10.0 for c in cards)
    assert len({c["number"] for c in cards}) == 3
    assert stored(seven, "SELECT reseller, value_units, created_by FROM prepaid_vouchers") == [(7, 100_000, "alice")] * 3
    digests = [r[0] for r in stored(seven, "SELECT number_digest FROM prepaid_vouchers")]
    assert all(cards[0]["number"].encode() not in bytes(d) for d in digests)  # kept only as a digest
    card = ("PrepaidCard", {"id": cards[1]["id"], "number": cards[1]["number"]})
    assert alice(seven).call("Sip", "addBalanceFromVoucher", sipId=SIP, card=card)["new_balance"] == 10.0


def test_add_vouchers_is_refused_to_customers_resellers_without_the_right_and_bad_counts(seven):
    refused(4004, seven.login("carol", "c"), "addVouchers", count=1, value=1.0, reseller=0)
    refused(1041, seven.login("bob", "pw"), "addVouchers", count=1, value=1.0, reseller=0)
    refused(4005, alice(seven), "addVouchers", count=1, value=1.0, reseller=8)
    for count in (0, 1001):
        assert "from 1 to 1000" in refused(2006, alice(seven), "addVouchers", count=count, value=1.0, reseller=0).errorstring
    refused(2006, alice(seven), "addVouchers", count=1, value=-1.0, reseller=0)
    refused(5004, seven.admin(), "addVouchers", count=1, value=1.0, reseller=9)
    assert seven.admin().call("Sip", "addVouchers", count=1, value=1.0, reseller=8)[0]["id"] == 1


def test_an_inactive_reseller_makes_no_vouchers(seven):
    seven.admin().call("Customer", "updateAccount", account=("CustomerAccount", {"id": 7, "resellerActive": False}))
    error = refused(4007, alice(seven), "addVouchers", count=1, value=1.0, reseller=0)
    assert error.errorstring == "Reseller 7 is not active, so no records can be created under it."
    assert stored(seven, "SELECT count(*) FROM prepaid_vouchers") == [(0,)]


def test_the_vouchers_create_command_prints_cards_that_redeem(seven, tmp_path):
    env = {"NGNSERVER_DATABASE_URL": seven.database.url, "NGNSERVER_STATE_DIR": str(tmp_path),
           "NGNSERVER_SECRET_KEY": seven.app.settings.secret_key.decode(),
           "NGNSERVER_ADMIN_USERNAME": "admin", "NGNSERVER_ADMIN_PASSWORD": "secret"}  # fmt: skip
    result = CliRunner().invoke(main, ["vouchers", "create", "--count", "2", "--value", "12.50", "--reseller", "8"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    voucher_id, number, value = lines[0].split()
    assert Decimal(value) == Decimal("12.5")
    change = seven.login("bob", "pw").call("Sip", "addBalanceFromVoucher", sipId=sip_id("2001", "bob.example"),
                                           card=("PrepaidCard", {"id": int(voucher_id), "number": number}))  # fmt: skip
    assert change["new_balance"] == 12.5
    refusal = CliRunner().invoke(main, ["vouchers", "create", "--count", "1", "--value", "1.123456"], env=env)
    assert refusal.exit_code == 1 and "more than 4 decimals" in refusal.output


# -- concurrency, against gunicorn's worker processes ------------------------------------------


@pytest.fixture(params=["postgresql", "sqlite"])
def deployed(request, tmp_path):
    deployment = Deployment.on(request.param, request, tmp_path, "prepaid_races", {"NGNSERVER_WORKERS": "4"})
    server = deployment.start()
    yield deployment, server
    deployment.stop_all()


def race_tenant(server) -> Client:
    admin = Client(server.url, "admin", "secret")
    reseller = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "r", "password": "pw-r", "resellerActive": True}))["id"]
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "race.example", "customer": reseller}))
    account(admin, "1001", "race.example")
    return admin


def test_twenty_concurrent_redemptions_of_one_voucher_succeed_once(deployed):
    deployment, server = deployed
    admin = race_tenant(server)
    card = admin.call("Sip", "addVouchers", count=1, value=25.0, reseller=1)[0]
    target = sip_id("1001", "race.example")
    results = all_at_once(20, lambda _i: admin.call(
        "Sip", "addBalanceFromVoucher", sipId=target, card=("PrepaidCard", {"id": card["id"], "number": card["number"]})))
    assert sorted(results) == [0] + [1162] * 19, results
    assert admin.call("Sip", "getPrepaidStatus", sipIds=sip_ids(target))[0]["balance"] == 25.0
    assert deployment.query("SELECT count(*) FROM prepaid_history")[0][0] == 1
    assert deployment.query("SELECT balance_units FROM prepaid_balances")[0][0] == 250_000


def test_concurrent_balance_changes_lose_no_update(deployed):
    deployment, server = deployed
    admin = race_tenant(server)
    target = sip_id("1001", "race.example")
    results = all_at_once(24, lambda i: admin.call("Sip", "addBalance", sipId=target, value=1.25 if i % 3 else -0.5, description=f"n{i}"))
    assert results.count(0) + results.count(1152) == 24, str(results)
    history = deployment.query("SELECT value_units, balance_units FROM prepaid_history ORDER BY id")
    assert len(history) == results.count(0)
    expected = sum(v for v, _ in history)
    assert deployment.query("SELECT balance_units FROM prepaid_balances")[0][0] == expected
    assert admin.call("Sip", "getPrepaidStatus", sipIds=sip_ids(target))[0]["balance"] == float(Decimal(expected) / 10_000)
    running = 0
    for value, after in history:  # each entry's balance is the one before it plus its value
        running += value
        assert after == running >= 0
    assert results.count(0) >= 16  # every credit succeeds; only debits may find too little
