"""Values written into PostgreSQL statements as literals (db.literals): fixed statements
(``Raw``) and listings (``driver_rows``) are sent as text with their values written in, the
plain types by ngnserver and anything else by psycopg2. Every value must reach the server as
exactly the value it was, hostile strings included, prepared or not, and whatever
standard_conforming_strings says."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from decimal import Decimal

import psycopg2
import pytest
from psycopg2.extensions import Binary

from ngnserver.db import Database, Raw, driver_rows, literals, raw_batch, raw_first
from tests.conftest import database_url

AUDIT_INSERT = Raw(
    "INSERT INTO audit_log (at, login, admin_login, action, kind, record_key, changes) "
    "VALUES (?, ?, false, 'create', 'test', ?, '{}')"
)
HOSTILE_STRINGS = [
    "",
    "plain",
    "'",
    "''",
    "\\",
    "\\'",
    "'\\",
    "' OR '1'='1",
    "x'; DELETE FROM customers; --",
    "%s %(name)s %% %",
    "? $1 $$ $tag$",
    "E'\\x41' \\x41 \\n",
    "é 日本 😀 ß",
    "line\nbreak\r\ttab",
    "'" * 1000,
    "long " * 20000,
]

# (value, the type the statement casts it to)
VALUES = [
    *((s, "text") for s in HOSTILE_STRINGS),
    (0, "bigint"),
    (-7, "bigint"),
    (2**62, "bigint"),
    (True, "boolean"),
    (False, "boolean"),
    (None, "text"),
    (None, "bigint"),
    (bytes(range(256)), "bytea"),
    (b"", "bytea"),
    (b"'\\", "bytea"),
    (bytearray(b"\x00\x01'"), "bytea"),
    (memoryview(b"\\x41"), "bytea"),
    (Binary(b"'\x00\\"), "bytea"),
    (datetime.datetime(2026, 11, 22, 11, 50, 48), "timestamp"),
    (datetime.datetime(2026, 11, 22, 11, 50, 48, 123456), "timestamp"),
    (datetime.date(1999, 12, 31), "date"),
    ([], "text[]"),
    (["voicemail", "free-pstn"], "text[]"),
    (["it's", "\\", "%s", "{", "}", ",", '"'], "text[]"),
    ([None, "x"], "text[]"),
    ([1, -2, 3], "bigint[]"),
    # written by psycopg2 (types ngnserver does not write itself)
    ([[1, 2], [3, 4]], "bigint[]"),
    (datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), "timestamptz"),
    (1.5, "float8"),
    (Decimal("12.340"), "numeric"),
]


def _expected(value: object) -> object:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Binary):
        return bytes(value.adapted)
    return value


def _read(value: object) -> object:
    return bytes(value) if isinstance(value, memoryview) else value


@pytest.fixture(scope="module", params=[True, False], ids=["prepared", "unprepared"])
def pg(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Database]:
    name = f"literals_{'prepared' if request.param else 'unprepared'}"
    db = Database(database_url("postgresql", request, tmp_path_factory.mktemp(name), name), prepared=request.param)
    db.migrate()
    yield db
    db.dispose()


@pytest.mark.parametrize(("value", "pgtype"), VALUES, ids=lambda v: repr(v)[:30])
def test_every_value_reaches_postgresql_as_it_was(pg, value, pgtype):
    statement = Raw(f"SELECT CAST(? AS {pgtype}), CAST(? AS {pgtype}) IS NOT DISTINCT FROM CAST(? AS {pgtype})", reads=True)
    with pg.transaction(write=False) as session:
        connection = session.connection()
        got, same = raw_first(connection, statement, (value, value, value))
        # what the driver gives back for the same value sent its own way
        cursor = connection.connection.driver_connection.cursor()
        cursor.execute(f"SELECT CAST(%s AS {pgtype})", (value,))
        (driver,) = cursor.fetchone()
    assert same is True
    assert _read(got) == _expected(value) == _read(driver)


def test_strings_in_a_listing_and_in_a_batch_are_written_safely(pg):
    keys = [s for s in HOSTILE_STRINGS if len(s) <= 255]  # audit_log.record_key's length
    with pg.transaction() as session:
        connection = session.connection()
        raw_batch(
            connection,
            [AUDIT_INSERT] * len(keys),
            [(datetime.datetime(2026, 1, 1), "t", key) for key in keys],
        )
    with pg.transaction(write=False) as session:
        found = driver_rows(
            session.connection(),
            "SELECT record_key FROM audit_log WHERE kind = ? AND login = ? ORDER BY id",
            ["test", "t"],
        )
        one = driver_rows(session.connection(), "SELECT count(*) FROM audit_log WHERE record_key = ?", ["' OR '1'='1"])
    assert [key for (key,) in found] == keys
    assert one == [(1,)]


def test_a_nul_character_is_refused_before_anything_is_sent(pg):
    with pg.transaction() as session:
        connection = session.connection()
        with pytest.raises(ValueError, match="NUL"):
            raw_first(connection, Raw("SELECT CAST(? AS text)", reads=True), ("a\x00b",))
        with pytest.raises(ValueError, match="NUL"):
            driver_rows(connection, "SELECT CAST(? AS text)", ["a\x00b"])
        with pytest.raises(ValueError, match="NUL"):
            literals(connection.connection.dbapi_connection, [["ok", "a\x00"]])


def test_placeholders_and_values_must_agree(pg):
    with pg.transaction(write=False) as session:
        connection = session.connection()
        with pytest.raises(ValueError):
            raw_first(connection, Raw("SELECT CAST(? AS text)", reads=True), ("a", "b"))
        with pytest.raises(ValueError):
            driver_rows(connection, "SELECT CAST(? AS text), CAST(? AS text)", ["a"])


@pytest.mark.parametrize("value", [s for s in HOSTILE_STRINGS if "\\" in s] + [b"'\\", ["\\", "'"]], ids=repr)
def test_without_standard_conforming_strings_psycopg2_writes_every_value(pg, value):
    """Where a backslash in a string literal escapes, the plain rule (double the quote) is not
    safe: psycopg2 writes the values, backslashes doubled."""
    pgtype = "bytea" if isinstance(value, bytes) else "text[]" if isinstance(value, list) else "text"
    with pg.transaction(write=False) as session:
        connection = session.connection()
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("SET standard_conforming_strings = off")
        try:
            assert driver.get_parameter_status("standard_conforming_strings") == "off"
            written = literals(connection.connection.dbapi_connection, [value])
            (got,) = raw_first(connection, Raw(f"SELECT CAST(? AS {pgtype})", reads=True), (value,))
        finally:
            with driver.cursor() as cursor:
                cursor.execute("SET standard_conforming_strings = on")
    assert _read(got) == value
    assert "\\\\" in written[0]


def test_floats_that_are_not_numbers_are_written_by_psycopg2(pg):
    with pg.transaction(write=False) as session:
        (got,) = raw_first(session.connection(), Raw("SELECT CAST(? AS float8)", reads=True), (math.inf,))
    assert got == math.inf


def test_a_failing_statement_does_not_swallow_the_driver_error(pg):
    with pg.transaction(write=False) as session, pytest.raises(psycopg2.errors.InvalidTextRepresentation):
        raw_first(session.connection(), Raw("SELECT CAST(? AS integer)", reads=True), ("12x",))
