"""The DCImanager adapter for dedicated servers and colocation: setup as a resumable
multi-step job (vendors.md 2.3), its undoing on failure, and delete, suspend, resume,
reboot, address and password changes, over ``vendors.dcimanager``.

Vendor calls happen outside database transactions. Each step, once DCImanager has carried
it out, is recorded (``run.done``) in one transaction with what it changed on the record
and a line of the record's ``progress``, so a job retried or taken over after a crash
resumes at the step it had reached. Steps are written to be safe to repeat: they look
before they add (an address, a user) and set states rather than toggle them.

Waiting for the vendor (power coming on, an OS installing, the installed server answering)
is a ``Wait``: the job goes back to the queue and the worker moves on, so a hundred servers
installing at once hold no worker. Each wait has a limit (settings); passing it fails the
setup.

A setup that fails for good (a refusal, a limit passed, the attempts used up) is undone at
DCImanager by ``compensate``: the machine's addresses get the domain ``free.ds``, the reason
is appended to its notes, and it is disabled; its owner stays the administrator, so it is
neither sold again nor lost, until the operator looks at it. ``ngnserver jobs retry`` then
resumes the setup at the failed step (re-enabling the machine first).
"""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ngnserver.core import adapters, servers
from ngnserver.core.adapters import ServiceAdapter
from ngnserver.core.jobs import JobRun, PermanentError, TransientError, Wait
from ngnserver.core.sealing import PasswordSealer
from ngnserver.models.base import utcnow
from ngnserver.models.server import ServerClaim, ServerPackage, ServerService
from ngnserver.vendors.dcimanager import (
    FREE_DOMAIN,
    DcimApiError,
    DcimClient,
    DcimError,
    DcimTransientError,
    unique_panel_username,
)

log = logging.getLogger("ngnserver.servers")
T = TypeVar("T")

DEDICATED_STEPS = ("pick", "user", "admin_owner", "enable", "power_on", "powered", "domain", "extra_ips",
                   "install", "installed", "reachable", "customer_owner", "welcome")  # fmt: skip
COLOCATION_STEPS = ("pick", "user", "admin_owner", "enable", "domain", "extra_ips", "customer_owner", "welcome")

# A wait that failed starts again from the step that began it, when the setup is retried.
_STARTED_BY = {"powered": "power_on", "installed": "install", "reachable": "installed"}
# What the undoing of a failed setup reverses, and a retry therefore does again.
_UNDONE = ("enable", "domain", "customer_owner")
NOT_CONFIGURED = (
    "DCImanager is not configured on this worker: set NGNSERVER_DCIM_URL, NGNSERVER_DCIM_USERNAME and "
    "NGNSERVER_DCIM_PASSWORD (or the [dcim] table of the configuration file), then retry the job"
)


def vendor_call(call: Callable[[], T]) -> T:
    """Run DCImanager calls, turning their failures into job outcomes."""
    try:
        return call()
    except DcimTransientError as exc:
        raise TransientError(str(exc)) from exc
    except DcimApiError as exc:
        raise PermanentError(str(exc)) from exc
    except DcimError as exc:
        raise PermanentError(f"DCImanager: {exc}") from exc


@dataclass(frozen=True)
class Order:
    """What a setup needs from the record and its package, read once per run."""

    service_id: int
    customer: int
    hostname: str
    kind: str
    template: str
    os_template: str
    recipe: str
    extra: dict[str, int]
    panel_username: str
    panel_password: str
    root_password: str


