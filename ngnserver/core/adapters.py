"""Vendor adapters: one small interface for a vendor-provisioned service, one implementation
per vendor, chosen by configuration (the idea of Freeside's exports).

Each hook runs inside a job (``core.jobs``) and receives the ``JobRun``: it calls the vendor,
records each completed step with ``run.done(...)`` in the same transaction as the record
change, and raises ``TransientError`` or ``PermanentError``. ``pull`` brings one record up to
date with the vendor, in the caller's transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

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
