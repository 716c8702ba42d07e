"""The database: engine set-up for SQLite and PostgreSQL, one transaction per request, the
health check and schema migrations (Alembic)."""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg2.extensions import Binary
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, prepared: bool = True) -> Engine:
    """An engine with the settings each backend needs under several gunicorn workers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # We issue BEGIN ourselves (below), so pysqlite must not.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # see Database._checkpoint_now_and_then
            cursor.close()

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_begin_with_first_statement(conn, cursor, _statement, _parameters, _context, _many):  # type: ignore[no-untyped-def]
            _sqlite_begin(conn.info, cursor.connection)

        return engine
    return _postgresql_engine(url, prepared)


# PostgreSQL through psycopg2, with the transaction in our hands (see PostgresDialect)
registry.register("postgresql.ngnserver", __name__, "PostgresDialect")
_IDLE, _FAILED = 0, 3  # psycopg2.extensions.TRANSACTION_STATUS_IDLE, _INERROR (libpq's own)


class PostgresDialect(PGDialect_psycopg2):
    """psycopg2, whose connections run in autocommit mode while this module starts and ends
    the transactions itself, to save round trips on every write request:

    - psycopg2 sends BEGIN on its own before a transaction's first statement (a round trip);
      here BEGIN goes in the same request as that statement (``_begin_prefix``). A fixed
      statement that only reads (``Raw(..., reads=True)``) that comes before the first write
      runs on its own, outside the transaction: under READ COMMITTED each statement takes
      its own snapshot anyway, and a plain SELECT holds no row lock, so it reads the same;
    - the last statement of a transaction may carry the COMMIT (``raw_batch(...,
      finish=True)``);
    - COMMIT and ROLLBACK are sent only while the server reports a transaction open
      (libpq's transaction status, kept from every reply), so a transaction that wrote
      nothing, or committed with its last statement, costs no round trip to end. Committing a
      transaction in which a statement failed rolls it back and raises, where PostgreSQL
      would answer the COMMIT with a silent ROLLBACK."""

    supports_statement_cache = True

    def do_commit(self, dbapi_connection: Any) -> None:
        status = dbapi_connection.get_transaction_status()
        if status == _IDLE:
            return
        with dbapi_connection.cursor() as cursor:
            cursor.execute("ROLLBACK" if status == _FAILED else "COMMIT")
        if status == _FAILED:
            raise self.loaded_dbapi.errors.InFailedSqlTransaction(
                "a statement of this transaction failed: it was rolled back, not committed"
            )

    def do_rollback(self, dbapi_connection: Any) -> None:
        if dbapi_connection.get_transaction_status() != _IDLE:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("ROLLBACK")


FINISHED = "ngn_finished"  # pool connection info: the transaction committed with its last statement


def _begin_prefix(connection: Connection) -> str:
    """``"BEGIN; "`` when a statement about to run on ``connection`` (PostgreSQL) opens the
    transaction of a write session, else ``""``."""
    info = connection.info
    if info.get(READS_ONLY) or connection.connection.dbapi_connection.get_transaction_status() != _IDLE:
        return ""
    if info.get(FINISHED):
        raise RuntimeError("a statement after the transaction's last one (raw_batch(..., finish=True))")
    return "BEGIN; "


FIRST = "ngn_first"  # Connection.info key, in a request: what goes before its first statement


def _prefix(connection: Connection, cursor: Any, reads: bool) -> str:
    """What a statement about to run on ``connection`` (PostgreSQL) is sent after, in the same
    request: BEGIN when it opens the transaction of a write session (``_begin_prefix``;
    not for a plain read), and the statement given to ``Database.transaction(first=...)``
    when none of the session's has run yet."""
    return ("" if reads else _begin_prefix(connection)) + _first(connection, cursor)


def _first(connection: Connection, cursor: Any) -> str:
    first = connection.info.pop(FIRST, None)
    return "" if first is None else first.sql_for(connection, cursor) + "; "


def _postgresql_engine(url: str, prepared: bool) -> Engine:
    parsed = make_url(url)
    if parsed.drivername not in ("postgresql", "postgresql+psycopg2"):
        raise ValueError(f"ngnserver runs PostgreSQL through psycopg2, not {parsed.drivername}")
    engine = create_engine(
        parsed.set(drivername="postgresql+ngnserver"), pool_size=5, max_overflow=5, isolation_level="AUTOCOMMIT"
    )

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _begin_with_first_statement(conn, cursor, statement, parameters, _context, executemany):  # type: ignore[no-untyped-def]
        # statements SQLAlchemy runs (ORM and Core): every one may open the transaction, a
        # SELECT too (it may lock, or take a transaction-scoped advisory lock)
        prefix = _prefix(conn, cursor, reads=False)
        if not prefix:
            return statement, parameters
        if executemany:  # the driver runs the statement once per parameter set
            cursor.execute(prefix)
            return statement, parameters
        return prefix + statement, parameters

    if prepared:

        @event.listens_for(engine, "connect")
        def _track_prepared(dbapi_conn, record):  # type: ignore[no-untyped-def]
            record.info[PREPARED] = set()  # a new session has none (Raw.sql_for)
            if dbapi_conn.server_version >= 120000:
                # our prepared statements are planned once, for any values (see Raw); no JIT
                # compilation, which a generic plan's estimate can set off on every call
                with dbapi_conn.cursor() as cursor:
                    cursor.execute("SET plan_cache_mode = force_generic_plan; SET jit = off")

    # A pooled connection may have died while it sat idle (a database restart, a proxy's
    # idle timeout): one that was idle for a while is pinged before use and replaced if
    # it does not answer. A busy connection is not: pinging on every checkout, as
    # pool_pre_ping does, costs a round trip per request.
    @event.listens_for(engine, "checkin")
    def _note_last_use(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()
        record.info.pop(FINISHED, None)

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        if not _answers(engine, dbapi_conn):
            raise DisconnectionError("the pooled connection does not answer") from None

    return engine


def _answers(engine: Engine, dbapi_conn: Any) -> bool:
    """Whether the database answers ``SELECT 1`` on this driver connection."""
    try:
        cursor = dbapi_conn.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except engine.dialect.loaded_dbapi.Error:
        return False
    return True


PING_AFTER_IDLE_SECONDS = 5.0
CHECKPOINT_EVERY_WRITES = 100  # per process; SQLite's default is about every 1000 WAL pages
READ_ONLY = "read_only"  # Session.info key: the session must not write
READS_ONLY = "reads_only"  # Connection.info key, while a read session uses it: no BEGIN
TURN = "ngn_writer_turn"  # Connection.info key, in a SQLite write session: its _WriterTurn


def _sqlite_begin(info: dict[str, Any], dbapi_conn: Any) -> None:
    """Open the transaction, on SQLite, before a statement that may write (every statement
    SQLAlchemy runs, and ``Raw`` statements other than plain reads): in a write session,
    the writers' turn first (``_WriterTurn``), then BEGIN IMMEDIATE, which takes SQLite's
    write lock at once (two processes that read and then write would otherwise deadlock on
    the lock upgrade and fail). The plain reads before it (authentication, "does the domain
    exist") run on their own, outside the turn, so a writer holds the turn only while it
    writes; a read session sends no BEGIN at all. pysqlite's own BEGIN is off
    (isolation_level None), and a pysqlite commit or rollback ends what is open."""
    if info.get(READS_ONLY) or dbapi_conn.in_transaction:
        return
    if info.get("write"):
        turn = info.get(TURN)
        if turn is not None:
            turn.take()
        dbapi_conn.execute("BEGIN IMMEDIATE")
    else:
        dbapi_conn.execute("BEGIN")


class RequestSession(Session):
    """A request's session (``Database.transaction``), bound to the request's connection,
    whose transaction ``Database.transaction`` opens and ends. ``connection()`` hands that
    connection out as it is: the statements run on it straight (``Raw``, ``driver_rows``)
    need nothing of the ORM, where ``Session.connection()`` first begins a transaction of
    the session's own and joins it to the connection's, at about 40 us on every request
    (a quarter of the set-up and tear-down of a request's session). The ORM's own work
    (a query, a flush) still begins the session's transaction when it needs one, joined to
    the same connection's."""

    def connection(self, bind_arguments: Any = None, execution_options: Any = None) -> Connection:  # type: ignore[override]
        bind = self.bind
        if bind_arguments is None and execution_options is None and isinstance(bind, Connection):
            return bind
        return super().connection(bind_arguments, execution_options)


@event.listens_for(Session, "before_flush")
def _refuse_writes_when_reading(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a read-only request tried to write")


def _forget(conn: Connection, *keys: str) -> None:
    """Remove a request's keys from its connection's info (the pool connection's, which a
    kept connection carries into the next request). Not from one the request lost (a
    disconnect invalidated it): its info went with it, and asking for it would reconnect,
    or fail in place of the error that lost it."""
    if not conn.invalidated:
        info = conn.info
        for key in keys:
            info.pop(key, None)


class Database:
    def __init__(self, url: str, prepared: bool = True) -> None:
        """``prepared``: PostgreSQL server-side prepared statements (see ``Raw``)."""
        self.url = url
        self.engine = make_engine(url, prepared)
        self._writer_lock = _writer_lock_path(self.engine)
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self._thread_turns = threading.Lock()
        self._writes = 0
        # the main thread's connection, kept between its requests (``_connection``)
        self._kept: Connection | None = None
        self._kept_pid = 0
        self._kept_used = 0.0
        self._kept_busy = False
        self._inherited: list[Connection] = []  # a forked child's parent's kept connection
        self._kept_session: RequestSession | None = None  # the kept connection's (_session)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self, write: bool = True, first: Any = None) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it
        raises. ``write=False``: a session that only reads, beside any writer (``_reads``).

        ``first`` (PostgreSQL): a statement sent in the same request as the session's first
        statement, and before it (it adds no round trip): an object whose
        ``sql_for(connection, cursor)`` gives its SQL (``Raw.with_values``), called once,
        when it is sent (core/callers.py, ``CallerCheck``). If it fails, so does the
        statement it went with. Other databases never send it."""
        if not write:
            with self._reads(first) as session:
                yield session
            return
        # The transaction opens with the first statement that may write (PostgresDialect,
        # _sqlite_begin): a SQLite writer takes the writers' turn only then, and gives it up
        # when the transaction has ended; the connection and the session are set up and
        # closed outside it.
        turn = _WriterTurn(self) if self._writer_lock else None
        with self._connection() as conn, self._session(conn, autoflush=True) as session:
            conn.info["write"] = True
            conn.info[TURN] = turn
            _set_first(conn, first)
            session.info[READ_ONLY] = False
            try:
                with conn.begin():
                    yield session
                    session.flush()
            finally:
                _forget(conn, TURN, FIRST, FINISHED)
                wrote = turn is not None and turn.release()
            if wrote:
                self._checkpoint_now_and_then(conn)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A request's connection. The process's main thread (a gunicorn sync worker's only
        one) keeps its connection between requests instead of checking one out of the pool
        and in again for each: that and the Connection object it needs cost a request about
        50 us of CPU, more than half of setting up and ending an empty write transaction
        (86 -> 38 us in a tight loop; 26 with the session kept too). What the pool does
        on the way holds for the kept connection too: one idle for PING_AFTER_IDLE_SECONDS
        is pinged before use and replaced if it does not answer, and a request that ends in
        an exception, or leaves a transaction open on the driver, gives it back to the pool,
        whose reset ends whatever was left open (the next request checks one out afresh).
        A forked child never uses its parent's. Other threads, and a request inside a
        request, check one out as before."""
        if self._kept_busy or threading.current_thread() is not threading.main_thread():
            with self.engine.connect() as conn:
                yield conn
            return
        conn = self._kept_connection()
        self._kept_busy = True
        try:
            yield conn
        except BaseException:
            self._drop_kept()
            raise
        else:
            if conn.invalidated or self._left_open(conn):
                self._drop_kept()
        finally:
            self._kept_busy = False
            self._kept_used = time.monotonic()

    def _session(self, conn: Connection, autoflush: bool) -> RequestSession:
        """A session for a request on ``conn``, closed when the request ends: on the kept
        connection, the one used by its requests before (a closed Session is ready to be
        used again, and building one costs about 15 us), else a new one."""
        if conn is not self._kept:
            return RequestSession(bind=conn, expire_on_commit=False, autoflush=autoflush)
        session = self._kept_session
        if session is None or session.bind is not conn:
            session = self._kept_session = RequestSession(bind=conn, expire_on_commit=False)
        session.autoflush = autoflush
        return session

    def _left_open(self, conn: Connection) -> bool:
        """Whether the driver has a transaction open on ``conn`` (something used it
        directly and never ended it): the pool's reset must end it before another request."""
        dbapi_conn = conn.connection.dbapi_connection
        if self.is_sqlite:
            return bool(dbapi_conn.in_transaction)
        return dbapi_conn.get_transaction_status() != _IDLE

    def _kept_connection(self) -> Connection:
        conn = self._kept
        if conn is not None and self._kept_pid != os.getpid():
            # a forked child: the parent's connection, and those in the pool, are not ours to
            # use or close. The connection is held, never collected (that would put it back
            # in the pool, or close the parent's session), and the pool is left to the parent.
            self._inherited.append(conn)
            self.engine.dispose(close=False)
            conn = self._kept = None
        if conn is not None and (conn.closed or conn.invalidated):
            self._drop_kept()
            conn = None
        idle = conn is not None and time.monotonic() - self._kept_used >= PING_AFTER_IDLE_SECONDS
        if idle and not _answers(self.engine, conn.connection.dbapi_connection):
            conn.invalidate()
            self._drop_kept()
            conn = None
        if conn is None:
            conn = self._kept = self.engine.connect()
            self._kept_pid = os.getpid()
        return conn

    def _drop_kept(self) -> None:
        """Give the kept connection back to the pool (or discard it, if invalidated)."""
        conn, self._kept = self._kept, None
        self._kept_session = None
        if conn is not None and self._kept_pid == os.getpid():
            conn.close()

    def _checkpoint_now_and_then(self, conn: Connection) -> None:
        """Copy the SQLite write-ahead log into the database every so many writes, after
        the writers' turn is given up. SQLite's own automatic checkpoint runs inside the
        commit that crosses its threshold, so a writer held the turn for 7 to 14 ms every
        hundred or so commits while every other writer waited; a PASSIVE checkpoint here
        runs beside the next writer."""
        self._writes += 1
        if self._writes % CHECKPOINT_EVERY_WRITES == 0:
            conn.connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @contextmanager
    def _reads(self, first: Any = None) -> Iterator[Session]:
        """A session for a request that only reads, with no BEGIN and COMMIT around it: on
        PostgreSQL two round trips less (see PostgresDialect), on SQLite half the cost of an
        empty transaction. Under PostgreSQL's READ COMMITTED each statement of a transaction
        takes its own snapshot anyway; SQLite's statements now do the same, so both backends
        read alike; every statement, the ORM's too, is its own read transaction. A write
        through this session is refused."""
        with self._connection() as conn, self._session(conn, autoflush=False) as session:
            conn.info["write"] = False  # (the pooled connection's, perhaps set by a writer)
            conn.info[READS_ONLY] = True
            _set_first(conn, first)
            session.info[READ_ONLY] = True
            try:
                yield session
                session.flush()  # nothing to flush, or a refused write
            finally:
                _forget(conn, READS_ONLY, FIRST)

    def _lock_handle(self) -> int:
        """The lock file, opened once per process: flock belongs to an open file, which a
        forked worker would share with its parent, so a child opens its own."""
        pid = os.getpid()
        if self._lock_fd is None or self._lock_pid != pid:
            self._lock_fd = os.open(
                str(self._writer_lock), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
            self._lock_pid = pid
        return self._lock_fd

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creates it on first start)."""
        from alembic import command

        with self.engine.begin() as conn:
            if not self.is_sqlite:
                # several hosts may start at once: one migrates, the others wait for it
                conn.execute(text("SELECT pg_advisory_xact_lock(7467001)"))
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self._drop_kept()
        self.engine.dispose()
        if self._lock_fd is not None and self._lock_pid == os.getpid():
            os.close(self._lock_fd)
        self._lock_fd = None


def _set_first(conn: Connection, first: Any) -> None:
    if first is not None and conn.dialect.name == "postgresql":
        conn.info[FIRST] = first
    else:
        conn.info.pop(FIRST, None)


class _WriterTurn:
    """A SQLite write transaction's turn among the writers of every process: an OS file lock
    taken before BEGIN IMMEDIATE. SQLite's own busy handler sleeps 1 to 100 ms between tries,
    so under several gunicorn workers a waiting writer slept through most of the time the
    lock was free; a blocked flock wakes the moment the holder gives it up. Threads of one
    process share the open lock file, so they take turns on a mutex first."""

    __slots__ = ("_database", "_taken")

    def __init__(self, database: Database) -> None:
        self._database = database
        self._taken = False

    def take(self) -> None:
        if self._taken:
            return
        database = self._database
        database._thread_turns.acquire()
        try:
            fcntl.flock(database._lock_handle(), fcntl.LOCK_EX)
        except BaseException:
            database._thread_turns.release()
            raise
        self._taken = True

    def release(self) -> bool:
        """Give the turn up (after the commit or rollback); whether it was taken."""
        if not self._taken:
            return False
        self._taken = False
        try:
            fcntl.flock(self._database._lock_handle(), fcntl.LOCK_UN)
        finally:
            self._database._thread_turns.release()
        return True


def _writer_lock_path(engine: Engine) -> str | None:
    """``<database file>-writer.lock`` for a file-backed SQLite database, else None."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return f"{database}-writer.lock"


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_RAW_NAMES = itertools.count(1)
PREPARED = "ngn_prepared"  # pool connection info: names PREPAREd on that connection


class Raw:
    """A fixed statement for the driver's cursor (see ``driver_rows``), written once with ``?``
    placeholders, or per dialect where the SQL differs (``Raw(sqlite=..., postgresql=...)``),
    and translated to the driver's placeholder style once, not on every call.

    On PostgreSQL it is a server-side prepared statement (PREPARE once per connection, then
    EXECUTE): planning these small statements cost more than running them (a join on the
    primary key: 250 us planned each time, 100 us prepared). ``Database(prepared=False)``
    turns that off, for a pooler in transaction mode (PgBouncer), where a session's
    prepared statements do not follow it.

    Their plans are generic (``plan_cache_mode = force_generic_plan`` on each connection,
    PostgreSQL 12 and later): PostgreSQL would otherwise plan a statement afresh on every
    call whenever it judged the generic plan dearer than one made for the values, as it
    does for a listing whose LIMIT and OFFSET are parameters (getCustomers: about half the
    server's time went to planning). The fixed statements had settled on their generic
    plans after five calls anyway. JIT compilation is off on these connections: a generic
    plan does not know a listing's LIMIT, estimates it at a tenth of the table, and over
    100,000 customers that estimate passed ``jit_above_cost``, so every call compiled its
    plan (12 ms of JIT, 40 ms in all, against 0.12 ms without).

    ``reads=True`` declares a plain SELECT (no FOR UPDATE, no function with effects): in a
    write request on PostgreSQL it does not open the transaction (see PostgresDialect).
    ``name``: the prepared statement's name, for a statement made again from the same text
    (``driver_rows(..., prepare=True)``); by default a new one."""

    __slots__ = ("_count", "_parts", "_percent", "_prepare", "_sqlite", "name", "reads")

    def __init__(
        self, sql: str | None = None, *, reads: bool = False, name: str | None = None, **by_dialect: str
    ) -> None:
        sqlite, postgresql = (by_dialect.get(dialect, sql) for dialect in ("sqlite", "postgresql"))
        if sqlite is None or postgresql is None:
            raise ValueError("Raw needs the SQL for every dialect")
        self.reads = reads
        self._sqlite = sqlite
        self._parts = tuple(postgresql.split("?"))  # the values go between them (unprepared)
        self._percent = "%" in postgresql
        self.name = name or f"ngn_{next(_RAW_NAMES)}"
        numbers = itertools.count(1)
        self._prepare = f"PREPARE {self.name} AS " + re.sub(
            r"\?", lambda _: f"${next(numbers)}", postgresql
        )
        self._count = len(self._parts) - 1

    def sql_for(self, connection: Connection, cursor: Any, values: Sequence[Any]) -> str:
        """The SQL that runs this statement with ``values`` on ``cursor``: on SQLite the
        statement (the driver binds the values), on PostgreSQL the complete text, values
        written in as literals (``literals``), to be sent with no parameters, EXECUTE of the
        statement PREPAREd first when the connection has not yet."""
        if connection.dialect.name != "postgresql":
            return self._sqlite
        if len(values) != self._count:
            raise ValueError(f"{self.name} takes {self._count} values, not {len(values)}")
        written = literals(connection.connection.dbapi_connection, values)
        prepared = connection.connection.info.get(PREPARED)
        if prepared is None:
            return _filled(self._parts, written)
        if self.name not in prepared:
            cursor.execute(self._prepare)
            # a prepared statement outlives a rollback: it is there for the session's life
            prepared.add(self.name)
        return f"EXECUTE {self.name}({', '.join(written)})" if written else f"EXECUTE {self.name}"

    def with_values(self, connection: Connection, cursor: Any, values: Sequence[Any]) -> str:
        """PostgreSQL: ``sql_for``, for a statement sent in front of another whose parameters
        the driver may fill in (``Database.transaction(first=...)``, before SQLAlchemy's
        statements). Integers, booleans, None and bytes only, and a statement without ``%``
        of its own: the driver reads every ``%`` of the request it goes in."""
        if self._percent or not all(v is None or isinstance(v, (int, bytes)) for v in values):
            raise ValueError(f"{self.name} cannot take these values written into it")
        return self.sql_for(connection, cursor, values)


def _text(value: str) -> str:
    if "\0" in value:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")
    return "'" + value.replace("'", "''") + "'"


def _bytea(value: Any) -> str:
    return f"'\\x{bytes(value).hex()}'::bytea"


def _timestamp(value: datetime.datetime) -> str | None:
    return f"'{value.isoformat()}'::timestamp" if value.tzinfo is None else None


def _array(value: list[Any]) -> str | None:
    if not value:
        return "'{}'"
    items = []
    for item in value:
        write = _LITERALS.get(type(item))
        written = None if write is None or isinstance(item, list) else write(item)
        if written is None:
            return None
        items.append(written)
    return f"ARRAY[{','.join(items)}]"


# how each plain type is written as a PostgreSQL literal, as psycopg2 writes it; None: not
# here (psycopg2 writes it). Strings and bytea as written here need standard_conforming_strings.
_LITERALS: dict[type, Callable[[Any], str | None]] = {
    str: _text,
    int: str,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _value: "NULL",
    bytes: _bytea,
    bytearray: _bytea,
    memoryview: _bytea,
    datetime.datetime: _timestamp,
    datetime.date: lambda value: f"'{value.isoformat()}'::date",
    list: _array,
    Binary: lambda value: _bytea(value.adapted),  # SQLAlchemy's LargeBinary gives these
}


def literals(dbapi_connection: Any, values: Sequence[Any]) -> list[str]:
    """``values`` written as PostgreSQL literals, for the text of a statement sent without
    parameters: what psycopg2 writes (it sends every statement as text, values written in
    the same way), in a third of the time for the plain types of our statements (41 values
    of a SIP account's creation: 85 us with the driver, 27 here). Any other type, and every
    value on a connection without standard_conforming_strings (where a backslash in a
    string literal escapes), is written by psycopg2 itself."""
    if dbapi_connection.get_parameter_status("standard_conforming_strings") != "on":
        return [_adapted(dbapi_connection, value) for value in values]
    written = []
    for value in values:
        kind = value.__class__
        if kind is str:  # the commonest two, without the lookup
            written.append(_text(value))
        elif kind is int:
            written.append(int.__repr__(value))
        else:
            write = _LITERALS.get(kind)
            literal = None if write is None else write(value)
            written.append(_adapted(dbapi_connection, value) if literal is None else literal)
    return written


def _filled(parts: Sequence[str], written: Sequence[str]) -> str:
    """A statement's text split at its ``?`` placeholders, with the literals written in."""
    return "".join(itertools.chain.from_iterable(zip(parts, [*written, ""])))


def _adapted(dbapi_connection: Any, value: Any) -> str:
    from psycopg2.extensions import adapt, encodings

    adapter = adapt(value)
    if hasattr(adapter, "prepare"):
        adapter.prepare(dbapi_connection)
    return adapter.getquoted().decode(encodings.get(dbapi_connection.encoding, "utf-8"))


def _sql(
    connection: Connection,
    statements: Sequence[Raw],
    params: Sequence[Sequence[Any]],
    cursor: Any,
    finish: bool = False,
) -> str:
    """The request that runs ``statements`` with ``params`` on PostgreSQL, values written in
    (``Raw.sql_for``): one round trip, opening the transaction with BEGIN when they write
    and it is not open yet, and committing it when ``finish``. (PostgreSQL runs the
    statements of one such request in order, and none after one that fails.)"""
    sql = "; ".join(s.sql_for(connection, cursor, p) for s, p in zip(statements, params, strict=True))
    begin = "" if all(s.reads for s in statements) else _begin_prefix(connection)
    if finish and (begin or connection.connection.dbapi_connection.get_transaction_status() != _IDLE):
        sql += "; COMMIT"
    return begin + _first(connection, cursor) + sql


def _run_one(connection: Connection, statement: Raw, cursor: Any, params: Sequence[Any]) -> None:
    """Run ``statement`` alone on ``cursor``, with the transaction opened as it needs."""
    if connection.dialect.name == "postgresql":
        cursor.execute(_sql(connection, (statement,), (params,), cursor))
        return
    if not statement.reads:
        _sqlite_begin(connection.info, connection.connection.driver_connection)
    cursor.execute(statement.sql_for(connection, cursor, params), tuple(params))


def raw_execute(connection: Connection, statement: Raw, params: Sequence[Any]) -> int:
    """Run a fixed INSERT/UPDATE/DELETE on the driver; the number of rows it changed."""
    cursor = connection.connection.driver_connection.cursor()
    try:
        _run_one(connection, statement, cursor, params)
        return cursor.rowcount
    finally:
        cursor.close()


def raw_first(
    connection: Connection, statement: Raw, params: Sequence[Any]
) -> tuple[Any, ...] | None:
    """The first row of a fixed SELECT (or INSERT ... RETURNING) run on the driver; None
    when there is none, or the statement returns no rows at all."""
    cursor = connection.connection.driver_connection.cursor()
    try:
        _run_one(connection, statement, cursor, params)
        return cursor.fetchone() if cursor.description is not None else None
    finally:
        cursor.close()


def raw_batch(
    connection: Connection,
    statements: Sequence[Raw],
    params: Sequence[Sequence[Any]],
    finish: bool = False,
) -> None:
    """Several fixed statements whose results nobody reads, in one request to PostgreSQL
    (psycopg2 sends them as one multi-statement query: one round trip instead of one per
    statement). Other databases run them one by one.

    ``finish=True``: they are the transaction's last statements, and on PostgreSQL the
    COMMIT goes with them; the session must write nothing after them (nor hold unflushed
    ORM changes). Elsewhere the transaction commits when its block ends, as always."""
    cursor = connection.connection.driver_connection.cursor()
    try:
        if connection.dialect.name == "postgresql":
            cursor.execute(_sql(connection, statements, params, cursor, finish))
            if finish:
                # SQLAlchemy's commit then finds no transaction open, and sends nothing
                connection.info[FINISHED] = True
        else:
            for statement, values in zip(statements, params, strict=True):
                _run_one(connection, statement, cursor, values)
    finally:
        cursor.close()


def rollback_failed(connection: Connection) -> None:
    """End now a PostgreSQL transaction in which a statement failed, so that the request can
    read on (to explain the failure) before it is refused; SQLAlchemy's rollback at the end
    then finds nothing to do."""
    connection.dialect.do_rollback(connection.connection.dbapi_connection)


# driver_rows(..., prepare=True): the statements made from listing texts, by text, and how
# many statements one connection may hold prepared before it lets them all go
_BY_TEXT: dict[str, Raw] = {}
_BY_TEXT_MAX = 1024
MAX_PREPARED_PER_CONNECTION = 500


def _by_text(sql: str) -> Raw:
    """The prepared statement for a listing's text, named after the text: made again (once
    forgotten here), it has the name a connection may already know it by."""
    found = _BY_TEXT.get(sql)
    if found is None:
        if len(_BY_TEXT) >= _BY_TEXT_MAX:
            _BY_TEXT.clear()
        digest = hashlib.blake2b(sql.encode(), digest_size=10).hexdigest()
        found = _BY_TEXT[sql] = Raw(sql, name=f"ngn_t{digest}")
    return found


def _room_for_prepared(connection: Connection, cursor: Any) -> None:
    """Let every prepared statement of the connection go when it holds too many (a listing's
    text varies with its filters and order): before any statement of the request is
    written, so that none it uses goes; those still needed are prepared again."""
    prepared = connection.connection.info.get(PREPARED)
    if prepared is not None and len(prepared) >= MAX_PREPARED_PER_CONNECTION:
        cursor.execute("DEALLOCATE ALL")
        prepared.clear()


def driver_rows(
    connection: Connection, sql: str, params: Sequence[Any], prepare: bool = False
) -> list[tuple[Any, ...]]:
    """The rows of a SELECT whose text is built per request (a listing's filters and order),
    run straight on the driver's cursor inside the connection's transaction, as the driver's
    tuples (no statement compilation, no result processing: SQLite gives timestamps as text
    and booleans as 0/1). ``sql`` uses ``?`` placeholders, and holds no other ``?``. Fixed
    statements use ``Raw`` instead. ``prepare``: on PostgreSQL, prepare it on the
    connection, by its text (for texts that come back: a listing's few shapes)."""
    cursor = connection.connection.driver_connection.cursor()
    try:
        if prepare and connection.dialect.name == "postgresql":
            _room_for_prepared(connection, cursor)
            statement = _by_text(sql)
            prefix = _prefix(connection, cursor, reads=False)
            cursor.execute(prefix + statement.sql_for(connection, cursor, params))
        elif connection.dialect.name == "postgresql":
            parts = sql.split("?")
            if len(parts) != len(params) + 1:
                raise ValueError(f"{len(parts) - 1} placeholders for {len(params)} values")
            text = _filled(parts, literals(connection.connection.dbapi_connection, params))
            cursor.execute(_prefix(connection, cursor, reads=False) + text)
        else:
            _sqlite_begin(connection.info, connection.connection.driver_connection)
            cursor.execute(sql, tuple(params))
        return cursor.fetchall()
    finally:
        cursor.close()
