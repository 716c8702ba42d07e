"""The server as an operator runs it: ``ngnserver serve`` (gunicorn, two workers) in a
subprocess, on SQLite and on PostgreSQL, spoken to over real sockets the way CDRTool does.

Each test starts its own server on a free port with its own state directory and stops it
with SIGTERM. A server that does not become healthy within 30 s fails the test with its
log output."""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.support.gunicorn import ADMIN, STARTUP_TIMEOUT, Deployment, Gunicorn
from tests.support.wire import Client, SoapFault, read_response, replay


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment.on(request.param, request, tmp_path, "gunicorn_test")
    yield deployment
    deployment.stop_all()


@pytest.fixture
def sqlite_deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment("sqlite", tmp_path, admin=None)
    yield deployment
    deployment.stop_all()


def _within(seconds: float, function, *args):
    """``function(*args)``, failing the test if it has not returned after ``seconds``."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(function, *args).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)


def _database_handles(pid: int, deployment: Deployment) -> int:
    """How many connections to the deployment's database process ``pid`` holds open: file
    descriptors on the SQLite file, or TCP sockets to the PostgreSQL port."""
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return 0
    if deployment.backend == "sqlite":
        database = str((deployment.state_dir / "ngnserver.sqlite3").resolve())
        return sum(1 for link in links if link == database)
    port = make_url(deployment.database_url).port
    inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            remote_port = int(columns[2].rsplit(":", 1)[1], 16)
            if remote_port == port and columns[9] in inodes:
                count += 1
    return count


def _wait_for_workers(server: Gunicorn, count: int = 2) -> list[int]:
    """The worker pids, once ``count`` workers have loaded the application."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        workers = server.workers()
        loaded = []
        for pid in workers:
            try:
                if "lxml" in Path(f"/proc/{pid}/maps").read_text():
                    loaded.append(pid)
            except OSError:
                pass
        if len(loaded) >= count:
            time.sleep(0.5)  # from import to accept()
            return loaded
        time.sleep(0.1)
    pytest.fail(f"{count} workers did not boot:\n{server.output()[-3000:]}")


def _tables(deployment: Deployment) -> tuple[set[str], list[str]]:
    """(tables, alembic revisions) of the deployment's database."""
    if deployment.backend == "sqlite" and not (deployment.state_dir / "ngnserver.sqlite3").exists():
        return set(), []
    engine = create_engine(deployment.engine_url)
    try:
        tables = set(inspect(engine).get_table_names())
        versions = []
        if "alembic_version" in tables:
            with engine.connect() as conn:
                versions = [
                    v for (v,) in conn.execute(text("SELECT version_num FROM alembic_version"))
                ]
        return tables, versions
    finally:
        engine.dispose()


def _all_customers(url: str, auth: tuple[str, str] = ADMIN) -> dict:
    return Client(url, *auth).call(
        "Customer", "getCustomers", query=("CustomerQuery", {"range": {"start": 0, "count": 1000}})
    )


# -- on both backends --------------------------------------------------------------------------


def test_captures_replayed_over_http_1_0_get_framed_answers_on_a_closed_connection(deployment):
    server = deployment.start()
    for name, operation in (
        ("customer-addAccount-admin", "addAccount"),
        ("customer-getCustomers", "getCustomers"),
    ):
        started = time.monotonic()
        response = _within(10, replay, server.url, name)  # reads until the server closes
        assert time.monotonic() - started < 5.0, "CDRTool gives up after 5 s"
        status_line = response.raw_head.split(b"\r\n", 1)[0]
        assert re.fullmatch(rb"HTTP/1\.[01] 200 OK", status_line), status_line
        assert int(response.headers["content-length"]) == len(response.body)
        assert "transfer-encoding" not in response.headers
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        value = read_response(response, "Customer", operation).value
        if operation == "addAccount":
            assert (
                value["id"] == 1
                and value["username"] == "alice"
                and value["resellerActive"] is True
            )
        else:
            assert value["total"] == 1 and [a["username"] for a in value["accounts"]] == ["alice"]


def test_a_fault_from_gunicorn_is_http_500_text_xml_with_content_length(deployment):
    server = deployment.start()
    response = _within(10, replay, server.url, "customer-getAccount")  # customer 7 does not exist
    assert response.raw_head.split(b"\r\n", 1)[0].split()[1] == b"500"
    assert int(response.headers["content-length"]) == len(response.body)
    with pytest.raises(SoapFault) as info:
        read_response(response)
    assert info.value.errorcode == 4003


