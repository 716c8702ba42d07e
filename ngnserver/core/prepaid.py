"""Prepaid SIP accounts: balances, their history, and vouchers (prepaid cards).

Only an account flagged ``prepaid`` has a balance. A balance changes in one conditional
``UPDATE ... SET balance = balance + n WHERE balance + n BETWEEN 0 AND max`` on its row, so
concurrent changes wait for each other's row lock and never lose one (on PostgreSQL across
processes and hosts; SQLite's write transaction serialises them), and a balance never goes
below 0 or above ``MAX_BALANCE``. Every change writes a history entry and an audit entry in
the same transaction.

Who may change a balance without a voucher: admin; a reseller (or its staff, or admin
impersonating it) whose ``prepaid_changes`` right is 1; a customer only when both its
reseller and the customer itself have ``prepaid_changes`` 1 (as CDRTool's pages decide).
A voucher may be redeemed by anyone who sees the account: its number is the credential.
A voucher belongs to a reseller (0: the operator) and redeems on that reseller's accounts
only, once: the redemption is a conditional ``UPDATE ... WHERE redeem_date IS NULL`` whose
row count tells the one winner of concurrent redemptions.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ngnserver.core import audit, lengths
from ngnserver.core.callers import Caller, Role
from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Right
from ngnserver.core.records import require_active_reseller, visible
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import insert_skipping_duplicates
from ngnserver.models import Customer, CustomerProperty
from ngnserver.models.base import utcnow
from ngnserver.models.prepaid import (
    UNITS_PER_CURRENCY,
    CreditHistoryEntry,
    PrepaidBalance,
    PrepaidVoucher,
)
from ngnserver.models.sip import SipAccount

DECIMALS = 4
MAX_BALANCE = Decimal(1_000_000_000)  # the most a balance (and one change, or a voucher) may hold
MAX_BALANCE_UNITS = int(MAX_BALANCE * UNITS_PER_CURRENCY)
MAX_VOUCHERS = 1000  # vouchers made in one call
VOUCHER_DIGITS = 16
ADD = "Add balance"
DEBIT = "Debit balance"
_SPACES = re.compile(r"[\s-]+")
_SMALLEST = Decimal(1).scaleb(-DECIMALS)  # the smallest amount: 0.0001

_BALANCE = PrepaidBalance.__table__.c
_CHANGE = (
    update(PrepaidBalance.__table__)
    .where(
        _BALANCE.account_id == bindparam("b_account"),
        _BALANCE.balance_units + bindparam("b_delta") >= 0,
        _BALANCE.balance_units + bindparam("b_delta") <= MAX_BALANCE_UNITS,
    )
    .values(balance_units=_BALANCE.balance_units + bindparam("b_delta"), change_date=bindparam("b_now"))
    .returning(_BALANCE.balance_units)
)
_READ = select(_BALANCE.balance_units).where(_BALANCE.account_id == bindparam("b_account"))
_VOUCHER = PrepaidVoucher.__table__.c
_REDEEM = (
    update(PrepaidVoucher.__table__)
    .where(_VOUCHER.id == bindparam("b_id"), _VOUCHER.redeem_date.is_(None))
    .values(redeem_date=bindparam("b_now"), redeemed_by=bindparam("b_by"))
)


def to_units(value: Decimal) -> int:
    return int(value * UNITS_PER_CURRENCY)


def from_units(units: int) -> Decimal:
    return (Decimal(units) / UNITS_PER_CURRENCY).quantize(_SMALLEST)


def amount(value: Any, what: str, positive: bool = False) -> Decimal:
    """A sum of money as given on the wire (a float, or text): at most four decimals, not 0,
    at most MAX_BALANCE either way; ``positive``: above 0."""
    if value is None or value == "":
        raise NGNError(E.MISSING_PARAMETER, f"{what} is required.")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise NGNError(E.INVALID_VALUE, f"{what} must be a number, not {value!r}.") from None
    if not number.is_finite():
        raise NGNError(E.INVALID_VALUE, f"{what} must be a finite number, not {value!r}.")
    if abs(number) > MAX_BALANCE:
        raise NGNError(E.INVALID_VALUE, f"{what} {number} is beyond {MAX_BALANCE} (the most a balance may hold).")
    if number != number.quantize(_SMALLEST):
        raise NGNError(E.INVALID_VALUE, f"{what} {number} has more than {DECIMALS} decimals.")
    if number == 0 or (positive and number < 0):
        raise NGNError(E.INVALID_VALUE, f"{what} must be {'more than' if positive else 'other than'} 0, not {number}.")
    return number


@dataclass(frozen=True)
class Change:
    """A balance change: the balance before and after it."""

    old: Decimal
    new: Decimal


@dataclass(frozen=True)
class Voucher:
    """A voucher just made: its id and number (shown this once) and its value."""

    id: int
    number: str
    value: Decimal
    reseller: int


def _rights(session: Session, customer_id: int) -> dict[str, str]:
    rows = session.execute(
        select(CustomerProperty.name, CustomerProperty.value).where(
            CustomerProperty.customer_id == customer_id, CustomerProperty.name == Right.PREPAID_CHANGES.value
        )
    ).all()
    return {name: value for name, value in rows}


def _has_prepaid_changes(session: Session, customer_id: int) -> bool:
    return _rights(session, customer_id).get(Right.PREPAID_CHANGES.value) == "1"


def _sip_id(sip_id: Mapping[str, Any] | None) -> tuple[str, str]:
    sip_id = sip_id or {}
    username = (sip_id.get("username") or "").strip()
    domain = (sip_id.get("domain") or "").strip().lower().rstrip(".")
    if not username or not domain:
        raise NGNError(E.MISSING_PARAMETER, "A SIP account needs a username and a domain.")
    return username, domain


class Prepaid:
    """Prepaid operations for one request."""

    def __init__(self, session: Session, caller: Caller, sealer: PasswordSealer, max_rows: int = 1000) -> None:
        self.session = session
        self.caller = caller
        self.sealer = sealer
        self.max_rows = max_rows

    def account(self, sip_id: Mapping[str, Any] | None, prepaid: bool = True, lock: bool = False) -> SipAccount:
        """The SIP account in the caller's scope; ``prepaid``: refused (1151) when it is not
        prepaid; ``lock`` (for a balance change): share-locked until the transaction ends, so
        that it is neither deleted nor switched to postpaid under the change."""
        username, domain = _sip_id(sip_id)
        stmt = select(SipAccount).where(
            SipAccount.username == username, SipAccount.domain == domain, *visible(self.caller, SipAccount)
        )
        if lock:
            stmt = stmt.with_for_update(read=True).execution_options(populate_existing=True)
        account = self.session.execute(stmt).scalar_one_or_none()
        if account is None:
            raise NGNError(E.SIP_ACCOUNT_NOT_FOUND, f"SIP account {username}@{domain} does not exist.")
        if prepaid and not account.prepaid:
            raise NGNError(E.SIP_NOT_PREPAID, f"SIP account {account.address} is not prepaid, so it has no balance.")
        return account

    def balance(self, account: SipAccount) -> Decimal:
        units = self.session.connection().execute(_READ, {"b_account": account.id}).scalar_one_or_none()
        return from_units(units or 0)

    def statuses(self, sip_ids: Sequence[Mapping[str, Any] | None] | None) -> list[tuple[SipAccount, Decimal]]:
        """Each account's balance, in the order asked."""
        sip_ids = sip_ids or []
        if len(sip_ids) > self.max_rows:
            raise NGNError(E.INVALID_QUERY, f"getPrepaidStatus takes at most {self.max_rows} accounts, not {len(sip_ids)}.")
        accounts = [self.account(sip_id) for sip_id in sip_ids]
        return [(account, self.balance(account)) for account in accounts]

    def add_balance(self, sip_id: Mapping[str, Any] | None, value: Any, description: str | None) -> Change:
        """Add ``value`` (negative: take it) to the account's balance."""
        delta = amount(value, "value")
        account = self.account(sip_id, lock=True)
        self._require_prepaid_changes(account)
        text = (description or "").strip() or ("Added by " if delta > 0 else "Taken by ") + self.caller.login
        return self._change(account, delta, ADD if delta > 0 else DEBIT, text, None)

    def _require_prepaid_changes(self, account: SipAccount) -> None:
        caller = self.caller
        if caller.role is Role.ADMIN:
            return
        if not _has_prepaid_changes(self.session, account.reseller):
            raise NGNError(
                E.SIP_RIGHT_MISSING,
                f"Reseller {account.reseller} has no prepaid_changes right, so the balance of "
                f"{account.address} can only change with a voucher.",
            )
        if caller.role is Role.CUSTOMER and not _has_prepaid_changes(self.session, caller.customer_id or 0):
            raise NGNError(
                E.SIP_RIGHT_MISSING,
                f"Customer {caller.customer_id} has no prepaid_changes right, so the balance of "
                f"{account.address} can only change with a voucher.",
            )

    def redeem(self, sip_id: Mapping[str, Any] | None, card: Mapping[str, Any] | None) -> Change:
        """Add a voucher's value to the account's balance, using the voucher up."""
        card = card or {}
        voucher_id, number = card.get("id"), _SPACES.sub("", str(card.get("number") or ""))
        if not voucher_id or not number:
            raise NGNError(E.MISSING_PARAMETER, "A prepaid card needs its id and its number.")
        account = self.account(sip_id, lock=True)
        voucher = self.session.execute(
            select(PrepaidVoucher).where(PrepaidVoucher.id == voucher_id, PrepaidVoucher.reseller == account.reseller)
        ).scalar_one_or_none()
        if voucher is None or not hmac.compare_digest(voucher.number_digest, self.sealer.digest(number)):
            raise NGNError(
                E.VOUCHER_NOT_FOUND, f"There is no prepaid card {voucher_id} with that number for {account.address}."
            )
        used = NGNError(E.VOUCHER_USED, f"Prepaid card {voucher_id} was already used.")
        if voucher.redeem_date is not None:
            raise used
        redeemed = self.session.connection().execute(
            _REDEEM, {"b_id": voucher.id, "b_now": utcnow(), "b_by": account.address}
        )
        if redeemed.rowcount != 1:
            raise used  # a concurrent redemption won
        return self._change(account, from_units(voucher.value_units), ADD, f"Prepaid card {voucher.id}", voucher.id)

    def _change(self, account: SipAccount, delta: Decimal, action: str, description: str, voucher_id: int | None) -> Change:
        units = to_units(delta)
        connection = self.session.connection()
        values = {"b_account": account.id, "b_delta": units, "b_now": utcnow()}
        new = connection.execute(_CHANGE, values).scalar_one_or_none()
        if new is None:
            # no row, or one outside the bounds, or a concurrent first change's row, committed
            # since the UPDATE began: the row is created unless there (a concurrent one is
            # waited for) and the change tried once more, now on a row that is there
            if connection.execute(_READ, values).scalar_one_or_none() is None:
                insert_skipping_duplicates(self.session, PrepaidBalance.__table__, [{"account_id": account.id, "balance_units": 0}])
            new = connection.execute(_CHANGE, values).scalar_one_or_none()
            if new is None:
                self._refuse(account, delta, connection.execute(_READ, values).scalar_one())
        assert new is not None
        description = lengths.checked(CreditHistoryEntry, "description", description)
        connection.execute(
            insert(CreditHistoryEntry),
            {
                "account_id": account.id, "date": values["b_now"], "action": action, "description": description,
                "value_units": units, "balance_units": new, "voucher_id": voucher_id,
                "login": self.caller.login, "acting_as": self.caller.customer_id,
            },
        )  # fmt: skip
        change = Change(from_units(new - units), from_units(new))
        audit.record(
            self.session, self.caller, "update", "sip_account", account.address,
            {"balance": str(change.new), "value": str(delta), "voucher": voucher_id, "description": description},
        )  # fmt: skip
        return change

    def _refuse(self, account: SipAccount, delta: Decimal, current_units: int) -> None:
        current = from_units(current_units)
        if delta < 0:
            raise NGNError(
                E.BALANCE_INSUFFICIENT,
                f"The balance of {account.address} is {current}; taking {-delta} would leave it below 0.",
            )
        raise NGNError(
            E.BALANCE_LIMIT,
            f"The balance of {account.address} is {current}; adding {delta} would take it above {MAX_BALANCE}.",
        )

    def history(self, sip_id: Mapping[str, Any] | None, count: int | None) -> list[CreditHistoryEntry]:
        """The account's newest ``count`` balance changes (at most max_rows), newest first;
        also of an account no longer prepaid."""
        if count is not None and count < 0:
            raise NGNError(E.INVALID_QUERY, f"count must be 0 or more, not {count}.")
        limit = min(count or self.max_rows, self.max_rows)
        account = self.account(sip_id, prepaid=False)
        return list(
            self.session.execute(
                select(CreditHistoryEntry)
                .where(CreditHistoryEntry.account_id == account.id)
                .order_by(CreditHistoryEntry.id.desc())
                .limit(limit)
            ).scalars()
        )


