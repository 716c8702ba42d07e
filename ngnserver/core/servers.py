"""Dedicated servers and colocation: packages and servers, provisioned from a pool of
physical machines through jobs.

A SOAP call never waits for DCImanager. Ordering, deleting, suspending, resuming,
rebooting, adding or deleting an address, changing the panel password and renaming write
the record and a job in one transaction and return at once; ``ngnserver worker`` runs the
job through the configured adapter (DCImanager, ``servers_dcim``) and the record's
``state`` tells the truth as the job progresses (``step`` while provisioning, ``failure``
when it failed).

Rules: packages are admin's. Servers belong to customers like every record (scope,
impersonation, owner), count against ``server_credit`` for as long as the record exists,
and only one job runs for a server at a time (another request meanwhile is refused with
10007). The panel and root passwords are sealed at rest and never written to the change
history or the logs.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ngnserver.core import adapters, audit, credits, jobs, ownership, records
from ngnserver.core.callers import Caller, Role
from ngnserver.core.credits import Holders
from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Credit
from ngnserver.core.queries import Query, fetch_page
from ngnserver.core.sealing import PasswordSealer
from ngnserver.models.base import utcnow
from ngnserver.models.job import Job
from ngnserver.models.server import ServerPackage, ServerService

log = logging.getLogger("ngnserver.servers")

RECORD_KIND = "server"
PACKAGE_KIND = "server_package"

PENDING, PROVISIONING, ACTIVE, SUSPENDED, FAILED, DELETING = (
    "pending", "provisioning", "active", "suspended", "failed", "deleting",
)  # fmt: skip
STATES = (PENDING, PROVISIONING, ACTIVE, SUSPENDED, FAILED, DELETING)
DEDICATED, COLOCATION = "dedicated", "colocation"
KINDS = (DEDICATED, COLOCATION)
FAMILIES = ("ipv4", "ipv6")
FREE_DOMAIN = "free.ds"  # the domain of a pool machine's addresses: never a customer's hostname
MIN_PASSWORD = 8
MAX_EXTRA_IPS = 64

_HOSTNAME = re.compile(r"^(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_PANEL_NAME = re.compile(r"[^A-Za-z0-9]")
PANEL_USERNAME_LENGTH = 16  # DCImanager's (BILLmanager's) limit


def panel_username(name: str) -> str:
    """The panel user name asked for, as DCImanager takes it: ASCII letters and digits only,
    at most 16 characters."""
    return _PANEL_NAME.sub("", name or "")[:PANEL_USERNAME_LENGTH]


class Servers:
    """Server operations for one request."""

    def __init__(self, session: Session, caller: Caller, sealer: PasswordSealer, settings: Any) -> None:
        self.session = session
        self.caller = caller
        self.sealer = sealer
        self.settings = settings

    def _configured(self) -> None:
        if not self.settings.dcim.url:
            raise NGNError(E.SERVERS_NOT_CONFIGURED, "This server has no DCImanager account configured (NGNSERVER_DCIM_URL).")

    # -- packages (admin) ------------------------------------------------------------------

    def _admin_only(self) -> None:
        if self.caller.role is not Role.ADMIN:
            raise NGNError(E.PERMISSION_DENIED, "Only admin manages server packages.")

    def add_package(self, fields: Mapping[str, Any]) -> ServerPackage:
        self._admin_only()
        package = ServerPackage()
        self._apply_package(package, fields, creating=True)
        self.session.add(package)
        records.flush_unique(self.session, E.SERVER_PACKAGE_EXISTS, f"Server package {package.name!r} already exists.")
        audit.record(self.session, self.caller, "create", PACKAGE_KIND, package.id, records.given(fields))
        return package

    def update_package(self, fields: Mapping[str, Any]) -> ServerPackage:
        self._admin_only()
        package = self.package(fields.get("id"))
        self._apply_package(package, fields, creating=False)
        records.flush_unique(self.session, E.SERVER_PACKAGE_EXISTS, f"Server package {package.name!r} already exists.")
        audit.record(self.session, self.caller, "update", PACKAGE_KIND, package.id, records.given(fields))
        return package

    @staticmethod
    def _apply_package(package: ServerPackage, fields: Mapping[str, Any], creating: bool) -> None:
        for name in ("name", "kind", "template", "os_template", "recipe"):
            value = fields.get(name)
            if value is not None:
                setattr(package, name, str(value).strip())
        for name in ("extra_ipv4", "extra_ipv6"):
            value = fields.get(name)
            if value is not None:
                if not 0 <= int(value) <= MAX_EXTRA_IPS:
                    raise NGNError(E.SERVER_INVALID_PACKAGE, f"{name} must be between 0 and {MAX_EXTRA_IPS}.")
                setattr(package, name, int(value))
            elif creating:
                setattr(package, name, 0)
        if creating and not package.kind:
            package.kind = DEDICATED
        package.os_template = package.os_template or ""
        package.recipe = package.recipe or ""
        if not package.name or not package.template:
            raise NGNError(E.SERVER_INVALID_PACKAGE, "A server package needs a name and a chassis template or server type.")
        if package.kind not in KINDS:
            raise NGNError(E.SERVER_INVALID_PACKAGE, f"kind must be dedicated or colocation, not {package.kind!r}.")
        if package.kind == DEDICATED and not package.os_template:
            raise NGNError(E.SERVER_INVALID_PACKAGE, "A dedicated server package needs an OS template.")

    def packages(self) -> list[ServerPackage]:
        return list(self.session.execute(select(ServerPackage).order_by(ServerPackage.name)).scalars())

    def package(self, package_id: int | None) -> ServerPackage:
        package = self.session.get(ServerPackage, package_id) if package_id else None
        if package is None:
            raise NGNError(E.SERVER_PACKAGE_NOT_FOUND, f"Server package {package_id} does not exist.")
        return package

    def delete_package(self, package_id: int | None) -> None:
        self._admin_only()
        package = self.package(package_id)
        used = self.session.execute(
            select(func.count()).select_from(ServerService).where(ServerService.package_id == package.id)
        ).scalar_one()
        if used:
            raise NGNError(E.SERVER_PACKAGE_IN_USE, f"Server package {package.name!r} is used by {used} servers.")
        self.session.delete(package)
        audit.record(self.session, self.caller, "delete", PACKAGE_KIND, package.id)

    # -- servers ---------------------------------------------------------------------------

    def service(self, service_id: int | None, lock: bool = False) -> ServerService:
        return records.in_scope(
            self.session, self.caller, ServerService, ServerService.id == (service_id or 0),
            missing=(E.SERVER_NOT_FOUND, f"Server {service_id} does not exist."), lock=lock,
        )  # fmt: skip

    def add_server(self, fields: Mapping[str, Any]) -> ServerService:
        """Validate, charge the credit, store the server as ``pending`` and queue its setup."""
        self._configured()
        records.require_active_reseller(self.caller)
        package = self.package(fields.get("package_id"))
        hostname = _hostname(fields.get("hostname"))
        username = panel_username(fields.get("panel_username") or "")
        if not username:
            raise NGNError(E.SERVER_INVALID, "A server needs a panel user name (letters and digits).")
        panel_password = _password(fields.get("panel_password"), "panelPassword")
        root_password = _password(fields.get("root_password"), "rootPassword") if package.kind == DEDICATED else ""
        customer, reseller = records.placement(self.session, self.caller, fields.get("customer"), None)
        owner = records.owner_for(self.session, self.caller, fields.get("owner"), reseller)
        credits.charge(self.session, Credit.SERVER, Holders.of(reseller, customer, owner),
                       limited=records.limited(self.caller))  # fmt: skip
        service = ServerService(
            customer=customer, reseller=reseller, owner=owner, package_id=package.id, hostname=hostname,
            state=PENDING, panel_username=username, panel_password_sealed=self.sealer.seal(panel_password),
            root_password_sealed=self.sealer.seal(root_password), progress=[], ips=[], welcome={},
        )  # fmt: skip
        self.session.add(service)
        self.session.flush()
        jobs.enqueue(self.session, "server.insert", RECORD_KIND, service.id,
                     max_attempts=self.settings.worker_max_attempts)  # fmt: skip
        audit.record(self.session, self.caller, "create", RECORD_KIND, service.id, records.given(fields))
        return service

    def servers(self, query: Query) -> tuple[int, list[ServerService]]:
        total, rows = fetch_page(
            self.session, select(ServerService), records.visible(self.caller, ServerService), query,
            (ServerService.id, "ASC"), ServerService.id, self.settings.query_max_rows,
        )  # fmt: skip
        return total, [r[0] for r in rows]

    def update_server(self, fields: Mapping[str, Any]) -> None:
        """``owner`` changes at once (its credit moves with it); a new hostname goes to
        DCImanager through a job."""
        service = self.service(fields.get("id"), lock=True)
        if fields.get("owner") is not None and int(fields["owner"] or 0) != service.owner:
            owner = records.owner_for(self.session, self.caller, fields.get("owner"), service.reseller)
            credits.move(
                self.session, Credit.SERVER, Holders.of(service.reseller, service.customer, service.owner),
                Holders.of(service.reseller, service.customer, owner), limited=records.limited(self.caller),
            )  # fmt: skip
            service.owner = owner
        hostname = fields.get("hostname")
        if hostname and _hostname(hostname) != service.hostname:
            self._job(service, "server.replace", {"action": "hostname", "hostname": _hostname(hostname)})
        service.change_date = utcnow()
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, records.given(fields))

    def delete_server(self, service_id: int | None) -> str:
        """An active or suspended server goes back to the pool through a job ("deleting");
        a failed one is removed at once ("removed"): its machine stays disabled in
        DCImanager, with the reason in its notes, for the operator to look at."""
        service = self.service(service_id, lock=True)
        self._no_open_job(service)
        if service.state == FAILED:
            remove(self.session, service)
            audit.record(self.session, self.caller, "delete", RECORD_KIND, service.id)
            return "removed"
        if service.state not in (ACTIVE, SUSPENDED):
            raise NGNError(E.SERVER_INVALID_STATE, f"Server {service.id} is {service.state}; it cannot be deleted now.")
        self._configured()
        jobs.enqueue(self.session, "server.delete", RECORD_KIND, service.id, {"was": service.state},
                     max_attempts=self.settings.worker_max_attempts)  # fmt: skip
        service.state, service.change_date = DELETING, utcnow()
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, {"state": DELETING})
        return "deleting"

    def suspend_server(self, service_id: int | None, suspend: bool) -> None:
        service = self.service(service_id, lock=True)
        if service.state != (ACTIVE if suspend else SUSPENDED):
            raise NGNError(E.SERVER_INVALID_STATE, f"Server {service.id} is {service.state}; it cannot be "
                           f"{'suspended' if suspend else 'resumed'}.")  # fmt: skip
        self._job(service, "server.suspend" if suspend else "server.resume", {})
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, {"suspend": suspend})

    def reboot_server(self, service_id: int | None) -> None:
        service = self._live(service_id, (ACTIVE,))
        self._job(service, "server.replace", {"action": "reboot"})
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, {"reboot": True})

    def add_ip(self, service_id: int | None, family: str | None) -> None:
        family = (family or "ipv4").strip().lower()
        if family not in FAMILIES:
            raise NGNError(E.SERVER_INVALID, f"family must be ipv4 or ipv6, not {family!r}.")
        service = self._live(service_id, (ACTIVE, SUSPENDED))
        self._job(service, "server.replace", {"action": "add_ip", "family": family})
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, {"add_ip": family})

    def delete_ip(self, service_id: int | None, address: str | None) -> None:
        service = self._live(service_id, (ACTIVE, SUSPENDED))
        address = (address or "").strip()
        if not address or address not in service.ips or address == service.main_ip:
            raise NGNError(E.SERVER_IP_NOT_FOUND, f"Server {service.id} has no extra address {address!r}.")
        self._job(service, "server.replace", {"action": "delete_ip", "ip": address})
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, {"delete_ip": address})

    def change_password(self, service_id: int | None, password: str | None) -> None:
        """The panel password (the OS root password changes only by a reinstall)."""
        service = self._live(service_id, (ACTIVE, SUSPENDED))
        sealed = self.sealer.seal(_password(password, "password"))
        self._job(service, "server.replace", {"action": "password", "password": base64.b64encode(sealed).decode()})
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, {"panel_password": True})

    # -- helpers ---------------------------------------------------------------------------

    def _live(self, service_id: int | None, states: tuple[str, ...]) -> ServerService:
        service = self.service(service_id, lock=True)
        if service.state not in states:
            raise NGNError(E.SERVER_INVALID_STATE, f"Server {service.id} is {service.state}; "
                           f"this needs it {' or '.join(states)}.")  # fmt: skip
        return service

    def _no_open_job(self, service: ServerService) -> None:
        if has_open_job(self.session, service.id):
            raise NGNError(E.SERVER_INVALID_STATE, f"Server {service.id} has DCImanager work in progress; try again later.")

    def _job(self, service: ServerService, kind: str, data: dict[str, Any]) -> None:
        self._configured()
        self._no_open_job(service)
        jobs.enqueue(self.session, kind, RECORD_KIND, service.id, data, max_attempts=self.settings.worker_max_attempts)
        service.change_date = utcnow()



def has_open_job(session: Session, service_id: int) -> bool:
    """Whether DCImanager work for the server is queued or running."""
    return session.execute(
        select(Job.id).where(
            Job.record_kind == RECORD_KIND, Job.record_id == service_id, Job.state.in_((jobs.QUEUED, jobs.RUNNING))
        )
    ).first() is not None


PULL_LOCK = "pull-servers"  # Database.exclusive: one pull at a time, across processes and hosts


def pull_all(database: Any, adapter: Any) -> adapters.PullReport:
    """Bring the addresses of every provisioned server (``active`` or ``suspended``) up to
    date with DCImanager, one at a time, each in its own transaction; a failing server is
    logged and the pull goes on. A server with a job queued or running is skipped: that job
    owns its record until it ends."""
    with database.transaction(write=False) as session:
        ids = list(session.execute(
            select(ServerService.id).where(ServerService.state.in_((ACTIVE, SUSPENDED)), ServerService.dcim_server_id != "")
            .order_by(ServerService.id)
        ).scalars())  # fmt: skip
    return adapters.pull_each(
        database, ServerService, ids, adapter, "pull-servers",
        keep=lambda service: service.state in (ACTIVE, SUSPENDED),
        skip=lambda session, service: has_open_job(session, service.id),
    )  # fmt: skip


def remove(session: Session, service: ServerService) -> None:
    """The record goes (its machine is back in the pool, or left to the operator), and with
    it its credit and its claim on the machine."""
    release_credit(session, service)
    session.delete(service)


def release_credit(session: Session, service: ServerService) -> None:
    credits.release(session, Credit.SERVER, Holders.of(service.reseller, service.customer, service.owner))


def _hostname(value: Any) -> str:
    hostname = str(value or "").strip().lower().rstrip(".")
    if not _HOSTNAME.match(hostname) or hostname == FREE_DOMAIN:
        raise NGNError(E.SERVER_INVALID, f"{value!r} is not a valid hostname (a domain name such as srv1.example.com).")
    return hostname


def _password(value: Any, name: str) -> str:
    password = str(value or "")
    if len(password) < MIN_PASSWORD or not password.isprintable():
        raise NGNError(E.SERVER_INVALID, f"{name} must be at least {MIN_PASSWORD} printable characters.")
    return password


def mark_failed(session: Session, job: Job, message: str) -> None:
    """A server job failed for good. A failed setup makes the server ``failed`` with the
    reason (the worker's ``compensate`` has already made the machine safe); another job
    leaves the server as it was, with the reason in ``failure``."""
    service = session.get(ServerService, job.record_id)
    if service is None:
        return
    if job.kind == "server.insert":
        service.state = FAILED
    else:
        service.state = (job.data or {}).get("was", service.state) if service.state == DELETING else service.state
        message = f"{job.kind.partition('.')[2]}: {message}"
    service.failure = message
    service.change_date = utcnow()


ownership.count_records(ServerService, "server", "servers")
credits.counts(Credit.SERVER, ServerService)


def _adapter_hook(name: str):  # type: ignore[no-untyped-def]
    def run(job: jobs.JobRun) -> None:
        getattr(job.context.servers, name)(job)

    return run


def _compensate(job: jobs.JobRun, reason: str) -> None:
    try:
        adapter = job.context.servers
    except jobs.PermanentError:
        return  # DCImanager is not configured on this worker: nothing was done there to undo
    adapter.compensate(job, reason)


jobs.job_kind("server.insert", mark_failed, _compensate)(_adapter_hook("insert"))
for _kind, _hook in (("server.replace", "replace"), ("server.delete", "delete"), ("server.suspend", "suspend"),
                     ("server.resume", "resume")):  # fmt: skip
    jobs.job_kind(_kind, mark_failed)(_adapter_hook(_hook))
