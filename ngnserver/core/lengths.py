"""Text that does not fit its column is a client error, refused the same way on every
backend (SQLite would store it, PostgreSQL would fail the transaction).

Checked once, before every flush, for every new or changed row: one place instead of a
check beside every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, event, inspect
from sqlalchemy.orm import Session

from ngnserver.core.errors import E, NGNError


def _wire_name(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(part.title() for part in rest)


_LIMITS: dict[type, list[tuple[str, int]]] = {}


def limits(model: type) -> list[tuple[str, int]]:
    """(attribute, length) of each bounded text column of ``model``, worked out once."""
    found = _LIMITS.get(model)
    if found is None:
        mapper = inspect(model)
        found = _LIMITS[model] = [
            (mapper.get_property_by_column(column).key, column.type.length)
            for column in mapper.columns
            if isinstance(column.type, String) and column.type.length
        ]
    return found


def check(instance: Any) -> None:
    """Refuse ``instance`` when a text attribute is longer than its column allows."""
    check_row(type(instance), instance.__dict__)


def check_row(model: type, values: Mapping[str, Any]) -> None:
    """The same for a row given as attribute values of ``model`` (see core/rows.py)."""
    for key, length in limits(model):
        value = values.get(key)
        if isinstance(value, str) and len(value) > length:
            refuse(key, value, length)


def checked(model: type, key: str, value: str) -> str:
    """``value`` for attribute ``key`` of ``model``, refused when longer than its column (for a
    row written without the ORM, which does not pass the check before every flush)."""
    length = dict(limits(model)).get(key)
    if length and len(value) > length:
        refuse(key, value, length)
    return value


def refuse(key: str, value: str, length: int) -> None:
    """Refuse ``value`` of attribute ``key``, longer than its column's ``length``."""
    raise NGNError(E.INVALID_VALUE, f"{_wire_name(key)} is {len(value)} characters long; at most {length} are allowed.")


@event.listens_for(Session, "before_flush")
def _refuse_overlong_text(session: Session, _context: Any, _instances: Any) -> None:
    for instance in (*session.new, *session.dirty):
        check(instance)
