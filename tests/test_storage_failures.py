"""What clients and ``/health`` see when the database fails: a database that stops answering
(PostgreSQL under SIGSTOP) gets 9002 within the configured bound and ``/health`` says so in
seconds; a database that cannot store (a read-only SQLite file, a full disk, a read-only
PostgreSQL database) gets 9003, which says it is the operator's to fix, and fails ``/health``;
a PostgreSQL database that is not UTF8 is refused before anything is written.

``bench/hung_database.py`` runs the hung-database scenario at length and prints what a
client saw."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from ngnserver.app import NGNProApp
from ngnserver.db import Database, DatabaseUnsuitable
from tests.conftest import ADMIN, IN_CI, make_settings, serve_app
from tests.support.postgres import TemporaryPostgres
from tests.support.wire import Client, SoapFault, http_exchange


class Served:
    def __init__(self, url: str, tmp_path: Path, **settings: Any) -> None:
        self.database = Database(url, **({"limits": settings.pop("limits")} if "limits" in settings else {}))
        self.database.migrate()
        self.settings = make_settings(tmp_path, url, **settings)
        self.base, self.httpd = serve_app(NGNProApp(self.settings, self.database))
        self.admin = Client(self.base + "/ngnpro/", *ADMIN)

    def add(self, username: str) -> dict[str, Any]:
        return self.admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": username, "password": "pw"}))

    def health(self) -> tuple[int, bytes, float]:
        started = time.monotonic()
        response = http_exchange(self.base, b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n", timeout=30)
        return response.status, response.body, time.monotonic() - started

    def stop(self) -> None:
        self.httpd.shutdown()
        self.database.dispose()


def fault_of(call: Any) -> tuple[SoapFault, float]:
    started = time.monotonic()
    with pytest.raises(SoapFault) as info:
        call()
    return info.value, time.monotonic() - started


# -- a database that cannot store --------------------------------------------------------------


@pytest.fixture
def sqlite_served(tmp_path) -> Iterator[Served]:
    served = Served(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "state")
    yield served
    served.stop()


def _immutable(path: Path, on: bool) -> None:
    """Make ``path`` unwritable even for root (chattr +i), or writable again."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)
    else:
        path.chmod(0o444 if on else 0o644)


def test_a_read_only_sqlite_file_is_9003_and_fails_health_while_reads_go_on(sqlite_served, tmp_path):
    alice = sqlite_served.add("alice")
    sqlite_served.database.dispose()  # connections opened afterwards meet the read-only file
    path = tmp_path / "db.sqlite3"
    _immutable(path, True)
    try:
        fault, _ = fault_of(lambda: sqlite_served.add("bob"))
        assert (fault.errorcode, fault.faultcode) == (9003, "SOAP-ENV:Server")
        assert "the operator must fix it" in fault.errorstring
        assert sqlite_served.admin.call("Customer", "getAccount", id=alice["id"])["username"] == "alice"
        status, body, _ = sqlite_served.health()
        assert status == 503 and b"not writable" in body, body
    finally:
        _immutable(path, False)
    sqlite_served.add("bob")
    assert sqlite_served.health()[0] == 200


def test_a_full_sqlite_disk_is_9003_and_health_reports_it(sqlite_served):
    sqlite_served.add("alice")
    sqlite_served.database.dispose()

    @event.listens_for(sqlite_served.database.engine, "connect")
    def _tiny(dbapi_connection: Any, _record: Any) -> None:  # the disk is "full" at the current size
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    fault = None
    for n in range(50):  # the free pages left fill up with a few customers of 20 KB each
        try:
            properties = [{"name": f"p{i}", "value": "x" * 1000} for i in range(20)]
            sqlite_served.admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": f"u{n}", "password": "pw", "properties": properties}))
        except SoapFault as exc:
            fault = exc
            break
    assert fault is not None and fault.errorcode == 9003, fault
    status, body, _ = sqlite_served.health()
    assert status == 503 and b"a write failed" in body, body


def test_a_read_only_postgresql_database_is_9003(postgres, tmp_path):
    url = postgres.create_database("ngnserver_read_only")
    served = Served(url, tmp_path)
    try:
        served.add("alice")
        with served.database.engine.begin() as conn:
            conn.execute(text("ALTER DATABASE ngnserver_read_only SET default_transaction_read_only = on"))
        served.database.dispose()
        fault, _ = fault_of(lambda: served.add("bob"))
        assert fault.errorcode == 9003, fault
        assert served.health()[0] == 503
    finally:
        served.stop()


def test_a_postgresql_database_not_in_utf8_is_refused_before_anything_is_written(postgres):
    url = postgres.create_database("ngnserver_latin1", encoding="LATIN1")
    database = Database(url)
    try:
        with pytest.raises(DatabaseUnsuitable, match="encoded in LATIN1.*ENCODING 'UTF8'"):
            database.migrate()
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar_one() == 0
    finally:
        database.dispose()


# -- a database that stops answering ---------------------------------------------------------------


def _server_processes(pg: TemporaryPostgres) -> list[int]:
    """The postmaster and every process it started."""
    root = pg._process.pid  # the test's own server
    found = [root]
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1]) == root:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


@pytest.fixture
def hung() -> Iterator[TemporaryPostgres]:
    """A PostgreSQL server of this test's own, that the test may stop (SIGSTOP)."""
    if os.environ.get("NGNSERVER_TEST_POSTGRES_URL"):
        if IN_CI:
            pytest.fail("the hung-database test needs a PostgreSQL server of its own")
        pytest.skip("the hung-database test needs a PostgreSQL server of its own")
    pg = TemporaryPostgres()
    pg.start()
    yield pg
    for pid in _server_processes(pg):
        os.kill(pid, signal.SIGCONT)
    pg.stop()


def test_a_database_that_stops_answering_gets_9002_within_the_bound_and_fails_health(hung, tmp_path):
    from ngnserver.db import Limits

    served = Served(hung.create_database("ngnserver_hung"), tmp_path, limits=Limits(connect=2, statement=2, answer=3))
    try:
        alice = served.add("alice")
        stopped = _server_processes(hung)
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        try:
            fault, seconds = fault_of(lambda: served.admin.call("Customer", "getAccount", id=alice["id"]))
            assert fault.errorcode == 9002 and seconds < 8, (fault, seconds)
            fault, seconds = fault_of(lambda: served.add("bob"))
            assert fault.errorcode == 9002 and seconds < 8, (fault, seconds)
            status, body, seconds = served.health()
            assert status == 503 and seconds < 6, (status, body, seconds)
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
        assert served.admin.call("Customer", "getAccount", id=alice["id"])["username"] == "alice"
        assert served.health()[0] == 200
    finally:
        served.stop()
