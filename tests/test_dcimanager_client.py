"""The DCImanager client against the DCImanager simulator over real HTTP: every method
round-trips in both answer formats and both ways of authenticating, updates never clear a
field they did not mean to, sessions are renewed when they expire, each failure maps to the
right exception (transient or permanent), and the debug log never shows a secret."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from ngnserver.vendors.dcimanager import (
    DEFAULT_TIMEOUT,
    FREE_DOMAIN,
    DcimApiError,
    DcimClient,
    DcimError,
    DcimNotFound,
    DcimProtocolError,
    DcimTransientError,
    panel_username,
    unique_panel_username,
)
from tests.support.dcimanager_simulator import DcimSimulator

ROOT_PASSWORD = "root-Secret-42x"
PANEL_PASSWORD = "panel-Secret-17y"
MODES = [("authinfo", "xml"), ("authinfo", "json"), ("session", "xml"), ("session", "json")]


@pytest.fixture
def dcim() -> Iterator[DcimSimulator]:
    with DcimSimulator() as simulator:
        yield simulator
    assert simulator.internal_errors == []


@pytest.fixture(params=MODES, ids=[f"{auth}-{out}" for auth, out in MODES])
def client(request: pytest.FixtureRequest, dcim: DcimSimulator) -> DcimClient:
    auth, output = request.param
    return _client(dcim, auth=auth, output=output)


def _client(dcim: DcimSimulator, **options: object) -> DcimClient:
    settings: dict[str, object] = {"timeout": 5.0, "connect_timeout": 2.0}
    settings.update(options)
    return DcimClient(dcim.base_url, dcim.username, dcim.password, **settings)  # type: ignore[arg-type]


def free_server(client: DcimClient) -> str:
    return client.free_servers("R630")[0].id


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.02)


def connects(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0):
            return True
    except OSError:
        return False


# servers


def test_server_list_reads_fields_and_presence_flags(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    servers = {server.id: server for server in client.servers()}

    assert len(servers) == len(dcim.servers)
    first = servers["1"]
    assert (first.hostname, first.owner, first.chassis_templ) == (FREE_DOMAIN, "", "R630")
    assert first.type == "Dell PowerEdge R630"
    assert first.ip == dcim.main_ip("1")
    assert first.poweroff and not first.poweron
    assert not (first.blocked or first.hwproblem or first.diag_in_progress or first.disabled)
    assert servers["4"].owner == "oldcustomer"
    assert servers["4"].hostname == "taken.example"
    assert (servers["5"].hwproblem, servers["6"].blocked, servers["7"].diag_in_progress) == (
        True,
        True,
        True,
    )


def test_free_servers_follow_billmanagers_rule(client: DcimClient) -> None:
    # 4 has an owner, 5 a hardware problem, 6 is blocked, 7 runs diagnostics, 8 is not free.ds
    assert [server.id for server in client.free_servers("R630")] == ["1", "2"]
    assert [server.id for server in client.free_servers("Supermicro X10DRi")] == ["3"]
    assert [server.id for server in client.free_servers("X10DRi")] == ["3"]
    assert client.free_servers("DL380") == []


def test_server_by_id_and_an_unknown_one(client: DcimClient) -> None:
    assert client.server("3").chassis_templ == "X10DRi"
    with pytest.raises(DcimNotFound, match="no server with id 99"):
        client.server("99")


def test_server_settings_show_the_edit_form(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.configure_server("4", notes="rack A, shelf 2")

    settings = client.server_settings("4")

    assert settings.name == dcim.servers["4"].name
    assert settings.mac == dcim.servers["4"].mac
    assert settings.type == "Dell PowerEdge R630"
    assert settings.owner == next(u.id for u in dcim.users.values() if u.name == "oldcustomer")
    assert settings.notes == "rack A, shelf 2"
    assert not settings.disabled


def test_an_unknown_server_edit_is_not_found(client: DcimClient) -> None:
    with pytest.raises(DcimNotFound) as raised:
        client.server_settings("99")
    assert (raised.value.error_type, raised.value.error_object) == ("missing", "server")


def test_the_simulator_clears_what_an_edit_does_not_send(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    """The harness itself: a write of only the owner, as a naive client would send it,
    blanks the server's name, MAC, notes and type, so read-modify-write is really tested."""
    dcim.configure_server("1", notes="keep me")

    client.call("server.edit", {"elid": "1", "sok": "ok", "owner": "1"})

    server = dcim.servers["1"]
    assert (server.name, server.mac, server.notes, server.type) == ("", "", "", "")
    assert server.owner == "1"


