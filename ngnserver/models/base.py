"""The declarative base and the column helpers every table shares."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

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
    UTC). Built from time.gmtime: half the cost of now(UTC).replace(...), and every record
    written takes two or three."""
    year, month, day, hour, minute, second = time.gmtime()[:6]
    return datetime(year, month, day, hour, minute, second if second < 60 else 59)  # (no leap second)
