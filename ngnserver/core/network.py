"""Server status and record statistics, and the syncs' runs started and listed by admin
(NetworkPort)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ngnserver import __version__
from ngnserver.core import records, sync
from ngnserver.core.callers import Caller, Role
from ngnserver.core.errors import E, NGNError
from ngnserver.core.queries import Query, fetch_page
from ngnserver.core.sync import ixc_bqn, ixc_ozmap, ozmap_ixc  # noqa: F401  (register the syncs)
from ngnserver.models import Customer
from ngnserver.models.dns import DnsRecord, DnsZone
from ngnserver.models.enum import EnumNumber, EnumRange
from ngnserver.models.sip import SipAccount, SipAlias, SipDomain
from ngnserver.models.sync import SyncRun

STARTED = time.time()

# statistic name -> (table, extra condition)
KINDS: dict[str, tuple[Any, Any]] = {
    "sipDomains": (SipDomain, None),
    "sipAccounts": (SipAccount, None),
    "sipAliases": (SipAlias, None),
    "enumRanges": (EnumRange, None),
    "enumNumbers": (EnumNumber, None),
    "dnsZones": (DnsZone, None),
    "dnsRecords": (DnsRecord, DnsRecord.fancy.is_(False)),
    "emailForwards": (DnsRecord, DnsRecord.fancy.is_(True) & (DnsRecord.type == "MBOXFW")),
    "urlRedirects": (DnsRecord, DnsRecord.fancy.is_(True) & (DnsRecord.type == "URL")),
}


@dataclass(frozen=True)
class Status:
    version: str
    uptime: int
    database: str
    backend: str


def status(session: Session, backend: str) -> Status:
    """The server's status; ``backend``: the kind of database it runs on."""
    session.execute(select(1))
    return Status(version=__version__, uptime=int(time.time() - STARTED), database="ok", backend=backend)


def _customer_scope(caller: Caller) -> list[Any]:
    if caller.role is Role.ADMIN:
        return []
    if caller.role is Role.RESELLER:
        return [Customer.reseller == caller.reseller_id]
    return [Customer.id == caller.customer_id]


def statistics(session: Session, caller: Caller) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """(totals in the caller's scope, per reseller for admin). One grouped count per kind."""
    per_reseller: dict[int, dict[str, int]] = {}
    totals: dict[str, int] = {}
    customers = session.execute(
        select(Customer.reseller, func.count(), func.sum(case((Customer.id == Customer.reseller, 1), else_=0)))
        .where(*_customer_scope(caller))
        .group_by(Customer.reseller)
    ).all()
    totals["customers"] = sum(n for _, n, _ in customers)
    totals["resellers"] = sum(r or 0 for _, _, r in customers)
    for reseller, n, _ in customers:
        per_reseller.setdefault(reseller, {})["customers"] = n
    for name, (model, condition) in KINDS.items():
        where = records.visible(caller, model) + ([condition] if condition is not None else [])
        rows = session.execute(select(model.reseller, func.count()).where(*where).group_by(model.reseller)).all()
        totals[name] = sum(n for _, n in rows)
        for reseller, n in rows:
            per_reseller.setdefault(reseller, {})[name] = n
    if caller.role is not Role.ADMIN:
        per_reseller = {}
    return totals, per_reseller


def accounts_per_domain(session: Session, caller: Caller) -> dict[str, int]:
    """SIP accounts per domain, in the caller's scope."""
    rows = session.execute(
        select(SipAccount.domain, func.count())
        .where(*records.visible(caller, SipAccount))
        .group_by(SipAccount.domain)
        .order_by(SipAccount.domain)
    ).all()
    return {domain: n for domain, n in rows}


def _admin_only(caller: Caller, what: str) -> None:
    if not caller.is_admin:
        raise NGNError(E.PERMISSION_DENIED, f"Only admin {what}.")


def start_sync(session: Session, caller: Caller, settings: Any, name: str | None, dry_run: bool) -> int:
    """Queue a run of the sync ``name`` for the worker and return its id. A run of it already
    waiting (with the same ``dry_run``) is not queued twice: its id is returned. The sync must
    be configured here (the worker reads the same settings)."""
    _admin_only(caller, "starts syncs")
    name = (name or "").strip()
    if not name:
        raise NGNError(E.MISSING_PARAMETER, f"startSync needs the name of a sync: one of {', '.join(sync.names())}.")
    if name not in sync.names():
        raise NGNError(E.SYNC_NOT_FOUND, f"There is no sync named {name[:64]!r}; known: {', '.join(sync.names())}.")
    try:
        sync.create(name, settings).close()  # builds its clients only: nothing is sent
    except ValueError as exc:
        raise NGNError(E.SYNC_NOT_CONFIGURED, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
    waiting = session.execute(
        select(SyncRun.id)
        .where(SyncRun.sync_name == name, SyncRun.status == "queued", SyncRun.dry_run.is_(dry_run))
        .order_by(SyncRun.id)
        .limit(1)
    ).scalar()
    if waiting is not None:
        return waiting
    return sync.queue(session, name, dry_run, f"soap {caller.describe()}"[:128]).id


def sync_runs(session: Session, caller: Caller, query: Query, max_rows: int) -> tuple[int, list[SyncRun]]:
    """(total matches, the page of runs) of every sync, newest first unless ordered."""
    _admin_only(caller, "reads the sync runs")
    total, rows = fetch_page(session, select(SyncRun), [], query, (SyncRun.id, "DESC"), SyncRun.id, max_rows)
    return total, [row[0] for row in rows]
