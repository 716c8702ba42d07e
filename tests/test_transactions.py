"""How requests use database transactions. On PostgreSQL the connections run in autocommit
mode and ngnserver sends BEGIN and COMMIT itself (db.PostgresDialect): BEGIN with a write
transaction's first statement, COMMIT with its last where a path says so. These tests check
that every way of writing is inside the transaction, and that nothing of a failed one stays."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ngnserver.core import rows
from ngnserver.db import Database, Raw, driver_rows, raw_batch, raw_execute, raw_first
from ngnserver.models import Customer
from ngnserver.models.audit import AuditEntry
from tests.conftest import BACKENDS, database_url

IDLE, IN_TRANSACTION = 0, 2  # libpq's transaction status (psycopg2.extensions)

AUDIT_INSERT = text(
    "INSERT INTO audit_log (at, login, admin_login, action, kind, record_key, changes) "
    "VALUES (CURRENT_TIMESTAMP, 't', false, 'create', 'test', :k, '{}')"
)
RAW_AUDIT_INSERT = Raw(
    "INSERT INTO audit_log (at, login, admin_login, action, kind, record_key, changes) "
    "VALUES (CURRENT_TIMESTAMP, 't', false, 'create', 'test', ?, '{}')"
)
RAW_COUNT = Raw("SELECT count(*) FROM audit_log", reads=True)
# violates credit_usage's CHECK (used >= 0): a statement that fails inside a transaction
RAW_BAD = Raw("INSERT INTO credit_usage (scope, holder, credit, used) VALUES ('customer', 1, 'sip_credit', -1)")


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    db = Database(database_url(request.param, request, tmp_path, "transactions"))
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def pg_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    db = Database(database_url("postgresql", request, tmp_path, "transactions_pg"))
    db.migrate()
    yield db
    db.dispose()


def _written(database: Database) -> tuple[int, int]:
    """(audit rows, customers) as a new request sees them."""
    with database.transaction(write=False) as session:
        audit = session.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        customers = session.execute(text("SELECT count(*) FROM customers")).scalar_one()
    return audit, customers


def _write(session, how: str) -> None:
    if how == "raw statement":
        raw_execute(session.connection(), RAW_AUDIT_INSERT, ("raw",))
    elif how == "raw batch":
        raw_batch(session.connection(), [RAW_AUDIT_INSERT, RAW_AUDIT_INSERT], [("b1",), ("b2",)])
    elif how == "row insert":
        rows.insert(session, AuditEntry, {"login": "t", "admin_login": False, "action": "create",
                                          "kind": "test", "record_key": "row"})  # fmt: skip
    elif how == "core statement":
        session.execute(AUDIT_INSERT, {"k": "core"})
    elif how == "core executemany":
        session.execute(AUDIT_INSERT, [{"k": "m1"}, {"k": "m2"}, {"k": "m3"}])
    elif how == "orm flush":
        session.add(Customer(id=1, reseller=1, username="tx", password_sealed=b""))
        session.flush()
    else:
        raise AssertionError(how)


WAYS = ["raw statement", "raw batch", "row insert", "core statement", "core executemany", "orm flush"]


@pytest.mark.parametrize("how", WAYS)
def test_a_request_that_fails_keeps_nothing_it_wrote(database, how):
    """Whichever way a request writes first (after a read, which on PostgreSQL runs before
    the transaction opens), a failure later in the request rolls all of it back."""
    with pytest.raises(RuntimeError, match="later failure"), database.transaction() as session:
        assert raw_first(session.connection(), RAW_COUNT, ()) == (0,)
        _write(session, how)
        _write(session, "orm flush" if how != "orm flush" else "raw statement")
        raise RuntimeError("later failure")
    assert _written(database) == (0, 0)


@pytest.mark.parametrize("how", WAYS)
def test_a_request_that_ends_well_keeps_what_it_wrote(database, how):
    with database.transaction() as session:
        _write(session, how)
    audit, customers = _written(database)
    assert (audit, customers) == {"raw batch": (2, 0), "core executemany": (3, 0), "orm flush": (0, 1)}.get(how, (1, 0))


def test_postgresql_reads_before_the_first_write_run_outside_the_transaction(pg_database):
    """A fixed read (Raw(reads=True)) before the first write needs no transaction; the first
    write opens it; a SELECT run through SQLAlchemy opens it too, since it may lock."""
    with pg_database.transaction() as session:
        conn = session.connection()
        status = conn.connection.dbapi_connection.get_transaction_status
        raw_first(conn, RAW_COUNT, ())
        assert status() == IDLE
        raw_execute(conn, RAW_AUDIT_INSERT, ("first write",))
        assert status() == IN_TRANSACTION
    with pg_database.transaction() as session:
        session.execute(text("SELECT pg_advisory_xact_lock(42)"))
        assert session.connection().connection.dbapi_connection.get_transaction_status() == IN_TRANSACTION
    assert _written(pg_database) == (1, 0)


def test_sqlite_writer_takes_its_turn_at_its_first_write(tmp_path):
    """On SQLite the writers take turns (a file lock, then BEGIN IMMEDIATE); a write request
    takes its turn at its first write, so its plain reads before it (authentication, the
    domain check) do not hold the other writers up, and gives it up when it ends."""
    path = tmp_path / "turn.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.migrate()

    def turn_is_free() -> bool:
        fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)  # (closing gives up a lock taken here)
        return True

    try:
        with database.transaction() as session:
            conn = session.connection()
            driver = conn.connection.driver_connection
            raw_first(conn, RAW_COUNT, ())
            assert not driver.in_transaction and turn_is_free()
            raw_execute(conn, RAW_AUDIT_INSERT, ("first write",))
            assert driver.in_transaction and not turn_is_free()
        assert turn_is_free()
        with database.transaction() as session:  # any statement SQLAlchemy runs may write
            session.execute(text("SELECT count(*) FROM customers"))
            assert not turn_is_free()
        with pytest.raises(RuntimeError), database.transaction() as session:
            raw_execute(session.connection(), RAW_AUDIT_INSERT, ("rolled back",))
            raise RuntimeError("the turn is given up on failure too")
        assert turn_is_free()
        assert _written(database) == (1, 0)
    finally:
        database.dispose()


def test_postgresql_commit_of_a_transaction_in_which_a_statement_failed_is_refused(pg_database):
    """PostgreSQL answers COMMIT after a failed statement with a silent ROLLBACK; here the
    commit raises instead, so a caller that swallowed the error cannot report success."""
    with pytest.raises(DBAPIError, match="rolled back, not committed"), pg_database.transaction() as session:
        raw_execute(session.connection(), RAW_AUDIT_INSERT, ("before the failure",))
        with pytest.raises(pg_database.engine.dialect.loaded_dbapi.IntegrityError):
            raw_execute(session.connection(), RAW_BAD, ())
    assert _written(pg_database) == (0, 0)


def test_postgresql_transaction_committed_with_its_last_statement(pg_database):
    """raw_batch(..., finish=True) sends the COMMIT with the statements; after it the request
    may still read, but a write would land outside the transaction and is refused."""
    with pg_database.transaction() as session:
        conn = session.connection()
        raw_execute(conn, RAW_AUDIT_INSERT, ("one",))
        raw_batch(conn, [RAW_AUDIT_INSERT], [("two",)], finish=True)
        assert conn.connection.dbapi_connection.get_transaction_status() == IDLE
        assert raw_first(conn, RAW_COUNT, ()) == (2,)
        with pytest.raises(RuntimeError, match="after the transaction's last"):
            raw_execute(conn, RAW_AUDIT_INSERT, ("three",))
        session.add(Customer(id=2, reseller=2, username="late", password_sealed=b""))
        with pytest.raises(RuntimeError, match="after the transaction's last"):
            session.flush()
        session.expunge_all()
    assert _written(pg_database) == (2, 0)
    with pg_database.transaction() as session:  # the next request on that connection writes as usual
        raw_execute(session.connection(), RAW_AUDIT_INSERT, ("next request",))
    assert _written(pg_database) == (3, 0)


def test_postgresql_connection_given_back_in_a_transaction_is_rolled_back(pg_database):
    """A connection that goes back to the pool with a transaction open (a caller that never
    committed, or used the driver directly) is rolled back before anyone reuses it."""
    with pg_database.engine.connect() as conn:
        conn.execute(AUDIT_INSERT, {"k": "never committed"})
    raw = pg_database.engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("BEGIN; INSERT INTO audit_log (at, login, admin_login, action, kind, record_key, changes) "
                   "VALUES (%s, 't', false, 'create', 'test', 'driver', '{}')", (datetime(2026, 1, 1),))  # fmt: skip
    assert raw.dbapi_connection.get_transaction_status() == IN_TRANSACTION
    raw.close()
    with pg_database.engine.connect() as conn:
        assert conn.connection.dbapi_connection.get_transaction_status() == IDLE
    assert _written(pg_database) == (0, 0)


# -- the main thread's kept connection (Database._connection) ---------------------------------


def _driver_connection(database: Database, write: bool = True) -> object:
    with database.transaction(write=write) as session:
        return session.connection().connection.dbapi_connection


def test_main_thread_keeps_its_connection_between_requests(database):
    """A gunicorn sync worker's requests (its main thread's) run on one connection, kept
    out of the pool between them; another thread's request checks one out and gives it
    back, as does a request inside a request."""
    first = _driver_connection(database)
    assert _driver_connection(database, write=False) is first
    assert _driver_connection(database) is first
    assert database.engine.pool.checkedout() == 1

    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(_driver_connection, database).result()
    assert other is not first
    assert database.engine.pool.checkedout() == 1

    with database.transaction() as outer:
        inner = _driver_connection(database, write=False)
        assert outer.connection().connection.dbapi_connection is first
    assert inner is not first
    assert database.engine.pool.checkedout() == 1


def test_a_request_that_raises_gives_the_kept_connection_back(database):
    _driver_connection(database)
    assert database.engine.pool.checkedout() == 1
    with pytest.raises(LookupError), database.transaction() as session:
        raw_execute(session.connection(), RAW_AUDIT_INSERT, ("rolled back",))
        raise LookupError("the request fails after its write")
    assert database.engine.pool.checkedout() == 0
    assert _written(database) == (0, 0)
    with database.transaction() as session:  # the next request runs as usual
        raw_execute(session.connection(), RAW_AUDIT_INSERT, ("kept",))
    assert _written(database) == (1, 0)
    assert database.engine.pool.checkedout() == 1


def test_a_transaction_left_open_on_the_driver_is_not_kept(database):
    """A request that used the driver directly and left a transaction open (no code of ours
    does) gives the connection back to the pool, whose reset rolls it back."""
    with database.transaction(write=False) as session:
        driver = session.connection().connection.dbapi_connection
        cursor = driver.cursor()
        cursor.execute("BEGIN")
        cursor.execute("INSERT INTO audit_log (at, login, admin_login, action, kind, record_key, changes) "
                       "VALUES (CURRENT_TIMESTAMP, 't', false, 'create', 'test', 'left open', '{}')")  # fmt: skip
    assert database.engine.pool.checkedout() == 0
    assert _written(database) == (0, 0)


def test_postgresql_kept_connection_that_died_while_idle_is_replaced(pg_database):
    """The kept connection, idle for PING_AFTER_IDLE_SECONDS, is pinged before use, as the
    pool pings one it hands out: a connection the server closed meanwhile (a restart, an
    idle timeout) costs the next request nothing. Before that time it is used as it is."""
    from ngnserver import db as db_module

    def backend_pid() -> int:
        with pg_database.transaction(write=False) as session:
            return session.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def terminate(pid: int) -> None:
        with pg_database.engine.connect() as other:  # another thread's way: from the pool
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()

    first = backend_pid()
    terminate(first)
    pg_database._kept_used -= db_module.PING_AFTER_IDLE_SECONDS + 1
    second = backend_pid()
    assert second != first

    terminate(second)  # not idle long enough to be pinged: the request meets the dead connection
    with pytest.raises(DBAPIError):
        backend_pid()
    assert backend_pid() not in (first, second)  # and the next one gets a new connection


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_use_its_parents_kept_connection(database):
    parent = _driver_connection(database)
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = 0 if _driver_connection(database) is not parent and _written(database) == (0, 0) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent's connection still works: the child neither used nor closed it
    assert _driver_connection(database) is parent
    assert _written(database) == (0, 0)


def _audit(key: str) -> AuditEntry:
    return AuditEntry(at=datetime(2026, 1, 1), login="t", admin_login=False, action="create", kind="test",
                      record_key=key, changes={})  # fmt: skip


def test_kept_connection_session_starts_every_request_empty(database):
    """The main thread's requests use the kept connection's session again, closed in
    between: nothing of one request (objects, the read-only mark) is left for the next."""
    with database.transaction() as first:
        entry = _audit("first")
        first.add(entry)
    with database.transaction(write=False) as second:
        assert second is first
        assert entry not in second and not second.new and len(second.identity_map) == 0
        assert second.execute(text("SELECT record_key FROM audit_log")).scalars().all() == ["first"]
    with database.transaction() as third:
        assert third is first
        third.add(_audit("third"))  # a write session again: written
    assert _written(database) == (2, 0)
    with pytest.raises(RuntimeError, match="read-only"), database.transaction(write=False) as fourth:
        fourth.add(_audit("refused"))
    with database.transaction() as fifth:  # after an exception: a new connection and session
        assert fifth is not first
        fifth.add(_audit("fifth"))
    assert _written(database) == (3, 0)


def test_postgresql_listings_are_prepared_by_their_text_within_a_bound(pg_database, monkeypatch):
    """A listing's text varies with its filters and order: each is prepared once per
    connection, by its text, and a connection holding too many lets them all go (the
    fixed statements are prepared again when next used). Plans are generic."""
    from ngnserver import db as db_module

    monkeypatch.setattr(db_module, "MAX_PREPARED_PER_CONNECTION", 6)
    with pg_database.transaction(write=False) as session:
        conn = session.connection()
        assert driver_rows(conn, "SHOW plan_cache_mode", []) == [("force_generic_plan",)]
        for i in range(20):
            text = f"SELECT CAST(? AS integer) + {i}"
            assert driver_rows(conn, text, [i], prepare=True) == [(2 * i,)]
            assert driver_rows(conn, text, [1], prepare=True) == [(1 + i,)]  # the same statement
            held = driver_rows(conn, "SELECT name FROM pg_prepared_statements", [])
            assert 1 <= len(held) <= 6
            assert raw_first(conn, RAW_COUNT, ()) == (0,)  # a fixed statement, prepared again if it went
        names = {name for (name,) in driver_rows(conn, "SELECT name FROM pg_prepared_statements", [])}
    assert len([n for n in names if n.startswith("ngn_t")]) <= 5


def test_postgresql_connections_do_not_jit_compile(pg_database):
    """A generic plan's estimate for a listing (its LIMIT unknown) would set off JIT
    compilation on every call over a large table; ngnserver's connections never JIT."""
    with pg_database.transaction(write=False) as session:
        assert driver_rows(session.connection(), "SHOW jit", []) == [("off",)]