def make_vouchers(
    session: Session, caller: Caller, sealer: PasswordSealer, count: Any, value: Any, reseller: int | None = None
) -> list[Voucher]:
    """``count`` new vouchers of ``value`` each, for ``reseller``'s accounts: admin names any
    reseller (none: the operator's own accounts, reseller 0); a reseller makes them for
    itself while it is active and needs its prepaid_changes right; a customer cannot."""
    if caller.role is Role.CUSTOMER:
        raise NGNError(E.PERMISSION_DENIED, "Only admin and resellers make prepaid cards.")
    if count is None:
        raise NGNError(E.MISSING_PARAMETER, "count is required: how many vouchers to make.")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_VOUCHERS:
        raise NGNError(E.INVALID_VALUE, f"count must be a whole number from 1 to {MAX_VOUCHERS}, not {count!r}.")
    worth = amount(value, "value", positive=True)
    if caller.role is Role.RESELLER:
        require_active_reseller(caller)
        own = caller.reseller_id or 0
        if reseller and reseller != own:
            raise NGNError(E.ADMIN_ONLY_FIELD, f"Reseller {own} makes prepaid cards for its own accounts only.")
        if not _has_prepaid_changes(session, own):
            raise NGNError(E.SIP_RIGHT_MISSING, f"Reseller {own} has no prepaid_changes right, so it cannot make prepaid cards.")
        reseller = own
    elif reseller:
        found = session.get(Customer, reseller)
        if found is None or not found.is_reseller:
            raise NGNError(E.RESELLER_NOT_FOUND, f"Reseller {reseller} does not exist.")
    reseller = reseller or 0
    numbers = [f"{secrets.randbelow(10**VOUCHER_DIGITS):0{VOUCHER_DIGITS}d}" for _ in range(count)]
    now = utcnow()
    rows = session.connection().execute(
        insert(PrepaidVoucher.__table__).returning(_VOUCHER.id, sort_by_parameter_order=True),
        [
            {"reseller": reseller, "number_digest": sealer.digest(n), "value_units": to_units(worth),
             "create_date": now, "created_by": caller.login}
            for n in numbers
        ],
    ).scalars().all()  # fmt: skip
    made = [Voucher(voucher_id, number, worth, reseller) for voucher_id, number in zip(rows, numbers, strict=True)]
    audit.record(
        session, caller, "create", "prepaid_voucher", f"{made[0].id}-{made[-1].id}",
        {"count": count, "value": str(worth), "reseller": reseller},
    )  # fmt: skip
    return made
