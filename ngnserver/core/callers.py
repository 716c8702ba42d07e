"""Who is calling: the caller derived from the ``auth`` header, and what it may see.

Four kinds of caller exist on the wire (admin, admin impersonating a customer, a customer's
own login, a reseller's staff login); they collapse into three roles here, because an admin
impersonating customer N acts exactly as N's own login would.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ngnserver.core.errors import E, NGNError
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import Raw, raw_first
from ngnserver.models import Customer


class Role(enum.Enum):
    ADMIN = "admin"
    RESELLER = "reseller"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller.

    ``customer_id`` is the account the caller acts as (None for full admin); ``reseller_id``
    is that account's reseller. ``login`` and ``admin_login`` name the real person behind
    the call, for logs and audit.
    """

    role: Role
    login: str
    customer_id: int | None = None
    reseller_id: int | None = None
    admin_login: bool = False
    # whether the caller's reseller was active when the call began (None for admin)
    reseller_active: bool | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_reseller(self) -> bool:
        return self.role is Role.RESELLER

    def describe(self) -> str:
        if self.is_admin:
            return f"admin {self.login}"
        acting = f"{self.role.value} {self.customer_id}"
        return f"admin {self.login} as {acting}" if self.admin_login else acting


def role_of(account: Customer) -> Role:
    """A reseller, or a staff login of one (impersonate set to its reseller), has reseller
    rights; any other ``impersonate`` value is ignored."""
    return _role(account.id, account.reseller, account.impersonate)


def _role(customer_id: int, reseller: int, impersonate: int | None) -> Role:
    if customer_id == reseller or (impersonate and impersonate == reseller):
        return Role.RESELLER
    return Role.CUSTOMER


# The caller's account and its reseller's active flag in one read, on the driver (every
# request authenticates, so this is on every request's path). The flag comes from a scalar
# subquery, not a join: PostgreSQL's generic plan for the join (prepared statements) was a
# merge join that walks the customers' primary key up to the reseller's id; the subquery is
# two key lookups whatever the ids (30 us of server time against 50 us).
_ACCOUNT_COLUMNS = (
    "SELECT c.id, c.reseller, c.impersonate, c.password_sealed, "
    "(SELECT r.reseller_active FROM customers r WHERE r.id = c.reseller) "
    "FROM customers c "
)
_BY_ID = Raw(_ACCOUNT_COLUMNS + "WHERE c.id = ?", reads=True)
_BY_USERNAME = Raw(_ACCOUNT_COLUMNS + "WHERE c.username = ?", reads=True)


def _acting_as(row: tuple, login: str, admin_login: bool) -> Caller:
    customer_id, reseller, impersonate, _sealed, reseller_active = row
    return Caller(
        role=_role(customer_id, reseller, impersonate),
        login=login,
        customer_id=customer_id,
        reseller_id=reseller,
        admin_login=admin_login,
        reseller_active=bool(reseller_active),
    )


def authenticate(
    session: Session,
    auth: Mapping[str, object] | None,
    admins: Mapping[str, str],
    sealer: PasswordSealer,
) -> tuple[Caller, CallerCheck | None]:
    """The caller the header proves, or NGNError, with the check that the account it read
    is still as read (None for an admin acting as no customer: nothing was read). Nothing
    is read for a failed login beyond the one row needed to check it."""
    if not auth:
        raise NGNError(E.AUTH_MISSING, "Every request needs an auth header with username and password.")
    username = str(auth.get("username") or "")
    password = str(auth.get("password") or "")
    if not username or not password:
        raise NGNError(E.AUTH_FAILED, "The auth header needs both a username and a password.")

    if auth.get("admin"):
        expected = admins.get(username)
        # compare_digest against a dummy keeps the timing of unknown and known names alike
        if not hmac.compare_digest((expected or "\0").encode(), password.encode()) or expected is None:
            raise NGNError(E.AUTH_FAILED, "Wrong admin username or password.")
        impersonate = auth.get("impersonate") or 0
        if not impersonate:
            return Caller(role=Role.ADMIN, login=username, admin_login=True), None
        row = raw_first(session.connection(), _BY_ID, (int(impersonate),))
        if row is None:
            raise NGNError(E.IMPERSONATE_UNKNOWN, f"Cannot impersonate customer {impersonate}: it does not exist.")
        # an admin's password is in the settings: the customer's does not matter
        return _acting_as(row, username, admin_login=True), CallerCheck(row, password=False)

    row = raw_first(session.connection(), _BY_USERNAME, (username,))
    if row is None or not sealer.matches(bytes(row[3]), password):
        raise NGNError(E.AUTH_FAILED, "Wrong customer username or password.")
    return _acting_as(row, username, admin_login=False), CallerCheck(row, password=True)


