"""How requests use database transactions (db.Database.transaction): one transaction per
request, committed when it ends well and rolled back when it raises, whichever way it wrote;
a read-only request that the database itself keeps from writing, reading one snapshot; the
SQLite writers' turn; prepared statements on PostgreSQL, and none behind a pooler."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select, text

from ngnserver.db import Database
from ngnserver.models import Customer
from ngnserver.models.audit import AuditEntry
from tests.conftest import BACKENDS, database_url

AUDIT_INSERT = text(
    "INSERT INTO audit_log (at, login, admin_login, action, kind, record_key, changes) "
    "VALUES (CURRENT_TIMESTAMP, 't', false, 'create', 'test', :k, '{}')"
)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    db = Database(database_url(request.param, request, tmp_path, "transactions"))
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
    if how == "text statement":
        session.execute(AUDIT_INSERT, {"k": "text"})
    elif how == "core executemany":
        session.execute(AUDIT_INSERT, [{"k": "m1"}, {"k": "m2"}, {"k": "m3"}])
    elif how == "core insert":
        session.execute(insert(AuditEntry).values(login="t", admin_login=False, action="create", kind="test",
                                                  record_key="core", changes={}))  # fmt: skip
    elif how == "orm flush":
        session.add(Customer(id=1, reseller=1, username="tx", password_sealed=b""))
        session.flush()
    elif how == "driver cursor":
        cursor = session.connection().connection.driver_connection.cursor()
        cursor.execute(
            "INSERT INTO audit_log (at, login, admin_login, action, kind, record_key, changes) "
            "VALUES (CURRENT_TIMESTAMP, 't', false, 'create', 'test', 'driver', '{}')"
        )
        cursor.close()
    else:
        raise AssertionError(how)


WAYS = ["text statement", "core executemany", "core insert", "orm flush", "driver cursor"]


@pytest.mark.parametrize("how", WAYS)
def test_a_request_that_fails_keeps_nothing_it_wrote(database, how):
    with pytest.raises(RuntimeError, match="later failure"), database.transaction() as session:
        assert session.execute(select(AuditEntry.id)).first() is None
        _write(session, how)
        _write(session, "orm flush" if how != "orm flush" else "text statement")
        raise RuntimeError("later failure")
    assert _written(database) == (0, 0)


@pytest.mark.parametrize("how", WAYS)
def test_a_request_that_ends_well_keeps_what_it_wrote(database, how):
    with database.transaction() as session:
        _write(session, how)
    assert _written(database) == {"core executemany": (3, 0), "orm flush": (0, 1)}.get(how, (1, 0))


@pytest.mark.parametrize("how", WAYS)
def test_a_read_only_request_cannot_write_whichever_way_it_tries(database, how):
    """A ``get*`` request's transaction is read-only in the database itself (PostgreSQL READ
    ONLY, SQLite query_only): a write fails loudly, and nothing of it stays."""
    # (the driver's own error when the driver's cursor is used directly)
    with pytest.raises(Exception, match="(?i)read-only|readonly"), database.transaction(write=False) as session:
        _write(session, how)
    assert _written(database) == (0, 0)
    with database.transaction() as session:  # the connection writes again in a write request
        _write(session, "text statement")
    assert _written(database) == (1, 0)


def test_a_read_only_request_reads_one_snapshot(database):
    """What another transaction commits while a read request runs is not seen by it (a
    listing's page and its total agree)."""
    with database.transaction(write=False) as reader:
        before = reader.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        with database.transaction() as writer:
            _write(writer, "text statement")
        assert reader.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == before
    assert _written(database) == (1, 0)


def test_a_write_request_sees_what_committed_before_it_wrote(database):
    with database.transaction() as first:
        _write(first, "text statement")
    with database.transaction() as second:
        assert second.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1


def test_sqlite_writers_take_turns_for_the_whole_write_transaction(tmp_path):
    """On SQLite a write request holds the writers' turn (a file lock beside the database)
    from before its BEGIN IMMEDIATE to after its end, ending well or not; a read request
    never takes it."""
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
            _write(session, "text statement")
            assert session.connection().connection.driver_connection.in_transaction and not turn_is_free()
        assert turn_is_free()
        with pytest.raises(RuntimeError), database.transaction() as session:
            _write(session, "text statement")
            raise RuntimeError("the turn is given up on failure too")
        assert turn_is_free()
        with database.transaction(write=False) as session:
            session.execute(text("SELECT count(*) FROM customers"))
            assert turn_is_free()
        assert _written(database) == (1, 0)
    finally:
        database.dispose()


def test_sqlite_writers_of_one_process_wait_for_each_other(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'threads.sqlite3'}")
    database.migrate()
    inside = threading.Event()
    leave = threading.Event()
    order: list[str] = []

    def first() -> None:
        with database.transaction() as session:
            _write(session, "text statement")
            inside.set()
            leave.wait(5)
            order.append("first done")

    def second() -> None:
        inside.wait(5)
        with database.transaction() as session:
            order.append("second in")
            _write(session, "text statement")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        for thread in threads:
            thread.start()
        inside.wait(5)
        leave.set()
        for thread in threads:
            thread.join(10)
        assert order == ["first done", "second in"]
        assert _written(database) == (2, 0)
    finally:
        database.dispose()


@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "pooler"])
def test_postgresql_prepares_statements_it_runs_often_unless_told_not_to(request, tmp_path, prepared):
    """psycopg prepares a statement a connection has run a few times; behind a pooler in
    transaction mode (NGNSERVER_PREPARED_STATEMENTS=false) nothing is prepared."""
    database = Database(database_url("postgresql", request, tmp_path, "prepares"), prepared=prepared)
    database.migrate()
    try:
        with database.engine.connect() as conn:
            for n in range(8):
                conn.execute(select(Customer.id).where(Customer.id == n)).all()
            held = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
        assert (held > 0) is prepared
    finally:
        database.dispose()
