"""Prepaid SIP accounts: their balances, the history of every change, and the vouchers
(prepaid cards) that add to a balance.

Money is stored as whole ten-thousandths of the currency unit (``*_units``, BIGINT): exact
arithmetic on both backends in one ``UPDATE`` (SQLite has no exact decimal type; its NUMERIC
is a float), shown with four decimals as CDRTool shows it. ``core.prepaid`` converts to and
from ``Decimal``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, utcnow

UNITS_PER_CURRENCY = 10_000


class PrepaidBalance(Base):
    """What a prepaid SIP account may still spend. One row per account that ever had a
    balance change (none: 0); it goes with the account."""

    __tablename__ = "prepaid_balances"

    account_id: Mapped[int] = mapped_column(ForeignKey("sip_accounts.id", ondelete="CASCADE"), primary_key=True)
    balance_units: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    change_date: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (CheckConstraint("balance_units >= 0", name="balance_not_negative"),)


class CreditHistoryEntry(Base):
    """One change of a prepaid balance: when, who (the login, and the customer it acted as),
    by how much, the balance after it, the voucher redeemed (if any) and why."""

    __tablename__ = "prepaid_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("sip_accounts.id", ondelete="CASCADE"), nullable=False)
    date: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    value_units: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_units: Mapped[int] = mapped_column(BigInteger, nullable=False)
    voucher_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    login: Mapped[str] = mapped_column(String(128), nullable=False)
    acting_as: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (Index("ix_prepaid_history_account_id", "account_id", "id"), {"sqlite_autoincrement": True})


class PrepaidVoucher(Base):
    """A prepaid card: an ``id`` and a secret ``number`` that, redeemed once, add ``value``
    to the balance of one prepaid account of the voucher's ``reseller`` (0: the operator's
    own accounts). The number is kept only as a keyed digest (HMAC-SHA256 under the server's
    secret key): it is shown once, when the voucher is made."""

    __tablename__ = "prepaid_vouchers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reseller: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    number_digest: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    value_units: Mapped[int] = mapped_column(BigInteger, nullable=False)
    create_date: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    redeem_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    redeemed_by: Mapped[str | None] = mapped_column(String(320), nullable=True)  # the account's user@domain

    __table_args__ = (
        CheckConstraint("value_units > 0", name="value_positive"),
        Index("ix_prepaid_vouchers_reseller", "reseller"),
        {"sqlite_autoincrement": True},
    )
