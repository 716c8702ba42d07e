"""The change history: one row per create, update or delete of a customer or a record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, utcnow


class AuditEntry(Base):
    """A change someone made: who really called (``login``, and whether it was an admin
    login), which customer it acted as, what it did to which record, and the fields it
    set (secrets left out)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    login: Mapped[str] = mapped_column(String(128), nullable=False)
    admin_login: Mapped[bool] = mapped_column(Boolean, nullable=False)
    acting_as: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    record_key: Mapped[str] = mapped_column(String(512), nullable=False)
    changes: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    __table_args__ = (
        Index("ix_audit_log_kind_record_key", "kind", "record_key"),
        Index("ix_audit_log_at", "at", postgresql_using="brin"),  # migration 0008
        {"sqlite_autoincrement": True},
    )
