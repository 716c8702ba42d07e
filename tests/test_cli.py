"""The ``ngnserver`` command: the change history, the jobs, the schema, and its refusals, each
one sentence and a non-zero exit status, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from ngnserver.cli import main
from ngnserver.core import jobs as job_queue
from ngnserver.core.dsl_ikano import NOT_CONFIGURED
from ngnserver.models.job import Job
from tests.conftest import database_url
from tests.support.loopback import free_port

REPOSITORY = Path(__file__).resolve().parent.parent


def command(*args: str, cwd: Path, timeout: float = 60, **settings: str) -> subprocess.CompletedProcess[str]:
    """``python -m ngnserver.cli ARGS`` in ``cwd`` with only the NGNSERVER_* ``settings`` given."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NGNSERVER_")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), environ.get("PYTHONPATH")]))
    environ.update({f"NGNSERVER_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run([sys.executable, "-m", "ngnserver.cli", *args], cwd=cwd, env=environ,
                          text=True, capture_output=True, timeout=timeout, check=False)  # fmt: skip


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command printed (asserting it is one line, no traceback, status 1)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def run(server, tmp_path, *args: str) -> str:
    env = {"NGNSERVER_DATABASE_URL": server.database.url, "NGNSERVER_STATE_DIR": str(tmp_path),
           "NGNSERVER_ADMIN_USERNAME": "admin", "NGNSERVER_ADMIN_PASSWORD": "secret"}  # fmt: skip
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_audit_lists_who_changed_what_newest_first_without_secrets(server, tmp_path):
    admin = server.admin()
    created = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "aud", "password": "hush-123"}))
    admin.as_customer(created["id"]).call(
        "Customer", "updateAccount", account=("CustomerAccount", {"id": created["id"], "city": "Leiden"})
    )
    lines = run(server, tmp_path, "audit", "--json").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["action"], e["kind"], e["key"], e["login"], e["acting_as"]) for e in entries] == [
        ("update", "customer", str(created["id"]), "admin", created["id"]),
        ("create", "customer", str(created["id"]), "admin", None),
    ]
    assert entries[0]["changes"] == {"city": "Leiden"}
    assert entries[1]["changes"]["password"] == "(changed)"
    assert "hush-123" not in "\n".join(lines)
    text_output = run(server, tmp_path, "audit", "--kind", "customer", "--limit", "1")
    assert "admin admin as" in text_output and "update customer" in text_output


def test_audit_since_lists_only_the_changes_from_then_on(server, tmp_path):
    from sqlalchemy import text

    admin = server.admin()
    old = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "aud-old", "password": "pw-1234"}))
    new = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "aud-new", "password": "pw-1234"}))
    with server.database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET at = '2020-01-01 00:00:00' WHERE record_key = :k"), {"k": str(old["id"])})
        if server.backend == "postgresql":  # the index migration 0008 made
            kind = conn.execute(text(
                "SELECT am.amname FROM pg_class i JOIN pg_am am ON am.oid = i.relam WHERE i.relname = 'ix_audit_log_at'"
            )).scalar_one()  # fmt: skip
            assert kind == "brin"
    keys = [json.loads(line)["key"] for line in run(server, tmp_path, "audit", "--json", "--since", "2021-01-01").splitlines()]
    assert str(new["id"]) in keys and str(old["id"]) not in keys
    keys = [json.loads(line)["key"] for line in run(server, tmp_path, "audit", "--json", "--since", "2019-12-31").splitlines()]
    assert str(new["id"]) in keys and str(old["id"]) in keys


def test_db_upgrade_is_idempotent(server, tmp_path):
    assert "newest revision" in run(server, tmp_path, "db", "upgrade")


def test_db_recount_rebuilds_credit_usage_exactly_as_the_server_counted_it(server, tmp_path):
    from sqlalchemy import text

    from tests.test_customer_rules import add

    admin = server.admin()
    r = add(admin, username="r", resellerActive=True)["id"]
    c1 = add(admin, username="c1", reseller=r)["id"]
    c2 = add(admin, username="c2", reseller=r)["id"]
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "x.example", "customer": c1}))
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "r.example", "customer": r}))
    for name, owner, domain in (("a", 0, "x.example"), ("b", c2, "x.example"), ("c", c1, "x.example"),
                                ("d", 0, "r.example"), ("e", c2, "r.example")):  # fmt: skip
        admin.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": name, "domain": domain}, "owner": owner}))
    admin.call("Sip", "addAlias", alias=("SipAlias", {"id": {"username": "al", "domain": "x.example"},
                                                      "target": {"username": "a", "domain": "x.example"}, "owner": c2}))  # fmt: skip
    admin.call("Sip", "deleteAccount", sipId=("SipId", {"username": "a", "domain": "x.example"}))

    def usage() -> set[tuple]:
        with server.database.engine.connect() as conn:
            return set(conn.execute(text("SELECT scope, holder, credit, used FROM credit_usage WHERE used > 0")).all())

    counted = usage()
    assert ("reseller", r, "sip_credit", 4) in counted and ("customer", c2, "sip_credit", 2) in counted
    assert "credit usage counters" in run(server, tmp_path, "db", "recount")
    assert usage() == counted


