"""The database: engines for SQLite and PostgreSQL, one transaction per request, the few
things the two databases do differently (an insert that skips duplicates, a lock held across
processes, what their errors mean), the health check and schema migrations (Alembic).

This is the only module that knows SQLite from PostgreSQL: the rules (``core/``) use plain
SQLAlchemy expressions and ask here for the rest. PostgreSQL runs through psycopg 3, which
binds every value itself (server-side binding) and prepares the statements a connection runs
often (``prepare_threshold``); SQLAlchemy caches their compiled form.
"""

from __future__ import annotations

import enum
import fcntl
import os
import shutil
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, Table, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session

from ngnserver.pg_connection import BoundedConnection, answers_within
from ngnserver.sqlite_writers import WriterTurns

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 7467001  # PostgreSQL advisory lock: one host migrates, the others wait
PING_AFTER_IDLE = 5.0  # seconds a pooled PostgreSQL connection may sit idle before it is checked


@dataclass(frozen=True)
class Limits:
    """How long ngnserver waits for the database, in seconds (0: no bound).

    ``connect``: to open a connection. ``statement``: PostgreSQL's own bound on one statement
    (``statement_timeout``, lock waits included). ``answer``: the longest ngnserver waits for
    any answer on a PostgreSQL connection before it gives the connection up, which bounds a
    request even when the server has stopped answering altogether (a hung host, a stopped
    process), where ``statement_timeout`` never fires."""

    connect: float = 5.0
    statement: float = 10.0
    answer: float = 12.0  # well below gunicorn's worker timeout (30 s), so the client gets a Fault


class DatabaseUnsuitable(Exception):
    """The database cannot serve ngnserver (say, a PostgreSQL database not in UTF8); the
    message says what to do."""


class AlreadyRunning(Exception):
    """Another process holds the lock ``Database.exclusive`` asked for."""


class Trouble(enum.Enum):
    """What a database error means for the request that met it."""

    RETRY = "retry"  # a deadlock or serialization failure: the transaction can run again
    UNAVAILABLE = "unavailable"  # no answer, lost connection, timeout, busy: try again later
    STORAGE = "storage"  # the database cannot store anything (read-only, disk full)
    REFUSED = "refused"  # the statement itself was refused: a fault of ours, logged


# PostgreSQL SQLSTATEs (and classes, by their first two characters) by what they mean
_PG_TROUBLE = {
    "40001": Trouble.RETRY, "40P01": Trouble.RETRY,
    "08": Trouble.UNAVAILABLE, "57": Trouble.UNAVAILABLE, "55P03": Trouble.UNAVAILABLE,
    "53": Trouble.STORAGE, "58": Trouble.STORAGE, "25006": Trouble.STORAGE,
}  # fmt: skip
# SQLite's extended error names, by prefix
_SQLITE_TROUBLE = {
    "SQLITE_BUSY": Trouble.UNAVAILABLE, "SQLITE_LOCKED": Trouble.UNAVAILABLE,
    "SQLITE_READONLY": Trouble.STORAGE, "SQLITE_FULL": Trouble.STORAGE,
    "SQLITE_IOERR": Trouble.STORAGE, "SQLITE_CANTOPEN": Trouble.STORAGE,
    "SQLITE_CORRUPT": Trouble.STORAGE, "SQLITE_NOTADB": Trouble.STORAGE,
}  # fmt: skip


def trouble(error: BaseException) -> Trouble:
    """What a database error (SQLAlchemy's or the driver's) means."""
    invalidated = isinstance(error, DBAPIError) and error.connection_invalidated
    if isinstance(error, DBAPIError):
        error = error.orig
    state = getattr(error, "sqlstate", None)
    if state:
        return _PG_TROUBLE.get(state) or _PG_TROUBLE.get(state[:2], Trouble.REFUSED)
    name = getattr(error, "sqlite_errorname", None) or ""
    for prefix, meaning in _SQLITE_TROUBLE.items():
        if name.startswith(prefix):
            return meaning
    if invalidated or isinstance(error, psycopg.OperationalError):
        return Trouble.UNAVAILABLE  # no SQLSTATE: the connection failed
    return Trouble.REFUSED


