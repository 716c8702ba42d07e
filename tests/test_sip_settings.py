"""A SIP account's call settings in SipPort (call diversions, accept rules, reject members,
barring prefixes, phonebook) over real HTTP on both backends: CDRTool's captured requests
replayed, each setting set and read back, the refusals, who may read and change them, and
that they follow the account (its domain moved) and go with it (deleted)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import zeep
from sqlalchemy import func, insert, select, update

from ngnserver.models.sip import SipAccount
from ngnserver.models.sip_settings import PhonebookEntry, SipAccountSettings
from tests.support.wire import SoapFault, read_response, replay
from tests.test_customer_captures import seed_reseller_seven
from tests.test_sip_captures import prop

BOB = ("SipId", {"username": "bob", "domain": "example.com"})  # the captures' account
CARL = ("SipId", {"username": "carl", "domain": "carol.example"})
NO_DIVERSIONS = {"FUNC": "", "FNOL": "", "FBUS": "", "FNOA": "", "FUNV": ""}


@pytest.fixture
def seven(server):
    """Reseller 7 (alice/pw, the captures' caller) with account bob@example.com (by the
    captures), its customer 8 (carol/c) with account carl@carol.example, and reseller 9
    (dave/d) with its customer 10 (erin/e)."""
    seed_reseller_seven(server)
    admin = server.admin()
    admin.call("Customer", "setProperties", customer=7, properties=[prop("sip_credit", "10"), prop("pstn_access", "1")])
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "carol", "password": "c", "reseller": 7}))
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "dave", "password": "d", "resellerActive": True}))
    admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "erin", "password": "e", "reseller": 9}))
    ok(server, "sip-addDomain", "addDomain")
    ok(server, "sip-addAccount", "addAccount")
    alice = server.login("alice", "pw")
    alice.call("Sip", "addDomain", domain=("SipDomain", {"domain": "carol.example", "customer": 8}))
    alice.call("Sip", "addAccount", account=("SipAccount", {"id": CARL[1], "password": "x"}))
    return server


def ok(server, name: str, operation: str):
    return read_response(replay(server.url, name), "Sip", operation).value


def refused(code: int, client, operation: str, **params) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call("Sip", operation, **params)
    assert info.value.errorcode == code, info.value
    return info.value


def settings_rows(server) -> tuple[int, int]:
    """(settings rows, phonebook rows) in the database."""
    with server.database.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(model)).scalar_one()
                     for model in (SipAccountSettings, PhonebookEntry))  # fmt: skip


def set_everything(client, sip_id) -> None:
    client.call("Sip", "setCallDiversions", sipId=sip_id, diversions=("CallDiversions", {"FUNC": "sip:x@example.org"}))
    client.call("Sip", "setAcceptRules", sipId=sip_id, rules=("AcceptRules", {
        "persistent": [{"days": 31, "start": "09:00", "stop": "17:00", "groups": ["vip"]}],
        "temporary": {"groups": ["nobody"], "duration": 0}}))  # fmt: skip
    client.call("Sip", "setRejectMembers", sipId=sip_id, members=["sip:spam@example.net"])
    client.call("Sip", "setBarringPrefixes", sipId=sip_id, prefixes=["+31900"])
    client.call("Sip", "addPhonebookEntry", sipId=sip_id, entry=("PhonebookEntry", {"uri": "sip:y@example.org", "name": "Y", "group": "vip"}))


def read_everything(client, sip_id) -> dict:
    return {
        "diversions": client.call("Sip", "getCallDiversions", sipId=sip_id),
        "accept": client.call("Sip", "getAcceptRules", sipId=sip_id),
        "reject": client.call("Sip", "getRejectMembers", sipId=sip_id),
        "barring": client.call("Sip", "getBarringPrefixes", sipId=sip_id),
        "phonebook": client.call("Sip", "getPhonebookEntries", sipId=sip_id, match=("PhonebookEntry", {}),
                                 range=("Range", {"start": 0, "count": 100})),
    }  # fmt: skip


NOTHING_SET = {
    "diversions": NO_DIVERSIONS,
    "accept": {"rules": {"persistent": [], "temporary": {"groups": [], "duration": 0}}, "nonEmptyGroups": ["everybody", "nobody"]},
    "reject": [],
    "barring": [],
    "phonebook": {"total": 0, "entries": []},
}


# -- CDRTool's requests, replayed byte for byte ------------------------------------------------


def test_captured_diversions_are_stored_as_full_addresses_and_read_back_on_every_condition(seven):
    assert ok(seven, "sip-setCallDiversions", "setCallDiversions") is None
    assert ok(seven, "sip-getCallDiversions", "getCallDiversions") == {
        "FUNC": "sip:+31201234567@example.com", "FNOL": "", "FBUS": "<voice-mailbox>",
        "FNOA": "sip:carol@example.org", "FUNV": "sip:0031650000000@example.com",
    }  # fmt: skip
    # no diversion left: CDRTool sends its placeholder member nocondition=empty
    assert ok(seven, "sip-setCallDiversions-empty", "setCallDiversions") is None
    assert ok(seven, "sip-getCallDiversions", "getCallDiversions") == NO_DIVERSIONS


def test_captured_accept_rules_keep_their_days_when_the_dnd_switch_sends_them_back_without(seven):
    assert ok(seven, "sip-setAcceptRules", "setAcceptRules") is None
    rules = ok(seven, "sip-getAcceptRules", "getAcceptRules")
    assert rules == {
        "rules": {
            "persistent": [
                {"days": 31, "start": "09:00", "stop": "17:30", "groups": ["vip", "family"]},
                {"days": 96, "start": "00:00", "stop": "23:59", "groups": ["nobody"]},
            ],
            "temporary": {"groups": ["everybody"], "duration": 0},
        },
        "nonEmptyGroups": ["everybody", "nobody"],
    }
    # action set_dnd_on: the rules as read (keyed by days, which PEAR drops), do not disturb for 30 minutes
    assert ok(seven, "sip-setAcceptRules-dnd", "setAcceptRules") is None
    after = ok(seven, "sip-getAcceptRules", "getAcceptRules")["rules"]
    assert after["persistent"] == rules["rules"]["persistent"]
    assert after["temporary"] == {"groups": ["nobody"], "duration": 30}


def test_captured_reject_members_and_barring_prefixes_are_set_read_and_emptied(seven):
    assert ok(seven, "sip-setRejectMembers", "setRejectMembers") is None
    assert ok(seven, "sip-getRejectMembers", "getRejectMembers") == ["sip:spam@example.net", "sip:+31900123456@example.com"]
    assert ok(seven, "sip-setRejectMembers-empty", "setRejectMembers") is None
    assert ok(seven, "sip-getRejectMembers", "getRejectMembers") == []
    assert ok(seven, "sip-setBarringPrefixes", "setBarringPrefixes") is None
    assert ok(seven, "sip-getBarringPrefixes", "getBarringPrefixes") == ["+31900", "+4487"]
    assert ok(seven, "sip-setBarringPrefixes-empty", "setBarringPrefixes") is None
    assert ok(seven, "sip-getBarringPrefixes", "getBarringPrefixes") == []


def test_captured_phonebook_requests_add_find_update_and_delete_an_entry(seven):
    assert ok(seven, "sip-addPhonebookEntry", "addPhonebookEntry") is None
    carol = {"uri": "sip:carol@example.org", "name": "Carol Smith", "group": "family", "firstName": "Carol", "lastName": "Smith"}
    assert ok(seven, "sip-getPhonebookEntries", "getPhonebookEntries") == {"total": 1, "entries": [carol]}
    assert ok(seven, "sip-getAcceptRules", "getAcceptRules")["nonEmptyGroups"] == ["everybody", "nobody", "family"]
    with pytest.raises(SoapFault) as info:
        read_response(replay(seven.url, "sip-addPhonebookEntry"))
    assert info.value.errorcode == 1107
    assert ok(seven, "sip-updatePhonebookEntry", "updatePhonebookEntry") is None
    moved = carol | {"name": "Carol Jones", "group": "vip", "lastName": "Jones"}
    assert ok(seven, "sip-getPhonebookEntries", "getPhonebookEntries")["entries"] == [moved]
    # searched for "carol" among the entries in no group: carol is in vip now
    assert ok(seven, "sip-getPhonebookEntries-search", "getPhonebookEntries") == {"total": 0, "entries": []}
    assert ok(seven, "sip-deletePhonebookEntry", "deletePhonebookEntry") is None
    assert ok(seven, "sip-getPhonebookEntries", "getPhonebookEntries") == {"total": 0, "entries": []}
    with pytest.raises(SoapFault) as info:
        read_response(replay(seven.url, "sip-deletePhonebookEntry"))
    assert info.value.errorcode == 1108


def test_an_account_that_set_nothing_reads_empty_settings(seven):
    assert read_everything(seven.admin(), BOB) == NOTHING_SET


# -- each setting, set and read back -----------------------------------------------------------


def test_diversion_targets_may_be_numbers_or_users_of_the_account_domain_or_voicemail(seven):
    admin = seven.admin()
    admin.call("Sip", "setCallDiversions", sipId=BOB, diversions=("CallDiversions", {
        "FUNC": "+31201234567", "FNOL": "alice", "FBUS": "voice-mailbox", "FNOA": "sips:Bob@Example.ORG:5061;transport=tls",
        "FUNV": "  "}))  # fmt: skip
    assert admin.call("Sip", "getCallDiversions", sipId=BOB) == {
        "FUNC": "sip:+31201234567@example.com", "FNOL": "sip:alice@example.com", "FBUS": "<voice-mailbox>",
        "FNOA": "sips:Bob@example.org:5061;transport=tls", "FUNV": "",
    }  # fmt: skip
    # a set replaces every condition: those not sent stop diverting
    admin.call("Sip", "setCallDiversions", sipId=BOB, diversions=("CallDiversions", {"FBUS": "sip:x@192.0.2.1"}))
    assert admin.call("Sip", "getCallDiversions", sipId=BOB) == NO_DIVERSIONS | {"FBUS": "sip:x@192.0.2.1"}


def test_a_temporary_accept_rule_counts_down_and_ends(seven):
    admin = seven.admin()
    admin.call("Sip", "setAcceptRules", sipId=BOB, rules=("AcceptRules", {"temporary": {"groups": ["vip", "vip", "nobody"], "duration": 90}}))
    assert admin.call("Sip", "getAcceptRules", sipId=BOB)["rules"] == {
        "persistent": [], "temporary": {"groups": ["vip", "nobody"], "duration": 90},
    }  # fmt: skip
    with seven.database.engine.begin() as conn:
        rules = conn.execute(select(SipAccountSettings.accept_rules)).scalar_one()
        until = datetime.fromisoformat(rules["temporary"]["until"])
        rules["temporary"]["until"] = (until - timedelta(minutes=60, seconds=30)).isoformat(" ", "seconds")
        conn.execute(update(SipAccountSettings).values(accept_rules=rules))
    assert admin.call("Sip", "getAcceptRules", sipId=BOB)["rules"]["temporary"] == {"groups": ["vip", "nobody"], "duration": 30}
    with seven.database.engine.begin() as conn:
        rules["temporary"]["until"] = (until - timedelta(minutes=91)).isoformat(" ", "seconds")
        conn.execute(update(SipAccountSettings).values(accept_rules=rules))
    assert admin.call("Sip", "getAcceptRules", sipId=BOB)["rules"]["temporary"] == {"groups": [], "duration": 0}


def test_reject_members_become_sip_addresses_once_each_and_empty_ones_are_dropped(seven):
    admin = seven.admin()
    admin.call("Sip", "setRejectMembers", sipId=BOB, members=["spam@example.net", "", "sip:spam@example.net", "0900123"])
    assert admin.call("Sip", "getRejectMembers", sipId=BOB) == ["sip:spam@example.net", "sip:0900123@example.com"]


def test_phonebook_search_matches_uri_or_name_filters_by_group_and_pages_by_name(seven):
    admin = seven.admin()
    for uri, name, group in (("zed@example.org", "Anna", "family"), ("anna@example.org", "Zoe", ""),
                             ("BEN@example.org", "Ben", "family"), ("+31201234567", "Office", "business")):  # fmt: skip
        admin.call("Sip", "addPhonebookEntry", sipId=BOB, entry=("PhonebookEntry", {"uri": uri, "name": name, "group": group}))

    def found(match: dict, start: int = 0, count: int = 100) -> tuple[int, list[str]]:
        result = admin.call("Sip", "getPhonebookEntries", sipId=BOB, match=("PhonebookEntry", match),
                            range=("Range", {"start": start, "count": count}))  # fmt: skip
        return result["total"], [e["uri"] for e in result["entries"]]

    everyone = ["sip:zed@example.org", "sip:ben@example.org", "sip:+31201234567@example.com", "sip:anna@example.org"]
    assert found({}) == (4, everyone)
    assert found({"uri": "%%%", "name": "%%%"}) == (4, everyone)
    assert found({"uri": "%anna%", "name": "%anna%"}) == (2, ["sip:zed@example.org", "sip:anna@example.org"])
    assert found({"name": "b%"}) == (1, ["sip:ben@example.org"])
    assert found({"group": "family"}) == (2, ["sip:zed@example.org", "sip:ben@example.org"])
    assert found({"group": ""}) == (1, ["sip:anna@example.org"])
    assert found({}, start=1, count=2) == (4, everyone[1:3])
    assert admin.call("Sip", "getAcceptRules", sipId=BOB)["nonEmptyGroups"] == ["everybody", "nobody", "business", "family"]
    # an update changes only what it sends; the uri finds the entry however it is written
    admin.call("Sip", "updatePhonebookEntry", sipId=BOB, entry=("PhonebookEntry", {"uri": "sip:Ben@Example.org", "group": ""}))
    assert found({"group": ""}) == (2, ["sip:ben@example.org", "sip:anna@example.org"])
    assert found({"name": "Ben"}) == (1, ["sip:ben@example.org"])
    refused(1108, admin, "updatePhonebookEntry", sipId=BOB, entry=("PhonebookEntry", {"uri": "nobody@example.org", "name": "N"}))
    refused(2008, admin, "getPhonebookEntries", sipId=BOB, match=("PhonebookEntry", {}), range=("Range", {"start": -1, "count": 2}))


def test_a_change_of_the_settings_is_a_change_of_the_account(seven):
    admin = seven.admin()
    with seven.database.engine.begin() as conn:
        conn.execute(update(SipAccount).values(change_date=datetime(2020, 1, 1)))
    admin.call("Sip", "setBarringPrefixes", sipId=BOB, prefixes=["+31900"])
    assert admin.call("Sip", "getAccount", sipId=BOB)["changeDate"] > "2020-01-01 00:00:00"
    with seven.database.engine.connect() as conn:
        rows = conn.execute(select(SipAccount.username, SipAccount.change_date).order_by(SipAccount.username)).all()
    assert rows[0].username == "bob" and rows[0].change_date > datetime(2020, 1, 1)
    assert rows[1].username == "carl" and rows[1].change_date == datetime(2020, 1, 1)


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("diversions", [
    {"FUNC": "not an address"}, {"FBUS": "sip:@example.com"}, {"FNOA": "sip:bob@-bad-.com"},
    {"FNOL": "sip:bob@example.com:99999"}, {"FUNV": "<voicemail>"}, {"FUNC": "sip:" + "b" * 300 + "@example.com"},
    {"FORWARD": "sip:bob@example.com"},
])  # fmt: skip
def test_a_diversion_to_no_address_or_on_no_condition_is_1101_and_changes_nothing(seven, diversions):
    admin = seven.admin()
    admin.call("Sip", "setCallDiversions", sipId=BOB, diversions=("CallDiversions", {"FBUS": "<voice-mailbox>"}))
    error = refused(1101, admin, "setCallDiversions", sipId=BOB, diversions=("CallDiversions", {"FUNC": "", **diversions}))
    assert "FUNC (all calls)" in error.errorstring if "FORWARD" in diversions else "SIP address" in error.errorstring
    assert admin.call("Sip", "getCallDiversions", sipId=BOB) == NO_DIVERSIONS | {"FBUS": "<voice-mailbox>"}


def rule(**changes) -> dict:
    return {"days": 31, "start": "09:00", "stop": "17:00", "groups": ["vip"]} | changes


@pytest.mark.parametrize("rules, words", [
    ({"persistent": [rule(days=0)]}, "days from 1 to 127"),
    ({"persistent": [rule(days=128)]}, "days from 1 to 127"),
    ({"persistent": [rule(days=None)]}, "days from 1 to 127"),
    ({"persistent": [rule(start="9:00")]}, "start must be a time"),
    ({"persistent": [rule(stop="24:01")]}, "stop must be a time"),
    ({"persistent": [rule(groups=[])]}, "needs its groups"),
    ({"persistent": [rule(groups=["vip friends"])]}, "not a group name"),
    ({"persistent": [rule(), rule(start="18:00")]}, "already for days 31"),
    ({"temporary": {"groups": ["nobody"], "duration": -5}}, "duration must be 0"),
    ({"temporary": {"groups": ["nobody"], "duration": 600000}}, "duration must be 0"),
])  # fmt: skip
def test_a_bad_accept_rule_is_1102(seven, rules, words):
    error = refused(1102, seven.admin(), "setAcceptRules", sipId=BOB, rules=("AcceptRules", rules))
    assert words in error.errorstring


def test_a_bad_reject_member_is_1103_and_a_bad_barring_prefix_1104(seven):
    admin = seven.admin()
    refused(1103, admin, "setRejectMembers", sipId=BOB, members=["sip:ok@example.net", "sip:bad address@example.net"])
    for prefix in ("0031", "+0", "+31 900", "+3190x"):
        assert prefix in refused(1104, admin, "setBarringPrefixes", sipId=BOB, prefixes=[prefix]).errorstring
    assert admin.call("Sip", "getRejectMembers", sipId=BOB) == []


def test_too_many_entries_are_1105(seven):
    admin = seven.admin()
    refused(1105, admin, "setBarringPrefixes", sipId=BOB, prefixes=[f"+3190{n}" for n in range(51)])
    refused(1105, admin, "setRejectMembers", sipId=BOB, members=[f"sip:u{n}@example.net" for n in range(51)])
    refused(1105, admin, "setAcceptRules", sipId=BOB, rules=("AcceptRules", {"persistent": [rule(days=d) for d in range(1, 22)]}))
    refused(1105, admin, "setAcceptRules", sipId=BOB, rules=("AcceptRules", {"temporary": {"groups": [f"g{n}" for n in range(21)]}}))
    admin.call("Sip", "setBarringPrefixes", sipId=BOB, prefixes=[f"+3190{n}" for n in range(50)])
    assert len(admin.call("Sip", "getBarringPrefixes", sipId=BOB)) == 50
    with seven.database.engine.begin() as conn:
        bob = conn.execute(select(SipAccount.id).where(SipAccount.username == "bob")).scalar_one()
        conn.execute(insert(PhonebookEntry), [{"account_id": bob, "uri": f"sip:u{n}@example.org", "name": "", "group_name": ""}
                                              for n in range(1000)])  # fmt: skip
    error = refused(1105, admin, "addPhonebookEntry", sipId=BOB, entry=("PhonebookEntry", {"uri": "sip:one.more@example.org"}))
    assert "1000" in error.errorstring


def test_a_bad_phonebook_entry_is_1106(seven):
    admin = seven.admin()
    for entry in ({"uri": ""}, {"uri": "sip:a b@example.org"}, {"uri": "sip:a@example.org", "group": "my friends"},
                  {"uri": "sip:a@example.org", "name": "n" * 129}):  # fmt: skip
        refused(1106, admin, "addPhonebookEntry", sipId=BOB, entry=("PhonebookEntry", entry))
    refused(1106, admin, "deletePhonebookEntry", sipId=BOB, uri="")
    assert settings_rows(seven)[1] == 0


# -- scope -------------------------------------------------------------------------------------


OPERATIONS = [
    ("setCallDiversions", {"diversions": ("CallDiversions", {"FUNC": "sip:x@example.org"})}),
    ("getCallDiversions", {}),
    ("setAcceptRules", {"rules": ("AcceptRules", {"temporary": {"groups": ["nobody"], "duration": 0}})}),
    ("getAcceptRules", {}),
    ("setRejectMembers", {"members": ["sip:spam@example.net"]}),
    ("getRejectMembers", {}),
    ("setBarringPrefixes", {"prefixes": ["+31900"]}),
    ("getBarringPrefixes", {}),
    ("addPhonebookEntry", {"entry": ("PhonebookEntry", {"uri": "sip:z@example.org"})}),
    ("updatePhonebookEntry", {"entry": ("PhonebookEntry", {"uri": "sip:y@example.org", "name": "Why"})}),
    ("deletePhonebookEntry", {"uri": "sip:y@example.org"}),
    ("getPhonebookEntries", {"match": ("PhonebookEntry", {}), "range": ("Range", {"start": 0, "count": 10})}),
]


@pytest.mark.parametrize("operation, params", OPERATIONS, ids=[op for op, _ in OPERATIONS])
def test_another_resellers_logins_cannot_read_or_change_an_accounts_settings(seven, operation, params):
    set_everything(seven.admin(), CARL)
    before = read_everything(seven.admin(), CARL)
    for login in (seven.login("dave", "d"), seven.login("erin", "e"), seven.admin().as_customer(10)):
        error = refused(1012, login, operation, sipId=CARL, **params)
        assert "carl@carol.example does not exist" in error.errorstring
    # nor can a customer of the same reseller read another customer's account
    refused(1012, seven.login("carol", "c"), operation, sipId=BOB, **params)
    assert read_everything(seven.admin(), CARL) == before


@pytest.mark.parametrize("who", ["the customer", "the customer through admin", "the reseller", "admin"])
def test_the_accounts_customer_its_reseller_and_admin_change_and_read_its_settings(seven, who):
    client = {"the customer": seven.login("carol", "c"), "the customer through admin": seven.admin().as_customer(8),
              "the reseller": seven.login("alice", "pw"), "admin": seven.admin()}[who]  # fmt: skip
    set_everything(client, CARL)
    client.call("Sip", "updatePhonebookEntry", sipId=CARL, entry=("PhonebookEntry", {"uri": "sip:y@example.org", "name": "Why"}))
    read = read_everything(client, CARL)
    assert read["diversions"]["FUNC"] == "sip:x@example.org"
    assert read["accept"]["rules"]["temporary"] == {"groups": ["nobody"], "duration": 0}
    assert read["accept"]["nonEmptyGroups"] == ["everybody", "nobody", "vip"]
    assert (read["reject"], read["barring"]) == (["sip:spam@example.net"], ["+31900"])
    assert read["phonebook"]["entries"] == [{"uri": "sip:y@example.org", "name": "Why", "group": "vip", "firstName": "Why", "lastName": ""}]
    assert read_everything(seven.admin(), CARL) == read
    client.call("Sip", "deletePhonebookEntry", sipId=CARL, uri="y@example.org")
    assert client.call("Sip", "getPhonebookEntries", sipId=CARL, match=("PhonebookEntry", {}),
                       range=("Range", {"start": 0, "count": 10}))["total"] == 0  # fmt: skip


def test_an_unknown_account_is_1012(seven):
    refused(1012, seven.admin(), "getCallDiversions", sipId=("SipId", {"username": "nobody", "domain": "example.com"}))
    refused(2007, seven.admin(), "getBarringPrefixes", sipId=("SipId", {"domain": "example.com"}))


# -- with the account --------------------------------------------------------------------------


def test_the_settings_follow_the_account_when_its_domain_moves_to_another_customer(seven):
    alice = seven.login("alice", "pw")
    set_everything(alice, CARL)
    carol, erin = seven.login("carol", "c"), seven.login("erin", "e")
    assert carol.call("Sip", "getBarringPrefixes", sipId=CARL) == ["+31900"]
    seven.admin().call("Sip", "updateDomain", domain=("SipDomain", {"domain": "carol.example", "customer": 10}))
    refused(1012, carol, "getBarringPrefixes", sipId=CARL)
    refused(1012, alice, "getRejectMembers", sipId=CARL)
    assert erin.call("Sip", "getBarringPrefixes", sipId=CARL) == ["+31900"]
    assert erin.call("Sip", "getRejectMembers", sipId=CARL) == ["sip:spam@example.net"]


def test_the_settings_go_with_the_account_and_a_new_account_of_that_name_has_none(seven):
    alice = seven.login("alice", "pw")
    set_everything(alice, CARL)
    set_everything(alice, BOB)
    assert settings_rows(seven) == (2, 2)
    alice.call("Sip", "deleteAccount", sipId=CARL)
    assert settings_rows(seven) == (1, 1)
    alice.call("Sip", "addAccount", account=("SipAccount", {"id": CARL[1], "password": "x"}))
    assert read_everything(alice, CARL) == NOTHING_SET
    assert read_everything(alice, BOB)["barring"] == ["+31900"]


# -- a WSDL client -----------------------------------------------------------------------------


def test_zeep_manages_an_accounts_settings_through_the_served_wsdl(seven):
    client = zeep.Client(seven.url + "wsdl")
    client.set_default_soapheaders({"auth": {"username": "carol", "password": "c", "admin": False}})
    port = client.bind("NGNPro", "SipPort")
    carl = CARL[1]
    port.setCallDiversions(sipId=carl, diversions={"FNOA": "<voice-mailbox>", "FUNC": "+31201234567"})
    diversions = port.getCallDiversions(sipId=carl)
    assert (diversions.FNOA, diversions.FUNC) == ("<voice-mailbox>", "sip:+31201234567@carol.example")
    assert not diversions.FBUS  # "" on the wire, which zeep reads as None
    # zeep drops the items of a plain list inside an array's item: it needs them as {"item": [...]}
    rule = {"days": 127, "start": "08:00", "stop": "20:00", "groups": {"item": ["family"]}}
    port.setAcceptRules(sipId=carl, rules={"persistent": [rule], "temporary": {"groups": ["nobody"], "duration": 15}})
    port.addPhonebookEntry(sipId=carl, entry={"uri": "mum@example.org", "name": "Mum", "group": "family"})
    accept = port.getAcceptRules(sipId=carl)
    assert accept.rules.persistent[0].days == 127 and accept.rules.persistent[0].groups == ["family"]
    assert accept.rules.temporary.duration == 15 and accept.nonEmptyGroups == ["everybody", "nobody", "family"]
    port.setRejectMembers(sipId=carl, members=["sip:spam@example.net"])
    port.setBarringPrefixes(sipId=carl, prefixes=["+31900", "+44"])
    assert port.getRejectMembers(sipId=carl) == ["sip:spam@example.net"]
    assert port.getBarringPrefixes(sipId=carl) == ["+31900", "+44"]
    found = port.getPhonebookEntries(sipId=carl, match={"name": "m%"}, range={"start": 0, "count": 10})
    assert found.total == 1 and (found.entries[0].uri, found.entries[0].firstName) == ("sip:mum@example.org", "Mum")
    with pytest.raises(zeep.exceptions.Fault) as info:
        port.deletePhonebookEntry(sipId=carl, uri="dad@example.org")
    assert info.value.detail.findtext(".//errorcode") == "1108"
