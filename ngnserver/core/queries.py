"""The query model shared by every ``get<Plural>`` operation: LIKE filters, an order and a
page, with ``total`` counting every match regardless of the page."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from ngnserver.core.errors import E, NGNError


@dataclass(frozen=True)
class Page:
    """What a client asked for: ``order`` is (attribute, "ASC"|"DESC") or None."""

    order: tuple[str, str] | None = None
    start: int = 0
    count: int | None = None

    @classmethod
    def from_wire(cls, order_by: Mapping[str, Any] | None, rng: Mapping[str, Any] | None) -> Page:
        order = None
        if order_by and order_by.get("attribute"):
            direction = str(order_by.get("direction") or "ASC").upper()
            if direction not in ("ASC", "DESC"):
                raise NGNError(E.INVALID_QUERY, f"orderBy direction must be ASC or DESC, not {direction!r}.")
            order = (str(order_by["attribute"]), direction)
        start = int((rng or {}).get("start") or 0)
        count = (rng or {}).get("count")
        if start < 0 or (count is not None and count < 0):
            raise NGNError(E.INVALID_QUERY, "range start and count cannot be negative.")
        return cls(order=order, start=start, count=count or None)


def like_filters(
    columns: Mapping[str, Any], values: Mapping[str, Any], lowercase: frozenset[str] = frozenset()
) -> list[ColumnElement[bool]]:
    """Case-insensitive LIKE for every non-empty string filter (NGNPro's MySQL heritage:
    operators expect ``al%`` to find ``Alice``). Columns named in ``lowercase`` are stored
    lowercased (domain names): a filter without wildcards on them is an equality, which the
    indexes serve (CDRTool lists a domain's accounts with ``domain = example.com``)."""
    clauses = []
    for name, column in columns.items():
        value = values.get(name)
        if not value:
            continue
        value = str(value)
        if name in lowercase and "%" not in value and "_" not in value:
            clauses.append(column == value.lower())
        else:
            clauses.append(column.ilike(value))
    return clauses


def equal_filters(columns: Mapping[str, Any], values: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """Equality for every integer filter that is not 0 (0 means "any")."""
    return [columns[name] == int(values[name]) for name in columns if values.get(name)]


def fetch_page(
    session: Session,
    stmt: Select[Any],
    where: Sequence[ColumnElement[bool]],
    order_columns: Mapping[str, Any],
    default_order: tuple[str, str],
    tiebreak: Any,
    page: Page,
    max_rows: int,
    core: bool = False,
    total: Callable[[], int | None] | None = None,
) -> tuple[int, list[Any]]:
    """(total matches, rows of the requested page). ``count`` is capped at ``max_rows``;
    ``tiebreak`` (a unique column) keeps pages stable when the order has ties. ``core``
    runs a plain-table select on the connection, without the ORM's overhead. ``total``, when
    given, may answer the count from a counter (None: count the rows)."""
    attribute, direction = page.order or default_order
    column = order_columns.get(attribute)
    if column is None:
        known = ", ".join(sorted(order_columns))
        raise NGNError(E.INVALID_QUERY, f"Cannot order by {attribute!r}; use one of: {known}.")
    ordering = [column.desc(), tiebreak.desc()] if direction == "DESC" else [column.asc(), tiebreak.asc()]
    limit = min(page.count or max_rows, max_rows)
    run = session.connection().execute if core else session.execute
    rows = run(stmt.where(*where).order_by(*ordering).offset(page.start).limit(limit)).all()
    if page.start == 0 and len(rows) < limit:
        return len(rows), rows
    counted = total() if total is not None else None
    if counted is None:
        counted = run(select(func.count()).select_from(tiebreak.table).where(*where)).scalar_one()
    return counted, rows


def page_limit(page: Page, max_rows: int) -> int:
    """How many rows a page may hold: ``count``, capped at ``max_rows``."""
    return min(page.count or max_rows, max_rows)


def page_total(page: Page, limit: int, rows: int, count: Callable[[], int]) -> int:
    """The total for a page of ``rows`` rows: a first page that is not full holds every
    match, so nothing needs counting; else ``count()``."""
    if page.start == 0 and rows < limit:
        return rows
    return count()
