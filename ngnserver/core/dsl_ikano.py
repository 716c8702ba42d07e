"""The Ikano adapter for DSL services: the ServiceAdapter hooks (insert, replace, delete,
suspend, resume, pull) plus qualification and import, over ``vendors.ikano``.

Vendor calls happen outside database transactions; each step that changed something at
Ikano is recorded (``run.done``) together with the record change it implies, so a job that
is retried or taken over after a crash never repeats a step Ikano already carried out.

Placing an order is the one step whose outcome can be unknown (the request went out and no
answer came back). The job notes "order sent" before sending; a later attempt that finds
that note asks Ikano (CUSTOMERLOOKUP by the line's phone number) whether the order exists
and adopts it instead of ordering twice. A dry loop has no phone number to look up: that
case stops with a message asking the operator to check Ikano and import the order.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from ngnserver.core import adapters, dsl
from ngnserver.core.adapters import ServiceAdapter
from ngnserver.core.jobs import JobRun, PermanentError, TransientError
from ngnserver.core.sealing import PasswordSealer
from ngnserver.models import Customer
from ngnserver.models.base import utcnow
from ngnserver.models.dsl import DslNote, DslPackage, DslQualification, DslService
from ngnserver.vendors import ikano
from ngnserver.vendors.ikano import (
    IkanoClient,
    IkanoFailure,
    IkanoOrderInvalid,
    IkanoProtocolError,
    IkanoTransientError,
)

log = logging.getLogger("ngnserver.dsl")
T = TypeVar("T")

STANDALONE = "STANDALONE"
LIVE_STATUSES = ("NEW", "PENDING")
NOT_CONFIGURED = (
    "DSL is not configured: set NGNSERVER_IKANO_URL, NGNSERVER_IKANO_KEYID and NGNSERVER_IKANO_PASSWORD "
    "(or the [ikano] table of the configuration file)"
)


def vendor_call(call: Callable[[], T]) -> T:
    """Run one Ikano call, turning its failures into job outcomes."""
    try:
        return call()
    except IkanoTransientError as exc:
        raise TransientError(str(exc)) from exc
    except IkanoFailure as exc:
        raise PermanentError(f"Ikano: {exc.message}") from exc
    except (IkanoOrderInvalid, ikano.IkanoError) as exc:
        raise PermanentError(f"Ikano: {exc}") from exc


def _maybe_reached_ikano(exc: BaseException) -> bool:
    """Whether a failed call may still have been carried out: the request was sent and no
    usable answer came (a read timeout, or an answer we could not read)."""
    cause = exc.__cause__
    return isinstance(cause, IkanoProtocolError) or isinstance(cause, IkanoTransientError) and isinstance(
        cause.__cause__, requests.ReadTimeout
    )


class IkanoDsl(ServiceAdapter):
    def __init__(self, settings: Any, sealer: PasswordSealer, client: IkanoClient | None = None) -> None:
        self.settings = settings.ikano
        self.sealer = sealer
        if client is None:
            if not self.settings.configured:  # permanent: retrying will not configure it
                raise PermanentError(NOT_CONFIGURED)
            client = IkanoClient(
                self.settings.keyid,
                self.settings.password,
                username=self.settings.username,
                url=self.settings.url,
                connect_timeout=self.settings.connect_timeout,
                read_timeout=self.settings.read_timeout,
                debug_log=logging.getLogger("ngnserver.ikano.xml") if self.settings.debug else None,
            )
        self.client = client

    # -- qualification ---------------------------------------------------------------------

    def qualify(self, run: JobRun) -> None:
        with run.transaction() as session:
            q = session.get(DslQualification, run.record_id)
            if q is None:
                return
            a = q.address
            address = ikano.Address(
                line1=a.get("address_line1", ""), city=a.get("city", ""), state=a.get("state", ""),
                zip_code=a.get("zip_code", ""), country=a.get("country", "US"),
                unit_type=a.get("unit_type", ""), unit_value=a.get("unit_value", ""),
            )  # fmt: skip
            phone, location = q.phone_number or None, q.location_type
        result = vendor_call(
            lambda: self.client.prequal(address, phone, location, list(self.settings.check_networks))
        )
        with run.transaction() as session:
            q = session.get(DslQualification, run.record_id)
            if q is None:
                return  # deleted with its customer while Ikano answered
            q.vendor_qual_id = result.prequal_id
            q.status = "Q" if result.qualified else "D"
            q.offered = result.offered()
            run.done(session, "qualified")

    # -- ordering --------------------------------------------------------------------------

    def insert(self, run: JobRun) -> None:
        if run.has_done("ordered"):
            return
        with run.transaction() as session:
            service = self._service(session, run)
            order = self._new_order(session, service)
            phone = service.phone_number
            if run.has_done("order sent"):
                adopted = self._find_placed_order(phone)
                if adopted is not None:
                    self._apply_new_order(session, service, adopted, run)
                    return
            run.done(session, "order sent")
        try:
            placed = vendor_call(lambda: self.client.order_new(order))
        except TransientError as exc:
            if not _maybe_reached_ikano(exc):
                with run.transaction() as session:
                    run.forget(session, "order sent")
            raise
        with run.transaction() as session:
            self._apply_new_order(session, self._service(session, run), placed, run)

    def _find_placed_order(self, phone: str) -> ikano.Order | None:
        if not phone:
            raise PermanentError(
                "An earlier attempt may have placed this dry-loop order at Ikano before the worker "
                "stopped, and a dry loop cannot be looked up: check Ikano, then import the order."
            )
        try:
            found = self.client.customer_lookup(phone)
        except IkanoFailure:
            return None  # no service on that line: the order never reached Ikano
        except IkanoTransientError as exc:
            raise TransientError(str(exc)) from exc
        if not found.order_id:
            # a live service on the line that names no order: it may be the one this job
            # placed before the answer was lost, and ordering again would place a second
            raise PermanentError(
                f"Ikano shows a DSL service (DSLServiceId {found.dsl_service_id}) on line {phone} but no order "
                "to tie it to this one; the order may have been placed before its answer was lost: check "
                "Ikano, then import the order."
            )
        return vendor_call(lambda: self.client.order_status(found.order_id))

    def _new_order(self, session: Session, service: DslService) -> ikano.NewOrder:
        package = session.get(DslPackage, service.package_id)
        qualification = session.get(DslQualification, service.qualification_id) if service.qualification_id else None
        if package is None or qualification is None:
            raise PermanentError("The service's package or qualification no longer exists.")
        terms = qualification.offered.get(package.vendor_package_id)
        if terms is None:
            raise PermanentError(f"Package {package.name} is not offered by qualification {qualification.id}.")
        return ikano.NewOrder(
            product_ids=[package.vendor_package_id], terms_id=terms, prequal_id=qualification.vendor_qual_id,
            dsl_phone_number=service.phone_number or None, password=self.sealer.open(service.password_sealed),
            first_name=service.first_name, last_name=service.last_name, company_name=service.company_name,
            date_to_order=service.desired_due_date or date.today(),
            contact_phone_number=service.contact_phone or _customer_phone(session, service.customer) or "5555555555",
            isp_change=service.isp_change,
            previous_isp=service.isp_previous if service.isp_change else service.current_provider,
        )  # fmt: skip

    def _apply_new_order(self, session: Session, service: DslService, order: ikano.Order, run: JobRun) -> None:
        now = utcnow()
        service.vendor_order_id = order.order_id
        service.vendor_order_status = order.status
        service.vendor_username = order.username or service.vendor_username
        service.pushed, service.last_pull, service.monitored = now, now + timedelta(seconds=1), True
        service.state = _state_of(service, order.status)
        service.change_date = now
        run.done(session, "ordered", order_id=order.order_id)

    def import_order(self, run: JobRun) -> None:
        with run.transaction() as session:
            service = self._service(session, run)
            self.pull(session, service, importing=True)
            run.done(session, "pulled")

    # -- changes ---------------------------------------------------------------------------

    def replace(self, run: JobRun) -> None:
        password = self.sealer.open(base64.b64decode(run.data["password"]))
        with run.transaction() as session:
            service = self._service(session, run)
            line = self._line_number(service)
        vendor_call(lambda: self.client.password_change(line, password))
        with run.transaction() as session:
            service = self._service(session, run)
            service.password_sealed = self.sealer.seal(password)
            service.change_date = utcnow()
            run.done(session, "password changed")

    def delete(self, run: JobRun) -> None:
        if run.data.get("action") == "cancel":
            self._cancel(run)
        else:
            self._future_disconnect(run)

    def _cancel(self, run: JobRun) -> None:
        with run.transaction() as session:
            order_id = self._service(session, run).vendor_order_id
        cancelled = vendor_call(lambda: self.client.cancel(order_id))
        with run.transaction() as session:
            service = self._service(session, run)
            service.vendor_order_status = cancelled.status
            service.monitored = False
            if service.state not in dsl.TERMINAL:
                dsl.release_credit(session, service)
            service.state = dsl.CANCELLED
            service.change_date = utcnow()
            run.done(session, "cancelled")

    def _future_disconnect(self, run: JobRun) -> None:
        if run.has_done("disconnect ordered"):
            return
        with run.transaction() as session:
            service = self._service(session, run)
            package = session.get(DslPackage, service.package_id)
            qualification = session.get(DslQualification, service.qualification_id) if service.qualification_id else None
            dry = service.loop_type == dsl.DRY_LOOP
            request = {
                "product_ids": [package.vendor_package_id],
                "terms_id": (qualification.offered.get(package.vendor_package_id, "") if qualification else ""),
                "prequal_id": qualification.vendor_qual_id if qualification else "",
                "dsl_phone_number": None if dry else service.phone_number,
                "virtual_phone_number": service.phone_number if dry else None,
                "date_to_order": service.expire_date or date.today(),
                "password": self.sealer.open(service.password_sealed),
                "first_name": service.first_name, "last_name": service.last_name, "company_name": service.company_name,
                "contact_phone_number": service.contact_phone,
            }  # fmt: skip
        order = vendor_call(lambda: self.client.order_future_cancel(**request))
        with run.transaction() as session:
            service = self._service(session, run)
            service.order_type = "CANCEL"
            service.vendor_order_id = order.order_id
            service.vendor_order_status = order.status
            service.monitored = True
            service.state = dsl.DISCONNECTING
            service.change_date = utcnow()
            run.done(session, "disconnect ordered", order_id=order.order_id)

    def suspend(self, run: JobRun) -> None:
        self._status_change(run, "SUSPEND", dsl.SUSPENDED)

    def resume(self, run: JobRun) -> None:
        self._status_change(run, "UNSUSPEND", dsl.ACTIVE)

    def _status_change(self, run: JobRun, action: str, state: str) -> None:
        with run.transaction() as session:
            line = self._line_number(self._service(session, run))
        found = vendor_call(lambda: self.client.customer_lookup(line))
        vendor_call(lambda: self.client.account_status_change(action, found.dsl_service_id, line))  # type: ignore[arg-type]
        with run.transaction() as session:
            service = self._service(session, run)
            service.state = state
            service.change_date = utcnow()
            run.done(session, action.lower())

    # -- status pull -----------------------------------------------------------------------

    def pull(self, session: Session, service: DslService, importing: bool = False) -> None:
        """Bring one service up to date with its Ikano order (vendors.md 1.5.4)."""
        order = vendor_call(lambda: self.client.order_status(service.vendor_order_id))
        if importing:
            service.order_type = "NEW"
            if order.phone_number == STANDALONE:
                service.loop_type, service.phone_number = dsl.DRY_LOOP, order.virtual_phone_number
            else:
                service.loop_type, service.phone_number = dsl.LINE_SHARE, order.phone_number
        else:
            self._check_phone(service, order)
        service.vendor_order_status = order.status
        service.first_name, service.last_name = order.first_name, order.last_name
        service.company_name, service.vendor_username = order.company_name, order.username
        if order.password:
            service.password_sealed = self.sealer.seal(order.password)
        desired = order.date_to_disconnect if service.order_type == "CANCEL" else order.date_to_order
        service.desired_due_date = desired or service.desired_due_date
        service.due_date = order.activation_date or service.due_date
        service.static_ips = sorted(set(order.static_ips))
        self._merge_notes(session, service, order.notes)
        new_state = _state_of(service, order.status)
        if new_state in dsl.TERMINAL and service.state not in dsl.TERMINAL:
            dsl.release_credit(session, service)
        if service.state != dsl.SUSPENDED or new_state in dsl.TERMINAL:
            service.state = new_state
        if new_state == dsl.FAILED:
            service.failure = f"Ikano reports order {order.order_id} in status {order.status}."
        if order.status in ("CANCELLED", "COMPLETED"):
            service.monitored = False
        service.last_pull = utcnow()
        service.change_date = utcnow()

    @staticmethod
    def _check_phone(service: DslService, order: ikano.Order) -> None:
        """Freeside's TN rules: a line-share's number changes only when its NEW/CHANGE order
        completes; a dry loop takes its virtual number until completed or cancelled."""
        if service.loop_type == dsl.DRY_LOOP:
            if order.status not in ("COMPLETED", "CANCELLED") and order.virtual_phone_number:
                service.phone_number = order.virtual_phone_number
            elif order.virtual_phone_number and order.virtual_phone_number != service.phone_number:
                raise PermanentError("TN has changed in an invalid state")
            return
        if order.phone_number and order.phone_number != service.phone_number:
            if order.status == "COMPLETED" and service.order_type in ("NEW", "CHANGE"):
                service.phone_number = order.phone_number
            else:
                raise PermanentError("TN has changed in an invalid state")

    @staticmethod
    def _merge_notes(session: Session, service: DslService, notes: list[ikano.Note]) -> None:
        """Insert the notes not yet stored (matched by date and text)."""
        known = {
            (n.date, n.text)
            for n in session.execute(select(DslNote).where(DslNote.service_id == service.id)).scalars()
        }
        for note in notes:
            key = (note.date.isoformat(sep=" "), note.text)
            if key not in known:
                known.add(key)
                session.add(DslNote(service_id=service.id, date=key[0], text=note.text, author=note.author,
                                    high_priority=note.high_priority))  # fmt: skip

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _service(session: Session, run: JobRun) -> DslService:
        service = session.get(DslService, run.record_id, with_for_update=True)
        if service is None:
            raise PermanentError(f"DSL service {run.record_id} no longer exists.")
        return service

    @staticmethod
    def _line_number(service: DslService) -> str:
        if not service.phone_number:
            raise PermanentError(f"DSL service {service.id} has no phone number yet; wait for Ikano to assign one.")
        return service.phone_number


def _state_of(service: DslService, status: str) -> str:
    """Our state for the vendor's order status."""
    if status in ("NEW", "PENDING"):
        return dsl.DISCONNECTING if service.order_type == "CANCEL" else dsl.PENDING
    if status == "COMPLETED":
        return dsl.DISCONNECTED if service.order_type == "CANCEL" else dsl.ACTIVE
    if status == "CANCELLED":
        return dsl.ACTIVE if service.order_type == "CANCEL" else dsl.CANCELLED
    return dsl.FAILED


@adapters.register("dsl", "ikano")
def _ikano(context: Any) -> IkanoDsl:
    return IkanoDsl(context.settings, context.sealer)


def _customer_phone(session: Session, customer_id: int) -> str:
    """The digits of the customer's telephone, else of its mobile ("" when it has neither)."""
    customer = session.get(Customer, customer_id) if customer_id else None
    for phone in (customer.tel, customer.mobile) if customer is not None else ():
        digits = "".join(ch for ch in phone or "" if "0" <= ch <= "9")
        if digits:
            return digits
    return ""