def test_read_commands_run_elsewhere_refuse_to_make_a_state_directory_and_say_where_they_looked(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["audit"], ["jobs"], ["jobs", "retry", "1"], ["db", "recount"], ["worker", "--once"], ["pull-dsl"]):
        line = refusal(command(*args, cwd=elsewhere))
        assert f"no state directory {elsewhere / 'var'}" in line and "NGNSERVER_STATE_DIR" in line, args
    assert list(elsewhere.iterdir()) == []  # no new key, admin password or database
    assert "newest revision" in command("db", "upgrade", cwd=elsewhere).stdout  # this one may start one
    assert {p.name for p in (elsewhere / "var").iterdir()} >= {"secret.key", "admin-credentials", "ngnserver.sqlite3"}
    assert command("audit", cwd=elsewhere).stdout == "no changes match\n"


def test_a_database_without_the_schema_is_named_with_what_to_run(server, tmp_path, request):
    empty = database_url(server.backend, request, tmp_path, "cli_no_schema")
    if server.backend == "sqlite":
        Path(empty.removeprefix("sqlite:///")).touch()
    for args in (["audit"], ["jobs"], ["db", "recount"]):
        line = refusal(command(*args, cwd=tmp_path, database_url=empty))
        assert "has no ngnserver schema: run `ngnserver db upgrade`" in line and "cli_no_schema" in line, args
    missing = f"sqlite:///{tmp_path / 'nowhere.sqlite3'}"
    assert "does not exist" in refusal(command("jobs", cwd=tmp_path, database_url=missing))
    assert not (tmp_path / "nowhere.sqlite3").exists()


def test_an_unreachable_database_is_one_sentence_naming_it_without_its_password(tmp_path):
    url = f"postgresql+psycopg://ngn:topsecret@127.0.0.1:{free_port()}/ngn"
    for args in (["audit"], ["jobs"], ["db", "upgrade"]):
        line = refusal(command(*args, cwd=tmp_path, database_url=url, state_dir=str(tmp_path),
                               admin_username="admin", admin_password="secret"))  # fmt: skip
        assert "topsecret" not in line and "ngn:***@127.0.0.1" in line and "/ngn" in line, line
        assert "refused" in line.lower() and "NGNSERVER_DATABASE_URL" in line, line


NUMERIC_SETTINGS = [
    "MAX_REQUEST_BYTES", "QUERY_MAX_ROWS", "MAX_LIST_ITEMS", "MAX_PROPERTIES_BYTES", "DATABASE_CONNECT_TIMEOUT",
    "DATABASE_STATEMENT_TIMEOUT", "DATABASE_ANSWER_TIMEOUT", "LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_ADDRESS",
    "LOGIN_BACKOFF_SECONDS", "LOGIN_MAX_BACKOFF_SECONDS", "LOGIN_FAILURE_WINDOW_SECONDS", "IKANO_CONNECT_TIMEOUT",
    "IKANO_READ_TIMEOUT", "WORKER_LEASE_SECONDS", "WORKER_BACKOFF_SECONDS", "WORKER_MAX_ATTEMPTS",
]  # fmt: skip


def test_a_bad_number_names_the_variable_and_its_value(tmp_path):
    line = refusal(command("jobs", cwd=tmp_path, query_max_rows="abc"))
    assert line == "Error: NGNSERVER_QUERY_MAX_ROWS must be a whole number, not 'abc'"
    for name in NUMERIC_SETTINGS:
        result = CliRunner().invoke(main, ["jobs"], env={f"NGNSERVER_{name}": "12x"})
        assert result.exit_code == 1 and f"NGNSERVER_{name} must be a " in result.output, (name, result.output)
        assert "'12x'" in result.output and result.exception is not None and isinstance(result.exception, SystemExit)
    (tmp_path / "ngnserver.toml").write_text('worker_max_attempts = "many"\n')
    line = refusal(command("jobs", cwd=tmp_path, config=str(tmp_path / "ngnserver.toml")))
    assert "worker_max_attempts in " in line and "'many'" in line


def test_pull_dsl_without_ikano_says_what_to_set(tmp_path):
    command("db", "upgrade", cwd=tmp_path)
    line = refusal(command("pull-dsl", cwd=tmp_path))
    assert line == f"Error: {NOT_CONFIGURED}" and "NGNSERVER_IKANO_URL" in line


