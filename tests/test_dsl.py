"""DSL through the whole path: SOAP -> record and job -> worker -> Ikano simulator (real HTTP)
-> status pull, with the simulator failing the ways Ikano does."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import select

from ngnserver.app import NGNProApp
from ngnserver.config import IkanoSettings
from ngnserver.core import adapters
from ngnserver.core import dsl as dsl_rules
from ngnserver.db import AlreadyRunning, Database
from ngnserver.models.job import Job, JobAttempt
from ngnserver.vendors.ikano import Address, IkanoClient, NewOrder
from ngnserver.worker import WorkerContext, make_worker
from tests.conftest import make_settings, serve_app
from tests.support.ikano_simulator import IkanoSimulator
from tests.support.wire import Client, SoapFault
from tests.test_customer_rules import add

ADDRESS = {"addressLine1": "1 Main St", "city": "New York", "state": "NY", "zipCode": "10001-1234", "country": "US"}
LINE = "2125550123"


class Env:
    """A server configured for Ikano, the simulator, a worker, and a reseller (``r``, with
    the qualify right and dsl_credit 5) whose customer ``c`` holds the services."""

    def __init__(self, server: Any, tmp_path: Any, import_mode: bool = False) -> None:
        self.sim = IkanoSimulator(timeout_sleep=3.0).start()
        self.settings = make_settings(
            tmp_path, server.database.url,
            ikano=IkanoSettings(url=self.sim.url, keyid=self.sim.keyid, username=self.sim.username,
                                password=self.sim.password, import_mode=import_mode, read_timeout=1.0,
                                connect_timeout=1.0),
            worker_backoff_seconds=0.01, worker_lease_seconds=30,
        )  # fmt: skip
        self.database = Database(self.settings.effective_database_url)
        self.app = NGNProApp(self.settings, self.database)
        base, self.httpd = serve_app(self.app)
        self.url = base + "/ngnpro/"
        self.admin = Client(self.url, "admin", "secret")
        self.worker = make_worker(self.settings, self.database, "test-worker")
        self.r = add(self.admin, username="r", resellerActive=True)["id"]
        self.c = add(self.admin, username="c", reseller=self.r)["id"]
        self.admin.call("Customer", "setProperties", customer=self.r, properties=[
            {"name": "dsl_credit", "value": "5"}, {"name": "qualify_service", "value": "1"}])  # fmt: skip
        self.package = self.admin.call("Dsl", "addPackage", package=("DslPackage", {"name": "ATT 6M", "vendorPackageId": "ATT-6M"}))
        self.reseller = Client(self.url, "r", "pw-r", admin=False)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.sim.stop()
        self.database.dispose()

    def drain(self, seconds: float = 20) -> int:
        """Run jobs until none is queued or running."""
        ran, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.worker.run_one():
                ran += 1
                continue
            with self.database.transaction(write=False) as session:
                waiting = session.execute(select(Job.id).where(Job.state.in_(("queued", "running")))).first()
            if waiting is None:
                return ran
            time.sleep(0.02)
        raise AssertionError("jobs still waiting after the deadline")

    def pull(self) -> adapters.PullReport:
        return dsl_rules.pull_monitored(self.database, WorkerContext(self.settings, self.settings.sealer()).dsl)

    def qualified(self) -> int:
        q = self.reseller.call("Dsl", "qualify", address=("DslAddress", ADDRESS), locationType="R", customer=self.c)
        assert q["status"] == "P"
        self.drain()
        q = self.reseller.call("Dsl", "getQualification", id=q["id"])
        assert q["status"] == "Q"
        return q["id"]

    def ordered(self, **fields: Any) -> dict[str, Any]:
        service = {"qualification": self.qualified(), "package": self.package["id"], "loopType": "LS",
                   "phoneNumber": LINE, "firstName": "Ann", "lastName": "Lee", "desiredDueDate": "2026-12-01",
                   "password": "ppp-1", **fields}  # fmt: skip
        created = self.reseller.call("Dsl", "addService", service=("DslService", service))
        assert created["state"] == "pending" and created["vendorOrderId"] == ""
        return created

    def service(self, service_id: int) -> dict[str, Any]:
        return self.reseller.call("Dsl", "getService", id=service_id)


@pytest.fixture
def env(server, tmp_path):
    environment = Env(server, tmp_path)
    yield environment
    environment.stop()


def test_qualify_lists_our_packages_and_the_unconfigured_products(env):
    q = env.reseller.call("Dsl", "qualify", address=("DslAddress", ADDRESS), locationType="R", customer=env.c)
    env.drain()
    q = env.reseller.call("Dsl", "getQualification", id=q["id"])
    assert q["status"] == "Q" and q["vendorQualId"]
    assert [p["name"] for p in q["packages"]] == ["ATT 6M"]
    assert q["unconfiguredProducts"] == ["ATT-12M", "ATT-DRY-6M", "VER-3M"]  # BELLCA not checked
    sent = env.sim.requests[-1][1]
    assert sent.get("type") == "PREQUAL"
    assert "10001" in [el.text for el in sent.iter() if el.tag.endswith("ZipCode")]


def test_an_address_that_does_not_qualify_is_d(env):
    q = env.reseller.call("Dsl", "qualify", address=("DslAddress", {**ADDRESS, "zipCode": "99999"}), locationType="B")
    env.drain()
    assert env.reseller.call("Dsl", "getQualification", id=q["id"])["status"] == "D"


def test_without_ikano_qualify_and_add_service_are_refused_with_8010_and_nothing_is_queued(server):
    admin = server.admin()  # the shared server has no Ikano settings
    package = admin.call("Dsl", "addPackage", package=("DslPackage", {"name": "ATT 6M", "vendorPackageId": "ATT-6M"}))
    for operation, arguments in (
        ("qualify", {"address": ("DslAddress", ADDRESS), "locationType": "R"}),
        ("addService", {"service": ("DslService", {"package": package["id"], "vendorOrderId": "1"})}),
    ):
        with pytest.raises(SoapFault) as info:
            admin.call("Dsl", operation, **arguments)
        assert (info.value.errorcode, info.value.errorstring) == (8010, "DSL is not configured on this server; ask its operator.")
    with server.database.transaction(write=False) as session:
        assert session.execute(select(Job.id)).first() is None


def test_a_qualification_moves_with_its_customer_and_goes_when_the_customer_is_deleted(env):
    q = env.qualified()
    r2 = add(env.admin, username="r2", resellerActive=True)["id"]
    env.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": env.c, "reseller": r2}))
    moved = env.admin.call("Dsl", "getQualification", id=q)
    assert (moved["customer"], moved["reseller"]) == (env.c, r2)
    assert Client(env.url, "r2", "pw-r2", admin=False).call("Dsl", "getQualification", id=q)["id"] == q
    with pytest.raises(SoapFault) as info:
        env.reseller.call("Dsl", "getQualification", id=q)  # the old reseller no longer sees it
    assert info.value.errorcode == 8004
    env.admin.call("Customer", "deleteAccount", id=env.c)
    with pytest.raises(SoapFault) as info:
        env.admin.call("Dsl", "getQualification", id=q)
    assert info.value.errorcode == 8004


def test_a_resellers_own_qualification_goes_when_the_reseller_is_deleted(env):
    q = env.reseller.call("Dsl", "qualify", address=("DslAddress", ADDRESS), locationType="R")
    assert (q["customer"], q["reseller"]) == (env.r, env.r)
    env.admin.call("Customer", "deleteAccount", id=env.c)
    env.admin.call("Customer", "deleteAccount", id=env.r)
    env.drain()  # the qualify job finds nothing to do
    with pytest.raises(SoapFault) as info:
        env.admin.call("Dsl", "getQualification", id=q["id"])
    assert info.value.errorcode == 8004


def test_qualifying_needs_the_right(env, server):
    env.admin.call("Customer", "setProperties", customer=env.r, properties=[{"name": "qualify_service", "value": ""}])
    with pytest.raises(SoapFault) as info:
        env.reseller.call("Dsl", "qualify", address=("DslAddress", ADDRESS), locationType="R")
    assert info.value.errorcode == 4004


def test_only_admin_grants_the_qualify_right_and_a_staff_login_has_its_resellers(env):
    env.admin.call("Customer", "setProperties", customer=env.r, properties=[{"name": "qualify_service", "value": ""}])
    staff = add(env.admin, username="staff", reseller=env.r, impersonate=env.r)["id"]
    with pytest.raises(SoapFault) as info:
        env.reseller.call("Customer", "setProperties", customer=staff,
                          properties=[{"name": "qualify_service", "value": "1"}])  # fmt: skip
    assert info.value.errorcode == 4006 and "qualify_service" in info.value.errorstring
    # granted by admin to the staff account, it still is not its reseller's right
    env.admin.call("Customer", "setProperties", customer=staff, properties=[{"name": "qualify_service", "value": "1"}])
    with pytest.raises(SoapFault) as info:
        Client(env.url, "staff", "pw-staff", admin=False).call(
            "Dsl", "qualify", address=("DslAddress", ADDRESS), locationType="R", customer=env.c
        )
    assert info.value.errorcode == 4004
    # a plain customer granted the right by admin qualifies for itself
    env.admin.call("Customer", "setProperties", customer=env.c, properties=[{"name": "qualify_service", "value": "1"}])
    q = Client(env.url, "c", "pw-c", admin=False).call("Dsl", "qualify", address=("DslAddress", ADDRESS), locationType="R")
    assert q["status"] == "P"


def test_order_follows_new_pending_completed_with_static_ips_and_notes(env):
    created = env.ordered()
    env.drain()
    service = env.service(created["id"])
    assert service["vendorOrderStatus"] == "NEW" and service["state"] == "pending"
    order_id = service["vendorOrderId"]
    assert env.sim.orders[order_id].phone_number == LINE and env.sim.count("ORDER") == 1

    env.sim.advance(order_id)
    env.pull()
    assert env.service(created["id"])["vendorOrderStatus"] == "PENDING"

    env.sim.advance(order_id)
    env.sim.assign_static_ips(order_id, ["192.0.2.7", "192.0.2.8"])
    env.sim.add_note(order_id, "Modem shipped", by="ikano")
    env.pull()
    env.pull()  # a second pull adds no duplicate notes
    service = env.service(created["id"])
    assert service["state"] == "active" and service["vendorOrderStatus"] == "COMPLETED"
    assert service["staticIps"] == ["192.0.2.7", "192.0.2.8"] and service["dueDate"] == "2026-12-01"
    texts = [n["text"] for n in service["notes"]]
    assert texts.count("Modem shipped") == 1 and "Activated" in texts
    assert env.pull().pulled == 0  # completed: no longer monitored


def test_cancel_a_new_order(env):
    created = env.ordered()
    env.drain()
    assert env.reseller.call("Dsl", "deleteService", id=created["id"]) == "cancelling"
    env.drain()
    service = env.service(created["id"])
    assert service["state"] == "cancelled"
    assert env.sim.orders[service["vendorOrderId"]].status == "CANCELLED"
    assert env.reseller.call("Dsl", "deleteService", id=created["id"]) == "removed"


def test_future_disconnect_of_a_completed_order(env):
    created = env.ordered()
    env.drain()
    order_id = env.service(created["id"])["vendorOrderId"]
    env.sim.advance(order_id)
    env.sim.advance(order_id)
    env.pull()
    with pytest.raises(SoapFault) as info:
        env.reseller.call("Dsl", "deleteService", id=created["id"])
    assert info.value.errorcode == 8009 and "expireDate" in info.value.errorstring
    assert env.reseller.call("Dsl", "deleteService", id=created["id"], expireDate="2027-01-31") == "disconnecting"
    env.drain()
    service = env.service(created["id"])
    assert service["orderType"] == "CANCEL" and service["vendorOrderId"] != order_id
    assert service["state"] == "disconnecting" and service["expireDate"] == "2027-01-31"
    cancel_order = env.sim.orders[service["vendorOrderId"]]
    assert cancel_order.order_type == "CANCEL" and str(cancel_order.date_to_order) == "2027-01-31"
    env.sim.advance(service["vendorOrderId"])
    env.sim.advance(service["vendorOrderId"])
    env.pull()
    assert env.service(created["id"])["state"] == "disconnected"


def test_password_change_goes_to_ikano(env):
    created = env.ordered()
    env.drain()
    env.reseller.call("Dsl", "updateService", service=("DslService", {"id": created["id"], "password": "ppp-2"}))
    env.drain()
    assert env.sim.count("PASSWORDCHANGE") == 1
    assert env.sim.orders[env.service(created["id"])["vendorOrderId"]].password == "ppp-2"
    assert env.service(created["id"])["password"] == "ppp-2"


def test_suspend_and_resume(env):
    created = env.ordered()
    env.drain()
    order_id = env.service(created["id"])["vendorOrderId"]
    env.sim.advance(order_id)
    env.sim.advance(order_id)
    env.pull()
    env.reseller.call("Dsl", "suspendService", id=created["id"])
    env.drain()
    assert env.service(created["id"])["state"] == "suspended"
    assert set(env.sim.services.values()) == {"SUSPENDED"}
    env.reseller.call("Dsl", "resumeService", id=created["id"])
    env.drain()
    assert env.service(created["id"])["state"] == "active"
    assert set(env.sim.services.values()) == {"ACTIVE"}


def test_server_errors_and_timeouts_are_retried_without_a_second_order(env):
    env.sim.fail_next("http500", times=2, command="ORDER")
    env.sim.fail_next("timeout", times=1, command="ORDER")  # Ikano places it; the answer is lost
    created = env.ordered()
    env.drain()
    service = env.service(created["id"])
    assert service["vendorOrderStatus"] == "NEW"
    assert len(env.sim.orders) == 1 and service["vendorOrderId"] in env.sim.orders
    with env.database.transaction(write=False) as session:
        outcomes = [a.outcome for a in session.execute(select(JobAttempt).order_by(JobAttempt.id)).scalars()]
    assert outcomes[-4:] == ["retry", "retry", "retry", "done"]


def test_a_lost_order_answer_and_a_lookup_without_an_order_id_stop_the_job_without_a_second_order(env):
    env.sim.lookup_shows_order_id = False
    env.sim.fail_next("timeout", times=1, command="ORDER")  # Ikano places it; the answer is lost
    created = env.ordered()
    env.drain()
    service = env.service(created["id"])
    assert service["state"] == "failed" and "check Ikano, then import the order" in service["failure"]
    assert "DSLServiceId" in service["failure"] and LINE in service["failure"]
    assert len(env.sim.orders) == 1 and env.sim.count("ORDER") == 1


def _contact_phone_sent(env) -> str:
    orders = [root for command, root in env.sim.requests if command == "ORDER"]
    return next(el.text for el in orders[-1].iter() if el.tag.endswith("ContactPhoneNumber"))


@pytest.mark.parametrize(
    ("tel", "mobile", "sent"),
    [("+1 (212) 555-0199", "917 555 0100", "12125550199"), ("", "917-555-0100", "9175550100"), ("", "", "5555555555")],
)
def test_the_orders_contact_phone_is_the_customers_telephone_then_mobile(env, tel, mobile, sent):
    env.admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": env.c, "tel": tel, "mobile": mobile}))
    env.ordered(customer=env.c)
    env.drain()
    assert _contact_phone_sent(env) == sent


def test_a_vendor_failure_stops_the_job_with_its_message_and_returns_the_credit(env):
    env.sim.fail_next("failure:Invalid TN for this location", command="ORDER")
    created = env.ordered()
    env.drain()
    service = env.service(created["id"])
    assert service["state"] == "failed" and "Invalid TN for this location" in service["failure"]
    with env.database.transaction(write=False) as session:
        job = session.execute(select(Job).where(Job.kind == "dsl.insert")).scalar_one()
    assert job.state == "failed" and job.attempts == 1
    assert env.reseller.call("Dsl", "deleteService", id=created["id"]) == "removed"


def test_dsl_credit_bounds_services(env):
    env.admin.call("Customer", "setProperties", customer=env.r, properties=[{"name": "dsl_credit", "value": "1"}])
    env.ordered()
    with pytest.raises(SoapFault) as info:
        env.ordered(phoneNumber="2125550124")
    assert info.value.errorcode == 6001 and "DSL service credit" in info.value.errorstring


def test_validation_of_a_new_service(env):
    q = env.qualified()
    base = {"qualification": q, "package": env.package["id"], "firstName": "A", "lastName": "B",
            "desiredDueDate": "2026-12-01"}  # fmt: skip
    for fields, words in (
        ({"loopType": "0", "phoneNumber": LINE}, "dry loop"),
        ({"loopType": "LS"}, "line-share"),
        ({"loopType": "XX"}, "loopType"),
        ({"loopType": "0", "firstName": ""}, "first and last"),
        ({"loopType": "0", "desiredDueDate": ""}, "desiredDueDate"),
    ):
        with pytest.raises(SoapFault) as info:
            env.reseller.call("Dsl", "addService", service=("DslService", {**base, **fields}))
        assert info.value.errorcode == 8007 and words in info.value.errorstring


def test_killing_the_worker_mid_order_does_not_order_twice(env, tmp_path):
    created = env.ordered()
    env.sim.delay(3.0, command="ORDER")  # Ikano takes the order, then answers slowly
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NGNSERVER_")}
    environ.update(
        NGNSERVER_DATABASE_URL=env.settings.effective_database_url, NGNSERVER_STATE_DIR=str(tmp_path / "w"),
        NGNSERVER_ADMIN_USERNAME="admin", NGNSERVER_ADMIN_PASSWORD="secret",
        NGNSERVER_SECRET_KEY=env.settings.secret_key.decode(), NGNSERVER_IKANO_URL=env.sim.url,
        NGNSERVER_IKANO_KEYID=env.sim.keyid, NGNSERVER_IKANO_PASSWORD=env.sim.password,
        NGNSERVER_IKANO_READ_TIMEOUT="10", NGNSERVER_WORKER_LEASE_SECONDS="1",
    )  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "ngnserver.cli", "worker", "--poll", "0.05"], env=environ,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while env.sim.count("ORDER") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert env.sim.count("ORDER") == 1, "the worker never sent the order"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    env.sim.delay(0, command="ORDER")
    time.sleep(1.1)  # the dead worker's lease expires
    env.drain()
    service = env.service(created["id"])
    assert service["vendorOrderStatus"] == "NEW" and service["vendorOrderId"] in env.sim.orders
    assert len(env.sim.orders) == 1 and env.sim.count("ORDER") == 1
    with env.database.transaction(write=False) as session:
        outcomes = [a.outcome for a in session.execute(select(JobAttempt).order_by(JobAttempt.id)).scalars()]
    assert "lost" in outcomes and outcomes[-1] == "done"


def test_pull_dsl_does_not_run_twice_at_once(env):
    with (
        env.database.exclusive(dsl_rules.PULL_LOCK),
        pytest.raises(AlreadyRunning, match="another pull-dsl is running"),
        env.database.exclusive(dsl_rules.PULL_LOCK),
    ):
        pass
    with env.database.exclusive(dsl_rules.PULL_LOCK):
        pass


def test_a_failing_service_does_not_stop_the_pull(env):
    first, second = env.ordered(), env.ordered(phoneNumber="2125550124")
    env.drain()
    env.sim.fail_next("http500", command="ORDERSTATUS")
    report = env.pull()
    assert (report.pulled, report.failed) == (1, 1)
    ids = {env.service(s["id"])["vendorOrderId"] for s in (first, second)}
    assert len(ids) == 2


@pytest.fixture
def import_env(server, tmp_path):
    environment = Env(server, tmp_path, import_mode=True)
    yield environment
    environment.stop()


def test_import_mode_syncs_an_existing_order_and_refuses_everything_else(import_env):
    env = import_env
    # an order placed at Ikano outside this server
    client = IkanoClient(env.sim.keyid, env.sim.password, url=env.sim.url)
    prequal = client.prequal(Address("1 Main St", "New York", "NY", "10001"), None, "R", ["ATT"])
    placed = client.order_new(NewOrder(["ATT-DRY-6M"], prequal.offered()["ATT-DRY-6M"], prequal.prequal_id, None,
                                       "imp-pw", "Old", "Customer", datetime.date(2026, 11, 1)))
    env.sim.advance(placed.order_id)

    created = env.reseller.call("Dsl", "addService", service=("DslService", {
        "vendorOrderId": placed.order_id, "package": env.package["id"], "customer": env.c}))  # fmt: skip
    env.drain()
    service = env.service(created["id"])
    assert service["vendorOrderStatus"] == "PENDING" and service["orderType"] == "NEW"
    assert service["loopType"] == "0" and service["phoneNumber"] == env.sim.orders[placed.order_id].virtual_phone_number
    assert service["firstName"] == "Old" and service["password"] == "imp-pw"

    for operation, params in (
        ("qualify", {"address": ("DslAddress", ADDRESS), "locationType": "R"}),
        ("suspendService", {"id": created["id"]}),
        ("deleteService", {"id": created["id"]}),
        ("addService", {"service": ("DslService", {"package": env.package["id"]})}),
    ):
        with pytest.raises(SoapFault) as info:
            env.reseller.call("Dsl", operation, **params)
        assert info.value.errorcode == 8008
        assert info.value.errorstring.startswith("Invalid operation - Import Mode is enabled")