# The account as authentication read it (``_ACCOUNT_COLUMNS``), or the statement fails with
# SQLSTATE NG002 (migration 0007). A NULL sealed password leaves the password out: an admin
# impersonating the customer did not give it.
CALLER_UNCHANGED = Raw(
    "SELECT ngn_caller_changed() WHERE NOT EXISTS (SELECT 1 FROM customers c "
    "WHERE c.id = ? AND c.reseller = ? AND c.impersonate IS NOT DISTINCT FROM ? "
    "AND c.password_sealed = COALESCE(?, c.password_sealed) "
    "AND (SELECT r.reseller_active FROM customers r WHERE r.id = c.reseller) IS NOT DISTINCT FROM ?)"
)
CALLER_CHANGED = "NG002"  # ngn_caller_changed's SQLSTATE


class CallerCheck:
    """The proof, on PostgreSQL, that an account is still as authentication read it: a
    statement that fails (SQLSTATE NG002) when it is not, sent in front of a request's first
    statement (``Database.transaction(first=...)``), so that a worker can act again as a
    caller it authenticated before without reading the account first. ``sent`` tells
    whether it went: a request with no statement at all proved nothing."""

    __slots__ = ("sent", "values")

    def __init__(self, row: tuple[Any, ...], password: bool) -> None:
        customer_id, reseller, impersonate, sealed, reseller_active = row
        self.values = (customer_id, reseller, impersonate, bytes(sealed) if password else None, reseller_active)
        self.sent = False

    def again(self) -> CallerCheck:
        """The same check, not sent yet (one per request)."""
        check = CallerCheck.__new__(CallerCheck)
        check.values, check.sent = self.values, False
        return check

    def sql_for(self, connection: Any, cursor: Any) -> str:
        self.sent = True
        return CALLER_UNCHANGED.with_values(connection, cursor, self.values)


def caller_changed(error: BaseException | None) -> bool:
    """Whether ``error``, or an error it was raised from or while handling, is a
    ``CallerCheck`` that failed."""
    seen = 0
    while error is not None and seen < 16:
        if getattr(getattr(error, "orig", error), "pgcode", None) == CALLER_CHANGED:
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


class KnownCallers:
    """The callers one worker authenticated, by the credentials that proved them, each with
    the ``CallerCheck`` that shows its account unchanged (PostgreSQL). A request with the
    same credentials skips authentication's read (a round trip before anything else) and
    sends the check with its first statement instead; the application answers only once
    that check has held, or authenticates afresh (app.py, ``NGNProApp._invoke``).

    Credentials are kept as a MAC (keyed BLAKE2b) under a key of this process's own, never
    in clear. A changed password, reseller, impersonation or reseller state makes the check
    fail, so nothing has to tell the workers; an admin's password lives in the settings,
    which a worker reads when it starts. At most ``limit`` callers are kept, the oldest
    dropped first."""

    def __init__(self, limit: int = 4096) -> None:
        self._key = secrets.token_bytes(32)
        self._limit = limit
        self._known: dict[bytes, tuple[Caller, CallerCheck]] = {}
        self._changes = threading.Lock()  # a threaded worker's requests add and drop at once

    def _credentials(self, auth: Mapping[str, object] | None) -> bytes | None:
        if not auth:
            return None
        parts = (
            "admin" if auth.get("admin") else "customer",
            str(auth.get("username") or ""),
            str(auth.get("password") or ""),
            str(auth.get("impersonate") or 0),
        )
        if not parts[1] or not parts[2]:
            return None
        message = "".join(f"{len(part)}:{part}" for part in parts).encode()
        # keyed BLAKE2b is a MAC of its own (RFC 7693), at a third of HMAC-SHA256's cost here
        return hashlib.blake2b(message, key=self._key, digest_size=32).digest()

    def recall(self, auth: Mapping[str, object] | None) -> tuple[Caller, CallerCheck] | None:
        """The caller these credentials proved before, with a check to send; None if
        unknown."""
        key = self._credentials(auth)
        known = self._known.get(key) if key is not None else None
        if known is None:
            return None
        caller, check = known
        return caller, check.again()

    def remember(self, auth: Mapping[str, object] | None, caller: Caller, check: CallerCheck) -> None:
        key = self._credentials(auth)
        if key is None:
            return
        with self._changes:
            if len(self._known) >= self._limit and key not in self._known:
                del self._known[next(iter(self._known))]  # the oldest
            self._known[key] = (caller, check)

    def forget(self, auth: Mapping[str, object] | None) -> None:
        key = self._credentials(auth)
        if key is not None:
            with self._changes:
                self._known.pop(key, None)

    def __len__(self) -> int:
        return len(self._known)
