"""Who is calling: the caller derived from the ``auth`` header, and what it may see.

Four kinds of caller exist on the wire (admin, admin impersonating a customer, a customer's
own login, a reseller's staff login); they collapse into three roles here, because an admin
impersonating customer N acts exactly as N's own login would.
"""

from __future__ import annotations

import enum
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased

from ngnserver.core import logins
from ngnserver.core.errors import E, NGNError
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import read_first
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


log = logging.getLogger("ngnserver.access")

_RESELLER = aliased(Customer)
# The account authentication needs (id, reseller, impersonate, sealed password) and its
# reseller's active flag, in one read, by id or by username: built once (building a
# statement costs more than running it), the value bound on every call.
# The same read says whether the brake on password guessing holds this login back.
_ACCOUNT = select(
    Customer.id, Customer.reseller, Customer.impersonate, Customer.password_sealed,
    select(_RESELLER.reseller_active).where(_RESELLER.id == Customer.reseller).scalar_subquery().label("reseller_active"),
    logins.BLOCKED_UNTIL.scalar_subquery().label("blocked_until"),
)  # fmt: skip
_BY_ID = _ACCOUNT.where(Customer.id == bindparam("key"))
_BY_USERNAME = _ACCOUNT.where(Customer.username == bindparam("key"))


def _account(session: Session, statement: Any, key: Any, login_keys: list[str]) -> Any:
    """The account ``statement`` finds for ``key``; None when there is none."""
    return read_first(session, statement, {"key": key, **logins.bound(login_keys)})


def _acting_as(row: Any, login: str, admin_login: bool) -> Caller:
    return Caller(
        role=_role(row.id, row.reseller, row.impersonate),
        login=login,
        customer_id=row.id,
        reseller_id=row.reseller,
        admin_login=admin_login,
        reseller_active=bool(row.reseller_active),
    )


def authenticate(
    session: Session,
    auth: Mapping[str, object] | None,
    admins: Mapping[str, str],
    sealer: PasswordSealer,
    address: str | None = None,
) -> Caller:
    """The caller the header proves, or NGNError. A wrong password and an unknown username
    cost the same (a sealed dummy is opened for the unknown one), so timing tells a guesser
    nothing about which usernames exist. A login the brake on guessing holds back (see
    ``logins``; ``address`` is the client's) is refused before its password is looked at."""
    if not auth:
        raise NGNError(E.AUTH_MISSING, "Every request needs an auth header with username and password.")
    username = str(auth.get("username") or "")
    password = str(auth.get("password") or "")
    if not username or not password:
        raise NGNError(E.AUTH_FAILED, "The auth header needs both a username and a password.")

    login_keys = logins.keys(username, address, bool(auth.get("admin")))
    if auth.get("admin"):
        impersonate = auth.get("impersonate") or 0
        row = _account(session, _BY_ID, impersonate, login_keys) if impersonate else None
        logins.refuse_if_blocked(row.blocked_until if row else logins.blocked_until(session, login_keys))
        expected = admins.get(username)
        # compare_digest against a dummy keeps the timing of unknown and known names alike
        if not hmac.compare_digest((expected or "\0").encode(), password.encode()) or expected is None:
            raise NGNError(E.AUTH_FAILED, "Wrong admin username or password.")
        if not impersonate:
            return Caller(role=Role.ADMIN, login=username, admin_login=True)
        if row is None:
            raise NGNError(E.IMPERSONATE_UNKNOWN, f"Cannot impersonate customer {impersonate}: it does not exist.")
        # an admin's password is in the settings: the customer's does not matter
        return _acting_as(row, username, admin_login=True)

    row = _account(session, _BY_USERNAME, username, login_keys)
    if row is not None:
        logins.refuse_if_blocked(row.blocked_until)
    sealed = bytes(row.password_sealed) if row is not None else sealer.dummy()
    if not sealer.matches(sealed, password) or row is None:
        raise NGNError(E.AUTH_FAILED, "Wrong customer username or password.")
    if auth.get("impersonate"):
        # CDRTool sends impersonate only with admin credentials: said in the log, then ignored
        log.warning("%s sent impersonate=%s without admin; it is ignored (it is for admin logins)",
                    username, auth.get("impersonate"))  # fmt: skip
    return _acting_as(row, username, admin_login=False)
