"""Assembly for background work: what a job handler gets as ``run.context`` (settings, the
database, the password sealer and the configured vendor adapters), the periodic sync runs
the worker queues itself, and the worker loop."""

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
    sync,
)
from ngnserver.core.sealing import PasswordSealer
from ngnserver.core.sync import ixc_bqn, ixc_ozmap, ozmap_ixc
from ngnserver.db import Database


@dataclass
class WorkerContext:
    settings: config.Settings
    sealer: PasswordSealer
    database: Database | None = None

    @cached_property
    def dsl(self) -> Any:
        return adapters.adapter_for("dsl", "ikano", self)

    @cached_property
    def servers(self) -> Any:
        return adapters.adapter_for("server", "dcimanager", self)


def sync_intervals(settings: config.Settings) -> dict[str, float | None]:
    """Seconds between the runs the worker queues, by sync (None: none). A sync runs
    periodically once it is configured, at its interval (5 minutes unless set; ``off``
    turns it off)."""
    configured = not ixc_bqn.missing_settings(settings)
    ozmap_configured = not ozmap_ixc.missing_settings(settings)
    ixc_ozmap_configured = not ixc_ozmap.missing_settings(settings)
    return {
        ixc_bqn.NAME: settings.sync_ixc_bqn_interval if configured else None,
        ozmap_ixc.NAME: settings.sync_ozmap_ixc_interval if ozmap_configured else None,
        ixc_ozmap.NAME: settings.sync_ixc_ozmap_interval if ixc_ozmap_configured else None,
    }


def make_worker(settings: config.Settings, database: Database, worker_id: str | None = None,
                context: WorkerContext | None = None) -> jobs.Worker:  # fmt: skip
    context = context or WorkerContext(settings, settings.sealer())
    if context.database is None:
        context.database = database
    intervals = sync_intervals(settings)
    periodic = (lambda: sync.schedule_due(database, intervals)) if any(intervals.values()) else None
    return jobs.Worker(
        database,
        context,
        worker_id=worker_id,
        lease_seconds=settings.worker_lease_seconds,
        backoff_base=settings.worker_backoff_seconds,
        periodic=periodic,
    )


def run_forever(worker: jobs.Worker, poll_seconds: float, once: bool) -> int:
    """Run until SIGTERM/SIGINT (the current job finishes first) or, with ``once``, until
    no job is due."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return worker.run_until(stop, poll_seconds, once)
