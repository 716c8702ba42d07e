"""The change history, written in the same transaction as the change it describes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ngnserver.core import lengths
from ngnserver.core.callers import Caller
from ngnserver.models.audit import AuditEntry

SECRET_FIELDS = frozenset({"password", "password_sealed", "private_key", "certificate", "panel_password",
                           "root_password", "panel_password_sealed", "root_password_sealed", "auth_token"})  # fmt: skip
REDACTED = "(changed)"
_INSERT = insert(AuditEntry)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def record(
    session: Session,
    caller: Caller,
    action: str,
    kind: str,
    key: str | int,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Write an audit row: ``action`` is "create", "update" or "delete"; secrets in
    ``changes`` are replaced by "(changed)". It is committed or rolled back with the change
    it describes. A plain insert on the session's connection: nothing reads it back, and the
    ORM's bookkeeping for it cost more than the insert (it is on every change's path)."""
    cleaned = {
        name: REDACTED if name in SECRET_FIELDS else _jsonable(value)
        for name, value in (changes or {}).items()
    }
    session.connection().execute(
        _INSERT,
        {
            "login": caller.login,
            "admin_login": caller.admin_login,
            "acting_as": caller.customer_id,
            "action": action,
            "kind": kind,
            "record_key": lengths.checked(AuditEntry, "record_key", str(key)),
            "changes": cleaned,
        },
    )
