"""The sync engine: runs of a sync between two systems (IXC -> BQN, OZmap <-> IXC next), one
at a time per sync across processes and hosts, each recorded in the run log.

A sync (:class:`Sync`) has a ``name`` and two steps:

- :meth:`Sync.plan` reads both sides and returns the writes that would bring the target in
  line (:class:`Plan` of :class:`Write`), with counts of what it left alone (``unchanged``,
  ``skipped``) and why it skipped objects;
- :meth:`Sync.apply` makes one write.

:func:`execute` runs a sync: it takes the sync's lock (``Database.exclusive``: a PostgreSQL
advisory lock, a lock file beside the database on SQLite), so a second run started meanwhile
raises :class:`~ngnserver.db.AlreadyRunning` and does nothing; it records the run in
``sync_runs``; it plans, and (unless ``dry_run``) sends the writes stage after stage
(:attr:`Write.stage`: what others refer to is written first, deletions last), up to
``connections`` at once. A write that fails is recorded in ``sync_run_errors`` with the
object it concerns and the run goes on; a write that depends on a failed one is not sent.
:class:`SyncFailed`, from either step, stops the run (``failed``), and so do ``max_errors``
failed writes. The run's row shows its counts as each stage ends.

A sync that reads its source incrementally keeps cursors (:mod:`ngnserver.core.sync.cursor`):
the engine calls :meth:`Sync.settle` with the writes made and failed so far after each stage,
every :data:`SETTLE_EVERY` writes and when the run ends (not in a dry run), so the sync can
move its cursors over what is finished, and only that.

The worker starts runs itself: :func:`schedule_due` queues a job (kind ``sync``) for each sync
whose interval has passed since its last run, and :func:`queue` queues one on demand.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from queue import SimpleQueue
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ngnserver.core import jobs
from ngnserver.core.sync.cursor import Cursor, CursorWalk, WriteKey, fingerprint
from ngnserver.db import AlreadyRunning
from ngnserver.models.base import utcnow
from ngnserver.models.job import Job
from ngnserver.models.sync import SyncRun, SyncRunError

log = logging.getLogger("ngnserver.sync")

CREATE, UPDATE, DELETE = "create", "update", "delete"
UNCHANGED, SKIPPED, FAILED = "unchanged", "skipped", "failed"
ACTIONS = (CREATE, UPDATE, DELETE)

JOB_KIND = "sync"
RECORD_KIND = "sync_run"
ERRORS_KEPT = 10_000  # error rows written for one run at most; the count goes on
SETTLE_EVERY = 500  # writes ended between two calls of Sync.settle within a stage

__all__ = ["Cursor", "CursorWalk", "WriteKey", "fingerprint"]


class SyncFailed(Exception):
    """The run cannot go on: a listing that kept failing, refused credentials, a target that
    stopped answering. The message is one sentence for the operator."""


@dataclass(frozen=True)
class Write:
    """One write a run makes at the target: ``action`` (create, update, delete) of the object
    ``kind`` (``policy``, ``subscriber``...) whose id there is ``key``, with ``body``.
    Writes of a lower ``stage`` are all done before any of a higher one starts; ``needs``
    names (kind, key) of writes of earlier stages without which this one cannot succeed."""

    kind: str
    action: str
    key: str
    body: Mapping[str, Any] | None = None
    stage: int = 0
    needs: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.key}"


@dataclass
class Plan:
    """What a run would write, and the counts of the objects it leaves as they are
    (``counts[kind][UNCHANGED]``, ``counts[kind][SKIPPED]``)."""

    writes: list[Write] = field(default_factory=list)
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, write: Write) -> None:
        self.writes.append(write)

    def note(self, kind: str, outcome: str, n: int = 1) -> None:
        self.counts[kind][outcome] += n

    def planned(self) -> dict[str, Counter[str]]:
        """The counts with the planned writes added, by kind and action."""
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for kind, outcomes in self.counts.items():
            counts[kind].update(outcomes)
        for write in self.writes:
            counts[write.kind][write.action] += 1
        return counts


class Sync(ABC):
    """One sync between two systems. Subclasses set ``name`` (the run log's and the lock's)
    and ``kinds``, the object types it writes, in the order summaries show them."""

    name: str = ""
    kinds: tuple[str, ...] = ()
    write_connections: int | None = None
    """Writes sent at once when the caller does not say (None: the BQN's setting)."""

    def bind(self, database: Any) -> None:
        """The database the run is recorded in, given before :meth:`plan`: a sync that keeps
        state (links, cursors) keeps it there."""

    @abstractmethod
    def plan(self) -> Plan:
        """Read both sides and compute the writes; :class:`SyncFailed` if a side cannot be
        read completely."""

    @abstractmethod
    def apply(self, write: Write) -> None:
        """Make one write. Any exception fails this write only (it is recorded with its
        object); :class:`SyncFailed` stops the run."""

    def settle(self, done: AbstractSet[WriteKey], failed: AbstractSet[WriteKey]) -> None:
        """The writes made (``done``) and failed (``failed``, with those not sent because one
        they needed failed) so far in this run, every one since the run began (the engine's
        own sets, which only grow: read them, do not keep them): the place to
        save cursors (:meth:`CursorWalk.settled`). Called by the engine after each stage,
        every :data:`SETTLE_EVERY` writes, and once more when the run ends, whether it ended
        well or not (not in a dry run). An exception here fails the run."""

    def close(self) -> None:
        """Release the clients (connections)."""


@dataclass(frozen=True)
class ObjectError:
    kind: str
    key: str
    action: str
    message: str


@dataclass
class RunResult:
    """How a run ended: its row's id, status, counts by kind and outcome, the writes made,
    its errors (the first :data:`ERRORS_KEPT`), the writes it planned, how long it took,
    and how much of that went to reading both sides and planning (the rest is writing)."""

    run_id: int
    status: str
    counts: dict[str, Counter[str]]
    writes: int = 0
    errors: list[ObjectError] = field(default_factory=list)
    error_count: int = 0
    message: str = ""
    planned: list[Write] = field(default_factory=list)
    seconds: float = 0.0
    plan_seconds: float = 0.0


def lock_name(sync_name: str) -> str:
    return f"sync-{sync_name}"


def who() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


Progress = Callable[[int, int], None]
"""Called with (writes done, writes planned) as writes end, from the running thread."""


def execute(
    database: Any,
    sync: Sync,
    *,
    dry_run: bool = False,
    connections: int = 8,
    max_errors: int = 100,
    started_by: str = "cli",
    run_id: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run ``sync`` once (see the module docstring). ``run_id`` is a queued run's row; a new
    row is made otherwise. :class:`~ngnserver.db.AlreadyRunning` if another run of the same
    sync holds the lock (a queued row is then marked ``skipped``)."""
    if connections < 1:
        raise ValueError(f"a sync needs at least one write connection, not {connections}")
    try:
        with database.exclusive(lock_name(sync.name)):
            sync.bind(database)
            run_id = _start(database, sync.name, dry_run, started_by, run_id)
            return _Run(database, sync, run_id, dry_run, connections, max_errors, progress).go()
    except AlreadyRunning as exc:
        if run_id is not None:
            _skip(database, run_id, f"{exc}; this run did nothing")
        raise


def _start(database: Any, name: str, dry_run: bool, started_by: str, run_id: int | None) -> int:
    """The run's row, now running. Rows of this sync still ``running`` are left from a
    process that died (this one holds the lock): they become ``interrupted``."""
    now = utcnow()
    with database.transaction(write=True) as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.sync_name == name, SyncRun.status == "running")
            .values(status="interrupted", finished_at=now, message="the process running it stopped")
        )
        run = session.get(SyncRun, run_id) if run_id is not None else None
        if run is None:
            run = SyncRun(sync_name=name, dry_run=dry_run, started_by=started_by, queued_at=now)
            session.add(run)
        run.status, run.started_at = "running", now
        session.flush()
        return run.id


def _skip(database: Any, run_id: int, message: str) -> None:
    """A queued run that found another going (not the same run taken over by a second
    worker after the first one's lease ran out: that one is running)."""
    with database.transaction(write=True) as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "queued")
            .values(status="skipped", finished_at=utcnow(), message=message)
        )


def _close(
    database: Any,
    run_id: int,
    status: str,
    counts: Mapping[str, Mapping[str, int]],
    writes: int,
    error_count: int,
    message: str,
) -> None:
    with database.transaction(write=True) as session:
        run = session.get(SyncRun, run_id)
        if run is not None:
            run.status, run.finished_at, run.message = status, utcnow(), message[:2000]
            run.counts = _plain(counts)
            run.writes, run.error_count = writes, error_count


def _plain(counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {
        kind: {k: int(v) for k, v in sorted(c.items()) if v} for kind, c in sorted(counts.items())
    }


class _Run:
    """The state of one run while it goes."""

    def __init__(
        self,
        database: Any,
        sync: Sync,
        run_id: int,
        dry_run: bool,
        connections: int,
        max_errors: int,
        progress: Progress | None,
    ) -> None:
        self.database = database
        self.sync = sync
        self.run_id = run_id
        self.dry_run = dry_run
        self.connections = connections
        self.max_errors = max_errors
        self.progress = progress
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: list[ObjectError] = []
        self.error_count = 0
        self.unsaved: list[ObjectError] = []
        self.writes = 0
        self.failed: set[tuple[str, str]] = set()
        self.done: set[tuple[str, str]] = set()
        self.sending = False

    def go(self) -> RunResult:
        began = time.monotonic()
        status, message, planned = "ok", "", []
        planning = 0.0
        try:
            plan = self.sync.plan()
            planning = time.monotonic() - began
            planned = plan.writes
            if self.dry_run:
                self.counts = plan.planned()
            else:
                for kind, outcomes in plan.counts.items():
                    self.counts[kind].update(outcomes)
                self.sending = True
                self._send(plan.writes)
        except SyncFailed as exc:
            status, message = "failed", str(exc)
        except Exception as exc:
            log.exception("sync %s run %s crashed", self.sync.name, self.run_id)
            status, message = "failed", f"internal error: {type(exc).__name__}: {exc}"
        if self.sending:
            try:
                self._settle()
            except Exception as exc:
                log.exception("sync %s run %s could not settle", self.sync.name, self.run_id)
                if status != "failed":
                    status, message = "failed", f"cannot save where the run stands: {exc}"
        if status == "ok" and self.error_count:
            status = "errors"
            message = f"{self.error_count} objects could not be written"
        self._save_errors()
        _close(
            self.database, self.run_id, status, self.counts, self.writes, self.error_count, message
        )
        seconds = time.monotonic() - began
        log.info(
            "sync run ended",
            extra={
                "sync": self.sync.name,
                "run": self.run_id,
                "status": status,
                "writes": self.writes,
                "errors": self.error_count,
                "seconds": round(seconds, 1),
                "plan_seconds": round(planning, 1),
            },
        )
        return RunResult(
            self.run_id,
            status,
            self.counts,
            self.writes,
            self.errors,
            self.error_count,
            message,
            planned,
            seconds,
            planning,
        )

    def _send(self, writes: list[Write]) -> None:
        total, done = len(writes), 0
        stages: dict[int, list[Write]] = defaultdict(list)
        for write in writes:
            stages[write.stage].append(write)
        with ThreadPoolExecutor(
            self.connections, thread_name_prefix=f"sync-{self.sync.name}"
        ) as pool:
            for stage in sorted(stages):
                for write, error in self._stage(pool, stages[stage]):
                    done += 1
                    if error is None:
                        self.writes += 1
                        self.counts[write.kind][write.action] += 1
                        self.done.add((write.kind, write.key))
                    else:
                        self._failed(write, error)
                    if self.progress is not None:
                        self.progress(done, total)
                    if done % SETTLE_EVERY == 0:
                        self._settle()
                self._save_progress()
                self._settle()

    def _settle(self) -> None:
        self.sync.settle(self.done, self.failed)

    def _stage(
        self, pool: ThreadPoolExecutor, writes: list[Write]
    ) -> Iterator[tuple[Write, str | None]]:
        """Send the writes of one stage, at most ``connections`` (times 4, queued) at a time,
        yielding each with its error (None: done) as it ends."""
        pending: dict[Future[None], Write] = {}
        ended: SimpleQueue[Future[None]] = SimpleQueue()  # futures as they end, one by one
        waiting = iter(writes)
        window = self.connections * 4
        while True:
            for write in waiting:
                missing = next((need for need in write.needs if need in self.failed), None)
                if missing is not None:
                    yield (
                        write,
                        f"not sent: the {missing[0]} {missing[1]} it needs could not be written",
                    )
                    continue
                future = pool.submit(self.sync.apply, write)
                pending[future] = write
                future.add_done_callback(ended.put)
                if len(pending) >= window:
                    break
            if not pending:
                return
            future = ended.get()
            write = pending.pop(future)
            error = future.exception()
            if isinstance(error, SyncFailed):
                for other in pending:
                    other.cancel()
                raise error
            if error is not None and not isinstance(error, Exception):
                raise error
            yield write, None if error is None else (str(error) or type(error).__name__)

    def _failed(self, write: Write, message: str) -> None:
        self.failed.add((write.kind, write.key))
        self.counts[write.kind][FAILED] += 1
        self.error_count += 1
        error = ObjectError(write.kind, write.key, write.action, message)
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(error)
            self.unsaved.append(error)
        log.warning("sync %s: %s failed: %s", self.sync.name, write, message)
        if self.error_count >= self.max_errors:
            raise SyncFailed(
                f"stopped after {self.error_count} objects could not be written; the last: "
                f"{write}: {message}"
            )

    def _save_errors(self) -> None:
        if not self.unsaved:
            return
        with self.database.transaction(write=True) as session:
            session.add_all(
                SyncRunError(
                    run_id=self.run_id,
                    object_kind=e.kind,
                    object_key=e.key[:255],
                    action=e.action,
                    message=e.message[:2000],
                )
                for e in self.unsaved
            )
        self.unsaved = []

    def _save_progress(self) -> None:
        self._save_errors()
        with self.database.transaction(write=True) as session:
            run = session.get(SyncRun, self.run_id)
            if run is not None:
                run.counts, run.writes, run.error_count = (
                    _plain(self.counts),
                    self.writes,
                    self.error_count,
                )


# the run log


def runs(session: Session, name: str | None = None, limit: int = 20) -> list[SyncRun]:
    """The newest runs first, of one sync or of all."""
    stmt = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    if name:
        stmt = stmt.where(SyncRun.sync_name == name)
    return list(session.execute(stmt).scalars())


def run_errors(session: Session, run_id: int, limit: int = 1000) -> list[SyncRunError]:
    stmt = (
        select(SyncRunError)
        .where(SyncRunError.run_id == run_id)
        .order_by(SyncRunError.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


# runs as jobs

SyncFactory = Callable[[Any], Sync]
"""Builds a sync from the settings; raises ValueError (one sentence) when it is not
configured."""

_factories: dict[str, SyncFactory] = {}


def register(name: str) -> Callable[[SyncFactory], SyncFactory]:
    """Decorator: ``factory(settings) -> Sync`` builds the sync ``name``."""

    def add(factory: SyncFactory) -> SyncFactory:
        _factories[name] = factory
        return factory

    return add


def names() -> list[str]:
    return sorted(_factories)


def create(name: str, settings: Any) -> Sync:
    """The sync ``name`` built from the settings; LookupError for an unknown name, ValueError
    when it is not configured."""
    try:
        factory = _factories[name]
    except KeyError:
        raise LookupError(
            f"there is no sync named {name!r} (known: {', '.join(names()) or 'none'})"
        ) from None
    return factory(settings)


def queue(
    session: Session, name: str, dry_run: bool = False, started_by: str = "worker"
) -> SyncRun:
    """Queue a run for the worker, in the caller's transaction: its row (``queued``) and its
    job."""
    if name not in _factories:
        raise LookupError(f"there is no sync named {name!r}")
    run = SyncRun(sync_name=name, dry_run=dry_run, started_by=started_by, status="queued")
    session.add(run)
    session.flush()
    jobs.enqueue(
        session, JOB_KIND, RECORD_KIND, run.id, {"sync": name, "dry_run": dry_run}, max_attempts=1
    )
    return run


def schedule_due(database: Any, intervals: Mapping[str, float | None]) -> list[int]:
    """Queue a run of each sync whose interval (seconds; None: never) has passed since its
    last run started, unless one is queued already. Safe on several workers and hosts at
    once: one of them queues. Returns the ids of the queued runs."""
    queued = []
    for name, interval in intervals.items():
        if not interval or name not in _factories:
            continue
        try:
            with (
                database.exclusive(f"sync-schedule-{name}"),
                database.transaction(write=True) as session,
            ):
                if _due(session, name, interval):
                    queued.append(queue(session, name).id)
        except AlreadyRunning:
            continue  # another worker is deciding
    return queued


def _due(session: Session, name: str, interval: float) -> bool:
    waiting = session.execute(
        select(SyncRun.id).where(SyncRun.sync_name == name, SyncRun.status == "queued").limit(1)
    ).first()
    if waiting is not None:
        return False
    last = session.execute(
        select(SyncRun.started_at, SyncRun.queued_at)
        .where(SyncRun.sync_name == name, SyncRun.dry_run.is_(False))
        .order_by(SyncRun.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return True
    began = last.started_at or last.queued_at
    return began <= utcnow() - timedelta(seconds=interval)


def _job_failed(session: Session, job: Job, reason: str) -> None:
    run = session.get(SyncRun, job.record_id)
    if run is not None and run.status in ("queued", "running"):
        run.status, run.finished_at, run.message = "failed", utcnow(), reason[:2000]


@jobs.job_kind(JOB_KIND, on_failed=_job_failed)
def _run_job(run: jobs.JobRun) -> None:
    """A queued run, in the worker: ``run.context`` carries the settings and the database."""
    context = run.context
    settings = context.settings
    try:
        sync = create(run.data["sync"], settings)
    except (LookupError, ValueError) as exc:
        raise jobs.PermanentError(str(exc)) from None
    try:
        result = execute(
            context.database,
            sync,
            dry_run=bool(run.data.get("dry_run")),
            connections=sync.write_connections or settings.bqn.write_connections,
            max_errors=settings.sync_max_errors,
            started_by=f"worker {who()}",
            run_id=run.record_id,
        )
    except AlreadyRunning as exc:
        log.info("sync %s: %s; this run did nothing", run.data["sync"], exc)
        return
    finally:
        sync.close()
    if result.status == "failed":
        raise jobs.PermanentError(result.message)


def summary(counts: Mapping[str, Mapping[str, int]], kinds: Iterable[str] = ()) -> list[list[str]]:
    """The counts as table rows (kind, then each outcome), header first."""
    columns = [*ACTIONS, FAILED, UNCHANGED, SKIPPED]
    rows = [["object", *columns]]
    first = list(kinds)
    for kind in [*first, *sorted(k for k in counts if k not in first)]:
        outcomes = counts.get(kind, {})
        rows.append([kind, *(str(outcomes.get(column, 0)) for column in columns)])
    return rows
