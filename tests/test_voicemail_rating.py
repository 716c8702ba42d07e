"""VoicemailPort and RatingPort over real HTTP on both backends: CDRTool's captured requests
replayed, every operation, validation faults with their sentences, scope through the SIP
account (voicemail) and the entity's record (rating), and records that go with the SIP
account they belong to."""

from __future__ import annotations

import base64

import pytest

from tests.support.wire import Client, SoapFault, read_response, replay
from tests.test_customer_captures import seed_reseller_seven

SIP = ("SipId", {"username": "1001", "domain": "example.com"})
ENTITY = "subscriber://1001@example.com"


@pytest.fixture
def seven(server):
    """Reseller 7 (alice/pw, the captures' caller) with example.com and account 1001;
    reseller 8 (bob/pw) with bob.example and 2001; customer 9 (carol/c) of reseller 7 with
    carol.example and 3001."""
    seed_reseller_seven(server)
    admin = server.admin()
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "bob", "password": "pw", "resellerActive": True}))
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "carol", "password": "c", "reseller": 7}))
    for domain, customer, username in (("example.com", 7, "1001"), ("bob.example", 8, "2001"), ("carol.example", 9, "3001")):
        admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": domain, "customer": customer}))
        admin.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": username, "domain": domain}}))
    return server


def ok(server, name: str, port: str, operation: str):
    return read_response(replay(server.url, name), port, operation).value


def refused(code: int, client: Client, port: str, operation: str, **params) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call(port, operation, **params)
    assert info.value.errorcode == code, info.value
    return info.value


def mailbox(client: Client, username: str = "1001", domain: str = "example.com", **extra) -> None:
    fields = {"sipId": {"username": username, "domain": domain}, "password": "1234", **extra}
    client.call("Voicemail", "addAccount", account=("VoicemailAccount", fields))


def stored(server, sql: str) -> list[tuple]:
    with server.database.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


# -- voicemail: CDRTool's requests, replayed ---------------------------------------------------


def test_captured_voicemail_requests_add_read_change_greet_and_delete(seven):
    assert ok(seven, "voicemail-addAccount", "Voicemail", "addAccount") is None
    got = ok(seven, "voicemail-getAccount", "Voicemail", "getAccount")
    assert got == {
        "sipId": {"username": "1001", "domain": "example.com"}, "mailbox": "1", "password": "493817",
        "name": "Alice Smith", "email": "alice@example.com", "info": "", "options": {"delete": True},
    }  # fmt: skip
    assert ok(seven, "voicemail-updateAccount", "Voicemail", "updateAccount") is None
    got = seven.admin().call("Voicemail", "getAccount", sipId=SIP)
    assert (got["password"], got["options"]) == ("2468", {"delete": False})
    assert ok(seven, "voicemail-setAnnouncement", "Voicemail", "setAnnouncement") is None
    [(audio,)] = stored(seven, "SELECT announcement FROM voicemail_accounts")
    assert bytes(audio).startswith(b"RIFF") and len(bytes(audio)) == 44
    assert ok(seven, "voicemail-deleteAccount", "Voicemail", "deleteAccount") is None
    with pytest.raises(SoapFault) as info:
        read_response(replay(seven.url, "voicemail-getAccount"))
    assert info.value.errorcode == 1010  # the code CDRTool's page takes for "no mailbox"


def test_the_pin_is_sealed_at_rest(seven):
    mailbox(seven.admin(), password="987654")
    [(sealed,)] = stored(seven, "SELECT password_sealed FROM voicemail_accounts")
    assert b"987654" not in bytes(sealed)


