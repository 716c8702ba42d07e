"""Durable jobs: vendor work that outlives requests and crashes.

A job is written in the same transaction as the record that needs it, so nothing
acknowledged is lost. ``ngnserver worker`` claims due jobs (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so workers on several hosts share one queue; SQLite runs one worker), runs
them, and records every attempt:

- a ``TransientError`` (timeout, connection error, HTTP 5xx, garbled answer) is retried
  with exponential backoff until ``max_attempts``;
- a ``PermanentError`` (the vendor said no, with a message) stops the job at once, and the
  job kind's ``on_failed`` puts the message on the record;
- a worker that dies mid-job leaves its lease to expire; the next worker takes the job over
  and the handler resumes after the last step it recorded (``JobRun.done``), so a step
  that already reached the vendor is not repeated;
- a ``Wait`` (the vendor is still busy: a server powering on, an OS installing) puts the
  job back in the queue for later without using up an attempt: a long vendor operation
  holds no worker while it runs, so a hundred installs at once need no hundred workers;
- a job kind may have a ``compensate`` hook, which the worker calls outside any
  transaction when the job fails for good, to undo at the vendor what the job left half
  done (a dedicated server returned to a safe state) before ``on_failed`` marks the record.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ngnserver.models.base import utcnow
from ngnserver.models.job import Job, JobAttempt

log = logging.getLogger("ngnserver.jobs")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class TransientError(Exception):
    """Worth trying again later."""


class PermanentError(Exception):
    """Trying again will not help; the message is for the operator and the customer."""


class Wait(Exception):
    """The vendor is still working: run the job again in ``seconds``. Not a failure: the
    attempt does not count against ``max_attempts``."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"waiting {seconds} s")
        self.seconds = seconds


@dataclass
class JobKind:
    """How to run one kind of job, and what to do to its record when it fails for good."""

    run: Callable[[JobRun], None]
    on_failed: Callable[[Session, Job, str], None]
    compensate: Callable[[JobRun, str], None] | None = None


_kinds: dict[str, JobKind] = {}


def job_kind(name: str, on_failed: Callable[[Session, Job, str], None],
             compensate: Callable[[JobRun, str], None] | None = None,
             ) -> Callable[[Callable[[JobRun], None]], Callable[[JobRun], None]]:  # fmt: skip
    """Decorator registering the function that runs jobs of kind ``name``; ``compensate(run,
    reason)`` (vendor calls, no transaction of the worker's open) runs when the job fails
    for good, before ``on_failed(session, job, reason)``."""

    def register(run: Callable[[JobRun], None]) -> Callable[[JobRun], None]:
        _kinds[name] = JobKind(run, on_failed, compensate)
        return run

    return register


def enqueue(session: Session, kind: str, record_kind: str, record_id: int, data: dict[str, Any] | None = None,
            max_attempts: int = 8) -> Job:  # fmt: skip
    """Add a job in the caller's transaction (it exists exactly when the record does)."""
    if kind not in _kinds:
        raise ValueError(f"no job kind {kind!r}")
    job = Job(kind=kind, record_kind=record_kind, record_id=record_id, data=dict(data or {}),
              max_attempts=max_attempts, next_run_at=utcnow())  # fmt: skip
    session.add(job)
    return job


@dataclass
class JobRun:
    """What a job handler works with: the job's identity, what earlier steps recorded, a
    way to open transactions, and ``context`` (the worker's settings and vendor clients)."""

    job_id: int
    kind: str
    record_id: int
    step: str
    data: dict[str, Any]
    transaction: Callable[[], Any]
    context: Any
    lease: timedelta | None = None  # renewed with every step recorded: a long job keeps its worker

    def has_done(self, step: str) -> bool:
        return step in self.data.get("_steps", [])

    def forget(self, session: Session, step: str) -> None:
        """Record that ``step`` turned out not to have happened after all."""
        self._save(session, [s for s in self.data.get("_steps", []) if s != step], {})

    def done(self, session: Session, step: str, **data: Any) -> None:
        """Record, in the handler's own transaction, that ``step`` completed and what it
        learnt: the record change and the job's progress commit together."""
        self._save(session, [*self.data.get("_steps", []), step], data)

    def note(self, session: Session, **data: Any) -> None:
        """Record what the job learnt or is about to do, without completing a step (a
        deadline, "the install request is going out")."""
        self._save(session, list(self.data.get("_steps", [])), data)

    def _save(self, session: Session, steps: list[str], data: dict[str, Any]) -> None:
        job = session.get(Job, self.job_id)
        assert job is not None
        self.data = {**self.data, **data, "_steps": steps}
        job.data = dict(self.data)
        job.step = steps[-1] if steps else ""
        job.updated_at = utcnow()
        if self.lease is not None and job.locked_until is not None:
            job.locked_until = utcnow() + self.lease


