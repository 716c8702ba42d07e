"""Assembly for background work: what a job handler gets as ``run.context`` (settings, the
password sealer and the configured vendor adapters), and the worker loop."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ngnserver import config
from ngnserver.core import (
    adapters,
    dsl_ikano,  # noqa: F401  (registers the Ikano adapter)
    jobs,
    servers_dcim,  # noqa: F401  (registers the DCImanager adapter)
)
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import Database


@dataclass
class WorkerContext:
    settings: config.Settings
    sealer: PasswordSealer

    @cached_property
    def dsl(self) -> Any:
        return adapters.adapter_for("dsl", "ikano", self)

    @cached_property
    def servers(self) -> Any:
        return adapters.adapter_for("server", "dcimanager", self)


def make_worker(settings: config.Settings, database: Database, worker_id: str | None = None,
                context: WorkerContext | None = None) -> jobs.Worker:  # fmt: skip
    return jobs.Worker(
        database,
        context or WorkerContext(settings, settings.sealer()),
        worker_id=worker_id,
        lease_seconds=settings.worker_lease_seconds,
        backoff_base=settings.worker_backoff_seconds,
    )


def run_forever(worker: jobs.Worker, poll_seconds: float, once: bool) -> int:
    """Run until SIGTERM/SIGINT (the current job finishes first) or, with ``once``, until
    no job is due."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return worker.run_until(stop, poll_seconds, once)
