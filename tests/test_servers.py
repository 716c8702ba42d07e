"""Dedicated servers and colocation through the whole path: SOAP -> record and job -> worker
-> DCImanager simulator (real HTTP, real TCP reachability check) -> record, with the
simulator failing the ways DCImanager does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import zeep
from sqlalchemy import select

from ngnserver.app import NGNProApp
from ngnserver.config import DcimSettings
from ngnserver.core import servers as servers_rules
from ngnserver.core.jobs import retry
from ngnserver.core.servers_dcim import NOT_CONFIGURED
from ngnserver.db import Database
from ngnserver.models.job import Job, JobAttempt
from ngnserver.worker import make_worker
from tests.conftest import make_settings, serve_app
from tests.support.dcimanager_simulator import FREE_DOMAIN, DcimSimulator
from tests.support.wire import Client, SoapFault
from tests.test_customer_rules import add

PANEL_PASSWORD = "panel-Pass-1234"
ROOT_PASSWORD = "root-Pass-98765"


class Env:
    """A server configured for the DCImanager simulator (fast polls), a worker, and a
    reseller ``r`` (server_credit 5) whose customer ``c`` orders servers."""

    def __init__(self, server: Any, tmp_path: Any, **simulator: Any) -> None:
        simulator.setdefault("power_delay", 0.05)
        simulator.setdefault("install_delay", 0.2)
        self.sim = DcimSimulator(timeout_sleep=2.0, **simulator).start()
        self.dcim = DcimSettings(
            url=self.sim.base_url, username=self.sim.username, password=self.sim.password, timeout=1.0,
            power_poll_seconds=0.05, power_limit_seconds=3, install_poll_seconds=0.05, install_limit_seconds=5,
            check_port=self.sim.listen_port, check_poll_seconds=0.05, check_limit_seconds=1,
            check_timeout_seconds=0.5,
        )  # fmt: skip
        self.settings = make_settings(tmp_path, server.database.url, dcim=self.dcim, worker_backoff_seconds=0.01,
                                      worker_lease_seconds=30, worker_max_attempts=4)  # fmt: skip
        self.database = Database(self.settings.effective_database_url)
        self.app = NGNProApp(self.settings, self.database)
        base, self.httpd = serve_app(self.app)
        self.url = base + "/ngnpro/"
        self.admin = Client(self.url, "admin", "secret")
        self.worker = make_worker(self.settings, self.database, "test-worker")
        self.r = add(self.admin, username="r", resellerActive=True)["id"]
        self.c = add(self.admin, username="c", reseller=self.r)["id"]
        self.admin.call("Customer", "setProperties", customer=self.r, properties=[{"name": "server_credit", "value": "5"}])
        self.package = self.add_package(name="R630 Debian", template="R630", osTemplate="Debian-12-amd64",
                                        recipe="lamp", extraIpv4=2, extraIpv6=1)  # fmt: skip
        self.reseller = Client(self.url, "r", "pw-r", admin=False)

    def add_package(self, **fields: Any) -> dict[str, Any]:
        return self.admin.call("Server", "addPackage", package=("ServerPackage", {"kind": "dedicated", **fields}))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.sim.stop()
        self.database.dispose()
        assert self.sim.internal_errors == []

    def drain(self, seconds: float = 30) -> int:
        """Run jobs until none is queued or running (waits included)."""
        ran, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.worker.run_one():
                ran += 1
                continue
            if not self.open_jobs():
                return ran
            time.sleep(0.01)
        raise AssertionError("jobs still waiting after the deadline")

    def open_jobs(self) -> list[Job]:
        with self.database.transaction(write=False) as session:
            return list(session.execute(select(Job).where(Job.state.in_(("queued", "running")))).scalars())

    def jobs(self, kind: str | None = None) -> list[Job]:
        with self.database.transaction(write=False) as session:
            stmt = select(Job).order_by(Job.id)
            if kind:
                stmt = stmt.where(Job.kind == kind)
            return list(session.execute(stmt).scalars())

    def order(self, client: Client | None = None, **fields: Any) -> dict[str, Any]:
        wanted = {"customer": self.c, "package": self.package["id"], "hostname": "web1.example.com",
                  "panelUsername": "ann.lee@example", "panelPassword": PANEL_PASSWORD,
                  "rootPassword": ROOT_PASSWORD, **fields}  # fmt: skip
        created = (client or self.reseller).call("Server", "addServer", server=("Server", wanted))
        assert created["state"] == "pending" and created["dcimServerId"] == ""
        return created

    def get(self, server_id: int) -> dict[str, Any]:
        return self.reseller.call("Server", "getServer", id=server_id)


@pytest.fixture
def env(server, tmp_path):
    environment = Env(server, tmp_path)
    yield environment
    environment.stop()


def test_an_order_is_provisioned_through_every_step_to_active(env):
    created = env.order()
    env.drain()
    got = env.get(created["id"])
    assert got["state"] == "active" and got["step"] == "" and got["failure"] == ""
    assert [s["step"] for s in got["steps"]] == [
        "pick", "user", "admin_owner", "enable", "power_on", "powered", "domain", "extra_ips", "install",
        "installed", "reachable", "customer_owner", "welcome",
    ]  # fmt: skip
    machine = env.sim.servers[got["dcimServerId"]]
    user = env.sim.users[machine.owner]
    # the panel user: special characters removed, the customer owns the machine
    assert user.name == "annleeexample" == got["panelUsername"] and user.password == PANEL_PASSWORD
    assert machine.install == "done" and machine.installs == 1 and machine.os_template == "Debian-12-amd64"
    assert machine.recipe == "lamp" and machine.root_password == ROOT_PASSWORD and machine.power == "on"
    assert not machine.disabled and all(c.on for c in machine.connections if c.type == "Switch")
    # the main IP and the extras, all with the hostname as domain
    addresses = env.sim.server_ips(machine.id)
    assert {ip.domain for ip in addresses} == {"web1.example.com"}
    assert sorted(got["ips"]) == sorted(ip.ip for ip in addresses) and len(got["ips"]) == 4
    assert got["mainIp"] == env.sim.main_ip(machine.id) and got["mainIp"] in got["ips"]
    assert sum(":" in ip for ip in got["ips"]) == 1
    # no read-modify-write cleared a field it did not mean to
    assert machine.name.startswith("srv-r630-") and machine.mac and machine.type == "Dell PowerEdge R630"
    welcome = got["welcome"]
    assert welcome["hostname"] == "web1.example.com" and welcome["mainIp"] == got["mainIp"]
    assert welcome["panelUsername"] == "annleeexample" and welcome["panelPassword"] == PANEL_PASSWORD
    assert welcome["rootPassword"] == ROOT_PASSWORD and welcome["panelUrl"] == env.sim.url
    assert got["rootPassword"] == ROOT_PASSWORD
    # the passwords are sealed at rest and out of the change history
    with env.database.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT * FROM server_services").fetchall()
        audit = conn.exec_driver_sql("SELECT changes FROM audit_log WHERE kind = 'server'").fetchall()
        jobs = conn.exec_driver_sql("SELECT data FROM jobs").fetchall()
    for text in (repr(raw), repr(audit), repr(jobs)):
        assert PANEL_PASSWORD not in text and ROOT_PASSWORD not in text


def test_waiting_holds_no_worker_and_uses_no_attempt(server, tmp_path):
    env = Env(server, tmp_path, install_delay=None)
    try:
        created = env.order()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not env.worker.run_one():
                time.sleep(0.02)
            if env.get(created["id"])["step"] == "installed":
                break
        [job] = env.jobs("server.insert")
        assert job.state == "queued" and job.attempts == 0 and job.step == "install"
        # a second order proceeds while the first one's install runs
        second = env.order(hostname="web2.example.com")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not env.worker.run_one():
                time.sleep(0.02)
            if env.get(second["id"])["step"] == "installed":
                break
        assert env.get(second["id"])["step"] == "installed"
        for machine in (env.get(created["id"])["dcimServerId"], env.get(second["id"])["dcimServerId"]):
            env.sim.finish_install(machine)
        env.drain()
        assert {env.get(s["id"])["state"] for s in (created, second)} == {"active"}
        with env.database.transaction(write=False) as session:
            outcomes = {a.outcome for a in session.execute(select(JobAttempt)).scalars()}
        assert "wait" in outcomes and "retry" not in outcomes
    finally:
        env.stop()


def test_two_orders_at_once_get_two_different_machines(server, tmp_path):
    env = Env(server, tmp_path)
    try:
        first, second = env.order(), env.order(hostname="web2.example.com")
        other = make_worker(env.settings, env.database, "other-worker")
        env.sim.delay(0.1, func="server")  # both list the free servers before either claims one
        threads = [threading.Thread(target=w.run_one) for w in (env.worker, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        env.sim.delay(0, func="server")
        env.drain()
        a, b = env.get(first["id"]), env.get(second["id"])
        assert a["state"] == b["state"] == "active", (a["failure"], b["failure"])
        assert a["dcimServerId"] != b["dcimServerId"]
        assert {env.sim.hostname(a["dcimServerId"]), env.sim.hostname(b["dcimServerId"])} == {
            "web1.example.com", "web2.example.com",
        }  # fmt: skip
    finally:
        env.stop()


def test_an_empty_pool_of_machines_fails_the_order(env):
    env.order()
    env.order(hostname="web2.example.com")
    env.drain()
    third = env.order(hostname="web3.example.com")  # the seed has two sellable R630s
    env.drain()
    got = env.get(third["id"])
    assert got["state"] == "failed" and "no free server" in got["failure"] and got["dcimServerId"] == ""


@pytest.mark.parametrize(
    "knob, words",
    [
        ("install_fails", "the OS install failed"),
        ("power_never", "did not power on within"),
        ("pool_empty", "No free IP addresses"),
        ("unreachable", "does not answer on TCP port"),
        ("access_error", "access"),
    ],
)
def test_each_failure_frees_the_machine_with_the_reason_in_its_notes(env, knob, words):
    machine_id = "1"  # the first free R630, the one the setup picks
    if knob == "install_fails":
        env.sim.configure_server(machine_id, install_fails=True)
    elif knob == "power_never":
        env.sim.configure_server(machine_id, power_fault="never")
    elif knob == "pool_empty":
        env.sim.drain_pool("ipv6")
    elif knob == "unreachable":
        env.sim.configure_server(machine_id, reachable=False)
    elif knob == "access_error":
        env.sim.fail_next("error:access:server:Access denied", func="server.poweron")
    env.sim.configure_server(machine_id, notes="rack 4, left")
    created = env.order()
    env.drain()
    got = env.get(created["id"])
    assert got["state"] == "failed" and words in got["failure"], got["failure"]
    assert got["dcimServerId"] == machine_id
    machine = env.sim.servers[machine_id]
    assert machine.disabled
    assert {ip.domain for ip in env.sim.server_ips(machine_id)} == {FREE_DOMAIN}
    notes = machine.notes.splitlines()
    assert notes[0] == "rack 4, left" and got["failure"] in notes[-1]
    assert env.sim.users[machine.owner].name == env.sim.username  # the owner left as it was: the admin
    assert machine.name and machine.mac and machine.type  # nothing cleared
    [job] = env.jobs("server.insert")
    assert job.state == "failed"


def test_a_failed_setup_retried_resumes_at_the_failed_step(env):
    env.sim.configure_server("1", install_fails=True)
    created = env.order()
    env.drain()
    assert env.get(created["id"])["state"] == "failed"
    env.sim.configure_server("1", install_fails=False)
    [job] = env.jobs("server.insert")
    result = subprocess.run(
        [sys.executable, "-m", "ngnserver.cli", "jobs", "retry", str(job.id)], env=_cli_environ(env), check=False,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    env.drain()
    got = env.get(created["id"])
    assert got["state"] == "active" and got["failure"] == ""
    steps = [s["step"] for s in got["steps"]]
    assert steps.count("pick") == 1 and steps.count("user") == 1 and steps.count("install") == 2
    assert "undone" in steps and steps.count("enable") == 2  # re-enabled after the undoing
    machine = env.sim.servers["1"]
    assert machine.installs == 2 and not machine.disabled and len(env.sim.users) == 3  # admin, oldcustomer, ours
    assert {ip.domain for ip in env.sim.server_ips("1")} == {"web1.example.com"}


def _creating(params: dict[str, str]) -> bool:
    return params.get("sok") == "ok" and not params.get("elid")


def test_a_lost_answer_adds_no_second_address_or_user(env):
    # DCImanager carries out the first address and the user, and the answers are lost
    env.sim.fail_next("timeout", func="iplist.edit", when=_creating)
    env.sim.fail_next("timeout", func="user.edit", when=_creating)
    created = env.order()
    env.drain()
    got = env.get(created["id"])
    assert got["state"] == "active" and len(got["ips"]) == 4
    assert len(env.sim.server_ips(got["dcimServerId"])) == 4
    assert [u.name for u in env.sim.users.values()].count("annleeexample") == 1
    assert len([c for c in env.sim.calls_of("iplist.edit") if _creating(c.params)]) == 3  # 2 IPv4 + 1 IPv6
    # addIp after a lost answer adopts the address instead of adding another
    env.sim.fail_next("timeout", func="iplist.edit", when=_creating)
    env.reseller.call("Server", "addIp", id=created["id"], family="ipv6")
    env.drain()
    after = env.get(created["id"])
    assert len(after["ips"]) == 5 and len(env.sim.server_ips(got["dcimServerId"])) == 5
    with env.database.transaction(write=False) as session:
        outcomes = [a.outcome for a in session.execute(select(JobAttempt).order_by(JobAttempt.id)).scalars()]
    assert outcomes.count("retry") == 3


def test_a_worker_killed_during_the_install_resumes_polling_without_a_second_install(server, tmp_path):
    env = Env(server, tmp_path, install_delay=None)
    try:
        created = env.order()
        env.sim.delay(5.0, func="server.operations")  # DCImanager starts the install, then answers slowly
        worker = subprocess.Popen(
            [sys.executable, "-m", "ngnserver.cli", "worker", "--poll", "0.02"], env=_cli_environ(env, lease="1"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while env.sim.count("server.operations") == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert env.sim.count("server.operations") == 1, "the worker never started the install"
            time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGKILL)  # while it waits for the install's answer
            worker.wait()
        env.sim.delay(0, func="server.operations")
        got = env.get(created["id"])
        machine_id = got["dcimServerId"]
        assert got["step"] == "install" and env.sim.servers[machine_id].install == "installing"
        time.sleep(1.1)  # the dead worker's lease expires
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the next worker adopts the install and polls it
            if not env.worker.run_one():
                time.sleep(0.02)
            if env.get(created["id"])["step"] == "installed":
                break
        assert env.get(created["id"])["step"] == "installed"
        env.sim.finish_install(machine_id)
        env.drain()
        got = env.get(created["id"])
        assert got["state"] == "active" and env.sim.servers[machine_id].installs == 1
        assert env.sim.count("server.operations") == 1
        assert [s["result"] for s in got["steps"] if s["step"] == "install"] == ["OS install already running"]
        with env.database.transaction(write=False) as session:
            outcomes = [a.outcome for a in session.execute(select(JobAttempt).order_by(JobAttempt.id)).scalars()]
        assert "lost" in outcomes
    finally:
        env.stop()


def test_suspend_resume_reboot_and_delete(env):
    created = env.order()
    env.drain()
    machine_id = env.get(created["id"])["dcimServerId"]
    machine = env.sim.servers[machine_id]
    env.reseller.call("Server", "suspendServer", id=created["id"])
    with pytest.raises(SoapFault) as info:  # one job at a time
        env.reseller.call("Server", "rebootServer", id=created["id"])
    assert info.value.errorcode == 10007
    env.drain()
    assert env.get(created["id"])["state"] == "suspended"
    assert not any(c.on for c in machine.connections if c.type == "Switch")
    env.reseller.call("Server", "resumeServer", id=created["id"])
    env.drain()
    assert env.get(created["id"])["state"] == "active"
    assert all(c.on for c in machine.connections if c.type == "Switch")
    env.reseller.call("Server", "rebootServer", id=created["id"])
    env.drain()
    assert machine.reboots == 1

    assert env.reseller.call("Server", "deleteServer", id=created["id"]) == "deleting"
    assert env.get(created["id"])["state"] == "deleting"
    env.drain()
    with pytest.raises(SoapFault) as info:
        env.get(created["id"])
    assert info.value.errorcode == 10005
    # back in the pool: no owner, free.ds, only the main address, nothing else cleared
    assert machine.owner == "" and env.sim.hostname(machine_id) == FREE_DOMAIN
    assert [ip.ip for ip in env.sim.server_ips(machine_id)] == [env.sim.main_ip(machine_id)]
    assert machine.name and machine.mac and machine.type and machine.disabled
    # the credit came back, and the machine can be sold again
    again = env.order(hostname="web9.example.com")
    env.drain()
    assert env.get(again["id"])["state"] == "active"


def test_addresses_and_the_panel_password_change_through_jobs(env):
    created = env.order()
    env.drain()
    got = env.get(created["id"])
    env.reseller.call("Server", "addIp", id=created["id"], family="ipv4")
    env.drain()
    after = env.get(created["id"])
    [new] = set(after["ips"]) - set(got["ips"])
    assert new in [ip.ip for ip in env.sim.server_ips(got["dcimServerId"])]
    env.reseller.call("Server", "deleteIp", id=created["id"], ip=new)
    env.drain()
    assert sorted(env.get(created["id"])["ips"]) == sorted(got["ips"])
    with pytest.raises(SoapFault) as info:
        env.reseller.call("Server", "deleteIp", id=created["id"], ip=got["mainIp"])
    assert info.value.errorcode == 10008
    env.reseller.call("Server", "changePassword", id=created["id"], password="new-Panel-pass-7")
    env.drain()
    user = env.sim.users[env.sim.servers[got["dcimServerId"]].owner]
    assert user.password == "new-Panel-pass-7" and user.name == "annleeexample"  # the name not cleared
    assert env.get(created["id"])["panelPassword"] == "new-Panel-pass-7"
    env.reseller.call("Server", "updateServer", server=("Server", {"id": created["id"], "hostname": "www.example.org"}))
    env.drain()
    assert env.get(created["id"])["hostname"] == "www.example.org"
    assert {ip.domain for ip in env.sim.server_ips(got["dcimServerId"])} == {"www.example.org"}


def test_colocation_has_no_os_install(env):
    colo = env.add_package(name="Colo 1U", kind="colocation", template="X10DRi", extraIpv4=1)
    created = env.order(package=colo["id"], rootPassword=None)
    env.drain()
    got = env.get(created["id"])
    assert got["state"] == "active"
    steps = [s["step"] for s in got["steps"]]
    assert "install" not in steps and "powered" not in steps and "customer_owner" in steps
    machine = env.sim.servers[got["dcimServerId"]]
    assert machine.chassis_templ == "X10DRi" and machine.installs == 0 and len(got["ips"]) == 2
    assert env.sim.users[machine.owner].name == "annleeexample"


def test_server_credit_bounds_orders_and_deletion_gives_it_back(env):
    env.admin.call("Customer", "setProperties", customer=env.r, properties=[{"name": "server_credit", "value": "1"}])
    created = env.order()
    with pytest.raises(SoapFault) as info:
        env.order(hostname="web2.example.com")
    assert info.value.errorcode == 6001 and "server credit" in info.value.errorstring
    env.drain()
    env.reseller.call("Server", "deleteServer", id=created["id"])
    env.drain()
    env.order(hostname="web2.example.com")


def test_scope_owner_and_customer_deletion(env):
    other = add(env.admin, username="r2", resellerActive=True)["id"]
    env.admin.call("Customer", "setProperties", customer=other, properties=[{"name": "server_credit", "value": "5"}])
    mine = env.order()
    theirs = env.order(client=Client(env.url, "r2", "pw-r2", admin=False), customer=None, hostname="t.example.net")
    with pytest.raises(SoapFault) as info:
        env.reseller.call("Server", "getServer", id=theirs["id"])
    assert info.value.errorcode == 10005
    listing = env.reseller.call("Server", "getServers", query=("ServerQuery", {"range": {"start": 0, "count": 10}}))
    assert listing["total"] == 1 and [s["id"] for s in listing["servers"]] == [mine["id"]]
    everything = env.admin.call("Server", "getServers", query=("ServerQuery", {"filter": {"hostname": "%example%"}}))
    assert everything["total"] == 2
    # a customer sees its own; impersonating it, the reseller sees the same
    customer = Client(env.url, "c", "pw-c", admin=False)
    assert customer.call("Server", "getServers", query=("ServerQuery", {}))["total"] == 1
    with pytest.raises(SoapFault) as info:
        customer.call("Server", "addPackage", package=("ServerPackage", {"name": "x", "template": "R630"}))
    assert info.value.errorcode == 4004
    with pytest.raises(SoapFault) as info:
        env.admin.call("Customer", "deleteAccount", id=env.c)
    assert info.value.errorcode == 5005 and "1 server" in info.value.errorstring
    with pytest.raises(SoapFault) as info:
        env.admin.call("Server", "deletePackage", id=env.package["id"])
    assert info.value.errorcode == 10003


def test_validation_and_an_unconfigured_server(env, server, tmp_path):
    for fields, code in (
        ({"hostname": "not a host"}, 10006),
        ({"hostname": "free.ds"}, 10006),
        ({"panelUsername": "..."}, 10006),
        ({"panelPassword": "short"}, 10006),
        ({"rootPassword": ""}, 10006),
        ({"package": 999}, 10001),
    ):
        with pytest.raises(SoapFault) as info:
            env.order(**fields)
        assert info.value.errorcode == code, fields
    with pytest.raises(SoapFault) as info:
        env.add_package(name="bad", template="R630", kind="vps", osTemplate="x")
    assert info.value.errorcode == 10004
    unconfigured = NGNProApp(make_settings(tmp_path, server.database.url, secret_key=env.settings.secret_key),
                             env.database)  # fmt: skip
    base, httpd = serve_app(unconfigured)
    try:
        with pytest.raises(SoapFault) as info:
            env.order(client=Client(base + "/ngnpro/", "r", "pw-r", admin=False))
        assert info.value.errorcode == 10010 and info.value.faultcode == "SOAP-ENV:Server"
    finally:
        httpd.shutdown()


def test_a_worker_without_dcimanager_settings_fails_the_setup_for_good_saying_what_to_set(env, tmp_path, caplog):
    created = env.order()
    bare = make_settings(tmp_path, env.settings.database_url, secret_key=env.settings.secret_key,
                         worker_max_attempts=4)  # fmt: skip
    assert make_worker(bare, env.database, "unconfigured").run_one()
    [job] = env.jobs("server.insert")
    assert job.state == "failed" and job.attempts == 1  # not retried: retrying would not configure it
    assert job.last_error == NOT_CONFIGURED and "NGNSERVER_DCIM_URL" in NOT_CONFIGURED
    got = env.get(created["id"])
    assert got["state"] == "failed" and got["failure"] == NOT_CONFIGURED and got["dcimServerId"] == ""
    assert env.sim.calls == [] and "undoing its work at the vendor failed" not in caplog.text  # nothing to undo
    # configured, the operator's retry provisions it
    with env.database.transaction(write=True) as session:
        retry(session, job.id)
    env.drain()
    assert env.get(created["id"])["state"] == "active"


def _pull_servers(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ngnserver.cli", "pull-servers"], env=environ, check=False,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_pull_servers_brings_the_addresses_up_to_date_one_run_at_a_time(env):
    first, second = env.order(), env.order(hostname="web2.example.com")
    env.drain()
    machine = env.get(first["id"])["dcimServerId"]
    # in DCImanager, an operator gives the machine another address and takes its IPv6 away
    [added] = env.sim.add_pool_ips("ipv4", 1)
    with env.sim._lock:
        next(ip for ip in env.sim.ips.values() if ip.ip == added).server_id = machine
        ipv6 = next(ip for ip in env.sim.server_ips(machine) if ip.family == "ipv6")
        del env.sim.ips[ipv6.id]
    env.reseller.call("Server", "rebootServer", id=second["id"])  # queued: its job owns the record
    before = len(env.sim.calls)
    result = _pull_servers(_cli_environ(env))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pulled 1, failed 0, skipped 1"
    got = env.get(first["id"])
    assert sorted(got["ips"]) == sorted(ip.ip for ip in env.sim.server_ips(machine))
    assert added in got["ips"] and ipv6.ip not in got["ips"] and len(got["ips"]) == 4
    assert {call.func for call in env.sim.calls[before:]} <= {"auth", "iplist"}  # the pull only read
    assert all(call.params.get("sok") is None for call in env.sim.calls[before:])
    # one pull at a time
    with env.database.exclusive(servers_rules.PULL_LOCK):
        result = _pull_servers(_cli_environ(env))
    assert result.returncode == 0 and result.stdout.strip() == "pull-servers: another pull-servers is running; nothing done"
    # without DCImanager settings, it says what to set
    unconfigured = {k: v for k, v in _cli_environ(env).items() if not k.startswith("NGNSERVER_DCIM_")}
    result = _pull_servers(unconfigured)
    assert result.returncode == 1 and result.stderr.strip() == f"Error: {NOT_CONFIGURED}"


def test_zeep_orders_a_server_from_the_served_wsdl(env):
    client = zeep.Client(env.url + "wsdl")
    client.set_default_soapheaders({"auth": {"username": "admin", "password": "secret", "admin": True}})
    port = client.bind("NGNPro", "ServerPort")
    package = port.addPackage(package={"name": "Zeep X10", "kind": "dedicated", "template": "X10DRi",
                                       "osTemplate": "Ubuntu-22.04-amd64", "extraIpv4": 0, "extraIpv6": 0})
    assert isinstance(package.id, int) and package.kind == "dedicated"
    assert [p.name for p in port.getPackages()] == ["R630 Debian", "Zeep X10"]
    created = port.addServer(server={"customer": env.c, "package": package.id, "hostname": "z.example.com",
                                     "panelUsername": "zed", "panelPassword": PANEL_PASSWORD,
                                     "rootPassword": ROOT_PASSWORD})  # fmt: skip
    assert created.state == "pending"
    env.drain()
    got = port.getServer(id=created.id)
    assert got.state == "active" and got.welcome.panelUsername == "zed" and got.mainIp in got.ips
    assert [s.step for s in got.steps][-1] == "welcome"
    listing = port.getServers(query={"filter": {"state": "active"}, "range": {"start": 0, "count": 5}})
    assert listing.total == 1 and listing.servers[0].hostname == "z.example.com"
    port.updatePackage(package={"id": package.id, "extraIpv4": 1})
    assert [p.extraIpv4 for p in port.getPackages() if p.id == package.id] == [1]


def _cli_environ(env: Env, lease: str = "30") -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NGNSERVER_")}
    environ.update(
        NGNSERVER_DATABASE_URL=env.settings.effective_database_url, NGNSERVER_STATE_DIR=str(env.settings.state_dir),
        NGNSERVER_ADMIN_USERNAME="admin", NGNSERVER_ADMIN_PASSWORD="secret",
        NGNSERVER_SECRET_KEY=env.settings.secret_key.decode(), NGNSERVER_DCIM_URL=env.sim.base_url,
        NGNSERVER_DCIM_USERNAME=env.sim.username, NGNSERVER_DCIM_PASSWORD=env.sim.password,
        NGNSERVER_DCIM_POWER_POLL_SECONDS="0.05", NGNSERVER_DCIM_INSTALL_POLL_SECONDS="0.05",
        NGNSERVER_DCIM_CHECK_PORT=str(env.sim.listen_port), NGNSERVER_DCIM_CHECK_POLL_SECONDS="0.05",
        NGNSERVER_WORKER_LEASE_SECONDS=lease, NGNSERVER_WORKER_BACKOFF_SECONDS="0.01",
        PYTHONPATH=os.getcwd(),
    )  # fmt: skip
    return environ
