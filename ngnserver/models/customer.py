"""Customers, resellers and their properties."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ngnserver.models.base import Base, Dated


class Customer(Dated, Base):
    """A customer of the operator: a company or person that holds records and may log in.

    A customer whose ``id`` equals its ``reseller`` is a reseller: it groups other customers
    the way a Unix group groups users, and its credits bound what all of them create.
    """

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reseller: Mapped[int] = mapped_column(Integer, nullable=False)
    impersonate: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reseller_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    company_code: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    balance: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    credit: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    username: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    # The password sealed with AES-256-GCM; the key lives outside the database (see docs/rules.md).
    password_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    first_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    last_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    organization: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    vat_number: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    email: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    web: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    tel: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    fax: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    mobile: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    sip: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    enum: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    address: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    postcode: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    city: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    state: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    country: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    language: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    bank_account: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    billing_address: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    billing_email: Mapped[str] = mapped_column(String(255), nullable=False, default="")

    properties: Mapped[list[CustomerProperty]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        order_by="CustomerProperty.name",
        lazy="select",
    )

    __table_args__ = (
        CheckConstraint("username <> ''", name="username_not_empty"),
        Index("ix_customers_change_date_id", "change_date", "id"),
        Index("ix_customers_reseller_change_date", "reseller", "change_date"),
        {"sqlite_autoincrement": True},
    )

    @property
    def is_reseller(self) -> bool:
        return self.id == self.reseller


class CustomerProperty(Base):
    """A named setting of a customer (a credit, a right, a web preference), with the level
    of caller allowed to change it (``admin``, ``reseller`` or ``customer``)."""

    __tablename__ = "customer_properties"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(1024), nullable=False, default="")
    category: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    permission: Mapped[str] = mapped_column(String(16), nullable=False, default="customer")

    customer: Mapped[Customer] = relationship(back_populates="properties")


class ResellerSize(Base):
    """How many customers each reseller has (itself included), kept in step with
    ``customers`` in the same transactions, so that listing customers does not count a
    hundred thousand rows for its ``total``."""

    __tablename__ = "reseller_sizes"

    reseller: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    customers: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
