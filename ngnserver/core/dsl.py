"""DSL: packages, qualifications and services, ordered from the vendor through jobs.

A SOAP call never waits for the vendor. Qualifying an address, ordering, cancelling,
changing a password, suspending and resuming each write the record and a job in one
transaction and return at once; ``ngnserver worker`` runs the job through the configured
adapter (Ikano) and the record's ``state`` tells the truth as the job progresses.

Rules (vendors.md 1.5, after Freeside): a service is ordered from a qualification with
status ``Q`` for a package whose vendor id was offered there; it needs a desired due date,
first and last names, and a loop type (``0``: dry loop, no phone number; ``LS``: line-share,
with one). Non-admin callers need the ``qualify_service`` right (on their own account or on
their reseller's) to qualify. Services belong to customers like any record and count
against ``dsl_credit``. In import mode only addService with an existing vendor order id is
allowed: "Invalid operation - Import Mode is enabled".
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ngnserver.core import adapters, audit, credits, jobs, ownership, records
from ngnserver.core.callers import Caller, Role
from ngnserver.core.credits import Holders
from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Credit, Right
from ngnserver.core.queries import Query, fetch_page
from ngnserver.core.sealing import PasswordSealer
from ngnserver.models import CustomerProperty
from ngnserver.models.base import utcnow
from ngnserver.models.dsl import DslNote, DslPackage, DslQualification, DslService
from ngnserver.models.job import Job

log = logging.getLogger("ngnserver.dsl")

RECORD_KIND = "dsl_service"
QUAL_KIND = "dsl_qualification"

PENDING, ACTIVE, SUSPENDED, CANCELLED, DISCONNECTING, DISCONNECTED, FAILED = (
    "pending", "active", "suspended", "cancelled", "disconnecting", "disconnected", "failed",
)  # fmt: skip
TERMINAL = (CANCELLED, DISCONNECTED, FAILED)
DRY_LOOP, LINE_SHARE = "0", "LS"
LOCATION_TYPES = ("R", "B")
_PHONE = re.compile(r"^[0-9]{10}\Z")
ADDRESS_FIELDS = ("address_line1", "unit_type", "unit_value", "city", "state", "zip_code", "country")


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


class Dsl:
    """DSL operations for one request."""

    def __init__(self, session: Session, caller: Caller, sealer: PasswordSealer, settings: Any) -> None:
        self.session = session
        self.caller = caller
        self.sealer = sealer
        self.settings = settings
        self.import_mode = settings.ikano.import_mode

    def _vendor_configured(self) -> None:
        """Refuse work for the vendor before queueing it when no vendor account is set up:
        the worker could only fail it."""
        if not self.settings.ikano.configured:
            raise NGNError(E.DSL_NOT_CONFIGURED, "DSL is not configured on this server; ask its operator.")

    def _no_import_mode(self) -> None:
        if self.import_mode:
            raise NGNError(E.DSL_IMPORT_MODE, "Invalid operation - Import Mode is enabled")

    # -- packages (admin) ------------------------------------------------------------------

    def _admin_only(self, what: str) -> None:
        if self.caller.role is not Role.ADMIN:
            raise NGNError(E.PERMISSION_DENIED, f"Only admin {what}.")

    def add_package(self, name: str | None, vendor_package_id: str | None) -> DslPackage:
        self._admin_only("manages DSL packages")
        name, vendor_id = (name or "").strip(), (vendor_package_id or "").strip()
        if not name or not vendor_id:
            raise NGNError(E.MISSING_PARAMETER, "A DSL package needs a name and the vendor's package id (Unique ID).")
        clash = self.session.execute(
            select(DslPackage).where((DslPackage.name == name) | (DslPackage.vendor_package_id == vendor_id)).limit(1)
        ).scalar_one_or_none()  # the name may clash with one package and the vendor id with another
        if clash is not None:
            raise NGNError(E.DSL_PACKAGE_EXISTS, f"DSL package {clash.name!r} already has that name or vendor id.")
        package = DslPackage(name=name, vendor_package_id=vendor_id)
        self.session.add(package)
        records.flush_unique(self.session, E.DSL_PACKAGE_EXISTS, f"DSL package {name!r} already exists.")
        audit.record(self.session, self.caller, "create", "dsl_package", package.id, {"name": name, "vendor_package_id": vendor_id})
        return package

    def packages(self) -> list[DslPackage]:
        return list(self.session.execute(select(DslPackage).order_by(DslPackage.name)).scalars())

    def package(self, package_id: int | None) -> DslPackage:
        package = self.session.get(DslPackage, package_id) if package_id else None
        if package is None:
            raise NGNError(E.DSL_PACKAGE_NOT_FOUND, f"DSL package {package_id} does not exist.")
        return package

    def delete_package(self, package_id: int | None) -> None:
        self._admin_only("manages DSL packages")
        package = self.package(package_id)
        used = self.session.execute(
            select(func.count()).select_from(DslService).where(DslService.package_id == package.id)
        ).scalar_one()
        if used:
            raise NGNError(E.DSL_PACKAGE_IN_USE, f"DSL package {package.name!r} is used by {used} services.")
        self.session.delete(package)
        audit.record(self.session, self.caller, "delete", "dsl_package", package.id)

    # -- qualification ---------------------------------------------------------------------

    def _may_qualify(self) -> bool:
        """Admin; a reseller (or its staff login) whose reseller account has the right; a
        customer that has it, or whose reseller has it. Only admin grants it."""
        if self.caller.role is Role.ADMIN:
            return True
        holders = {self.caller.reseller_id}
        if self.caller.role is Role.CUSTOMER:
            holders.add(self.caller.customer_id)
        values = self.session.execute(
            select(CustomerProperty.value).where(
                CustomerProperty.customer_id.in_(holders), CustomerProperty.name == Right.QUALIFY_SERVICE.value
            )
        ).scalars()
        return "1" in set(values)

    def qualify(self, address: Mapping[str, Any] | None, phone_number: str | None, location_type: str | None,
                customer_id: int | None = None) -> DslQualification:  # fmt: skip
        self._no_import_mode()
        self._vendor_configured()
        if not self._may_qualify():
            raise NGNError(E.PERMISSION_DENIED, "Qualifying needs the qualify_service right; ask your reseller.")
        address = {k: str(v).strip() for k, v in (address or {}).items() if k in ADDRESS_FIELDS and v not in (None, "")}
        location = (location_type or "").strip().upper()
        if location not in LOCATION_TYPES:
            raise NGNError(E.DSL_INVALID_SERVICE, "locationType must be R (residential) or B (business).")
        phone = _digits(phone_number)
        if phone and not _PHONE.match(phone):
            raise NGNError(E.DSL_INVALID_SERVICE, f"{phone_number!r} is not a 10-digit phone number.")
        for needed, wire in (("address_line1", "addressLine1"), ("city", "city"), ("state", "state"),
                             ("zip_code", "zipCode")):  # fmt: skip
            if not address.get(needed):
                raise NGNError(E.DSL_INVALID_SERVICE, f"A qualification needs the address' {wire}.")
        customer, reseller = records.placement(self.session, self.caller, customer_id, None)
        qualification = DslQualification(
            customer=customer, reseller=reseller, address=address, phone_number=phone,
            location_type=location, status="P",
        )  # fmt: skip
        self.session.add(qualification)
        self.session.flush()
        jobs.enqueue(self.session, "dsl.qualify", QUAL_KIND, qualification.id)
        audit.record(self.session, self.caller, "create", QUAL_KIND, qualification.id, {"address": address})
        return qualification

    def qualification(self, qualification_id: int | None) -> DslQualification:
        return records.in_scope(
            self.session, self.caller, DslQualification, DslQualification.id == (qualification_id or 0),
            missing=(E.DSL_QUALIFICATION_NOT_FOUND, f"DSL qualification {qualification_id} does not exist."),
        )  # fmt: skip

    def offered_packages(self, qualification: DslQualification) -> tuple[list[DslPackage], list[str]]:
        """(our packages offered there, vendor product ids offered that no package maps)."""
        offered = set(qualification.offered)
        packages = [p for p in self.packages() if p.vendor_package_id in offered]
        unconfigured = sorted(offered - {p.vendor_package_id for p in packages})
        return packages, unconfigured

    # -- services --------------------------------------------------------------------------

    def service(self, service_id: int | None, lock: bool = False) -> DslService:
        return records.in_scope(
            self.session, self.caller, DslService, DslService.id == (service_id or 0),
            missing=(E.DSL_SERVICE_NOT_FOUND, f"DSL service {service_id} does not exist."), lock=lock,
        )  # fmt: skip

    def add_service(self, fields: Mapping[str, Any]) -> DslService:
        """Validate, charge the credit, store the service as ``pending`` and queue its
        order (or, in import mode, its first pull)."""
        caller = self.caller
        records.require_active_reseller(caller)
        self._vendor_configured()
        package = self.package(fields.get("package_id"))
        if self.import_mode:
            return self._import_service(fields, package)
        if fields.get("vendor_order_id"):
            raise NGNError(E.DSL_INVALID_SERVICE, "vendorOrderId is only accepted in import mode.")
        qualification = self.qualification(fields.get("qualification_id"))
        if qualification.status != "Q":
            state = "is still pending" if qualification.status == "P" else "did not qualify"
            raise NGNError(E.DSL_NOT_QUALIFIED, f"Qualification {qualification.id} {state}.")
        if package.vendor_package_id not in qualification.offered:
            raise NGNError(
                E.DSL_NOT_QUALIFIED,
                f"Package {package.name!r} is not offered at the qualified address (qualification {qualification.id}).",
            )
        loop = str(fields.get("loop_type") or "").strip().upper()
        phone = _digits(fields.get("phone_number"))
        if loop not in (DRY_LOOP, LINE_SHARE):
            raise NGNError(E.DSL_INVALID_SERVICE, "loopType must be 0 (dry loop) or LS (line-share).")
        if loop == DRY_LOOP and phone:
            raise NGNError(E.DSL_INVALID_SERVICE, "A dry loop (loopType 0) has no phone number.")
        if loop == LINE_SHARE and not _PHONE.match(phone):
            raise NGNError(E.DSL_INVALID_SERVICE, "A line-share (loopType LS) needs its 10-digit phone number.")
        first, last = (fields.get("first_name") or "").strip(), (fields.get("last_name") or "").strip()
        if not first or not last:
            raise NGNError(E.DSL_INVALID_SERVICE, "A DSL order needs the end user's first and last names.")
        desired = _date(fields.get("desired_due_date"), "desiredDueDate")
        if desired is None:
            raise NGNError(E.DSL_INVALID_SERVICE, "A DSL order needs a desiredDueDate (YYYY-MM-DD).")
        owner = records.owner_for(self.session, caller, fields.get("owner"), qualification.reseller)
        credits.charge(
            self.session, Credit.DSL, Holders.of(qualification.reseller, qualification.customer, owner),
            limited=records.limited(caller),
        )  # fmt: skip
        service = DslService(
            customer=qualification.customer, reseller=qualification.reseller, owner=owner,
            package_id=package.id, qualification_id=qualification.id, state=PENDING,
            phone_number=phone, loop_type=loop, first_name=first, last_name=last,
            company_name=(fields.get("company_name") or "").strip(),
            contact_phone=_digits(fields.get("contact_phone")),
            isp_change=bool(fields.get("isp_change")), isp_previous=fields.get("isp_previous") or "",
            current_provider=fields.get("current_provider") or "", desired_due_date=desired,
            password_sealed=self.sealer.seal(fields.get("password") or ""), order_type="NEW",
        )  # fmt: skip
        self.session.add(service)
        self.session.flush()
        jobs.enqueue(self.session, "dsl.insert", RECORD_KIND, service.id)
        audit.record(self.session, caller, "create", RECORD_KIND, service.id, records.given(fields))
        return service

    def _import_service(self, fields: Mapping[str, Any], package: DslPackage) -> DslService:
        order_id = str(fields.get("vendor_order_id") or "").strip()
        if not order_id:
            raise NGNError(E.DSL_IMPORT_MODE, "Invalid operation - Import Mode is enabled (give vendorOrderId).")
        if self.session.execute(select(DslService.id).where(DslService.vendor_order_id == order_id)).first():
            raise NGNError(E.DSL_INVALID_SERVICE, f"Vendor order {order_id} is already imported.")
        customer, reseller = records.placement(self.session, self.caller, fields.get("customer"), None)
        owner = records.owner_for(self.session, self.caller, fields.get("owner"), reseller)
        credits.charge(self.session, Credit.DSL, Holders.of(reseller, customer, owner), limited=records.limited(self.caller))
        now = utcnow()
        service = DslService(
            customer=customer, reseller=reseller, owner=owner, package_id=package.id, state=PENDING,
            vendor_order_id=order_id, order_type="NEW", monitored=True,
            pushed=now - timedelta(seconds=2), last_pull=now - timedelta(seconds=1),
        )  # fmt: skip
        self.session.add(service)
        self.session.flush()
        jobs.enqueue(self.session, "dsl.import", RECORD_KIND, service.id)
        audit.record(self.session, self.caller, "create", RECORD_KIND, service.id, {"vendor_order_id": order_id})
        return service

    def update_service(self, fields: Mapping[str, Any]) -> None:
        """Local fields change at once; a new password goes to the vendor through a job."""
        self._no_import_mode()
        service = self.service(fields.get("id"), lock=True)
        for name in ("first_name", "last_name", "company_name"):
            if fields.get(name) is not None:
                setattr(service, name, fields[name])
        password = fields.get("password")
        if password and password != self.sealer.open(service.password_sealed):
            if not service.vendor_order_id or service.state in TERMINAL:
                raise NGNError(E.DSL_INVALID_STATE, f"DSL service {service.id} has no live order to change.")
            jobs.enqueue(self.session, "dsl.replace", RECORD_KIND, service.id,
                         {"password": base64.b64encode(self.sealer.seal(password)).decode()})  # fmt: skip
        service.change_date = utcnow()
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, records.given(fields))

    def delete_service(self, service_id: int | None, expire: str | None) -> str:
        """Cancel a NEW order still NEW or PENDING; order a future disconnect for a
        COMPLETED one (an expiry date is required); remove a completed disconnect or a
        cancelled or failed service. Returns what happens."""
        self._no_import_mode()
        service = self.service(service_id, lock=True)
        expire_date = _date(expire, "expireDate")
        status = service.vendor_order_status
        if service.state in TERMINAL:
            self._remove(service)
            return "removed"
        if _has_open_job(self.session, service.id):
            raise NGNError(E.DSL_INVALID_STATE, f"DSL service {service.id} has vendor work in progress; try again later.")
        if service.order_type == "NEW" and status in ("NEW", "PENDING"):
            jobs.enqueue(self.session, "dsl.delete", RECORD_KIND, service.id, {"action": "cancel"})
            return "cancelling"
        if service.order_type == "NEW" and status == "COMPLETED":
            if expire_date is None:
                raise NGNError(E.DSL_INVALID_STATE, "A completed DSL order is disconnected at an expireDate: give one.")
            service.expire_date = expire_date
            jobs.enqueue(self.session, "dsl.delete", RECORD_KIND, service.id, {"action": "disconnect"})
            audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, {"expire_date": expire})
            return "disconnecting"
        raise NGNError(
            E.DSL_INVALID_STATE,
            f"DSL service {service.id} ({service.order_type} order, status {status or 'none'}) cannot be cancelled now.",
        )

    def _remove(self, service: DslService) -> None:
        if service.state not in TERMINAL:  # a terminal service gave its credit back already
            credits.release(self.session, Credit.DSL, Holders.of(service.reseller, service.customer, service.owner))
        self.session.delete(service)
        audit.record(self.session, self.caller, "delete", RECORD_KIND, service.id)

    def suspend_service(self, service_id: int | None, suspend: bool) -> None:
        self._no_import_mode()
        service = self.service(service_id, lock=True)
        if service.state != (ACTIVE if suspend else SUSPENDED):
            raise NGNError(E.DSL_INVALID_STATE, f"DSL service {service.id} is {service.state}; it cannot be "
                           f"{'suspended' if suspend else 'resumed'}.")  # fmt: skip
        jobs.enqueue(self.session, "dsl.suspend" if suspend else "dsl.resume", RECORD_KIND, service.id)
        audit.record(self.session, self.caller, "update", RECORD_KIND, service.id, {"suspend": suspend})

    def services(self, query: Query) -> tuple[int, list[DslService]]:
        total, rows = fetch_page(
            self.session, select(DslService), records.visible(self.caller, DslService), query,
            (DslService.id, "ASC"), DslService.id, self.settings.query_max_rows,
        )  # fmt: skip
        return total, [r[0] for r in rows]

    def notes(self, service: DslService) -> list[DslNote]:
        return list(self.session.execute(
            select(DslNote).where(DslNote.service_id == service.id).order_by(DslNote.id)
        ).scalars())  # fmt: skip


def _has_open_job(session: Session, service_id: int) -> bool:
    """Whether vendor work for the service is queued or running."""
    return session.execute(
        select(Job.id).where(
            Job.record_kind == RECORD_KIND, Job.record_id == service_id, Job.state.in_((jobs.QUEUED, jobs.RUNNING))
        )
    ).first() is not None


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise NGNError(E.DSL_INVALID_SERVICE, f"{name} must be a date (YYYY-MM-DD), not {value!r}.") from None


def mark_failed(session: Session, job: Job, message: str) -> None:
    """A DSL job failed for good: the record says so, with the vendor's message."""
    if job.record_kind == QUAL_KIND:
        qualification = session.get(DslQualification, job.record_id)
        if qualification is not None:
            qualification.status = "E"
        return
    service = session.get(DslService, job.record_id)
    if service is None:
        return
    if job.kind in ("dsl.insert", "dsl.import") and service.state not in TERMINAL:
        release_credit(session, service)
        service.state = FAILED
    service.failure = message
    service.change_date = utcnow()


