"""Every change that matters to authentication takes effect on the very next request, when
it was made on another server (another host, so that nothing in the first one's process can
hear of it), whichever way the request goes: one that reads, one that writes, and one
refused from the caller alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import ADMIN
from tests.support.gunicorn import Deployment
from tests.support.wire import Client, SoapFault
from tests.test_customer_rules import World, add
from tests.test_enum_rules import World as EnumWorld
from tests.test_enum_rules import add_range, ranges, update_range


def refused(errorcode: int, client: Client, port: str, operation: str, **params: Any) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call(port, operation, **params)
    assert info.value.errorcode == errorcode, info.value
    return info.value


def update(client: Client, **fields: Any) -> None:
    client.call("Customer", "updateAccount", account=("CustomerAccount", fields))


def customers(server: Any) -> int:
    with server.database.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM customers")).scalar_one()


@pytest.fixture
def world(server: Any) -> World:
    return World(server)


# -- the password ---------------------------------------------------------------------------


def test_a_password_changed_elsewhere_refuses_the_old_one_on_a_read(world, second):
    c1 = world.login("c1")
    assert c1.call("Customer", "getAccount", id=world.c1)["city"] == ""  # remembered from here on
    update(second, id=world.c1, password="changed")
    refused(4002, c1, "Customer", "getAccount", id=world.c1)
    assert world.server.login("c1", "changed").call("Customer", "getAccount", id=world.c1)["username"] == "c1"


def test_a_password_changed_elsewhere_refuses_the_old_one_on_a_write_and_keeps_nothing(world, second):
    c1 = world.login("c1")
    update(c1, id=world.c1, city="Delft")
    update(second, id=world.c1, password="changed")
    refused(4002, c1, "Customer", "updateAccount", account=("CustomerAccount", {"id": world.c1, "city": "Leiden"}))
    assert world.admin.call("Customer", "getAccount", id=world.c1)["city"] == "Delft"
    update(world.server.login("c1", "changed"), id=world.c1, city="Leiden")
    assert world.admin.call("Customer", "getAccount", id=world.c1)["city"] == "Leiden"


def test_a_password_changed_elsewhere_refuses_a_request_that_sends_no_statement(world):
    c1 = world.login("c1")
    # a plain customer may not create customers: refused from the caller alone, no statement
    refused(4004, c1, "Customer", "addAccount", account=("CustomerAccount", {"username": "x", "password": "x"}))
    with world.server.database.engine.begin() as conn:  # another host's change, behind the server
        sealed = conn.execute(text("SELECT password_sealed FROM customers WHERE id = :id"), {"id": world.c2})
        conn.execute(text("UPDATE customers SET password_sealed = :p WHERE id = :id"),
                     {"p": sealed.scalar_one(), "id": world.c1})  # fmt: skip
    refused(4002, c1, "Customer", "addAccount", account=("CustomerAccount", {"username": "x", "password": "x"}))
    # c2's password now opens c1's account too, and its answer is c1's again
    refused(4004, world.server.login("c1", "pw-c2"), "Customer", "addAccount",
            account=("CustomerAccount", {"username": "x", "password": "x"}))  # fmt: skip


def test_a_deleted_customer_is_refused(world, second):
    c2 = world.login("c2")
    assert c2.call("Customer", "getAccount", id=world.c2)["username"] == "c2"
    second.call("Customer", "deleteAccount", id=world.c2)
    refused(4002, c2, "Customer", "getAccount", id=world.c2)
    refused(4002, c2, "Customer", "addAccount", account=("CustomerAccount", {"username": "x", "password": "x"}))


# -- rights that come with the account ------------------------------------------------------


def test_a_staff_login_that_loses_its_rights_elsewhere_acts_as_a_customer_at_once(world, second):
    staff = world.login("staff1")
    assert add(staff, username="made1")["reseller"] == world.r1  # remembered as r1's staff
    update(second, id=world.staff, impersonate=0)
    before = customers(world.server)
    refused(4004, staff, "Customer", "addAccount", account=("CustomerAccount", {"username": "made2", "password": "x"}))
    refused(5002, staff, "Customer", "getAccount", id=world.c1)
    assert customers(world.server) == before


def test_a_customer_made_staff_elsewhere_gets_the_rights_at_once(world, second):
    c2 = world.login("c2")
    # remembered as a plain customer, refused without a statement
    refused(4004, c2, "Customer", "addAccount", account=("CustomerAccount", {"username": "y", "password": "y"}))
    update(second, id=world.c2, impersonate=world.r1)
    assert add(c2, username="y")["reseller"] == world.r1


def test_a_reseller_deactivated_elsewhere_creates_nothing_more(server, second):
    world = EnumWorld(server)  # r1 with range credits
    r1, as_r1 = world.login("r1"), world.admin.as_customer(world.r1)
    add_range(r1, "3121")  # both remembered with r1 active
    add_range(as_r1, "3122")
    update(second, id=world.r1, resellerActive=False)
    for client, prefix in ((r1, "3123"), (as_r1, "3124")):
        with pytest.raises(SoapFault) as info:
            add_range(client, prefix)
        assert info.value.errorcode == 4007, info.value
    assert sorted(ranges(world.admin, reseller=world.r1)) == ["3120", "3121", "3122"]
    update(second, id=world.r1, resellerActive=True)
    update_range(r1, "3121", info="active again")
    assert ranges(world.admin, reseller=world.r1)["3121"]["info"] == "active again"


def test_a_customer_moved_elsewhere_acts_under_its_new_reseller(world, second):
    c2 = world.login("c2")
    as_c2 = world.admin.as_customer(world.c2)
    for client in (c2, as_c2):
        assert client.call("Customer", "getAccount", id=world.c2)["reseller"] == world.r1
    update(second, id=world.c2, reseller=world.r2)
    for client in (c2, as_c2):
        assert client.call("Customer", "getAccount", id=world.c2)["reseller"] == world.r2
        listed = client.call("Customer", "getCustomers", query={})
        assert [(a["id"], a["reseller"]) for a in listed["accounts"]] == [(world.c2, world.r2)]


def test_admin_impersonating_a_customer_that_went_is_refused(world, second):
    as_c2 = world.admin.as_customer(world.c2)
    assert as_c2.call("Customer", "getAccount", id=world.c2)["username"] == "c2"
    second.call("Customer", "deleteAccount", id=world.c2)
    refused(4003, as_c2, "Customer", "getAccount", id=world.c2)


def test_the_same_username_with_another_password_is_another_login(world):
    c1 = world.login("c1")
    assert c1.call("Customer", "getAccount", id=world.c1)["username"] == "c1"
    refused(4002, world.server.login("c1", "pw-c1 "), "Customer", "getAccount", id=world.c1)
    refused(4002, Client(world.server.url, "c1", "pw-c1", admin=True), "Customer", "getAccount", id=world.c1)
    assert c1.call("Customer", "getAccount", id=world.c1)["username"] == "c1"


@pytest.fixture(params=["postgresql", "postgresql-unprepared", "sqlite"])
def deployed(request: pytest.FixtureRequest, tmp_path: Any):
    """``ngnserver serve`` with two workers; "postgresql-unprepared" as behind PgBouncer in
    transaction mode (no prepared statements)."""
    # the old password fails 24 times here: more than the brake on guessing allows
    settings = {"NGNSERVER_LOGIN_MAX_FAILURES": "100"}
    if request.param == "postgresql-unprepared":
        settings["NGNSERVER_PREPARED_STATEMENTS"] = "false"
    deployment = Deployment.on(request.param.partition("-")[0], request, tmp_path, "known_callers", settings)
    server = deployment.start()
    yield deployment, server
    deployment.stop_all()


def test_every_worker_refuses_an_old_password_at_once(deployed):
    deployment, server = deployed
    admin = Client(server.url, *ADMIN)
    me = add(admin, username="kc", password="old")["id"]
    old = Client(server.url, "kc", "old", admin=False)

    def many(client: Client, operation: str, **params: Any) -> list[int]:
        def one(_: int) -> int:
            try:
                client.call("Customer", operation, **params)
                return 0
            except SoapFault as fault:
                return fault.errorcode or -1

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(one, range(12)))

    assert many(old, "getAccount", id=me) == [0] * 12  # both workers now know kc
    assert many(old, "updateAccount", account=("CustomerAccount", {"id": me, "city": "Delft"})) == [0] * 12
    update(admin, id=me, password="new")
    assert many(old, "getAccount", id=me) == [4002] * 12
    assert many(old, "updateAccount", account=("CustomerAccount", {"id": me, "city": "Leiden"})) == [4002] * 12
    assert deployment.query("SELECT city FROM customers WHERE id = :id", id=me) == [("Delft",)]
    assert many(Client(server.url, "kc", "new", admin=False), "getAccount", id=me) == [0] * 12
    assert len(set(server.workers())) == 2
