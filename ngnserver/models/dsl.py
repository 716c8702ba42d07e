"""DSL: the packages an operator sells, address qualifications, and DSL services ordered
from a vendor (Ikano), with the vendor's order state, static IPs and notes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, Dated, Owned, Placed, utcnow


class DslPackage(Base):
    """A DSL product the operator sells, tied to the vendor's product (Ikano's Unique ID,
    sent as ProductCustomId)."""

    __tablename__ = "dsl_packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    vendor_package_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    create_date: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = ({"sqlite_autoincrement": True},)


class DslQualification(Placed, Base):
    """The answer to "can this address (or phone line) get DSL?": ``Q`` (qualifies) or ``D``
    (does not), with the vendor's products offered there and their terms."""

    __tablename__ = "dsl_qualifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    phone_number: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    location_type: Mapped[str] = mapped_column(String(1), nullable=False, default="R")
    vendor_qual_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(1), nullable=False)
    offered: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)  # product id -> terms id
    create_date: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_dsl_qualifications_reseller", "reseller"),
        Index("ix_dsl_qualifications_customer", "customer"),
        {"sqlite_autoincrement": True},
    )


class DslService(Owned, Dated, Base):
    """A DSL line ordered for a customer. ``state`` is what callers read: ``pending`` while
    the vendor has not confirmed, ``active``, ``suspended``, ``cancelled``, ``disconnecting``
    (a future disconnect is ordered) or ``failed`` with ``failure`` saying why; the vendor's
    own order type and status are kept beside it."""

    __tablename__ = "dsl_services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("dsl_packages.id", ondelete="RESTRICT"), nullable=False)
    qualification_id: Mapped[int | None] = mapped_column(
        ForeignKey("dsl_qualifications.id", ondelete="SET NULL"), nullable=True
    )
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    failure: Mapped[str] = mapped_column(Text, nullable=False, default="")
    phone_number: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    loop_type: Mapped[str] = mapped_column(String(8), nullable=False, default="0")
    first_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    last_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    company_name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    contact_phone: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    isp_change: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    isp_previous: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    current_provider: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    desired_due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    expire_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    order_type: Mapped[str] = mapped_column(String(8), nullable=False, default="NEW")
    vendor_order_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    vendor_order_status: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    vendor_username: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    password_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    static_ips: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    monitored: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    pushed: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_pull: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (
        Index("ix_dsl_services_reseller", "reseller"),
        Index("ix_dsl_services_customer", "customer"),
        Index("ix_dsl_services_owner", "owner"),
        Index("ix_dsl_services_monitored_last_pull", "monitored", "last_pull"),
        {"sqlite_autoincrement": True},
    )


class DslNote(Base):
    """A note on a DSL order, from the vendor's staff or ours, as the vendor reports it."""

    __tablename__ = "dsl_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("dsl_services.id", ondelete="CASCADE"), nullable=False)
    date: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    author: Mapped[str] = mapped_column(String(16), nullable=False, default="unknown")
    high_priority: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    __table_args__ = (Index("ix_dsl_notes_service_id", "service_id"), {"sqlite_autoincrement": True})
