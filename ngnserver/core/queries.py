"""The query model shared by every ``get<Plural>`` operation, in the model's terms: LIKE and
equality filters on columns, an order and a page, with ``total`` counting every match
regardless of the page. Ports (``services/``) translate the client's filter and order names
into a ``Query``; ``fetch_page`` runs it within the caller's scope.

A LIKE filter means what NGNPro's MySQL heritage taught operators: case-insensitive, ``%``
any run of characters and ``_`` any one character, while every other character, a
backslash included, stands for itself, on both databases (so every exact value finds
itself). Patterns are bounded in length before they reach the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from ngnserver.core.errors import E, NGNError

MAX_PATTERN = 1024  # characters of one LIKE filter (SQLite refuses patterns over 50,000 bytes)


@dataclass(frozen=True)
class Query:
    """A listing request: ``like`` and ``equal`` map columns to the client's values (an
    equality filter of 0 means "any" and is never given), ``order`` the columns to sort on
    with their direction ("ASC" or "DESC"), then the page."""

    like: Mapping[Any, str] = field(default_factory=dict)
    equal: Mapping[Any, Any] = field(default_factory=dict)
    order: tuple[Any, str] | None = None
    start: int = 0
    count: int | None = None

    def __post_init__(self) -> None:
        if self.start < 0 or (self.count is not None and self.count < 0):
            raise NGNError(E.INVALID_QUERY, "range start and count cannot be negative.")

    def where(self) -> list[ColumnElement[bool]]:
        """The filters as WHERE clauses."""
        clauses = [like(column, pattern) for column, pattern in self.like.items()]
        clauses.extend(column == value for column, value in self.equal.items())
        return clauses

    def limit(self, max_rows: int) -> int:
        """How many rows the page may hold: ``count``, capped at ``max_rows``."""
        return min(self.count or max_rows, max_rows)


def like(column: Any, pattern: str) -> ColumnElement[bool]:
    """Case-insensitive LIKE where only ``%`` and ``_`` are wildcards (see the module); a
    pattern longer than MAX_PATTERN is refused (2008)."""
    if len(pattern) > MAX_PATTERN:
        raise NGNError(E.INVALID_QUERY, f"A filter is {len(pattern)} characters long; at most {MAX_PATTERN} are allowed.")
    return column.ilike(pattern.replace("\\", "\\\\"), escape="\\")


def fetch_page(
    session: Session,
    stmt: Select[Any],
    scope: Sequence[ColumnElement[bool]],
    query: Query,
    default_order: tuple[Any, str],
    tiebreak: Any,
    max_rows: int,
    total: Callable[[], int | None] | None = None,
) -> tuple[int, list[Any]]:
    """(total matches, rows of the requested page) of ``stmt`` within ``scope``.
    ``tiebreak`` (a unique column) keeps pages stable when the order has ties; ``total``,
    when given, may answer the count from a counter (None: count the rows)."""
    page = Page(stmt, scope, query, default_order, tiebreak, max_rows)
    # a select of tables (not of mapped classes) gives plain rows: run it without the ORM
    run = session.execute if stmt.column_descriptions[0].get("entity") is not None else session.connection().execute
    rows = run(page.select).all()
    return page.total(session, len(rows), total), rows


class Page:
    """One page of ``stmt`` within ``scope`` as ``query`` asks for it (see ``fetch_page``):
    its ``select``, and the count of every match when the page does not tell it."""

    def __init__(
        self,
        stmt: Select[Any],
        scope: Sequence[ColumnElement[bool]],
        query: Query,
        default_order: tuple[Any, str],
        tiebreak: Any,
        max_rows: int,
    ) -> None:
        column, direction = query.order or default_order
        self.order = [(column, direction), (tiebreak, direction)]
        self.where = [*scope, *query.where()]
        self.query, self.tiebreak, self.size = query, tiebreak, query.limit(max_rows)
        self.select = stmt.where(*self.where).order_by(*self.ordering()).offset(query.start).limit(self.size)

    def ordering(self) -> list[Any]:
        """The page's order, ties broken by the unique column."""
        return [column.desc() if d == "DESC" else column.asc() for column, d in self.order]

    def total(self, session: Session, found: int, total: Callable[[], int | None] | None = None) -> int:
        """Every match's count, when ``found`` rows made the page."""
        if self.query.start == 0 and found < self.size:
            return found  # a first page that is not full holds every match
        counted = total() if total is not None else None
        if counted is None:
            counted = session.execute(
                select(func.count()).select_from(self.tiebreak.table).where(*self.where)
            ).scalar_one()
        return counted
