"""Vendor adapters: one small interface for a vendor-provisioned service, one implementation
per vendor, chosen by configuration (the idea of Freeside's exports).

Each hook runs inside a job (``core.jobs``) and receives the ``JobRun``: it calls the vendor,
records each completed step with ``run.done(...)`` in the same transaction as the record
change, and raises ``TransientError`` or ``PermanentError``. ``pull`` brings one record up to
date with the vendor, in the caller's transaction.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ngnserver.core import jobs
from ngnserver.core.jobs import JobRun


class ServiceAdapter(ABC):
    """The hooks a vendor implements for one kind of service."""

    @abstractmethod
    def insert(self, run: JobRun) -> None:
        """Order the service the record describes."""

    @abstractmethod
    def replace(self, run: JobRun) -> None:
        """Send a change of the record (``run.data`` says which) to the vendor."""

    @abstractmethod
    def delete(self, run: JobRun) -> None:
        """Cancel the service, now or at its expiry date."""

    @abstractmethod
    def suspend(self, run: JobRun) -> None: ...

    @abstractmethod
    def resume(self, run: JobRun) -> None: ...

    @abstractmethod
    def pull(self, session: Session, record: Any) -> None:
        """Bring the record up to date with what the vendor reports."""


Factory = Callable[[Any], ServiceAdapter]
_factories: dict[tuple[str, str], Factory] = {}


def register(area: str, vendor: str) -> Callable[[Factory], Factory]:
    """Decorator: ``factory(settings) -> ServiceAdapter`` serves ``area`` ("dsl") for
    ``vendor`` ("ikano")."""

    def add(factory: Factory) -> Factory:
        _factories[(area, vendor)] = factory
        return factory

    return add


def adapter_for(area: str, vendor: str, settings: Any) -> ServiceAdapter:
    try:
        factory = _factories[(area, vendor)]
    except KeyError:
        known = ", ".join(sorted(v for a, v in _factories if a == area)) or "none"
        raise LookupError(f"no {area} adapter named {vendor!r} (known: {known})") from None
    return factory(settings)


@dataclass
class PullReport:
    pulled: int = 0
    failed: int = 0
    skipped: int = 0


def pull_each(
    database: Any,
    model: Any,
    ids: Iterable[int],
    adapter: Any,
    label: str,
    keep: Callable[[Any], bool],
    skip: Callable[[Session, Any], bool],
) -> PullReport:
    """Bring each record of ``model`` with ``ids`` up to date with its vendor (``adapter.pull``),
    one at a time, each in its own write transaction with its row locked. A record gone, or
    that ``keep`` no longer wants pulled, is passed over; one ``skip`` says to leave alone is
    counted as skipped; a failing one is logged (``label``: the command) and the pull goes on."""
    log = logging.getLogger("ngnserver.jobs")
    report = PullReport()
    for record_id in ids:
        try:
            with database.transaction(write=True) as session:
                record = session.get(model, record_id, with_for_update=True)
                if record is None or not keep(record):
                    continue
                if skip(session, record):
                    report.skipped += 1
                    continue
                adapter.pull(session, record)
            report.pulled += 1
        except (jobs.TransientError, jobs.PermanentError) as exc:
            report.failed += 1
            log.warning("%s: record %s: %s", label, record_id, exc)
        except Exception:
            report.failed += 1
            log.exception("%s: record %s failed", label, record_id)
    return report
