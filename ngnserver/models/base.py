"""The declarative base and the column helpers every table shares."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations can name what they alter on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Now, in UTC, to the second, without tzinfo (stored as a plain timestamp, shown as
    UTC)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class Placed:
    """A record placed with a customer and that customer's reseller (0: nobody, the
    operator's own), which decide who sees it and whose credits it counts against."""

    customer: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reseller: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Owned(Placed):
    """A record inside a parent record (a SIP domain, an ENUM range, a DNS zone), which may
    also belong to one of the reseller's customers, its ``owner`` (0: none)."""

    owner: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Dated:
    """When the record was created and last changed (UTC)."""

    create_date: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    change_date: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
