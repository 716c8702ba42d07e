"""The brake on password guessing (``ngnserver/core/logins.py``) over real HTTP, on both
backends: failures counted per username and per address, shared by every server on the
database, the right password refused while a key is blocked, and nothing written for a
refused attempt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from ngnserver.app import NGNProApp
from ngnserver.core.logins import Brake
from tests.conftest import ADMIN, make_settings, serve_app
from tests.support.wire import Client, SoapFault

# backoff long enough that a loaded machine's slow requests all fall within it
BRAKE = Brake(max_failures=4, max_failures_per_address=8, backoff=4.0, max_backoff=8.0, window=60.0)


class Brakes:
    """Two servers (two hosts) on the shared test database with a small brake; clients
    come from an address of the test's choosing (X-Forwarded-For, from the trusted
    loopback proxy)."""

    def __init__(self, server: Any, tmp_path: Any) -> None:
        self.server = server
        settings = make_settings(tmp_path, server.database.url, login_brake=BRAKE, secret_key=server.app.settings.secret_key)
        self.hosts = [serve_app(NGNProApp(settings, server.database)) for _ in range(2)]
        self.urls = [base + "/ngnpro/" for base, _ in self.hosts]
        admin = Client(self.urls[0], *ADMIN)
        for name in ("alice", "bob", "carol"):
            admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": name, "password": "pw-" + name}))

    def client(self, username: str, password: str, host: int = 0, address: str = "192.0.2.1", admin: bool = False) -> Client:
        return Client(self.urls[host], username, password, admin=admin, headers={"X-Forwarded-For": address})

    def stop(self) -> None:
        for _, httpd in self.hosts:
            httpd.shutdown()

    def failures(self) -> dict[str, int]:
        with self.server.database.engine.connect() as conn:
            return dict(conn.execute(text("SELECT key, failures FROM login_failures")).all())


@pytest.fixture
def brakes(server, tmp_path) -> Iterator[Brakes]:
    environment = Brakes(server, tmp_path)
    yield environment
    environment.stop()


def fails(client: Client, errorcode: int) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call("Customer", "getAccount", id=1)
    assert info.value.errorcode == errorcode, info.value
    return info.value


def test_a_username_guessed_at_too_often_is_held_back_even_with_the_right_password(brakes):
    for _ in range(BRAKE.max_failures - 1):
        fails(brakes.client("alice", "guess"), 4002)
    blocked = fails(brakes.client("alice", "guess"), 4008)
    assert "try again in 4 seconds" in blocked.errorstring
    # the right password, on the other host, from another address: held back all the same
    fails(brakes.client("alice", "pw-alice", host=1, address="198.51.100.7"), 4008)
    # another username from the guesser's address is not held back
    assert brakes.client("bob", "pw-bob").call("Customer", "getAccount", id=2)["username"] == "bob"
    before = brakes.failures()
    fails(brakes.client("alice", "guess"), 4008)  # refused unread: nothing is written
    assert brakes.failures() == before
    time.sleep(BRAKE.backoff + 0.2)
    assert brakes.client("alice", "pw-alice").call("Customer", "getAccount", id=1)["username"] == "alice"
    # a failure after the block holds it back again, for twice as long
    assert "try again in 8 seconds" in fails(brakes.client("alice", "guess"), 4008).errorstring


def test_an_address_guessing_at_many_usernames_is_held_back(brakes):
    names = [f"nobody{i}" for i in range(BRAKE.max_failures_per_address - 1)]
    for name in names:
        fails(brakes.client(name, "guess", address="203.0.113.9"), 4002)
    # unknown and known usernames count alike, and say the same
    fails(brakes.client("carol", "guess", address="203.0.113.9"), 4008)
    fails(brakes.client("bob", "pw-bob", host=1, address="203.0.113.9"), 4008)
    assert brakes.client("bob", "pw-bob", address="203.0.113.10").call("Customer", "getAccount", id=2)["id"] == 2
    assert brakes.failures()["addr:203.0.113.9"] == BRAKE.max_failures_per_address


def test_admin_logins_and_impersonation_are_braked_too(brakes):
    wrong = brakes.client(ADMIN[0], "guess", admin=True)
    for _ in range(BRAKE.max_failures - 1):
        fails(wrong, 4002)
    fails(wrong, 4008)
    right = brakes.client(ADMIN[0], ADMIN[1], admin=True, address="198.51.100.1")
    fails(right, 4008)
    fails(right.as_customer(1), 4008)
    # a customer's username of the same name is another key
    assert brakes.failures().keys() == {f"admin:{ADMIN[0]}", "addr:192.0.2.1"}


def test_a_read_only_request_counts_its_failure_and_an_unknown_header_still_faults(brakes):
    fails(brakes.client("alice", "guess"), 4002)  # getAccount runs read-only
    assert brakes.failures() == {"user:alice": 1, "addr:192.0.2.1": 1}
    with pytest.raises(SoapFault) as info:
        brakes.client("", "").call("Customer", "getAccount", id=1)
    assert info.value.errorcode == 4002
