"""Failed logins, counted per username and per address: the brake on password guessing,
shared by every worker and host because it lives in the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base


class LoginFailure(Base):
    """Recent failed logins of one key (``user:<name>``, ``admin:<name>`` or
    ``addr:<address>``), and until when that key may not log in."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_failure: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_login_failures_last_failure", "last_failure"),)