def test_setting_the_owner_keeps_every_other_field(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.configure_server("1", notes="burned in 2031-01-04")
    before = dcim.servers["1"]
    name, mac, server_type = before.name, before.mac, before.type
    admin_id = client.user_id(dcim.username)

    client.set_owner("1", admin_id)

    server = dcim.servers["1"]
    assert (server.name, server.mac, server.type) == (name, mac, server_type)
    assert server.notes == "burned in 2031-01-04"
    assert server.owner == admin_id
    assert client.server("1").owner == dcim.username
    written = dcim.calls_of("server.edit")[-1].params
    assert written["sok"] == "ok" and written["owner"] == admin_id
    assert {written[name] for name in ("name", "mac", "type")} == {name, mac, server_type}


def test_no_owner_returns_the_server_to_the_pool(client: DcimClient, dcim: DcimSimulator) -> None:
    client.set_owner("4", None)

    assert dcim.servers["4"].owner == ""
    assert dcim.calls_of("server.edit")[-1].params["owner"] == "no_owner"
    assert client.server("4").owner == ""
    assert dcim.servers["4"].type == "Dell PowerEdge R630"


def test_an_owner_that_is_no_user_is_refused(client: DcimClient) -> None:
    with pytest.raises(DcimApiError) as raised:
        client.set_owner("1", "999")
    assert (raised.value.error_type, raised.value.error_object) == ("value", "owner")


def test_a_note_is_appended_to_the_notes(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.configure_server("1", notes="spare PSU fitted")

    client.add_note("1", "2031-01-05 setup failed: install failed")
    written = client.add_note("1", "2031-01-06 setup failed: unreachable")

    assert dcim.servers["1"].notes == (
        "spare PSU fitted\n2031-01-05 setup failed: install failed\n"
        "2031-01-06 setup failed: unreachable"
    )
    assert written == dcim.servers["1"].notes
    assert dcim.servers["1"].type == "Dell PowerEdge R630"


def test_a_note_on_empty_notes_is_the_only_line(client: DcimClient, dcim: DcimSimulator) -> None:
    client.add_note("2", "reason")
    assert dcim.servers["2"].notes == "reason"


def test_update_with_keep_sends_only_the_kept_fields(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    written = client.update("server.edit", "1", {"owner": "1"}, keep=["name", "mac"])

    assert set(written) == {"name", "mac", "owner"}
    sent = dcim.calls_of("server.edit")[-1].params
    assert "type" not in sent and "notes" not in sent
    assert dcim.servers["1"].type == ""  # what was not sent, the simulator cleared


def test_disable_and_enable(client: DcimClient, dcim: DcimSimulator) -> None:
    client.disable_server("1")

    assert dcim.servers["1"].disabled
    assert client.server("1").disabled
    assert client.server_settings("1").disabled
    assert not any(c.on for c in dcim.servers["1"].connections if c.type == "Switch")

    client.enable_server("1")

    assert not client.server("1").disabled
    assert all(c.on for c in dcim.servers["1"].connections if c.type == "Switch")


def test_power_on_is_asynchronous(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.power_delay = None  # until the test says so
    client.power_on("1")

    assert not client.server("1").poweron
    assert not client.server("1").poweroff
    dcim.finish_power("1")
    assert client.server("1").poweron
    assert dcim.servers["1"].power_ons == 1


def test_power_on_completes_on_the_simulator_clock(client: DcimClient, dcim: DcimSimulator) -> None:
    client.power_on("2")
    wait_for(lambda: client.server("2").poweron)

    client.power_off("2")
    wait_for(lambda: client.server("2").poweroff)


def test_power_that_fails_shows_powererror(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.configure_server("1", power_fault="error")
    client.power_on("1")
    wait_for(lambda: client.server("1").powererror)
    assert not client.server("1").poweron


def test_power_that_never_comes_on_shows_no_flag(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.configure_server("1", power_fault="never")
    client.power_on("1")
    time.sleep(dcim.power_delay * 4)  # type: ignore[operator]

    server = client.server("1")
    assert not (server.poweron or server.poweroff or server.powererror)


def test_reboot(client: DcimClient, dcim: DcimSimulator) -> None:
    client.power_on("1")
    wait_for(lambda: client.server("1").poweron)

    client.reboot("1")

    assert dcim.servers["1"].reboots == 1
    wait_for(lambda: client.server("1").poweron)


# switch ports


def test_connections_and_their_settings(client: DcimClient, dcim: DcimSimulator) -> None:
    connections = client.connections("1")

    assert [c.type for c in connections] == ["Switch", "IPMI"]
    assert [c.is_switch for c in connections] == [True, False]
    switch, ipmi = dcim.servers["1"].connections
    assert client.connection_settings("1", connections[0].id)["port"] == switch.port
    assert client.connection_settings("1", connections[1].id)["ipmiip"] == ipmi.ipmiip


def test_switch_ports_off_and_on(client: DcimClient, dcim: DcimSimulator) -> None:
    switch = dcim.servers["1"].connections[0]

    assert client.switch_ports_off("1") == [switch.id]
    assert not switch.on
    assert client.connections("1")[0].func_in_progress  # the switch is still being told
    assert client.switch_ports_on("1") == [switch.id]
    assert switch.on
    assert dcim.servers["1"].connections[1].on  # the IPMI is left alone
    assert dcim.count("server.connection.off") == dcim.count("server.connection.on") == 1


def test_a_disabled_servers_ports_stay_off(client: DcimClient, dcim: DcimSimulator) -> None:
    client.disable_server("1")

    with pytest.raises(DcimApiError) as raised:
        client.switch_ports_on("1")

    assert raised.value.error_type == "disabled"
    assert not isinstance(raised.value, DcimTransientError)
    assert not dcim.servers["1"].connections[0].on


# IP addresses


def test_ips_list_the_addresses_and_skip_subnets(client: DcimClient, dcim: DcimSimulator) -> None:
    ips = client.ips("1")

    assert [(ip.ip, ip.domain, ip.family) for ip in ips] == [
        (dcim.main_ip("1"), FREE_DOMAIN, "ipv4")
    ]
    with_groups = client.ips("1", include_groups=True)
    assert [ip.is_group for ip in with_groups] == [False, True]


def test_add_ip_takes_the_next_free_address_of_each_family(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    next_v4 = dcim.free_ips("ipv4")[0]
    next_v6 = dcim.free_ips("ipv6")[0]

    assert client.add_ip("1", "web.example.com") == next_v4
    assert client.add_ip("1", "web.example.com", family="ipv6") == next_v6

    on_server = {ip.ip: (ip.domain, ip.family) for ip in client.ips("1")}
    assert on_server[next_v4] == ("web.example.com", "ipv4")
    assert on_server[next_v6] == ("web.example.com", "ipv6")
    assert next_v4 not in dcim.free_ips("ipv4")
    sent = dcim.calls_of("iplist.edit")[-1].params
    assert (sent["plid"], sent["sok"], sent["iptype"], sent["ip"]) == ("1", "ok", "public", "")
    assert "elid" not in sent


def test_add_ip_of_a_chosen_address(client: DcimClient, dcim: DcimSimulator) -> None:
    wanted = dcim.free_ips("ipv4")[3]
    assert client.add_ip("1", "a.example", ip=wanted) == wanted


def test_an_empty_pool_is_a_permanent_error(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.drain_pool("ipv4")

    with pytest.raises(DcimApiError) as raised:
        client.add_ip("1", "web.example.com")

    assert (raised.value.error_type, raised.value.error_object) == ("value", "ip")
    assert "No free IP addresses" in raised.value.message
    assert not isinstance(raised.value, DcimTransientError)
    assert client.add_ip("1", "web.example.com", family="ipv6")  # the other pool is intact


def test_set_domain_changes_every_address_and_the_hostname(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    extra = client.add_ip("1", FREE_DOMAIN)

    changed = client.set_domain("1", "srv1.customer.example")

    assert sorted(changed) == sorted([dcim.main_ip("1"), extra])
    assert {ip.domain for ip in dcim.server_ips("1")} == {"srv1.customer.example"}
    assert client.server("1").hostname == "srv1.customer.example"
    assert client.free_servers("R630")[0].id == "2"


def test_setting_a_domain_keeps_the_address_type(client: DcimClient, dcim: DcimSimulator) -> None:
    address = client.add_ip("1", "a.example", iptype="private")
    ip = client.find_ip("1", address)
    assert ip is not None

    client.set_ip_domain("1", ip.id, "b.example")

    assert (dcim.ips[ip.id].domain, dcim.ips[ip.id].iptype) == ("b.example", "private")


def test_delete_ip_returns_it_to_the_pool(client: DcimClient, dcim: DcimSimulator) -> None:
    address = client.add_ip("1", "a.example")
    ip = client.find_ip("1", address)
    assert ip is not None

    client.delete_ip("1", ip.id)

    assert client.find_ip("1", address) is None
    assert address in dcim.free_ips("ipv4")


def test_delete_extra_ips_keeps_the_main_address(client: DcimClient, dcim: DcimSimulator) -> None:
    extras = [client.add_ip("1", "a.example"), client.add_ip("1", "a.example", family="ipv6")]

    assert sorted(client.delete_extra_ips("1")) == sorted(extras)
    assert [ip.ip for ip in client.ips("1")] == [dcim.main_ip("1")]
    assert client.delete_extra_ips("1") == []


def test_the_main_address_cannot_be_deleted(client: DcimClient, dcim: DcimSimulator) -> None:
    main = client.find_ip("1", dcim.main_ip("1"))
    assert main is not None
    with pytest.raises(DcimApiError, match="main address"):
        client.delete_ip("1", main.id)


def test_deleting_an_address_of_another_server_is_not_found(client: DcimClient) -> None:
    address = client.add_ip("2", "a.example")
    ip = client.find_ip("2", address)
    assert ip is not None
    with pytest.raises(DcimNotFound):
        client.delete_ip("1", ip.id)


# OS install


def test_os_templates_and_recipes(client: DcimClient) -> None:
    assert [t.name for t in client.os_templates("1")] == [
        "Debian-12-amd64",
        "CentOS-7-amd64",
        "Ubuntu-22.04-amd64",
    ]
    assert client.os_templates("1")[0].title == "Debian 12 (bookworm)"
    assert [r.name for r in client.recipes("1")] == ["lamp", "docker"]


def test_install_runs_then_finishes(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.install_delay = None
    client.install_os("1", "Debian-12-amd64", ROOT_PASSWORD, recipe="lamp")

    running = client.server("1")
    assert running.install_in_progress and not running.install_finished
    assert dcim.install_progress("1") is None  # no clock: it waits for the test
    dcim.finish_install("1")
    assert client.server("1").install_finished
    server = dcim.servers["1"]
    assert (server.os_template, server.recipe, server.root_password) == (
        "Debian-12-amd64",
        "lamp",
        ROOT_PASSWORD,
    )
    sent = dcim.calls_of("server.operations")[-1].params
    assert sent["operation"] == "ostemplate"
    assert sent["passwd"] == sent["confirm"] == sent["checkpasswd"] == ROOT_PASSWORD


def test_install_without_a_recipe_sends_null(client: DcimClient, dcim: DcimSimulator) -> None:
    client.install_os("1", "CentOS-7-amd64", ROOT_PASSWORD)

    assert dcim.calls_of("server.operations")[-1].params["recipe"] == "null"
    wait_for(lambda: client.server("1").install_finished)


def test_install_progress_follows_the_clock(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.install_delay = 0.5
    client.install_os("1", "Debian-12-amd64", ROOT_PASSWORD)

    progress = dcim.install_progress("1")
    assert progress is not None and 0.0 <= progress < 1.0
    wait_for(lambda: client.server("1").install_finished)
    assert dcim.install_progress("1") is None


def test_an_install_that_fails_shows_operation_failed(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    dcim.configure_server("1", install_fails=True)
    client.install_os("1", "Debian-12-amd64", ROOT_PASSWORD)

    wait_for(lambda: not client.server("1").install_in_progress)
    server = client.server("1")
    assert server.operation_failed and not server.install_finished


def test_a_second_install_while_one_runs_is_refused(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    dcim.install_delay = None
    client.install_os("1", "Debian-12-amd64", ROOT_PASSWORD)

    with pytest.raises(DcimApiError) as raised:
        client.install_os("1", "Debian-12-amd64", ROOT_PASSWORD)

    assert raised.value.error_type == "busy"
    assert dcim.servers["1"].installs == 1


def test_an_unknown_template_is_refused(client: DcimClient) -> None:
    with pytest.raises(DcimApiError) as raised:
        client.install_os("1", "Windows-95", ROOT_PASSWORD)
    assert (raised.value.error_type, raised.value.error_object) == ("value", "ostemplate")


def test_a_server_accepts_connections_once_up_and_installed(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    """The reachability check of the provisioning connects to the main IP."""
    address, port = dcim.main_ip("1"), dcim.listen_port
    assert address.startswith("127.")
    assert not connects(address, port)

    client.power_on("1")
    wait_for(lambda: client.server("1").poweron)
    assert connects(address, port)
    dcim.install_delay = None
    client.install_os("1", "Debian-12-amd64", ROOT_PASSWORD)
    assert not connects(address, port)  # rebooted into the installer
    dcim.finish_install("1")
    assert connects(address, port)
    dcim.configure_server("1", reachable=False)
    assert not connects(address, port)


# users


def test_create_find_and_delete_a_user(client: DcimClient, dcim: DcimSimulator) -> None:
    user_id = client.create_user("ada", PANEL_PASSWORD)

    found = client.find_user("ada")
    assert found is not None and (found.id, found.level) == (user_id, "16")
    assert dcim.users[user_id].password == PANEL_PASSWORD
    assert client.find_user(dcim.username) is None  # the admin is no ordinary user
    assert client.user_id(dcim.username) != user_id

    client.delete_user(user_id)

    assert client.find_user("ada") is None
    with pytest.raises(DcimNotFound):
        client.user_id("ada")


def test_an_existing_user_name_is_refused(client: DcimClient) -> None:
    client.create_user("ada", PANEL_PASSWORD)
    with pytest.raises(DcimApiError) as raised:
        client.create_user("ada", PANEL_PASSWORD)
    assert (raised.value.error_type, raised.value.error_object) == ("exists", "user")


def test_a_user_who_owns_servers_is_not_deleted(client: DcimClient, dcim: DcimSimulator) -> None:
    user_id = client.create_user("ada", PANEL_PASSWORD)
    client.set_owner("1", user_id)

    with pytest.raises(DcimApiError):
        client.delete_user(user_id)
    assert user_id in dcim.users


def test_change_password_keeps_the_user_and_lets_it_log_in(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    user_id = client.create_user("ada", PANEL_PASSWORD)
    client.set_owner("1", user_id)

    client.change_password(user_id, "panel-Secret-new")

    user = dcim.users[user_id]
    assert (user.name, user.level, user.password) == ("ada", "16", "panel-Secret-new")
    as_user = DcimClient(dcim.base_url, "ada", "panel-Secret-new", timeout=5.0)
    assert [server.id for server in as_user.servers()] == ["1"]  # a user sees its own only


def test_an_ordinary_user_may_not_call_admin_functions(dcim: DcimSimulator) -> None:
    dcim.add_user("ada", PANEL_PASSWORD)
    as_user = DcimClient(dcim.base_url, "ada", PANEL_PASSWORD, timeout=5.0)

    with pytest.raises(DcimApiError) as raised:
        as_user.users()
    assert raised.value.error_type == "access"


# sessions


def test_a_session_is_opened_once_for_many_calls(dcim: DcimSimulator) -> None:
    client = _client(dcim, auth="session")

    client.servers()
    client.users()
    client.ips("1")

    assert dcim.count("auth") == 1
    assert all("authinfo" not in call.params for call in dcim.calls)
    assert {call.params.get("auth") for call in dcim.calls if call.func != "auth"} != {None}


def test_an_expired_session_is_renewed_and_the_call_repeated(dcim: DcimSimulator) -> None:
    client = _client(dcim, auth="session")
    client.servers()
    dcim.expire_sessions()

    assert [server.id for server in client.free_servers("R630")] == ["1", "2"]
    assert dcim.count("auth") == 2
    assert dcim.count("server") == 3  # the refused call, then the same call again


def test_a_session_idle_past_its_lifetime_is_renewed(dcim: DcimSimulator) -> None:
    dcim.session_ttl = 0.2
    client = _client(dcim, auth="session", output="json")
    client.servers()
    time.sleep(0.3)

    client.set_owner("1", None)

    assert dcim.count("auth") == 2
    assert dcim.servers["1"].type == "Dell PowerEdge R630"


def test_a_refusal_that_a_new_session_does_not_cure_is_raised(dcim: DcimSimulator) -> None:
    dcim.add_user("ada", PANEL_PASSWORD)
    client = DcimClient(dcim.base_url, "ada", PANEL_PASSWORD, auth="session", timeout=5.0)

    with pytest.raises(DcimApiError) as raised:
        client.users()

    assert raised.value.error_type == "access"
    assert dcim.count("auth") == 2  # one new session, then no loop
    assert dcim.count("user") == 2


def test_threads_sharing_an_expired_session_renew_it_once(dcim: DcimSimulator) -> None:
    client = _client(dcim, auth="session")
    client.servers()
    dcim.expire_sessions()
    barrier = threading.Barrier(8)
    results: list[int] = []

    def work() -> None:
        barrier.wait()
        results.append(len(client.servers()))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [len(dcim.servers)] * 8
    assert dcim.count("auth") == 2


@pytest.mark.parametrize("auth", ["authinfo", "session"])
def test_wrong_credentials_are_a_permanent_error(dcim: DcimSimulator, auth: str) -> None:
    client = DcimClient(dcim.base_url, dcim.username, "wrong", auth=auth, timeout=5.0)  # type: ignore[arg-type]

    with pytest.raises(DcimApiError) as raised:
        client.servers()

    assert raised.value.error_type in ("access", "auth")
    assert not isinstance(raised.value, DcimTransientError)
    assert dcim.count("server") == (1 if auth == "authinfo" else 0)


def test_login_opens_a_session_now(dcim: DcimSimulator) -> None:
    client = _client(dcim, auth="session")
    client.login()
    client.login()
    assert dcim.count("auth") == 2
    with pytest.raises(DcimError, match="session mode"):
        _client(dcim).login()


# errors and transport


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        ("http500", DcimTransientError, "HTTP 500"),
        ("http502", DcimTransientError, "HTTP 502"),
        ("reset", DcimTransientError, "no answer"),
        ("not_xml", DcimProtocolError, "not a DCImanager document"),
        ("body:<html><body>maintenance</body></html>", DcimProtocolError, "not a DCImanager"),
        ("body:<notdoc/>", DcimProtocolError, "not a DCImanager document"),
        ("body:", DcimProtocolError, "not a DCImanager document"),
        ("error:value:owner:No such user", DcimApiError, r"value \(owner\): No such user"),
        ("error:missing:server:gone", DcimNotFound, "missing"),
    ],
)
def test_each_failure_maps_to_its_exception(
    client: DcimClient,
    dcim: DcimSimulator,
    kind: str,
    error: type[DcimError],
    message: str,
) -> None:
    dcim.fail_next(kind, func="server")

    with pytest.raises(error, match=message) as raised:
        client.servers()

    assert isinstance(raised.value, DcimTransientError) != isinstance(raised.value, DcimApiError)
    assert client.servers()  # the knob is spent


def test_an_error_carries_type_object_and_message(client: DcimClient, dcim: DcimSimulator) -> None:
    dcim.fail_next("error:exists:user:The user ada already exists", func="user.edit")

    with pytest.raises(DcimApiError) as raised:
        client.create_user("ada", PANEL_PASSWORD)

    error = raised.value
    assert (error.func, error.error_type, error.error_object) == ("user.edit", "exists", "user")
    assert error.message == "The user ada already exists"
    assert str(error) == "DCImanager user.edit: exists (user): The user ada already exists"


def test_a_json_answer_that_is_no_doc_is_a_protocol_error(dcim: DcimSimulator) -> None:
    client = _client(dcim, output="json")
    for body in ('{"nodoc": {}}', "[1, 2]", '{"doc": {"elem": {"id": {"$": {"x": 1}}}}}'):
        dcim.fail_next(f"body:{body}")
        with pytest.raises(DcimProtocolError):
            client.servers()


def test_a_response_with_a_doctype_is_refused(dcim: DcimSimulator) -> None:
    client = _client(dcim)
    dcim.fail_next(
        'body:<!DOCTYPE doc [<!ENTITY a "aaaa">]><doc><elem><id>&a;</id></elem></doc>',
        func="server",
    )

    with pytest.raises(DcimProtocolError):
        client.servers()


def test_a_missing_key_in_a_create_answer_is_a_protocol_error(
    client: DcimClient, dcim: DcimSimulator
) -> None:
    answer = "<doc><ok/></doc>" if client.output == "xml" else '{"doc": {"ok": {}}}'
    dcim.fail_next(f"body:{answer}", func="iplist.edit")
    with pytest.raises(DcimProtocolError, match="no new ip"):
        client.add_ip("1", "a.example")


def test_a_timeout_honours_the_timeout_and_the_call_may_have_run(dcim: DcimSimulator) -> None:
    client = _client(dcim, timeout=0.3)
    dcim.fail_next("timeout", func="iplist.edit")

    started = time.monotonic()
    with pytest.raises(DcimTransientError, match="no answer"):
        client.add_ip("1", "a.example")

    assert time.monotonic() - started < dcim.timeout_sleep / 2
    # DCImanager gave the address before the answer was lost: a retry must look first
    assert len(dcim.server_ips("1")) == 2


def test_a_call_may_override_the_timeout(dcim: DcimSimulator) -> None:
    client = _client(dcim, timeout=5.0)
    dcim.delay(1.0, func="server")

    started = time.monotonic()
    with pytest.raises(DcimTransientError):
        client.call("server", timeout=0.2)
    assert time.monotonic() - started < 0.9
    assert client.call("server", timeout=5.0).findall("elem")


def test_a_slow_answer_within_the_timeout_succeeds(dcim: DcimSimulator) -> None:
    dcim.delay(0.3)
    assert _client(dcim, timeout=5.0).servers()


def test_the_default_timeout_is_sixty_seconds(dcim: DcimSimulator) -> None:
    assert DEFAULT_TIMEOUT == 60.0
    assert DcimClient(dcim.base_url, "u", "p").timeout == 60.0


def test_a_refused_connection_is_transient() -> None:
    with DcimSimulator(seed=False) as dcim:
        base_url = dcim.base_url
    client = DcimClient(base_url, "admin", "p", timeout=2.0, connect_retries=1)

    with pytest.raises(DcimTransientError, match="no answer"):
        client.servers()


def test_a_wrong_path_is_a_permanent_http_error(dcim: DcimSimulator) -> None:
    client = _client(dcim, path="/manager/dcimgr")

    with pytest.raises(DcimError, match="HTTP 404") as raised:
        client.servers()
    assert not isinstance(raised.value, DcimTransientError)


def test_the_path_is_configurable() -> None:
    with DcimSimulator(path="/manager/dcimgr", seed=False) as other:
        given_apart = DcimClient(
            other.base_url + "/", other.username, other.password, path="manager/dcimgr/"
        )
        in_the_url = DcimClient(other.url, other.username, other.password)

        for client in (given_apart, in_the_url):
            assert client.url == other.url
            assert client.users()


def test_a_url_without_a_path_gets_dcimgr(dcim: DcimSimulator) -> None:
    assert DcimClient("https://dcim.example.net:1500", "u", "p").url == (
        "https://dcim.example.net:1500/dcimgr"
    )
    assert _client(dcim).url == dcim.url


def test_a_malformed_url_is_a_permanent_client_error() -> None:
    client = DcimClient("no-scheme.example", "u", "p")

    with pytest.raises(DcimError, match="cannot send the request") as raised:
        client.servers()
    assert not isinstance(raised.value, DcimTransientError)


def test_a_json_list_of_one_row_is_read(dcim: DcimSimulator) -> None:
    """ISPsystem's JSON gives a single child as an object and repeated ones as a list."""
    with DcimSimulator(seed=False) as single:
        server_id = single.add_server("R630", "Dell PowerEdge R630")
        client = _client(single, output="json")

        assert [server.id for server in client.servers()] == [server_id]
        assert [user.name for user in client.users()] == [single.username]
        reply = requests.post(
            single.url,
            data={
                "func": "server",
                "out": "json",
                "authinfo": f"{single.username}:{single.password}",
            },
            timeout=5,
        ).json()
    elem = reply["doc"]["elem"]
    assert elem["id"] == {"$": server_id}
    assert elem["poweroff"] == {}  # a presence flag


def test_the_form_carries_func_out_and_string_values(dcim: DcimSimulator) -> None:
    client = _client(dcim, output="json")
    client.server_settings("1")

    call = dcim.calls[-1]
    assert (call.func, call.params["out"], call.params["elid"]) == ("server.edit", "json", "1")
    assert call.params["authinfo"] == f"{dcim.username}:{dcim.password}"


def test_the_simulator_answers_html_without_out(dcim: DcimSimulator) -> None:
    """The harness: a call without ``out`` gets the panel's HTML, as a browser would."""
    reply = requests.post(
        dcim.url, data={"func": "server", "authinfo": f"{dcim.username}:{dcim.password}"}, timeout=5
    )
    assert reply.status_code == 200 and reply.text.startswith("<html>")


# TLS


def test_tls_is_verified_by_default() -> None:
    with DcimSimulator(tls=True, seed=False) as dcim:
        client = DcimClient(dcim.base_url, dcim.username, dcim.password, timeout=5.0)

        with pytest.raises(DcimError, match="TLS failed") as raised:
            client.users()

        assert not isinstance(raised.value, DcimTransientError)
        assert dcim.calls == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verification_can_be_turned_off_or_given_a_ca() -> None:
    with DcimSimulator(tls=True, seed=False) as dcim:
        unverified = DcimClient(
            dcim.base_url, dcim.username, dcim.password, verify_tls=False, timeout=5.0
        )
        with_ca = DcimClient(
            dcim.base_url,
            dcim.username,
            dcim.password,
            ca_bundle=dcim.certificate_path,
            timeout=5.0,
        )

        assert [user.name for user in unverified.users()] == [dcim.username]
        assert [user.name for user in with_ca.users()] == [dcim.username]


# secrets


def test_the_debug_log_never_shows_a_secret(
    dcim: DcimSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.dcimanager.wire")
    caplog.set_level(logging.DEBUG, logger=logger.name)
    failures: list[str] = []
    for auth, output in MODES:
        client = _client(dcim, auth=auth, output=output, debug_log=logger)
        user_id = client.create_user(f"ada{auth}{output}", PANEL_PASSWORD)
        client.change_password(user_id, PANEL_PASSWORD + "2")
        client.install_os(str(1 + MODES.index((auth, output))), "Debian-12-amd64", ROOT_PASSWORD)
        dcim.expire_sessions()
        client.servers()
        for kind in ("http500", "not_xml", "error:value:name:Bad value"):
            dcim.fail_next(kind, func="user")
            with pytest.raises(DcimError) as raised:
                client.users()
            failures.append(str(raised.value))

    log = caplog.text
    assert "DCImanager user.edit request" in log and "DCImanager auth response" in log
    assert "<tparams>" in log and '"tparams"' in log  # answers are logged, in both formats
    assert "authinfo=***" in log and "passwd=***" in log and "<passwd>***</passwd>" in log
    session_ids = {call.params["auth"] for call in dcim.calls if "auth" in call.params}
    assert session_ids
    for secret in (dcim.password, PANEL_PASSWORD, ROOT_PASSWORD, *session_ids):
        assert secret not in log
        assert not any(secret in failure for failure in failures)
    assert repr(client).count(dcim.password) == 0


def test_nothing_is_logged_without_a_debug_log(
    dcim: DcimSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _client(dcim).create_user("ada", PANEL_PASSWORD)
    assert PANEL_PASSWORD not in caplog.text
    assert dcim.password not in caplog.text


# panel user names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ada Lovelace", "AdaLovelace"),
        ("ada.lovelace@example.com", "adalovelaceexamp"),
        ("Zoë-O'Brien_42", "ZoOBrien42"),
        ("ExactlySixteen16", "ExactlySixteen16"),
    ],
)
def test_panel_username_removes_special_characters_and_keeps_16(name: str, expected: str) -> None:
    assert panel_username(name) == expected
    assert len(panel_username(name)) <= 16


def test_unique_panel_username_numbers_a_taken_name_within_16() -> None:
    assert unique_panel_username("Ada Lovelace", []) == "AdaLovelace"
    assert unique_panel_username("Ada Lovelace", ["adalovelace"]) == "AdaLovelace2"
    taken = ["ExactlySixteen16", "ExactlySixteen12"]
    assert unique_panel_username("Exactly Sixteen 16", taken) == "ExactlySixteen13"
    assert unique_panel_username("!!!", []) == "user"
