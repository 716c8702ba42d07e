"""How much of each credit is used, kept as counters so that checking a credit costs one
row whatever the number of records."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base


class CreditUsage(Base):
    """Records of one kind counted against one holder: ``scope`` "reseller" counts everything
    created under a reseller, "customer" what belongs to one customer (as customer or
    owner). Updated in the same transaction as the records it counts."""

    __tablename__ = "credit_usage"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    holder: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit: Mapped[str] = mapped_column(String(32), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (CheckConstraint("used >= 0", name="used_not_negative"),)
