"""SIP domains, the accounts and aliases in them, and the groups accounts belong to."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ngnserver.models.base import Base, Dated, Owned, Placed


class SipDomain(Placed, Dated, Base):
    """A SIP domain served for a customer (or for the operator itself when customer is 0).
    Its accounts and aliases inherit its customer and reseller."""

    __tablename__ = "sip_domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    certificate: Mapped[str] = mapped_column(Text, nullable=False, default="")
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    match_ip_address: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    match_sip_domain: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    verify_cert: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    require_cert: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    __table_args__ = (
        Index("ix_sip_domains_reseller", "reseller"),
        Index("ix_sip_domains_customer", "customer"),
        Index("ix_sip_domains_change_date", "change_date"),
        {"sqlite_autoincrement": True},
    )


class SipAccount(Owned, Dated, Base):
    """A SIP account (an address of record ``username@domain``) that phones register with."""

    __tablename__ = "sip_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    domain: Mapped[str] = mapped_column(
        ForeignKey("sip_domains.domain", ondelete="RESTRICT"), nullable=False
    )
    # Stored as given (clear text or CDRTool's "ha1:ha1b"), sealed at rest like customer passwords.
    password_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    first_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    last_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    email: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    rpid: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    prepaid: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    quota: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    call_limit: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    timeout: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    answer_timeout: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quickdial_prefix: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    region: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    acl: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    properties: Mapped[list] = mapped_column(JSON, nullable=False, default=list)

    groups: Mapped[list[SipGroupMember]] = relationship(
        cascade="all, delete-orphan", order_by="SipGroupMember.name", lazy="select"
    )

    __table_args__ = (
        UniqueConstraint("domain", "username", name="uq_sip_accounts_domain_username"),
        Index("ix_sip_accounts_reseller", "reseller"),
        Index("ix_sip_accounts_customer", "customer"),
        Index("ix_sip_accounts_owner", "owner"),
        Index("ix_sip_accounts_domain_change_date", "domain", "change_date"),
        {"sqlite_autoincrement": True},
    )

    @property
    def address(self) -> str:
        return f"{self.username}@{self.domain}"


class SipGroupMember(Base):
    """An account's membership of a group (``free-pstn``, ``prepaid``, ``voicemail``, ...)."""

    __tablename__ = "sip_account_groups"

    account_id: Mapped[int] = mapped_column(ForeignKey("sip_accounts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_sip_account_groups_name", "name", "account_id"),)


class SipAlias(Owned, Dated, Base):
    """Another address (``username@domain``) that reaches a target SIP address."""

    __tablename__ = "sip_aliases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    domain: Mapped[str] = mapped_column(
        ForeignKey("sip_domains.domain", ondelete="RESTRICT"), nullable=False
    )
    target_username: Mapped[str] = mapped_column(String(64), nullable=False)
    target_domain: Mapped[str] = mapped_column(String(255), nullable=False)

    __table_args__ = (
        UniqueConstraint("domain", "username", name="uq_sip_aliases_domain_username"),
        Index("ix_sip_aliases_reseller", "reseller"),
        Index("ix_sip_aliases_customer", "customer"),
        Index("ix_sip_aliases_owner", "owner"),
        {"sqlite_autoincrement": True},
    )
