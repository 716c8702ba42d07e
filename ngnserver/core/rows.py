"""New rows written straight on the driver, for the creations every busy caller makes.

The ORM's unit of work (flush, identity map, dependency sort) and even the building of a
mapped object cost several times the INSERT itself, and the creation paths write rows that
nothing reads back in the same request. Here a row is a dict of a mapped class's attribute
values, inserted with one fixed statement per table: the column defaults, the length check
(``lengths``) and the type conversions (SQLAlchemy's own bind processors) are those the ORM
would apply, so the stored row is the same as a flush would store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Integer, inspect
from sqlalchemy.orm import Session

from ngnserver.core import lengths
from ngnserver.core.errors import ErrorCode, NGNError
from ngnserver.db import Raw, raw_batch, raw_first

Row = dict[str, Any]


class _TableInsert:
    """``INSERT INTO t (columns) VALUES (?...) [RETURNING id]`` for one mapped class."""

    def __init__(self, model: type, dialect: Any) -> None:
        mapper = inspect(model)
        table = mapper.local_table
        self.serial = next(
            (c for c in table.primary_key.columns if isinstance(c.type, Integer) and c.autoincrement in (True, "auto")),
            None,
        )
        if len(table.primary_key.columns) > 1:
            self.serial = None
        columns = [c for c in table.columns if c is not self.serial]
        keys = [mapper.get_property_by_column(c).key for c in columns]
        quote = dialect.identifier_preparer.quote
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        if self.serial is not None:
            sql += f" RETURNING {quote(self.serial.name)}"
        self.sql = sql
        self.statement = Raw(sql)
        self.serial_key = mapper.get_property_by_column(self.serial).key if self.serial is not None else None
        self.parameters = _parameters_function(model, keys, columns, dialect)


def _parameters_function(model: type, keys: list[str], columns: list[Any], dialect: Any) -> Any:
    """``parameters(row)``: the statement's parameters for ``row``, in column order; the
    defaults it lacked are added to it, text longer than its column is refused
    (``lengths.check_row``). Written out as code once per table: a loop over the columns
    that looked each one's default and processor up cost twice as much (an account and its
    audit row: 31 and 11 columns)."""
    lengths_by_key = dict(lengths.limits(model))
    env: dict[str, Any] = {"refuse": lengths.refuse}
    lines = ["def parameters(row):", "    get = row.get"]
    names = []
    for i, (key, column) in enumerate(zip(keys, columns, strict=True)):
        value = f"v{i}"
        names.append(value)
        lines.append(f"    {value} = get({key!r})")
        default = column.default
        if default is not None:
            env[f"d{i}"] = default.arg
            made = f"d{i}(None)" if default.is_callable else f"d{i}"
            lines.append(f"    if {value} is None:")
            lines.append(f"        {value} = row[{key!r}] = {made}")
        length = lengths_by_key.get(key)
        if length:
            lines.append(f"    if isinstance({value}, str) and len({value}) > {length}:")
            lines.append(f"        refuse({key!r}, {value}, {length})")
        process = column.type.bind_processor(dialect)
        if process is not None:
            env[f"p{i}"] = process
            lines.append(f"    if {value} is not None:")
            lines.append(f"        {value} = p{i}({value})")
    lines.append(f"    return [{', '.join(names)}]")
    exec(compile("\n".join(lines), f"<parameters {model.__name__}>", "exec"), env)  # noqa: S102 (our own generated code)
    return env["parameters"]


_INSERTS: dict[tuple[type, str], _TableInsert] = {}


def _insert_for(model: type, connection: Connection) -> _TableInsert:
    key = (model, connection.dialect.name)
    found = _INSERTS.get(key)
    if found is None:
        found = _INSERTS[key] = _TableInsert(model, connection.dialect)
    return found


def insert(session: Session, model: type, row: Row, duplicate: tuple[ErrorCode, str] | None = None) -> None:
    """Insert ``row`` (attribute values of ``model``) and complete it with its defaults and
    generated id. Overlong text is refused as on a flush; a unique constraint that fails (a
    concurrent request created the same key) raises ``duplicate`` (code, message) when
    given; the whole transaction is then rolled back."""
    connection = session.connection()
    table_insert = _insert_for(model, connection)
    try:
        found = raw_first(connection, table_insert.statement, table_insert.parameters(row))
    except connection.dialect.loaded_dbapi.IntegrityError as exc:
        if duplicate is None or not is_unique_violation(exc):
            raise
        raise NGNError(*duplicate) from None
    if table_insert.serial_key is not None and found is not None:
        row[table_insert.serial_key] = found[0]


def insert_all(session: Session, rows: Sequence[tuple[type, Row]]) -> None:
    """Insert several rows whose ids nobody needs back (a record's group rows, its audit
    row): on PostgreSQL in one round trip, as one multi-statement request."""
    if not rows:
        return
    connection = session.connection()
    statements, parameters = [], []
    for model, row in rows:
        table_insert = _insert_for(model, connection)
        statements.append(table_insert.statement)
        parameters.append(table_insert.parameters(row))
    raw_batch(connection, statements, parameters)


def insert_sql(session: Session, model: type, row: Row) -> tuple[str, list[Any]]:
    """The INSERT of ``row`` (``?`` placeholders; RETURNING the generated id, if the table
    has one) and its parameters, for a caller that writes it into a larger statement. The
    row is checked and completed with its defaults as ``insert`` does."""
    table_insert = _insert_for(model, session.connection())
    return table_insert.sql, table_insert.parameters(row)


def is_unique_violation(exc: Exception) -> bool:
    """A driver's IntegrityError for a unique key (not a foreign key or a check)."""
    return getattr(exc, "pgcode", None) == "23505" or getattr(exc, "sqlite_errorname", None) in (
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    )