def make_engine(url: str, limits: Limits | None = None, prepared: bool = True) -> Engine:
    """An engine with the settings each backend needs under several gunicorn workers.
    ``prepared=False`` turns PostgreSQL's prepared statements off (a pooler in transaction
    mode, such as PgBouncer, does not keep a session's prepared statements)."""
    limits = limits or Limits()
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend != "postgresql":
        raise DatabaseUnsuitable(f"ngnserver runs on SQLite or PostgreSQL, not {backend}")
    return _postgresql_engine(parsed.set(drivername="postgresql+psycopg"), limits, prepared)


def _postgresql_engine(url: URL, limits: Limits, prepared: bool) -> Engine:
    connect_args: dict[str, Any] = {"prepare_threshold": 5 if prepared else None}
    if limits.connect:
        connect_args["connect_timeout"] = max(1, round(limits.connect))
    if limits.statement:
        connect_args["options"] = f"-c statement_timeout={round(limits.statement * 1000)}"
    engine = create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=False, connect_args=connect_args)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):  # type: ignore[no-untyped-def]
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.answer_timeout = limits.answer or None
        return connection

    # A pooled connection may have died while it sat idle (a database restart, a proxy's
    # idle timeout): one idle for a while is pinged before use, and replaced if it does not
    # answer. A busy one is not: pinging on every checkout (pool_pre_ping) costs a round
    # trip on every request.
    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except psycopg.Error:
            raise DisconnectionError("the pooled connection does not answer") from None

    return engine


_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA wal_autocheckpoint=0",  # checkpoints run outside the writers' turn (sqlite_writers)
)


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # the transaction is begun below, not by pysqlite
        for pragma in _SQLITE_PRAGMAS:
            dbapi_conn.execute(pragma)

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        # a writer takes SQLite's write lock at once (two processes that read and then
        # write would otherwise deadlock on the upgrade); a reader may not write at all
        write = conn.get_execution_options().get(WRITE, True)
        driver = conn.connection.driver_connection
        driver.execute("PRAGMA query_only = 0" if write else "PRAGMA query_only = 1")
        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    @event.listens_for(engine, "handle_error")
    def _reopen_after_storage_failure(context):  # type: ignore[no-untyped-def]
        # SQLite opens a file it may not write read-only and stays so: once a write finds
        # the database unable to store, every pooled connection is opened anew, so that
        # writes work again as soon as the operator has fixed the file or the disk
        writing = context.connection is not None and context.connection.get_execution_options().get(WRITE, True)
        if writing and trouble(context.original_exception) is Trouble.STORAGE:
            context.is_disconnect = True

    return engine


WRITE = "ngn_write"  # execution option: the transaction may write (SQLite's BEGIN)