def test_concurrent_requests_all_succeed_and_both_workers_serve(deployment):
    server = deployment.start(ready_path="/ngnpro/soap-encoding.xsd")  # touches no database
    workers = _wait_for_workers(server)
    assert len(workers) == 2
    assert [_database_handles(pid, deployment) for pid in workers] == [0, 0]

    def add(n: int) -> dict:
        client = Client(server.url, *ADMIN)
        return client.call(
            "Customer", "addAccount", account=("CustomerAccount", {"username": f"user{n:02d}"})
        )

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(add, range(20), timeout=60))
    assert sorted(c["username"] for c in created) == [f"user{n:02d}" for n in range(20)]
    assert len({c["id"] for c in created}) == 20

    result = _all_customers(server.url)
    assert result["total"] == 20
    assert {a["username"] for a in result["accounts"]} == {f"user{n:02d}" for n in range(20)}
    handles = {pid: _database_handles(pid, deployment) for pid in workers}
    assert all(handles.values()), f"a worker never reached the database: {handles}"
    assert server.get("/health").status == 200
    output = server.output()
    assert "Traceback" not in output and '"level": "ERROR"' not in output, output[-3000:]


def test_the_first_start_creates_the_schema_and_a_restart_reuses_it(deployment):
    assert _tables(deployment)[0] == set()
    first = deployment.start()
    tables, versions = _tables(deployment)
    assert {"customers", "customer_properties", "alembic_version"} <= tables
    assert len(versions) == 1
    assert "Running upgrade" in first.output()

    Client(first.url, *ADMIN).call(
        "Customer", "addAccount", account=("CustomerAccount", {"username": "kept"})
    )
    assert first.stop() == 0
    assert "Shutting down" in first.output()

    second = deployment.start()
    assert _tables(deployment)[1] == versions
    assert "Running upgrade" not in second.output()
    result = _all_customers(second.url)
    assert [a["username"] for a in result["accounts"]] == ["kept"]
    # configured admin: no generated login is written
    assert not (deployment.state_dir / "admin-credentials").exists()
    # gunicorn's control socket is off: nothing appears in HOME or XDG_RUNTIME_DIR
    assert list(deployment.home.iterdir()) == []
    assert second.stop() == 0


# -- first start without a configured admin (SQLite) ---------------------------------------------


def _credentials(state_dir: Path) -> tuple[str, str]:
    username, _, password = (state_dir / "admin-credentials").read_text().strip().partition(":")
    return username, password


def test_a_first_start_without_an_admin_creates_a_private_credentials_file(sqlite_deployment):
    server = sqlite_deployment.start()
    path = sqlite_deployment.state_dir / "admin-credentials"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    username, password = _credentials(sqlite_deployment.state_dir)
    assert username and len(password) >= 16

    assert _all_customers(server.url, (username, password))["total"] == 0
    with pytest.raises(SoapFault) as info:
        _all_customers(server.url, (username, password + "x"))
    assert info.value.errorcode == 4002

    output = server.output()
    assert str(path.resolve()) in output
    assert password not in output


def test_a_restart_reuses_the_generated_admin_credentials(sqlite_deployment):
    first = sqlite_deployment.start()
    credentials = _credentials(sqlite_deployment.state_dir)
    assert first.stop() == 0

    second = sqlite_deployment.start()
    assert _credentials(sqlite_deployment.state_dir) == credentials
    assert _all_customers(second.url, credentials)["total"] == 0
    output = second.output()
    assert credentials[1] not in output
    assert "created admin login" not in output  # nothing new was created


def test_the_secret_key_is_created_private_and_kept(sqlite_deployment):
    sqlite_deployment.admin = ADMIN
    first = sqlite_deployment.start()
    key = sqlite_deployment.state_dir / "secret.key"
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
    sealed_with = key.read_bytes()
    Client(first.url, *ADMIN).call(
        "Customer",
        "addAccount",
        account=("CustomerAccount", {"username": "alice", "password": "pw-1"}),
    )
    assert sealed_with.strip().decode() not in first.output()
    assert first.stop() == 0

    second = sqlite_deployment.start()
    assert key.read_bytes() == sealed_with
    # the password sealed before the restart still opens
    customer = Client(second.url, "alice", "pw-1", admin=False).call("Customer", "getAccount", id=1)
    assert customer["password"] == "pw-1"
