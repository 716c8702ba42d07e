"""Durable vendor work: jobs written in the same transaction as the record that needs them,
and every attempt a worker made at each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, utcnow


class Job(Base):
    """A piece of vendor work for one record (order a DSL line, cancel it, ...). ``step``
    names the last step that completed and ``data`` what it learnt (the vendor's order id,
    ...), so a job interrupted by a crash resumes where it stopped. A running job holds a
    lease (``locked_until``); a worker that dies lets the lease expire and another worker
    takes the job over."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    record_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    step: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=8)
    next_run_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    locked_by: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_jobs_state_next_run_at", "state", "next_run_at"),
        Index("ix_jobs_record", "record_kind", "record_id"),
        {"sqlite_autoincrement": True},
    )


class JobAttempt(Base):
    """One try at a job: when, by which worker, and how it ended (``done``, ``retry`` with
    the transient error, ``failed`` with the permanent one, ``lost`` when the worker died)."""

    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    worker: Mapped[str] = mapped_column(String(128), nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    step: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (Index("ix_job_attempts_job_id", "job_id"), {"sqlite_autoincrement": True})
