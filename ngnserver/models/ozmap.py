"""The state of the OZmap <-> IXC syncs: which IXC box stands for which OZmap box (or
splitter), and which OZmap property and client stand for which IXC login. The cursors (how
far the syncs have read OZmap) are :class:`~ngnserver.models.sync.SyncCursor` rows.

Read and written through :mod:`ngnserver.core.sync.ozmap_state`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, utcnow

BOX_SOURCES = ("box", "splitter", "building")
"""What an IXC box was made from: an OZmap box (its splitters' ports summed), one splitter of
a box (splitter-as-box mode), or one splitter of a condominium (a building or a horizontal
condominium)."""


class OzmapBoxLink(Base):
    """One IXC box (``rad_caixa_ftth`` row ``ixc_caixa_id``) and the OZmap object it stands
    for: the box (or building, or horizontal condominium) ``ozmap_box_id`` and, when the IXC
    box is one splitter of it, ``ozmap_splitter_id`` (NULL: the whole box). One link per
    (box, splitter) pair, one per IXC box. ``last_hash`` is the fingerprint
    (:func:`ngnserver.core.sync.fingerprint`) of the fields the sync last wrote to IXC for it
    (the same fingerprint again: nothing to write); ``removed`` once the OZmap object was
    deleted and the IXC box set inactive (status ``I``); ``name`` the ``descricao`` last
    written. Written only after the IXC write it records succeeded."""

    __tablename__ = "ozmap_box_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ozmap_box_id: Mapped[str] = mapped_column(String(64), nullable=False)
    ozmap_splitter_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="box")
    ixc_caixa_id: Mapped[str] = mapped_column(String(20), nullable=False)
    ozmap_project_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    removed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        CheckConstraint("source IN ('box', 'splitter', 'building')", name="source"),
        Index("uq_ozmap_box_links_caixa", "ixc_caixa_id", unique=True),
        Index("uq_ozmap_box_links_box_splitter", "ozmap_box_id", "ozmap_splitter_id", unique=True),
        # NULLs are distinct in a unique index: the whole box's link needs its own
        Index(
            "uq_ozmap_box_links_whole_box",
            "ozmap_box_id",
            unique=True,
            sqlite_where=ozmap_splitter_id.is_(None),
            postgresql_where=ozmap_splitter_id.is_(None),
        ),
        {"sqlite_autoincrement": True},
    )


class OzmapClientLink(Base):
    """One IXC login (``radusuarios`` row ``ixc_login_id``, its ``login`` being the OZmap
    client's ``code``) and the OZmap property and FTTH client that stand for it (NULL: none
    yet, or removed). ``to_ixc_hash`` fingerprints what OZmap -> IXC last wrote to the login
    (box, port, coordinates); ``to_ozmap_hash`` what IXC -> OZmap last wrote to OZmap;
    ``state`` holds what a direction keeps besides (``{"implanted": true, "status": 0}``...),
    each direction its own keys."""

    __tablename__ = "ozmap_client_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ixc_login_id: Mapped[str] = mapped_column(String(20), nullable=False)
    login: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    ozmap_property_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ozmap_client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_ixc_hash: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    to_ozmap_hash: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    state: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        Index("uq_ozmap_client_links_login", "ixc_login_id", unique=True),
        Index("ix_ozmap_client_links_property", "ozmap_property_id"),
        Index("ix_ozmap_client_links_client", "ozmap_client_id"),
        Index("ix_ozmap_client_links_code", "login"),
        {"sqlite_autoincrement": True},
    )