class DcimServers(ServiceAdapter):
    def __init__(self, settings: Any, sealer: PasswordSealer, client: DcimClient | None = None) -> None:
        self.settings = settings.dcim
        self.sealer = sealer
        if client is None:
            if not self.settings.url:  # permanent: retrying will not configure it
                raise PermanentError(NOT_CONFIGURED)
            client = DcimClient(
                self.settings.url,
                self.settings.username,
                self.settings.password,
                path=self.settings.path or None,
                timeout=self.settings.timeout,
                verify_tls=self.settings.verify_tls,
                debug_log=logging.getLogger("ngnserver.dcim.wire") if self.settings.debug else None,
            )
        self.client = client

    # -- setup -----------------------------------------------------------------------------

    def insert(self, run: JobRun) -> None:
        order = self._begin(run)
        steps = DEDICATED_STEPS if order.kind == servers.DEDICATED else COLOCATION_STEPS
        for step in steps:
            if run.has_done(step):
                continue
            self._at(run, step)
            getattr(self, f"_{step}")(run, order)

    def _begin(self, run: JobRun) -> Order:
        """Read the order; a setup started (or retried after failing) is ``provisioning``.
        A retry of a setup that was undone first forgets what the undoing reversed."""
        with run.transaction() as session:
            service = _service(session, run)
            package = session.get(ServerPackage, service.package_id)
            assert package is not None
            if service.state in (servers.PENDING, servers.FAILED):
                service.state, service.failure, service.change_date = servers.PROVISIONING, "", utcnow()
            if run.data.get("undone"):
                steps = DEDICATED_STEPS if package.kind == servers.DEDICATED else COLOCATION_STEPS
                failed = next((s for s in steps if not run.has_done(s)), "")
                for step in (*_UNDONE, _STARTED_BY.get(failed, "")):
                    if step and run.has_done(step):
                        run.forget(session, step)
                run.note(session, undone=False)
            return Order(
                service_id=service.id, customer=service.customer, hostname=service.hostname, kind=package.kind,
                template=package.template, os_template=package.os_template, recipe=package.recipe,
                extra={"ipv4": package.extra_ipv4, "ipv6": package.extra_ipv6},
                panel_username=service.panel_username,
                panel_password=self.sealer.open(service.panel_password_sealed),
                root_password=self.sealer.open(service.root_password_sealed),
            )  # fmt: skip

    def _pick(self, run: JobRun, order: Order) -> None:
        """A free machine of the package's chassis template or type, claimed in the database:
        of two setups that see the same machine free, one claims it and the other takes the
        next."""
        free = vendor_call(lambda: self.client.free_servers(order.template))
        with run.transaction() as session:
            claimed = set(session.execute(select(ServerClaim.dcim_server_id)).scalars())
        for machine in free:
            if machine.id in claimed:
                continue
            try:
                with run.transaction() as session:
                    session.add(ServerClaim(dcim_server_id=machine.id, service_id=run.record_id))
                    session.flush()
                    self._done(session, run, "pick", f"machine {machine.id} ({machine.fields.get('name', '')})",
                               server_id=machine.id, main_ip=machine.ip,
                               record={"dcim_server_id": machine.id, "main_ip": machine.ip})  # fmt: skip
                return
            except IntegrityError:
                continue  # another setup claimed it first
        raise PermanentError(f"DCImanager has no free server of chassis template or type {order.template!r}.")

    def _user(self, run: JobRun, order: Order) -> None:
        """The customer's panel user: the one its other servers use under that name, or a new
        one with a name no DCImanager user has. The name is noted before the user is created,
        so a retry finds the user it created instead of creating another."""
        name = run.data.get("panel_username")
        if not name:
            with run.transaction() as session:
                reused = session.execute(
                    select(ServerService.panel_user_id).where(
                        ServerService.customer == order.customer, ServerService.id != order.service_id,
                        ServerService.panel_username == order.panel_username, ServerService.panel_user_id != "",
                    ).limit(1)
                ).scalar_one_or_none()  # fmt: skip
                if reused:
                    self._done(session, run, "user", f"panel user {order.panel_username} (existing)",
                               user_id=reused, panel_username=order.panel_username,
                               record={"panel_user_id": reused})  # fmt: skip
                    return
            taken = [user.name for user in vendor_call(self.client.users)]
            name = unique_panel_username(order.panel_username, taken)
            with run.transaction() as session:
                run.note(session, panel_username=name)
        else:
            existing = vendor_call(lambda: self.client.find_user(name))
            if existing is not None:
                with run.transaction() as session:
                    self._done(session, run, "user", f"panel user {name}", user_id=existing.id,
                               record={"panel_user_id": existing.id, "panel_username": name})  # fmt: skip
                return
        try:
            user_id = vendor_call(lambda: self.client.create_user(name, order.panel_password))
        except PermanentError as exc:
            if not (isinstance(exc.__cause__, DcimApiError) and exc.__cause__.error_type == "exists"):
                raise
            # another setup took the name meanwhile (perhaps for this customer): choose again
            with run.transaction() as session:
                run.note(session, panel_username="")
            raise TransientError(f"panel user name {name} was taken meanwhile") from exc
        with run.transaction() as session:
            self._done(session, run, "user", f"panel user {name} created", user_id=user_id,
                       record={"panel_user_id": user_id, "panel_username": name})  # fmt: skip

    def _admin_owner(self, run: JobRun, order: Order) -> None:
        server_id = run.data["server_id"]
        admin_id = vendor_call(lambda: self.client.user_id(self.settings.username))
        vendor_call(lambda: self.client.set_owner(server_id, admin_id))
        self._record(run, "admin_owner", f"owner {self.settings.username} while provisioning", admin_id=admin_id)

    def _enable(self, run: JobRun, order: Order) -> None:
        server_id = run.data["server_id"]
        vendor_call(lambda: self.client.enable_server(server_id))
        ports = vendor_call(lambda: self.client.switch_ports_on(server_id))
        self._record(run, "enable", f"enabled, {len(ports)} switch ports on")

    def _power_on(self, run: JobRun, order: Order) -> None:
        server_id = run.data["server_id"]
        if not vendor_call(lambda: self.client.server(server_id)).poweron:
            vendor_call(lambda: self.client.power_on(server_id))
        self._record(run, "power_on", "power on requested",
                     power_deadline=time.time() + self.settings.power_limit_seconds)  # fmt: skip

    def _powered(self, run: JobRun, order: Order) -> None:
        machine = vendor_call(lambda: self.client.server(run.data["server_id"]))
        if machine.poweron:
            self._record(run, "powered", "powered on")
            return
        if machine.powererror:
            raise PermanentError(f"DCImanager server {machine.id} reports a power error.")
        if time.time() > run.data["power_deadline"]:
            raise PermanentError(f"DCImanager server {machine.id} did not power on within "
                                 f"{self.settings.power_limit_seconds:g} s.")  # fmt: skip
        raise Wait(self.settings.power_poll_seconds, "waiting for power")

    def _domain(self, run: JobRun, order: Order) -> None:
        changed = vendor_call(lambda: self.client.set_domain(run.data["server_id"], order.hostname))
        self._record(run, "domain", f"domain {order.hostname} on {len(changed)} addresses")

    def _extra_ips(self, run: JobRun, order: Order) -> None:
        """Add addresses until the machine has the package's extra IPv4 and IPv6 counts,
        counting what it has first: an address added by an attempt whose answer was lost is
        not added again."""
        server_id, main_ip = run.data["server_id"], run.data["main_ip"]
        added: list[str] = []
        addresses = [ip.ip for ip in vendor_call(lambda: self.client.ips(server_id)) if ip.ip != main_ip]
        for family, wanted in order.extra.items():
            have = sum(_family(address) == family for address in addresses)
            for _ in range(wanted - have):
                added.append(vendor_call(partial(self.client.add_ip, server_id, order.hostname, family=family)))
        self._record(run, "extra_ips", f"{order.extra['ipv4']} IPv4 and {order.extra['ipv6']} IPv6 extra addresses"
                     + (f" ({', '.join(added)} added)" if added else ""))  # fmt: skip

    def _install(self, run: JobRun, order: Order) -> None:
        """Start the OS install. The request is noted before it goes out; a retry that finds
        the note and the machine installing adopts that install rather than starting a
        second one."""
        server_id = run.data["server_id"]
        if run.data.get("install_sent") and vendor_call(lambda: self.client.server(server_id)).install_in_progress:
            result = "OS install already running"
        else:
            with run.transaction() as session:
                run.note(session, install_sent=True)
            vendor_call(lambda: self.client.install_os(server_id, order.os_template, order.root_password,
                                                       recipe=order.recipe or None))  # fmt: skip
            result = f"OS install of {order.os_template}" + (f" with {order.recipe}" if order.recipe else "")
        self._record(run, "install", result, install_deadline=time.time() + self.settings.install_limit_seconds)

    def _installed(self, run: JobRun, order: Order) -> None:
        machine = vendor_call(lambda: self.client.server(run.data["server_id"]))
        if machine.operation_failed and not machine.install_in_progress:
            with run.transaction() as session:
                run.forget(session, "install")  # a retry installs again
                run.note(session, install_sent=False)
            raise PermanentError(f"DCImanager server {machine.id}: the OS install failed.")
        if machine.install_finished:
            self._record(run, "installed", "OS installed",
                         check_deadline=time.time() + self.settings.check_limit_seconds)  # fmt: skip
            return
        if time.time() > run.data["install_deadline"]:
            raise PermanentError(f"DCImanager server {machine.id}: the OS install did not finish within "
                                 f"{self.settings.install_limit_seconds:g} s.")  # fmt: skip
        raise Wait(self.settings.install_poll_seconds, "waiting for the OS install")

    def _reachable(self, run: JobRun, order: Order) -> None:
        """Our own check that the installed server answers: a TCP connection to its main
        address (DCImanager has no ping), retried until the limit."""
        address, port = run.data["main_ip"], self.settings.check_port
        try:
            with socket.create_connection((address, port), timeout=self.settings.check_timeout_seconds):
                pass
        except OSError as exc:
            if time.time() > run.data["check_deadline"]:
                raise PermanentError(f"The server's main address {address} does not answer on TCP port {port} "
                                     f"({exc.strerror or exc}).") from exc  # fmt: skip
            raise Wait(self.settings.check_poll_seconds, f"{address}:{port} does not answer yet") from exc
        self._record(run, "reachable", f"{address} answers on TCP port {port}")

    def _customer_owner(self, run: JobRun, order: Order) -> None:
        server_id = run.data["server_id"]
        vendor_call(lambda: self.client.set_owner(server_id, run.data["user_id"]))
        vendor_call(lambda: self.client.set_domain(server_id, order.hostname))
        self._record(run, "customer_owner", f"owner {run.data.get('panel_username') or order.panel_username}")

    def _welcome(self, run: JobRun, order: Order) -> None:
        server_id = run.data["server_id"]
        addresses = [ip.ip for ip in vendor_call(lambda: self.client.ips(server_id))]
        main_ip = vendor_call(lambda: self.client.server(server_id)).ip or run.data["main_ip"]
        welcome = {
            "hostname": order.hostname, "main_ip": main_ip, "ips": addresses, "panel_url": self.client.url,
            "panel_username": run.data.get("panel_username") or order.panel_username,
            "os_template": order.os_template if order.kind == servers.DEDICATED else "",
        }  # fmt: skip
        with run.transaction() as session:
            self._done(session, run, "welcome", "active",
                       record={"ips": addresses, "main_ip": main_ip, "welcome": welcome, "state": servers.ACTIVE,
                               "step": "", "failure": ""})  # fmt: skip

    # -- undoing a failed setup ------------------------------------------------------------

    def compensate(self, run: JobRun, reason: str) -> None:
        """Make the machine of a failed setup safe (vendors.md 2.3 "On failure"): ``free.ds``
        on its addresses, the reason appended to its notes, disabled. The owner is left as it
        is (the administrator during provisioning)."""
        server_id = run.data.get("server_id")
        if not server_id:
            return  # no machine was picked
        vendor_call(lambda: self.client.set_domain(server_id, FREE_DOMAIN))
        vendor_call(lambda: self.client.add_note(server_id, f"ngnserver server {run.record_id}: {reason}"))
        vendor_call(lambda: self.client.disable_server(server_id))
        with run.transaction() as session:
            run.note(session, undone=True)
            service = session.get(ServerService, run.record_id)
            if service is not None:
                _progress(service, "undone", f"free.ds, disabled: {reason}")

    # -- other operations ------------------------------------------------------------------

    def delete(self, run: JobRun) -> None:
        """Return the machine to the pool: disabled, powered off (a dedicated server), extra
        addresses removed, ``free.ds``, no owner; then the record goes."""
        with run.transaction() as session:
            service = _service(session, run)
            server_id, kind = service.dcim_server_id, session.get(ServerPackage, service.package_id).kind  # type: ignore[union-attr]
        if server_id:
            if not run.has_done("disable"):
                vendor_call(lambda: self.client.disable_server(server_id))
                self._record(run, "disable", "disabled")
            if kind == servers.DEDICATED and not run.has_done("power_off"):
                if not vendor_call(lambda: self.client.server(server_id)).poweroff:
                    vendor_call(lambda: self.client.power_off(server_id))
                self._record(run, "power_off", "power off requested")
            if not run.has_done("extra_ips"):
                removed = vendor_call(lambda: self.client.delete_extra_ips(server_id))
                self._record(run, "extra_ips", f"{len(removed)} extra addresses removed")
            if not run.has_done("domain"):
                vendor_call(lambda: self.client.set_domain(server_id, FREE_DOMAIN))
                self._record(run, "domain", FREE_DOMAIN)
            if not run.has_done("owner"):
                vendor_call(lambda: self.client.set_owner(server_id, None))
                self._record(run, "owner", "no owner")
        with run.transaction() as session:
            service = session.get(ServerService, run.record_id, with_for_update=True)
            if service is not None:
                servers.remove(session, service)
            run.done(session, "removed")

    def suspend(self, run: JobRun) -> None:
        self._ports(run, on=False)

    def resume(self, run: JobRun) -> None:
        self._ports(run, on=True)

    def _ports(self, run: JobRun, on: bool) -> None:
        """Suspend and resume by switch ports (the WHMCS module's networkoff/networkon)."""
        server_id = self._server_id(run)
        switch = self.client.switch_ports_on if on else self.client.switch_ports_off
        ports = vendor_call(lambda: switch(server_id))
        state = servers.ACTIVE if on else servers.SUSPENDED
        with run.transaction() as session:
            self._done(session, run, "resumed" if on else "suspended",
                       f"{len(ports)} switch ports {'on' if on else 'off'}", record={"state": state, "failure": ""})  # fmt: skip

    def replace(self, run: JobRun) -> None:
        action = run.data.get("action")
        server_id = self._server_id(run)
        if action == "reboot":
            vendor_call(lambda: self.client.reboot(server_id))
            self._record(run, "rebooted", "reboot requested")
        elif action == "hostname":
            hostname = run.data["hostname"]
            vendor_call(lambda: self.client.set_domain(server_id, hostname))
            self._record(run, "renamed", f"domain {hostname}", record={"hostname": hostname})
        elif action == "add_ip":
            self._add_ip(run, server_id)
        elif action == "delete_ip":
            address = run.data["ip"]
            found = vendor_call(lambda: self.client.find_ip(server_id, address))
            if found is not None:
                vendor_call(lambda: self.client.delete_ip(server_id, found.id))
            self._record_ips(run, server_id, "ip_deleted", f"{address} removed")
        elif action == "password":
            sealed = base64.b64decode(run.data["password"])
            with run.transaction() as session:
                user_id = _service(session, run).panel_user_id
            if not user_id:
                raise PermanentError(f"Server {run.record_id} has no panel user.")
            vendor_call(lambda: self.client.change_password(user_id, self.sealer.open(sealed)))
            self._record(run, "password", "panel password changed", record={"panel_password_sealed": sealed})
        else:
            raise PermanentError(f"unknown server change {action!r}")

    def _add_ip(self, run: JobRun, server_id: str) -> None:
        """One more address, looking first: the addresses before the request are noted, and a
        retry that finds a new one adopts it."""
        family = run.data["family"]
        current = [ip.ip for ip in vendor_call(lambda: self.client.ips(server_id))]
        before = run.data.get("before")
        if before is None:
            with run.transaction() as session:
                run.note(session, before=current)
        new = [ip for ip in current if before is not None and ip not in before and _family(ip) == family]
        if new:
            address = new[0]
        else:
            with run.transaction() as session:
                hostname = _service(session, run).hostname
            address = vendor_call(lambda: self.client.add_ip(server_id, hostname, family=family))
        self._record_ips(run, server_id, "ip_added", f"{address} added")

    def _record_ips(self, run: JobRun, server_id: str, step: str, result: str) -> None:
        addresses = [ip.ip for ip in vendor_call(lambda: self.client.ips(server_id))]
        self._record(run, step, result, record={"ips": addresses})

    def pull(self, session: Session, record: Any) -> None:
        """Bring the record's addresses up to date with DCImanager."""
        if record.dcim_server_id:
            record.ips = [ip.ip for ip in vendor_call(lambda: self.client.ips(record.dcim_server_id))]
            record.change_date = utcnow()

    # -- helpers ---------------------------------------------------------------------------

    def _server_id(self, run: JobRun) -> str:
        with run.transaction() as session:
            server_id = _service(session, run).dcim_server_id
        if not server_id:
            raise PermanentError(f"Server {run.record_id} has no DCImanager machine.")
        return server_id

    @staticmethod
    def _at(run: JobRun, step: str) -> None:
        with run.transaction() as session:
            service = _service(session, run)
            if service.step != step:
                service.step, service.change_date = step, utcnow()

    def _record(self, run: JobRun, step: str, result: str, record: dict[str, Any] | None = None, **data: Any) -> None:
        with run.transaction() as session:
            self._done(session, run, step, result, record=record, **data)

    @staticmethod
    def _done(session: Session, run: JobRun, step: str, result: str, record: dict[str, Any] | None = None,
              **data: Any) -> None:  # fmt: skip
        """Step ``step`` is done: the job's progress, the record's changes and a line of the
        record's progress commit together."""
        service = _service(session, run)
        for name, value in (record or {}).items():
            setattr(service, name, value)
        _progress(service, step, result)
        run.done(session, step, **data)


def _progress(service: ServerService, step: str, result: str) -> None:
    service.progress = [*service.progress, {"step": step, "result": result, "at": utcnow().isoformat(" ")}]
    service.change_date = utcnow()


def _service(session: Session, run: JobRun) -> ServerService:
    service = session.get(ServerService, run.record_id, with_for_update=True, populate_existing=True)
    if service is None:
        raise PermanentError(f"Server {run.record_id} no longer exists.")
    return service


def _family(address: str) -> str:
    return "ipv6" if ":" in address else "ipv4"


@adapters.register("server", "dcimanager")
def _dcimanager(context: Any) -> DcimServers:
    return DcimServers(context.settings, context.sealer)
