"""ENUM ranges (blocks of E.164 numbers under a tld) and the numbers in them, with their
NAPTR mappings."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ngnserver.models.base import Base, Dated, Owned, Placed


class EnumRange(Placed, Dated, Base):
    """A prefix of E.164 numbers in an ENUM tld (``e164.arpa`` or a private tree), held by a
    customer. Numbers are attached to the range with their longest matching prefix."""

    __tablename__ = "enum_ranges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(32), nullable=False)
    tld: Mapped[str] = mapped_column(String(255), nullable=False)
    ttl: Mapped[int] = mapped_column(Integer, nullable=False, default=3600)
    min_digits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_digits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    size: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    nameservers: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    serial: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    info: Mapped[str] = mapped_column(String(255), nullable=False, default="")

    __table_args__ = (
        UniqueConstraint("tld", "prefix", name="uq_enum_ranges_tld_prefix"),
        Index("ix_enum_ranges_reseller", "reseller"),
        Index("ix_enum_ranges_customer", "customer"),
        Index("ix_enum_ranges_change_date", "change_date"),
        {"sqlite_autoincrement": True},
    )


class EnumNumber(Owned, Dated, Base):
    """An E.164 number published in ENUM, with the mappings (NAPTR records) it resolves to."""

    __tablename__ = "enum_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), nullable=False)
    tld: Mapped[str] = mapped_column(String(255), nullable=False)
    range_id: Mapped[int] = mapped_column(ForeignKey("enum_ranges.id", ondelete="RESTRICT"), nullable=False)
    info: Mapped[str] = mapped_column(String(255), nullable=False, default="")

    mappings: Mapped[list[EnumMapping]] = relationship(
        cascade="all, delete-orphan", order_by="EnumMapping.id", lazy="select"
    )

    __table_args__ = (
        UniqueConstraint("tld", "number", name="uq_enum_numbers_tld_number"),
        Index("ix_enum_numbers_range_id", "range_id"),
        Index("ix_enum_numbers_reseller", "reseller"),
        Index("ix_enum_numbers_customer", "customer"),
        Index("ix_enum_numbers_owner", "owner"),
        {"sqlite_autoincrement": True},
    )


class EnumMapping(Base):
    """One NAPTR mapping of a number: a service type (``sip``, ``mailto``, ``tel``, ...), the
    URI it maps to, its TTL and its priority."""

    __tablename__ = "enum_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("enum_numbers.id", ondelete="CASCADE"), nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    mapto: Mapped[str] = mapped_column(String(512), nullable=False)
    ttl: Mapped[int] = mapped_column(Integer, nullable=False, default=3600)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=10)

    __table_args__ = (
        Index("ix_enum_mappings_number_id", "number_id"),
        Index("ix_enum_mappings_type", "type"),
        {"sqlite_autoincrement": True},
    )