ownership.count_records(DslService, "DSL service", "DSL services")
ownership.follows_customer(DslQualification)
credits.counts(Credit.DSL, DslService, lambda c: [c.state.not_in(TERMINAL)])


def release_credit(session: Session, service: DslService) -> None:
    """A service reached a terminal state: it no longer counts against credits."""
    credits.release(session, Credit.DSL, Holders.of(service.reseller, service.customer, service.owner))


def _adapter_hook(name: str):  # type: ignore[no-untyped-def]
    def run(job: jobs.JobRun) -> None:
        getattr(job.context.dsl, name)(job)

    return run


for _kind, _hook in (("dsl.qualify", "qualify"), ("dsl.insert", "insert"), ("dsl.import", "import_order"),
                     ("dsl.replace", "replace"), ("dsl.delete", "delete"), ("dsl.suspend", "suspend"),
                     ("dsl.resume", "resume")):  # fmt: skip
    jobs.job_kind(_kind, mark_failed)(_adapter_hook(_hook))


PULL_LOCK = "pull-dsl"  # Database.exclusive: one pull at a time, across processes and hosts


def pull_monitored(database: Any, adapter: Any, threshold: float = 0) -> adapters.PullReport:
    """Sync every monitored service with the vendor, one at a time, each in its own
    transaction; a failing service is logged and the pull goes on. ``threshold`` skips
    services pulled less than that many seconds ago."""
    with database.transaction(write=False) as session:
        ids = list(session.execute(
            select(DslService.id).where(DslService.monitored.is_(True)).order_by(DslService.id)
        ).scalars())  # fmt: skip
    cutoff = utcnow() - timedelta(seconds=threshold) if threshold else None
    return adapters.pull_each(
        database, DslService, ids, adapter, "pull-dsl",
        keep=lambda service: service.monitored,
        skip=lambda _session, service: cutoff is not None and bool(service.last_pull) and service.last_pull > cutoff,
    )  # fmt: skip