def test_voicemail_values_are_checked(seven):
    admin = seven.admin()
    account = {"sipId": SIP[1], "password": "12ab"}
    assert "4 to 16 digits" in refused(2006, admin, "Voicemail", "addAccount", account=("VoicemailAccount", account)).errorstring
    refused(2007, admin, "Voicemail", "addAccount", account=("VoicemailAccount", {"sipId": SIP[1]}))
    refused(2007, admin, "Voicemail", "addAccount", account=("VoicemailAccount", {"password": "1234"}))
    bad_email = {"sipId": SIP[1], "password": "1234", "email": "not an address"}
    assert "not an e-mail address" in refused(2006, admin, "Voicemail", "addAccount", account=("VoicemailAccount", bad_email)).errorstring
    refused(1012, admin, "Voicemail", "addAccount", account=("VoicemailAccount", {"sipId": {"username": "x", "domain": "example.com"}, "password": "1234"}))
    mailbox(admin)
    assert "already has" in refused(12001, admin, "Voicemail", "addAccount", account=("VoicemailAccount", {"sipId": SIP[1], "password": "1234"})).errorstring
    refused(12002, admin, "Voicemail", "setAnnouncement", sipId=SIP, message="not base64!")
    too_big = base64.b64encode(b"\0" * (1024 * 1024 + 1)).decode()
    assert "at most 1048576" in refused(12002, admin, "Voicemail", "setAnnouncement", sipId=SIP, message=too_big).errorstring
    refused(1010, admin, "Voicemail", "updateAccount", account=("VoicemailAccount", {"sipId": {"username": "2001", "domain": "bob.example"}}))
    refused(1010, admin, "Voicemail", "deleteAccount", sipId=("SipId", {"username": "2001", "domain": "bob.example"}))


def test_an_update_keeps_what_it_does_not_send_and_an_empty_pin(seven):
    admin = seven.admin()
    mailbox(admin, name="A", email="a@example.com", info="desk")
    admin.call("Voicemail", "updateAccount", account=("VoicemailAccount", {"sipId": SIP[1], "password": "", "name": "B"}))
    got = admin.call("Voicemail", "getAccount", sipId=SIP)
    assert (got["password"], got["name"], got["email"], got["info"], got["options"]["delete"]) == ("1234", "B", "a@example.com", "desk", False)


def test_mailboxes_are_seen_through_their_sip_account(seven):
    mailbox(seven.admin())
    mailbox(seven.admin(), "3001", "carol.example")
    bob, carol = seven.login("bob", "pw"), seven.login("carol", "c")
    for client in (bob, carol):
        refused(1012, client, "Voicemail", "getAccount", sipId=SIP)
        refused(1012, client, "Voicemail", "updateAccount", account=("VoicemailAccount", {"sipId": SIP[1], "name": "x"}))
        refused(1012, client, "Voicemail", "deleteAccount", sipId=SIP)
        refused(1012, client, "Voicemail", "setAnnouncement", sipId=SIP, message="")
    carols = ("SipId", {"username": "3001", "domain": "carol.example"})
    carol.call("Voicemail", "updateAccount", account=("VoicemailAccount", {"sipId": carols[1], "name": "Carol"}))
    assert seven.login("alice", "pw").call("Voicemail", "getAccount", sipId=carols)["name"] == "Carol"  # its reseller sees it
    assert seven.admin().call("Voicemail", "getAccount", sipId=SIP)["name"] == ""


def test_a_mailbox_goes_with_its_sip_account(seven):
    admin = seven.admin()
    mailbox(admin)
    admin.call("Sip", "deleteAccount", sipId=SIP)
    admin.call("Sip", "addAccount", account=("SipAccount", {"id": SIP[1]}))
    refused(1010, admin, "Voicemail", "getAccount", sipId=SIP)
    assert stored(seven, "SELECT count(*) FROM voicemail_accounts") == [(0,)]


# -- rating: CDRTool's requests, replayed ------------------------------------------------------


def test_captured_rating_requests_set_read_and_delete(seven):
    empty = ok(seven, "rating-getEntityProfiles", "Rating", "getEntityProfiles")
    assert empty == {"entity": ENTITY, "profileWeekday": "", "profileWeekdayAlt": "", "profileWeekend": "",
                     "profileWeekendAlt": "", "timezone": ""}  # fmt: skip
    assert ok(seven, "rating-setEntityProfiles", "Rating", "setEntityProfiles") is None
    got = ok(seven, "rating-getEntityProfiles", "Rating", "getEntityProfiles")
    assert {k: v for k, v in got.items() if k != "changeDate"} == {
        "entity": ENTITY, "profileWeekday": "weekday", "profileWeekdayAlt": "weekday-alt", "profileWeekend": "weekend",
        "profileWeekendAlt": "", "timezone": "Europe/Amsterdam",
    }  # fmt: skip
    assert len(got["changeDate"]) == 19
    assert ok(seven, "rating-deleteEntityProfiles", "Rating", "deleteEntityProfiles") is None
    with pytest.raises(SoapFault) as info:
        read_response(replay(seven.url, "rating-deleteEntityProfiles"))
    assert info.value.errorcode == 12052