class Database:
    def __init__(self, url: str, limits: Limits | None = None, prepared: bool = True) -> None:
        self.url = url
        self.limits = limits or Limits()
        self.engine = make_engine(url, self.limits, prepared)
        database_file = self.engine.url.database if self.is_sqlite else None
        self._writers = WriterTurns(database_file) if database_file and database_file != ":memory:" else None
        self._storage_failure: tuple[float, str] | None = None  # (when, what) the last one

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it
        raises. ``write=False``: a transaction the database itself keeps from writing
        (PostgreSQL: READ ONLY, SQLite: ``query_only``), whose reads all see one snapshot
        (PostgreSQL: REPEATABLE READ; SQLite's transactions always do). A write transaction
        on SQLite takes the writers' turn first (``sqlite_writers``)."""
        with self.engine.connect() as conn:
            if not write:
                conn.execution_options(**self._read_only_options())
            turn = self._writers.turn(conn.connection.driver_connection) if write and self._writers else nullcontext()
            with turn, Session(bind=conn, expire_on_commit=False) as session, session.begin():
                yield session
        if write and self._storage_failure is not None:
            self._storage_failure = None  # a write was stored since: the failure is over

    def _read_only_options(self) -> dict[str, Any]:
        if self.is_sqlite:
            return {WRITE: False}
        return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}

    def note_storage_failure(self, what: str) -> None:
        """Remember that a write just failed because the database cannot store (``/health``
        reports it for a minute, or until a write is stored: PostgreSQL's full disk cannot be
        seen from here otherwise)."""
        self._storage_failure = (time.monotonic(), what)

    def health(self, timeout: float = 3.0) -> str | None:
        """None when the database answers within ``timeout`` seconds and can store, else a
        sentence saying what is wrong."""
        try:
            with answers_within(timeout), self.engine.connect() as conn:
                conn.execute(select(1))
                if not self.is_sqlite and conn.execute(select(func.pg_is_in_recovery())).scalar_one():
                    return "the database is a read-only standby"
        except DBAPIError as exc:
            return f"the database does not answer: {exc.orig}"
        problem = self._sqlite_storage_problem() if self.is_sqlite else None
        failed = self._storage_failure
        if problem is None and failed is not None and time.monotonic() - failed[0] < 60:
            problem = f"a write failed less than a minute ago: {failed[1]}"
        return problem

    def _sqlite_storage_problem(self) -> str | None:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return None
        folder = os.path.dirname(os.path.abspath(database))
        if not os.access(database, os.W_OK) or not os.access(folder, os.W_OK):
            return f"the database file {database} (or its folder) is not writable"
        if shutil.disk_usage(folder).free < 16 * 1024 * 1024:
            return f"less than 16 MiB are free on the disk of {database}"
        return None

    def check_suitable(self) -> None:
        """Refuse (DatabaseUnsuitable) a database ngnserver cannot store its text in."""
        if self.is_sqlite:
            return
        with self.engine.connect() as conn:
            encoding = conn.connection.driver_connection.info.parameter_status("server_encoding")
        if encoding != "UTF8":
            raise DatabaseUnsuitable(
                f"the PostgreSQL database is encoded in {encoding}, which cannot hold every character "
                "a client may send: create it with ENCODING 'UTF8' (createdb -E UTF8 -T template0)"
            )

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creates it on first start)."""
        from alembic import command

        self.check_suitable()
        with answers_within(None), self.engine.begin() as conn:
            if not self.is_sqlite:
                conn.execute(select(func.set_config("statement_timeout", "0", True)))  # this transaction's
                conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lock ``name`` for the block, across processes (and, on PostgreSQL,
        hosts); AlreadyRunning when another holds it. For work that must never run twice
        at once (a status pull, a sync run). On SQLite, a file lock beside the database."""
        if self.is_sqlite:
            with open(f"{self.engine.url.database}-{name}.lock", "w") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise AlreadyRunning(f"another {name} is running") from None
                yield
            return
        key = zlib.crc32(name.encode())
        with self.engine.connect() as conn:
            taken = conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one()
            conn.commit()
            if not taken:
                raise AlreadyRunning(f"another {name} is running")
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(key)))
                conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()


_FIRST_READS: dict[int, tuple[str, Any]] = {}  # id(statement) -> (SQL, compiled): prebuilt statements only


def read_first(session: Session, statement: Any, values: dict[str, Any]) -> Any:
    """The first row ``statement`` (a prebuilt select, kept for the process's life) reads
    with ``values``, or None. As a request's first statement on PostgreSQL it travels with
    the transaction's BEGIN in one round trip (psycopg's pipeline mode), which would cost one
    of its own otherwise: authentication reads this way. Elsewhere, or once the transaction
    has begun, it runs as any statement. The SQL is SQLAlchemy's compiled statement, the
    values bound by the driver."""
    conn = session.connection()
    driver = conn.connection.driver_connection
    if conn.dialect.name != "postgresql" or driver.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return conn.execute(statement, values).first()
    known = _FIRST_READS.get(id(statement))
    if known is None or known[1].statement is not statement:
        if len(_FIRST_READS) >= 32:  # not a prebuilt statement: compiling it each time would cost more
            return conn.execute(statement, values).first()
        compiled = statement.compile(dialect=conn.dialect)
        known = _FIRST_READS[id(statement)] = (compiled.string, compiled)
    sql, compiled = known
    with driver.pipeline(), driver.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(sql, compiled.construct_params(values))
        return cursor.fetchone()


def insert_skipping_duplicates(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ``rows`` into ``table``, skipping those whose key is already there (one that a
    concurrent transaction is inserting is waited for)."""
    if rows:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(table).on_conflict_do_nothing(), list(rows))


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
