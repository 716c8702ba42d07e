"""DNS zones and their records, including the "fancy" records (e-mail forwards and URL
redirects) that the operator's mail and web front-ends act on."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, Dated, Owned, Placed


class DnsZone(Placed, Dated, Base):
    """A DNS zone served for a customer, with its SOA values. ``serial`` is bumped on every
    change in the zone."""

    __tablename__ = "dns_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    ttl: Mapped[int] = mapped_column(Integer, nullable=False, default=3600)
    minimum: Mapped[int] = mapped_column(Integer, nullable=False, default=3600)
    retry: Mapped[int] = mapped_column(Integer, nullable=False, default=1800)
    expire: Mapped[int] = mapped_column(Integer, nullable=False, default=604800)
    serial: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    email: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    info: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    nameservers: Mapped[list] = mapped_column(JSON, nullable=False, default=list)

    __table_args__ = (
        Index("ix_dns_zones_reseller", "reseller"),
        Index("ix_dns_zones_customer", "customer"),
        Index("ix_dns_zones_change_date", "change_date"),
        {"sqlite_autoincrement": True},
    )


class DnsRecord(Owned, Dated, Base):
    """A record in a zone. ``fancy`` records (types MBOXFW and URL) are not published in DNS
    as such: they drive e-mail forwarding and HTTP redirects."""

    __tablename__ = "dns_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("dns_zones.id", ondelete="RESTRICT"), nullable=False)
    zone: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    value: Mapped[str] = mapped_column(String(1024), nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ttl: Mapped[int] = mapped_column(Integer, nullable=False, default=3600)
    fancy: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    __table_args__ = (
        Index("ix_dns_records_zone_id_name", "zone_id", "name"),
        Index("ix_dns_records_reseller", "reseller"),
        Index("ix_dns_records_customer", "customer"),
        Index("ix_dns_records_owner", "owner"),
        {"sqlite_autoincrement": True},
    )
