"""Text that does not fit its column is a client error, refused the same way on every
backend (SQLite would store it, PostgreSQL would fail the transaction).

Checked once, before every flush, for every new or changed row: one place instead of a
check beside every field.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, event, inspect
from sqlalchemy.orm import Session

from ngnserver.core.errors import E, NGNError


def _wire_name(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(part.title() for part in rest)


def _check(instance: Any) -> None:
    for column in inspect(type(instance)).columns:
        length = getattr(column.type, "length", None)
        if not isinstance(column.type, String) or not length:
            continue
        value = getattr(instance, column.key, None)
        if isinstance(value, str) and len(value) > length:
            raise NGNError(
                E.INVALID_VALUE,
                f"{_wire_name(column.key)} is {len(value)} characters long; at most {length} are allowed.",
            )


@event.listens_for(Session, "before_flush")
def _refuse_overlong_text(session: Session, _context: Any, _instances: Any) -> None:
    for instance in (*session.new, *session.dirty):
        _check(instance)
