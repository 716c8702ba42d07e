"""The sync run log: one row per run of a sync (IXC -> BQN, ...), with what it wrote, and one
row per object it could not write."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, utcnow

RUN_STATUSES = ("queued", "running", "ok", "errors", "failed", "interrupted", "skipped")
"""``queued``: a worker will start it; ``running``; ``ok``: every write made; ``errors``: it
ran to the end but some objects could not be written (``sync_run_errors``); ``failed``: it
stopped (a listing that kept failing, refused credentials, too many errors: ``message``);
``interrupted``: its process died (found by the next run); ``skipped``: another run of the
same sync was going, so this one did nothing."""


class SyncRun(Base):
    """One run of a sync: which sync, when, who started it (``started_by``: ``cli``,
    ``worker``, ``soap``), whether it only planned (``dry_run``), how it ended, and its
    counts, by object type and action (``{"subscriber": {"create": 12, "unchanged": 900}}``;
    in a dry run, the planned writes)."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sync_name: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    started_by: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    queued_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    counts: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    writes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'ok', 'errors', 'failed', 'interrupted', 'skipped')",
            name="status",
        ),
        Index("ix_sync_runs_sync_name_id", "sync_name", "id"),
        {"sqlite_autoincrement": True},
    )


class SyncRunError(Base):
    """An object a run could not write: its type and id at the target (``subscriber``
    ``100.64.0.7``), the write it tried and the answer it got."""

    __tablename__ = "sync_run_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="CASCADE"), nullable=False
    )
    object_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    object_key: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_sync_run_errors_run_id", "run_id"), {"sqlite_autoincrement": True})


class SyncCursor(Base):
    """Where an incremental sync stands in a source it reads by change time (OZmap's
    ``updatedAt``): ``name`` (``<sync>:<what>``, e.g. ``ozmap-ixc:boxes``), ``position`` (the
    change time, as the source wrote it, of the last object whose writes were all made; NULL:
    from the start), ``seen`` (the ids of the objects at exactly ``position`` already done:
    the next read asks ``>= position`` and skips them) and ``pending`` (ids of objects a write
    failed for, read again by id at the next run). Read and written only through
    :class:`ngnserver.core.sync.cursor.Cursor`."""

    __tablename__ = "sync_cursors"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seen: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    pending: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
