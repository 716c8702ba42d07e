"""PSTN routing: the carriers a reseller sends calls to the telephone network through, their
gateways, the number translations each gateway applies, the routes that pick a carrier for
a dialled prefix, and the trusted peers that may send calls without digest authentication."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, Dated, Owned, Placed


class Carrier(Placed, Dated, Base):
    """An outbound carrier of a reseller (or of the operator, reseller 0). Its gateways and
    routes inherit its customer and reseller."""

    __tablename__ = "pstn_carriers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)

    __table_args__ = (
        UniqueConstraint("reseller", "name", name="uq_pstn_carriers_reseller_name"),
        Index("ix_pstn_carriers_customer", "customer"),
        Index("ix_pstn_carriers_change_date", "change_date"),
        {"sqlite_autoincrement": True},
    )


class Gateway(Placed, Dated, Base):
    """A carrier's SIP gateway to the telephone network (address, port and transport)."""

    __tablename__ = "pstn_gateways"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("pstn_carriers.id", ondelete="RESTRICT"), nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    transport: Mapped[str] = mapped_column(String(8), nullable=False, default="udp")
    ip: Mapped[str] = mapped_column(String(255), nullable=False)
    port: Mapped[int] = mapped_column(Integer, nullable=False, default=5060)

    __table_args__ = (
        UniqueConstraint("carrier_id", "name", name="uq_pstn_gateways_carrier_id_name"),
        CheckConstraint("transport IN ('udp', 'tcp', 'tls')", name="transport"),
        CheckConstraint("port BETWEEN 1 AND 65535", name="port"),
        Index("ix_pstn_gateways_reseller", "reseller"),
        Index("ix_pstn_gateways_change_date", "change_date"),
        {"sqlite_autoincrement": True},
    )


class GatewayRule(Placed, Dated, Base):
    """A translation a gateway applies to the numbers (00 + E.164) it is sent: for numbers
    starting with ``prefix`` whose length lies within the limits (0: no limit), strip
    ``strip`` digits and put ``prepend`` in front. ``carrier_id`` follows its gateway's."""

    __tablename__ = "pstn_gateway_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("pstn_gateways.id", ondelete="RESTRICT"), nullable=False)
    carrier_id: Mapped[int] = mapped_column(Integer, nullable=False)
    prefix: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    strip: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    prepend: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    min_length: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_length: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (
        CheckConstraint("strip >= 0 AND min_length >= 0 AND max_length >= 0", name="counts"),
        Index("ix_pstn_gateway_rules_gateway_id", "gateway_id"),
        Index("ix_pstn_gateway_rules_carrier_id", "carrier_id"),
        Index("ix_pstn_gateway_rules_reseller", "reseller"),
        {"sqlite_autoincrement": True},
    )


class Route(Placed, Dated, Base):
    """An outbound route: calls to numbers starting with ``prefix`` (empty: every number),
    from ``originator`` (empty: anyone), go to the carrier; lower ``priority`` first."""

    __tablename__ = "pstn_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("pstn_carriers.id", ondelete="RESTRICT"), nullable=False)
    prefix: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    originator: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (
        Index("ix_pstn_routes_carrier_id", "carrier_id"),
        Index("ix_pstn_routes_reseller_prefix", "reseller", "prefix"),
        {"sqlite_autoincrement": True},
    )


class TrustedPeer(Owned, Dated, Base):
    """A party (an address, or a host name for Microsoft Teams) whose calls the SIP proxy
    accepts without digest authentication, with what it may do and how its calls are
    numbered, limited and billed."""

    __tablename__ = "trusted_peers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ip: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    call_limit: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    blocked: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    prepaid: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    enum_lookup: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    transit: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    msteams: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    tenant: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    carrier_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    originator: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    prefix: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    strip: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    auth_token: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    tags: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    billing_id: Mapped[str] = mapped_column(String(128), nullable=False, default="")

    __table_args__ = (
        CheckConstraint("strip >= 0 AND call_limit >= 0", name="counts"),
        Index("ix_trusted_peers_reseller", "reseller"),
        Index("ix_trusted_peers_customer", "customer"),
        Index("ix_trusted_peers_owner", "owner"),
        {"sqlite_autoincrement": True},
    )