def profiles(entity: str, **values) -> tuple[str, dict]:
    return ("RatingEntityProfiles", {"entity": entity, "profileWeekday": "p1", **values})


def test_entities_name_accounts_domains_customers_and_resellers(seven):
    alice = seven.login("alice", "pw")
    for entity, stored_as in (("subscriber://1001@EXAMPLE.com", ENTITY), ("domain://Example.com.", "domain://example.com"),
                              ("customer://9", "customer://9"), ("reseller://7", "reseller://7")):  # fmt: skip
        alice.call("Rating", "setEntityProfiles", profiles=profiles(entity, profileWeekend="p2"))
        got = alice.call("Rating", "getEntityProfiles", entity=stored_as)
        assert (got["entity"], got["profileWeekday"], got["profileWeekend"]) == (stored_as, "p1", "p2")
    assert stored(seven, "SELECT entity FROM rating_profiles ORDER BY id") == [
        (ENTITY,), ("domain://example.com",), ("customer://9",), ("reseller://7",),
    ]  # fmt: skip
    alice.call("Rating", "setEntityProfiles", profiles=("RatingEntityProfiles", {"entity": "customer://9", "profileWeekday": "p9"}))
    got = alice.call("Rating", "getEntityProfiles", entity="customer://9")
    assert (got["profileWeekday"], got["profileWeekend"]) == ("p9", "p2")  # a member not sent keeps its value


def test_rating_values_are_checked(seven):
    admin = seven.admin()
    for entity in ("sip:1001@example.com", "subscriber://example.com", "customer://seven"):
        refused(2006, admin, "Rating", "getEntityProfiles", entity=entity)
    refused(2007, admin, "Rating", "getEntityProfiles", entity="")
    refused(12051, admin, "Rating", "getEntityProfiles", entity="subscriber://nobody@example.com")
    refused(12051, admin, "Rating", "getEntityProfiles", entity="reseller://9")  # a customer, not a reseller
    refused(12051, admin, "Rating", "getEntityProfiles", entity="customer://99")
    assert "profileWeekday" in refused(2007, admin, "Rating", "setEntityProfiles", profiles=profiles(ENTITY, profileWeekday="")).errorstring
    assert "not a timezone" in refused(2006, admin, "Rating", "setEntityProfiles", profiles=profiles(ENTITY, timezone="Mars/Olympus")).errorstring
    refused(2006, admin, "Rating", "setEntityProfiles", profiles=profiles(ENTITY, profileWeekend="a\tb"))
    assert "at most 64" in refused(2006, admin, "Rating", "setEntityProfiles", profiles=profiles(ENTITY, profileWeekend="x" * 65)).errorstring
    assert stored(seven, "SELECT count(*) FROM rating_profiles") == [(0,)]


def test_rating_is_for_admin_and_resellers_within_their_scope(seven):
    seven.admin().call("Rating", "setEntityProfiles", profiles=profiles(ENTITY))
    carol = seven.login("carol", "c")
    for op, params in (("getEntityProfiles", {"entity": "subscriber://3001@carol.example"}),
                       ("setEntityProfiles", {"profiles": profiles("subscriber://3001@carol.example")}),
                       ("deleteEntityProfiles", {"entity": "subscriber://3001@carol.example"})):  # fmt: skip
        refused(4004, carol, "Rating", op, **params)
    bob = seven.login("bob", "pw")
    for entity in (ENTITY, "domain://example.com", "customer://9", "reseller://7"):
        refused(12051, bob, "Rating", "getEntityProfiles", entity=entity)
        refused(12051, bob, "Rating", "deleteEntityProfiles", entity=entity)
        refused(12051, bob, "Rating", "setEntityProfiles", profiles=profiles(entity))
    assert seven.admin().call("Rating", "getEntityProfiles", entity=ENTITY)["profileWeekday"] == "p1"
    bob.call("Rating", "setEntityProfiles", profiles=profiles("subscriber://2001@bob.example"))


def test_profiles_go_with_the_record_they_price(seven):
    admin = seven.admin()
    admin.call("Rating", "setEntityProfiles", profiles=profiles(ENTITY))
    admin.call("Sip", "deleteAccount", sipId=SIP)
    admin.call("Sip", "addAccount", account=("SipAccount", {"id": SIP[1]}))
    assert admin.call("Rating", "getEntityProfiles", entity=ENTITY)["profileWeekday"] == ""
    assert stored(seven, "SELECT count(*) FROM rating_profiles") == [(0,)]
