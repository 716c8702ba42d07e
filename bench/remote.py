"""What the sync benchmarks share: a vendor simulator in a child process of its own, so that
its work does not share the sync's interpreter lock, and the figures of the sync's process.
Not a benchmark itself."""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from typing import Any

from ngnserver.core import sync

# builds a started-to-be simulator from the benchmark's options; returns it and the
# credentials its client needs
Build = Callable[..., tuple[Any, tuple[str, ...]]]


def _serve(connection: Any, build: Build, options: dict[str, Any]) -> None:
    """A simulator in this (child) process: sends its address and credentials, then answers
    each request with (calls, writes) until told ``stop``."""
    simulator, credentials = build(**options)
    with simulator:
        connection.send((simulator.url, *credentials))
        while connection.recv() != "stop":
            connection.send((simulator.count(), simulator.writes()))


class Remote:
    """A simulator in a child process; ``build`` must be a module-level function."""

    def __init__(self, build: Build, **options: Any) -> None:
        self.connection, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(child, build, options), daemon=True)
        self.process.start()
        self.url, *self.credentials = self.connection.recv()

    def counts(self) -> tuple[int, int]:
        """(calls, writes) the simulator has answered so far."""
        self.connection.send("counts")
        return self.connection.recv()

    def writes(self) -> int:
        return self.counts()[1]

    def stop(self) -> None:
        self.connection.send("stop")
        self.process.join(10)


def peak_mib() -> float:
    """Peak resident memory of this (the sync's) process."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this (the sync's) process, its threads included; not the simulators'."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def objects(result: sync.RunResult) -> int:
    """The objects a run dealt with, whatever their outcome."""
    return sum(n for outcomes in result.counts.values() for n in outcomes.values())
