"""SQLite's writers take turns: an OS file lock beside the database, taken before a write
transaction begins and given up when it ends, and the write-ahead log copied back now and
then outside any writer's turn.

SQLite lets one writer in at a time and makes the others wait in its busy handler, which
sleeps 1 to 100 ms between tries: under several gunicorn workers a waiting writer slept
through most of the time the lock was free, and the slowest requests waited far longer than
the work took. A blocked ``flock`` wakes the moment the holder gives it up (it measurably cut
the 99th percentile). Threads of one process share the open lock file, so they take turns on
a mutex first.

SQLite's own automatic checkpoint runs inside the commit that crosses its threshold, holding
every other writer for 7 to 14 ms; it is off (``PRAGMA wal_autocheckpoint=0``, set by db.py)
and a PASSIVE checkpoint runs every ``CHECKPOINT_EVERY`` writes of a process instead, after
its writer's turn is given up.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHECKPOINT_EVERY = 100  # writes per process; SQLite's default is about every 1000 WAL pages


class WriterTurns:
    """The turns of the writers of one SQLite database file, across processes."""

    def __init__(self, database_file: str) -> None:
        self.path = f"{database_file}-writer.lock"
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._writes = 0

    def _handle(self) -> int:
        """The lock file, opened once per process: flock belongs to an open file, which a
        forked worker would share with its parent, so a child opens its own."""
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def turn(self, driver_connection: Any) -> Iterator[None]:
        """Hold the writers' turn for the block (a write transaction, begun inside it and
        ended before it exits); checkpoint on ``driver_connection`` now and then after."""
        with self._threads:
            handle = self._handle()
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                self._writes += 1
                checkpoint = self._writes % CHECKPOINT_EVERY == 0
        if checkpoint:
            driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