def precise_now() -> datetime:
    """Now in UTC with its microseconds: a wait of less than a second (the tests' polls)
    is due when it says, not at the next whole second."""
    return datetime.now(UTC).replace(tzinfo=None)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry number ``attempt`` (1-based): base * 2^(attempt-1), capped,
    with up to 10% jitter so that a vendor outage does not end in a thundering herd."""
    return min(cap, base * 2 ** (attempt - 1)) * (1 + random.random() * 0.1)


class Worker:
    """Claims and runs due jobs until stopped."""

    def __init__(self, database: Any, context: Any, worker_id: str | None = None, lease_seconds: float = 300,
                 backoff_base: float = 5, backoff_cap: float = 3600,
                 periodic: Callable[[], object] | None = None, periodic_seconds: float = 5.0) -> None:  # fmt: skip
        self.database = database
        self.context = context
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = timedelta(seconds=lease_seconds)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        # queues the periodic work (sync runs) that is due; called every periodic_seconds
        self.periodic = periodic
        self.periodic_seconds = periodic_seconds
        self._periodic_at = 0.0

    def tick(self) -> None:
        """Queue the periodic work that is due, if ``periodic_seconds`` passed since the last
        look. A failure is logged: the queue keeps being served."""
        if self.periodic is None or time.monotonic() - self._periodic_at < self.periodic_seconds:
            return
        self._periodic_at = time.monotonic()
        try:
            self.periodic()
        except Exception:
            log.exception("queueing the periodic jobs failed")

    def claim(self) -> tuple[Job, JobAttempt] | None:
        """Take the next due job (its lease free or expired), in one short transaction."""
        now = utcnow()
        with self.database.transaction(write=True) as session:
            stmt = (
                select(Job)
                .where(Job.state.in_((QUEUED, RUNNING)), Job.next_run_at <= precise_now())
                .where((Job.locked_until.is_(None)) | (Job.locked_until < now))
                .order_by(Job.next_run_at, Job.id)
                .limit(1)
            )
            if not self.database.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            job = session.execute(stmt).scalar_one_or_none()
            if job is None:
                return None
            if job.state == RUNNING:
                # its worker died: say so on the attempt it left open
                for lost in session.execute(
                    select(JobAttempt).where(JobAttempt.job_id == job.id, JobAttempt.outcome == "running")
                ).scalars():
                    lost.outcome, lost.finished_at = "lost", now
                    lost.error = "the worker stopped before finishing (lease expired)"
            job.state, job.locked_by, job.locked_until = RUNNING, self.worker_id, now + self.lease
            job.attempts += 1
            job.updated_at = now
            attempt = JobAttempt(job_id=job.id, worker=self.worker_id, step=job.step)
            session.add(attempt)
            session.flush()
            session.expunge(job)
            session.expunge(attempt)
            return job, attempt

    def run_one(self) -> bool:
        """Run one due job; False when there was none."""
        claimed = self.claim()
        if claimed is None:
            return False
        job, attempt = claimed
        kind = _kinds.get(job.kind)
        run = JobRun(job.id, job.kind, job.record_id, job.step, dict(job.data or {}), self._transaction, self.context,
                     self.lease)  # fmt: skip
        try:
            if kind is None:
                raise PermanentError(f"this server does not know jobs of kind {job.kind!r}")
            kind.run(run)
        except Wait as exc:
            self._wait(job, attempt, exc)
        except TransientError as exc:
            error = str(exc) or type(exc).__name__
            self._compensate(kind, run, job, error, permanent=False)
            self._finish(job, attempt, error, permanent=False)
        except PermanentError as exc:
            self._compensate(kind, run, job, str(exc), permanent=True)
            self._finish(job, attempt, str(exc), permanent=True)
        except Exception as exc:
            log.exception("job %s (%s) crashed", job.id, job.kind)
            error = f"internal error: {type(exc).__name__}"
            self._compensate(kind, run, job, error, permanent=False)
            self._finish(job, attempt, error, permanent=False)
        else:
            self._finish(job, attempt, "", permanent=False, done=True)
        return True

    def _compensate(self, kind: JobKind | None, run: JobRun, job: Job, error: str, permanent: bool) -> None:
        """A job failing for good (permanently, or on its last attempt) first undoes at the
        vendor what it can; a failure of that is logged, and the job still fails."""
        if kind is None or kind.compensate is None or not (permanent or job.attempts >= job.max_attempts):
            return
        reason = error if permanent else f"gave up after {job.attempts} attempts: {error}"
        try:
            kind.compensate(run, reason)
        except Exception:
            log.exception("job %s (%s): undoing its work at the vendor failed", job.id, job.kind)

    def _wait(self, claimed: Job, attempt: JobAttempt, wait: Wait) -> None:
        now = utcnow()
        with self.database.transaction(write=True) as session:
            job = session.get(Job, claimed.id)
            row = session.get(JobAttempt, attempt.id)
            assert job is not None and row is not None
            row.finished_at, row.step, row.outcome, row.error = now, job.step, "wait", str(wait)
            job.state, job.locked_by, job.locked_until, job.updated_at = QUEUED, "", None, now
            job.attempts = max(0, job.attempts - 1)  # waiting is not a failed try
            job.next_run_at = precise_now() + timedelta(seconds=wait.seconds)

    def _transaction(self) -> Any:
        return self.database.transaction(write=True)

    def _finish(self, claimed: Job, attempt: JobAttempt, error: str, permanent: bool, done: bool = False) -> None:
        now = utcnow()
        with self.database.transaction(write=True) as session:
            job = session.get(Job, claimed.id)
            row = session.get(JobAttempt, attempt.id)
            assert job is not None and row is not None
            row.finished_at, row.step = now, job.step
            job.locked_by, job.locked_until, job.updated_at = "", None, now
            if done:
                job.state, row.outcome, job.last_error = DONE, "done", ""
                log.info("job done", extra={"job": job.id, "kind": job.kind, "attempt": job.attempts})
                return
            row.error = job.last_error = error
            if permanent or job.attempts >= job.max_attempts:
                job.state, row.outcome = FAILED, "failed"
                reason = error if permanent else f"gave up after {job.attempts} attempts: {error}"
                log.warning("job failed", extra={"job": job.id, "kind": job.kind, "error": reason})
                kind = _kinds.get(job.kind)
                if kind is not None:
                    kind.on_failed(session, job, reason)
                return
            delay = backoff(job.attempts, self.backoff_base, self.backoff_cap)
            job.state, row.outcome = QUEUED, "retry"
            job.next_run_at = now + timedelta(seconds=delay)
            log.info("job will retry", extra={"job": job.id, "kind": job.kind, "in_seconds": round(delay, 1),
                                              "error": error})  # fmt: skip

    def run_until(self, stop: threading.Event, poll_seconds: float = 1.0, once: bool = False) -> int:
        """Run jobs until ``stop`` is set (or, with ``once``, until none is due). Returns how
        many ran."""
        ran = 0
        while not stop.is_set():
            self.tick()
            if self.run_one():
                ran += 1
                continue
            if once:
                break
            stop.wait(poll_seconds)
        return ran


def retry(session: Session, job_id: int) -> Job:
    """Put a failed (or waiting) job back in the queue to run now, with fresh attempts."""
    job = session.get(Job, job_id)
    if job is None:
        raise LookupError(f"there is no job {job_id}")
    if job.state == RUNNING and job.locked_until and job.locked_until > utcnow():
        raise LookupError(f"job {job_id} is running now (worker {job.locked_by})")
    job.state, job.next_run_at, job.attempts, job.locked_until = QUEUED, utcnow(), 0, None
    job.updated_at = utcnow()
    return job
