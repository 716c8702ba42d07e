"""Dedicated servers and colocation: the packages an operator sells from a pool of physical
machines managed in DCImanager, the servers customers ordered, and which pool machine each
server holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, Dated, Owned, utcnow


class ServerPackage(Base):
    """A server product the operator sells: a ``dedicated`` server (a pool machine of a
    chassis template or server type, installed with an OS template and recipe) or
    ``colocation`` (the customer's own machine in a pool slot: no OS install), with how
    many addresses it gets besides the main one."""

    __tablename__ = "server_packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="dedicated")
    template: Mapped[str] = mapped_column(String(128), nullable=False)  # chassis template or server type
    os_template: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    recipe: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    extra_ipv4: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    extra_ipv6: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    create_date: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('dedicated', 'colocation')", name="kind"),
        CheckConstraint("extra_ipv4 >= 0 AND extra_ipv6 >= 0", name="extra_ips"),
        {"sqlite_autoincrement": True},
    )


class ServerService(Owned, Dated, Base):
    """A dedicated server (or colocation slot) ordered for a customer. ``state`` is what
    callers read: ``pending`` until a worker starts, ``provisioning`` (``step`` names the
    step under way), ``active``, ``suspended``, ``failed`` with ``failure`` saying why, or
    ``deleting``; ``progress`` lists every provisioning step done with its result. The
    DCImanager machine, its addresses, the panel user and the welcome data are filled in as
    the setup learns them; the passwords are sealed."""

    __tablename__ = "server_services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("server_packages.id", ondelete="RESTRICT"), nullable=False)
    hostname: Mapped[str] = mapped_column(String(255), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    step: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    failure: Mapped[str] = mapped_column(Text, nullable=False, default="")
    progress: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    dcim_server_id: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    main_ip: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    ips: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    panel_username: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    panel_user_id: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    panel_password_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    root_password_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    welcome: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    __table_args__ = (
        Index("ix_server_services_reseller", "reseller"),
        Index("ix_server_services_customer", "customer"),
        Index("ix_server_services_owner", "owner"),
        Index("ix_server_services_hostname", "hostname"),
        {"sqlite_autoincrement": True},
    )


class ServerClaim(Base):
    """A pool machine taken by a server: the primary key on the DCImanager server id is
    what keeps two setups running at once from picking the same machine. The claim ends
    when the machine goes back to the pool (or its server record is removed)."""

    __tablename__ = "server_claims"

    dcim_server_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("server_services.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    claimed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