def test_the_worker_fails_a_job_for_an_unconfigured_vendor_at_once_with_the_sentence(server, tmp_path):
    from tests.test_dsl import ADDRESS, Env

    env = Env(server, tmp_path)  # a server configured for Ikano queues a qualification...
    try:
        q = env.reseller.call("Dsl", "qualify", address=("DslAddress", ADDRESS), locationType="R", customer=env.c)
        result = command(  # ...that a worker without the Ikano settings runs
            "worker", "--once", cwd=tmp_path, database_url=env.settings.effective_database_url,
            secret_key=env.settings.secret_key.decode(), state_dir=str(tmp_path / "worker"),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr and "ran 1 jobs" in result.stdout
        with env.database.transaction(write=False) as session:
            job = session.execute(select(Job)).scalar_one()
        assert (job.state, job.attempts, job.last_error) == ("failed", 1, NOT_CONFIGURED)
        assert env.reseller.call("Dsl", "getQualification", id=q["id"])["status"] == "E"
        assert env.sim.count("PREQUAL") == 0
    finally:
        env.stop()


def test_empty_listings_say_so_and_an_unknown_audit_kind_is_refused_with_the_known_ones(server, tmp_path):
    assert run(server, tmp_path, "jobs") == "no jobs\n"
    assert run(server, tmp_path, "jobs", "--state", "failed") == "no failed jobs\n"
    assert run(server, tmp_path, "audit") == "no changes match\n"
    server.admin().call("Customer", "addAccount", account=("CustomerAccount", {"username": "k", "password": "pw-1234"}))
    assert run(server, tmp_path, "audit", "--kind", "customer", "--login", "nobody") == "no changes match\n"
    env = {"NGNSERVER_DATABASE_URL": server.database.url, "NGNSERVER_STATE_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["audit", "--kind", "bogus"], env=env)
    assert result.exit_code == 1
    assert result.output == "Error: no change of kind 'bogus' is recorded; the history holds: customer\n"


def test_jobs_and_audit_tables_have_headers(server, tmp_path):
    admin = server.admin()
    created = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "h", "password": "pw-1234"}))
    with server.database.transaction(write=True) as session:
        job_queue.enqueue(session, "dsl.qualify", "dsl_qualification", 7)
    header, row = run(server, tmp_path, "audit").splitlines()
    assert header.split() == ["AT", "(UTC)", "WHO", "ACTION", "KIND", "KEY", "CHANGES"]
    assert row.index("admin admin") == header.index("WHO") and row.index("create") == header.index("ACTION")
    assert row.index(f"customer       {created['id']}") == header.index("KIND")
    header, row = run(server, tmp_path, "jobs").splitlines()
    assert header.split() == ["ID", "STATE", "KIND", "RECORD", "ATTEMPTS", "STEP", "NEXT", "RUN", "(UTC)", "LAST", "ERROR"]
    for column, value in (("STATE", "queued"), ("KIND", "dsl.qualify"), ("RECORD", "dsl_qualification 7"),
                          ("ATTEMPTS", "0/8")):  # fmt: skip
        assert row.index(value) == header.index(column), (column, row)


def test_version_with_v_and_with_version():
    assert CliRunner().invoke(main, ["-V"]).output == CliRunner().invoke(main, ["--version"]).output
    assert "version" in CliRunner().invoke(main, ["-V"]).output


def test_dev_serve_listens_on_ngnserver_bind(tmp_path):
    # a copy of the repository's dev script beside a .venv whose ngnserver is this checkout
    (tmp_path / "dev").write_bytes((REPOSITORY / "dev").read_bytes())
    (tmp_path / "dev").chmod(0o755)
    (tmp_path / "pyproject.toml").write_bytes((REPOSITORY / "pyproject.toml").read_bytes())
    os.utime(tmp_path / "pyproject.toml", (time.time() - 60, time.time() - 60))
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "ngnserver").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ngnserver.cli "$@"\n')
    (bin_dir / "ngnserver").chmod(0o755)
    (tmp_path / ".venv" / ".installed-base").touch()
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NGNSERVER_")}
    environ.update(PYTHONPATH=str(REPOSITORY), NGNSERVER_BIND=f"127.0.0.1:{port}", NGNSERVER_WORKERS="1",
                   NGNSERVER_STATE_DIR=str(tmp_path / "var"))  # fmt: skip
    server = subprocess.Popen([str(tmp_path / "dev"), "serve"], cwd=tmp_path, env=environ,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline, answer = time.monotonic() + 30, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    answer = response.status
            except OSError:
                time.sleep(0.1)
        assert answer == 200, "nothing answered on NGNSERVER_BIND"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


@pytest.mark.parametrize("name", ["WORKERS", "THREADS", "CLIENT_TIMEOUT", "KEEPALIVE", "WORKER_TIMEOUT"])
def test_serve_with_a_bad_gunicorn_number_names_it_without_a_traceback(tmp_path, name):
    result = command("serve", "--bind", f"127.0.0.1:{free_port()}", cwd=tmp_path, **{name.lower(): "abc"})
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert f"NGNSERVER_{name} must be a " in result.stderr and "'abc'" in result.stderr


def test_serve_with_an_unreachable_database_says_so_in_a_sentence(tmp_path):
    url = f"postgresql://ngn:topsecret@127.0.0.1:{free_port()}/ngn"
    result = command("serve", "--bind", f"127.0.0.1:{free_port()}", cwd=tmp_path, database_url=url,
                     admin_username="admin", admin_password="secret")  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "cannot prepare the database" in result.stderr and "NGNSERVER_DATABASE_URL" in result.stderr
    assert "topsecret" not in result.stderr
