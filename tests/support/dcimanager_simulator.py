"""A simulator of ISPsystem DCImanager 5, served over real HTTP (or HTTPS) on 127.0.0.1, for
the tests of the DCImanager client and of the dedicated-server jobs built on it.

Typical use::

    with DcimSimulator() as dcim:                       # a free port, stopped on exit
        client = DcimClient(dcim.base_url, dcim.username, dcim.password)
        free = client.free_servers("R630")              # the default inventory, see _seed
        client.power_on(free[0].id)                     # on after ``power_delay`` seconds
        dcim.finish_install(server_id)                  # or wait ``install_delay``

It behaves as vendors.md 2.4 describes:

- form POSTs (and GETs) of ``func``/``out`` at ``path`` (``/dcimgr``); ``out=xml`` or
  ``out=json`` (``{"doc": {...}}``, text under ``"$"``, attributes under ``"$name"``, a child
  repeated becomes a list); no ``out`` gets the HTML panel, as a browser would;
- ``authinfo=<user>:<password>`` on each call, or ``func=auth`` sessions that expire after
  ``session_ttl`` seconds idle (or at :meth:`DcimSimulator.expire_sessions`); ``session.newkey``
  and ``auth`` with a ``key`` act as a user. A wrong ``authinfo``, an expired session or a
  function the user may not call is ``<error type="access">`` in an HTTP 200; a refused
  ``func=auth`` is ``<error type="auth">``;
- every ``*.edit`` update (``sok=ok&elid``) **replaces** the object: a writable field not sent
  is cleared (``server.edit``: name, mac, notes, type, owner; ``iplist.edit``: domain, iptype;
  ``user.edit``: name, level; ``server.connection.edit``: name and port or ipmiip);
- power on/off/reboot and OS installs are asynchronous: ``poweron`` and ``install_in_progress``
  / ``operation_failed`` appear as presence flags after ``power_delay`` / ``install_delay``
  seconds (None: only when a test calls :meth:`finish_power` / :meth:`finish_install`), moved
  on by a clock thread as well as by each request;
- servers' main IPs are loopback addresses ``127.B.0.N`` (``B`` differs between simulators);
  while a server is reachable, powered on and not installing, the simulator accepts TCP
  connections on its main IP at ``listen_port``, for the provisioning's reachability check;
- ``hostname`` in the server list is the domain of the main IP.

Failure knobs: :meth:`fail_next` (see :data:`FAILURE_KINDS`), :meth:`delay`, per server
:meth:`configure_server` (``install_fails``, ``power_fault`` "never" or "error",
``reachable``, ``blocked``, ...), and :meth:`drain_pool` for an empty IP pool.
Introspection: ``calls`` (function and parameters, in arrival order), :meth:`count`,
``servers``, ``users``, ``ips``, :meth:`hostname`, :meth:`is_listening`.

Assumed where no public source shows it: the error types (``access``, ``missing``, ``exists``,
``value``, ``busy``, ``disabled``), the ``tparams`` echo of the request's parameters (secrets
included, so that the client's log masking is tested against the worst case), the admin's
level (28), the fields of the ``user.edit``, ``iplist.edit`` and ``server.connection.edit``
views, and a single JSON child being an object rather than a one-item list.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from tests.support.loopback import Serving, free_port

PATH = "/dcimgr"
FREE_DOMAIN = "free.ds"
ADMIN_LEVEL = "28"
USER_LEVEL = "16"
_LEVEL_NAMES = {"lvAdmin": ADMIN_LEVEL, "lvUser": USER_LEVEL}
_LEVEL_OF = {level: name for name, level in _LEVEL_NAMES.items()}

FAILURE_KINDS = ("http500", "http502", "timeout", "not_xml", "reset")
"""The kinds ``fail_next`` takes, besides "error:<type>:<object>:<message>" (that error in
an HTTP 200) and "body:<text>" (HTTP 200 with exactly that body). "timeout" processes the call
and then holds the answer ``timeout_sleep`` seconds; the others do not process it."""

OS_TEMPLATES = (
    ("Debian-12-amd64", "Debian 12 (bookworm)"),
    ("CentOS-7-amd64", "CentOS 7"),
    ("Ubuntu-22.04-amd64", "Ubuntu 22.04 LTS"),
)
RECIPES = (("lamp", "LAMP stack"), ("docker", "Docker"))

# Functions an ordinary user may call, on servers it owns only.
_USER_FUNCTIONS = frozenset({"server", "server.poweron", "server.poweroff", "server.reboot"})

_HTML_PANEL = b"<html><head><title>DCImanager</title></head><body><form>login</form></body></html>"


class _Refused(Exception):
    """Answer the call with ``<error type object><msg>``."""

    def __init__(self, error_type: str, error_object: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.error_object = error_object
        self.message = message


@dataclass
class SimUser:
    id: str
    name: str
    level: str
    password: str = field(repr=False)


@dataclass
class SimConnection:
    """A switch port (``port``) or an IPMI (``ipmiip``) of a server."""

    id: str
    type: str
    name: str
    port: str = ""
    ipmiip: str = ""
    on: bool = True
    busy_until: float = 0.0


@dataclass
class SimIp:
    """An address: on a server (``server_id``) or free in the pool (None)."""

    id: str
    ip: str
    family: str
    server_id: str | None = None
    domain: str = ""
    iptype: str = "public"
    type: str = "public"


@dataclass
class SimServer:
    id: str
    name: str
    mac: str
    type: str
    chassis_templ: str
    rack: str = ""
    notes: str = ""
    owner: str = ""  # a user id, '' for none
    disabled: bool = False
    blocked: bool = False
    hwproblem: bool = False
    diag_in_progress: bool = False
    power: str = "off"  # off, starting, on, stopping, error
    power_due: float | None = None
    install: str = "none"  # none, installing, done, failed
    install_started: float = 0.0
    install_due: float | None = None
    os_template: str = ""
    recipe: str = ""
    root_password: str = field(default="", repr=False)
    main_ip_id: str = ""
    group_ip_id: str = ""
    connections: list[SimConnection] = field(default_factory=list)
    # knobs
    reachable: bool = True
    install_fails: bool = False
    power_fault: str | None = None  # "never": stays starting; "error": powererror
    # counters
    installs: int = 0
    power_ons: int = 0
    reboots: int = 0


@dataclass(frozen=True)
class Call:
    """One request as the simulator received it (secrets included)."""

    func: str
    params: dict[str, str]


@dataclass
class _Knob:
    kind: str
    remaining: int
    func: str | None
    when: Callable[[dict[str, str]], bool] | None = None


@dataclass
class _Session:
    user_id: str
    last_used: float


class DcimSimulator:
    """The simulated DCImanager. ``seed`` False starts with the admin only; ``tls`` serves
    HTTPS with a self-signed certificate for 127.0.0.1 (its file is ``certificate_path``)."""

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "sim-Admin-pass-9",
        path: str = PATH,
        power_delay: float | None = 0.05,
        install_delay: float | None = 0.2,
        session_ttl: float = 3600.0,
        timeout_sleep: float = 10.0,
        listen_port: int | None = None,
        tls: bool = False,
        seed: bool = True,
    ) -> None:
        self.username = username
        self.password = password
        self.path = path
        self.power_delay = power_delay
        self.install_delay = install_delay
        self.session_ttl = session_ttl
        self.timeout_sleep = timeout_sleep
        self.tls = tls
        self.calls: list[Call] = []
        self.internal_errors: list[Exception] = []
        self.users: dict[str, SimUser] = {}
        self.servers: dict[str, SimServer] = {}
        self.ips: dict[str, SimIp] = {}
        self._sessions: dict[str, _Session] = {}
        self._keys: dict[str, str] = {}  # session.newkey key -> user id
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._knobs: list[_Knob] = []
        self._delays: dict[str | None, float] = {}
        self._server_ids = itertools.count(1)
        self._user_ids = itertools.count(1)
        self._ip_ids = itertools.count(1)
        self._connection_ids = itertools.count(1)
        self._block = random.randint(16, 250)
        self._hosts = itertools.count(10)
        self._extra_pool = itertools.count(0)
        self._listen_port = listen_port
        self._listeners: dict[str, socket.socket] = {}
        self._serving: Serving | None = None
        self._clock: threading.Thread | None = None
        self._add_user(username, ADMIN_LEVEL, password)
        self._fill_pool()
        if seed:
            self._seed()

    # lifecycle

    def start(self) -> Self:
        if self._listen_port is None:
            self._listen_port = free_port("0.0.0.0")  # the servers' addresses listen on it too
        server = _Server(("127.0.0.1", 0), _Handler)
        server.simulator = self
        self._serving = Serving(server, tls=self.tls)
        self._clock = threading.Thread(target=self._run_clock, daemon=True)
        self._clock.start()
        return self

    def stop(self) -> None:
        """Stop serving and listening; answers held by a knob are released at once."""
        self._stopping.set()
        if self._serving is not None:
            self._serving.close()
        if self._clock is not None:
            self._clock.join()
        with self._lock:
            for listener in self._listeners.values():
                listener.close()
            self._listeners.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Scheme, host and port; the client adds ``path``."""
        assert self._serving is not None, "the simulator is not started"
        return self._serving.root_url

    @property
    def url(self) -> str:
        return self.base_url + self.path

    @property
    def certificate_path(self) -> str | None:
        """The PEM file of the certificate served over TLS (None without ``tls``)."""
        path = self._serving.certificate_path if self._serving is not None else None
        return str(path) if path is not None else None

    @property
    def listen_port(self) -> int:
        """The TCP port reachable servers accept connections on."""
        assert self._listen_port is not None, "the simulator is not started"
        return self._listen_port

    # test hooks

    def add_server(
        self,
        chassis_templ: str,
        type: str,
        *,
        domain: str = FREE_DOMAIN,
        owner: str = "",
        **state: Any,
    ) -> str:
        """Add a server with a main IP (whose domain is ``domain``), a switch port and an
        IPMI; ``state`` sets any :class:`SimServer` field. Returns its id."""
        with self._lock:
            server_id = str(next(self._server_ids))
            host = next(self._hosts)
            while host % 256 in (0, 255):  # no .0 or .255 for a main address
                host = next(self._hosts)
            third, last = (0, host) if host < 256 else (host // 256 + 1, host % 256)
            server = SimServer(
                id=server_id,
                name=f"srv-{chassis_templ.lower()}-{server_id}",
                mac=f"0c:c4:7a:{self._block:02x}:{host // 256:02x}:{host % 256:02x}",
                type=type,
                chassis_templ=chassis_templ,
                rack=f"R{int(server_id) % 4 + 1}",
                owner=owner,
                **state,
            )
            main = SimIp(
                str(next(self._ip_ids)), f"127.{self._block}.{third}.{last}", "ipv4", server_id, domain
            )
            group = SimIp(
                str(next(self._ip_ids)),
                f"127.{self._block}.0.0/24",
                "ipv4",
                server_id,
                "",
                type="group",
            )
            self.ips[main.id] = main
            self.ips[group.id] = group
            server.main_ip_id = main.id
            server.group_ip_id = group.id
            server.connections = [
                SimConnection(
                    str(next(self._connection_ids)), "Switch", "sw-core-1", port=f"Gi1/0/{host}"
                ),
                SimConnection(
                    str(next(self._connection_ids)),
                    "IPMI",
                    "ipmi",
                    ipmiip=f"10.{self._block}.{third}.{last}",
                ),
            ]
            self.servers[server_id] = server
            self._sync_listeners()
            return server_id

    def seed_free_servers(
        self, count: int, chassis_templ: str = "R630", type: str = "Dell PowerEdge R630"
    ) -> list[str]:
        """Add ``count`` sellable servers (no owner, ``free.ds``) of one chassis template,
        and as many free IPv4 and IPv6 addresses to the pool, so that each can get an extra
        address of both families. Returns their ids. For benchmarks: up to about 30,000."""
        ids = [self.add_server(chassis_templ, type) for _ in range(count)]
        self.add_pool_ips("ipv4", count)
        self.add_pool_ips("ipv6", count)
        return ids

    def add_pool_ips(self, family: str, count: int) -> list[str]:
        """Add ``count`` free addresses of ``family`` to the pool (IPv4 from 127.B.128.1 on,
        clear of the main addresses); returns them."""
        added = []
        with self._lock:
            for _ in range(count):
                n = next(self._extra_pool)
                if family == "ipv4":
                    address = f"127.{self._block}.{128 + n // 254}.{n % 254 + 1}"
                else:
                    address = f"fd00:{self._block:x}::1:{n:x}"
                ip_id = str(next(self._ip_ids))
                self.ips[ip_id] = SimIp(ip_id, address, family)
                added.append(address)
        return added

    def add_user(self, name: str, password: str, level: str = USER_LEVEL) -> str:
        with self._lock:
            return self._add_user(name, level, password).id

    def configure_server(self, server_id: str, **changes: Any) -> None:
        """Set fields or knobs of a server: ``install_fails``, ``power_fault`` ("never",
        "error" or None), ``reachable``, ``blocked``, ``hwproblem``, ``power`` ..."""
        with self._lock:
            server = self.servers[server_id]
            for name, value in changes.items():
                if not hasattr(server, name):
                    raise AttributeError(f"a server has no {name}")
                setattr(server, name, value)
            self._sync_listeners()

    def hostname(self, server_id: str) -> str:
        with self._lock:
            return self.ips[self.servers[server_id].main_ip_id].domain

    def main_ip(self, server_id: str) -> str:
        with self._lock:
            return self.ips[self.servers[server_id].main_ip_id].ip

    def server_ips(self, server_id: str) -> list[SimIp]:
        """The addresses of a server, subnet rows excluded."""
        with self._lock:
            return [
                ip for ip in self.ips.values() if ip.server_id == server_id and ip.type != "group"
            ]

    def finish_power(self, server_id: str) -> None:
        """Complete a pending power change now (a power fault still applies)."""
        with self._lock:
            server = self.servers[server_id]
            if server.power in ("starting", "stopping"):
                server.power_due = time.monotonic()
            self._advance()

    def finish_install(self, server_id: str) -> None:
        """Complete a running install now (failing it if ``install_fails``)."""
        with self._lock:
            server = self.servers[server_id]
            if server.install == "installing":
                server.install_due = time.monotonic()
            self._advance()

    def install_progress(self, server_id: str) -> float | None:
        """How far the running install is (0..1), None when none runs or it has no clock."""
        with self._lock:
            server = self.servers[server_id]
            if server.install != "installing" or server.install_due is None:
                return None
            span = server.install_due - server.install_started
            if span <= 0:
                return 1.0
            return min(1.0, (time.monotonic() - server.install_started) / span)

    def drain_pool(self, family: str | None = None) -> None:
        """Remove the free addresses of one family (or all) from the pool."""
        with self._lock:
            for ip_id, ip in list(self.ips.items()):
                if ip.server_id is None and family in (None, ip.family):
                    del self.ips[ip_id]

    def free_ips(self, family: str) -> list[str]:
        with self._lock:
            return [
                ip.ip for ip in self.ips.values() if ip.server_id is None and ip.family == family
            ]

    def expire_sessions(self) -> None:
        """Forget every session, as an hour without calls would."""
        with self._lock:
            self._sessions.clear()

    def fail_next(
        self,
        kind: str,
        times: int = 1,
        func: str | None = None,
        when: Callable[[dict[str, str]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls (of ``func`` only, if given, and only those whose
        parameters ``when`` accepts) fail as ``kind`` (see :data:`FAILURE_KINDS`)."""
        if kind not in FAILURE_KINDS and not kind.startswith(("error:", "body:")):
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._knobs.append(_Knob(kind, times, func, when))

    def delay(self, seconds: float, func: str | None = None) -> None:
        """Answer every call (of ``func`` only, if given) ``seconds`` late; 0 clears."""
        with self._lock:
            self._delays[func] = seconds

    def count(self, func: str) -> int:
        with self._lock:
            return sum(1 for call in self.calls if call.func == func)

    def calls_of(self, func: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.func == func]

    def tick(self) -> None:
        """Move the clock-driven state on now (the clock thread does it every 10 ms)."""
        with self._lock:
            self._advance()

    def is_listening(self, address: str) -> bool:
        with self._lock:
            return address in self._listeners

    def wait(self, seconds: float) -> None:
        """Sleep, but wake at once when the simulator stops."""
        self._stopping.wait(seconds)

    # the service

    def respond(self, params: dict[str, str]) -> tuple[int, str, bytes, float] | None:
        """Answer one call: (HTTP status, content type, body, seconds to wait first), or None
        to drop the connection without an answer. A bug of the simulator itself is kept in
        ``internal_errors`` (tests check it is empty) and answered with HTTP 500."""
        try:
            return self._respond(params)
        except Exception as exc:  # noqa: BLE001 - kept for the test to fail on
            self.internal_errors.append(exc)
            return 500, "text/plain", f"simulator error: {exc!r}".encode(), 0.0

    def _respond(self, params: dict[str, str]) -> tuple[int, str, bytes, float] | None:
        func = params.get("func", "")
        with self._lock:
            self._advance()
            self.calls.append(Call(func, dict(params)))
            knob = self._take_knob(func, params)
            wait = self._delays.get(func, self._delays.get(None, 0.0))
            kind = knob.kind if knob else ""
            if kind == "reset":
                return None
            if kind in ("http500", "http502"):
                status = int(kind.removeprefix("http"))
                return status, "text/html", b"<html><body>Bad Gateway</body></html>", wait
            if kind == "not_xml":
                return 200, "text/html", _HTML_PANEL, wait
            if kind.startswith("body:"):
                return 200, "text/xml", kind.removeprefix("body:").encode(), wait
            out = params.get("out", "")
            if out not in ("xml", "json"):
                return 200, "text/html", _HTML_PANEL, wait
            doc = _doc(params)
            try:
                if kind.startswith("error:"):
                    error_type, error_object, message = kind.removeprefix("error:").split(":", 2)
                    raise _Refused(error_type, error_object, message)
                self._process(func, params, doc)
            except _Refused as refused:
                doc = _doc(params)
                _error(doc, refused)
            self._sync_listeners()
            if kind == "timeout":
                wait += self.timeout_sleep
            if out == "json":
                body = json.dumps({"doc": _json_of(doc)}, ensure_ascii=False).encode()
                return 200, "application/json", body, wait
            answer = etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
            return 200, "text/xml", answer, wait

    def _take_knob(self, func: str, params: dict[str, str]) -> _Knob | None:
        for knob in self._knobs:
            if knob.func not in (None, func) or (knob.when is not None and not knob.when(params)):
                continue
            knob.remaining -= 1
            if knob.remaining <= 0:
                self._knobs.remove(knob)
            return knob
        return None

    def _process(self, func: str, params: dict[str, str], doc: etree._Element) -> None:
        if func == "auth":
            self._auth(params, doc)
            return
        user = self._caller(params)
        handler: Callable[[dict[str, str], etree._Element, SimUser], None] | None = getattr(
            self, "_f_" + func.replace(".", "_"), None
        )
        if handler is None:
            raise _Refused("unknown", "func", f"Unknown function {func}")
        if user.level != ADMIN_LEVEL:
            if func not in _USER_FUNCTIONS:
                raise _Refused("access", "func", "Access denied")
            elid = params.get("elid")
            if elid is not None and self._server(elid).owner != user.id:
                raise _Refused("access", "server", "Access denied")
        handler(params, doc, user)

    def _auth(self, params: dict[str, str], doc: etree._Element) -> None:
        name = params.get("username", "")
        user = next((u for u in self.users.values() if u.name == name), None)
        key = params.get("key")
        if key is not None:
            if user is None or self._keys.pop(key, None) != user.id:
                raise _Refused("auth", "badkey", "Invalid key")
        elif user is None or params.get("password") != user.password:
            raise _Refused("auth", "badpassword", "Invalid username or password")
        session_id = secrets.token_hex(12)
        self._sessions[session_id] = _Session(user.id, time.monotonic())
        auth = _sub(doc, "auth", session_id)
        auth.set("id", session_id)
        auth.set("level", user.level)

    def _caller(self, params: dict[str, str]) -> SimUser:
        authinfo = params.get("authinfo")
        if authinfo is not None:
            name, _, password = authinfo.partition(":")
            for user in self.users.values():
                if user.name == name and user.password == password:
                    return user
            raise _Refused("access", "authinfo", "Access denied: wrong authinfo")
        session = self._sessions.get(params.get("auth", ""))
        now = time.monotonic()
        if session is None or now - session.last_used > self.session_ttl:
            self._sessions.pop(params.get("auth", ""), None)
            raise _Refused("access", "session", "Access denied: the session has expired")
        session.last_used = now
        return self.users[session.user_id]

    # functions: each reads the call's parameters and fills the answer's <doc>

    def _f_session_newkey(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        name, key = params.get("username", ""), params.get("key", "")
        user = next((u for u in self.users.values() if u.name == name), None)
        if user is None:
            raise _Refused("missing", "user", f"No user {name}")
        if len(key) < 16:
            raise _Refused("value", "key", "The key is too short")
        self._keys[key] = user.id
        _sub(doc, "ok")

    def _f_server(self, params: dict[str, str], doc: etree._Element, caller: SimUser) -> None:
        for server in self.servers.values():
            if caller.level != ADMIN_LEVEL and server.owner != caller.id:
                continue
            elem = _sub(doc, "elem")
            _texts(
                elem,
                id=server.id,
                name=server.name,
                hostname=self.ips[server.main_ip_id].domain,
                type=server.type,
                chassis_templ=server.chassis_templ,
                ip=self.ips[server.main_ip_id].ip,
                rack=server.rack,
            )
            if server.owner:
                _sub(elem, "owner", self.users[server.owner].name)
            flags = {
                "poweron": server.power == "on",
                "poweroff": server.power == "off",
                "powererror": server.power == "error",
                "blocked": server.blocked,
                "disabled": server.disabled,
                "hwproblem": server.hwproblem,
                "diag_in_progress": server.diag_in_progress,
                "install_in_progress": server.install == "installing",
                "operation_failed": server.install == "failed",
            }
            for flag, present in flags.items():
                if present:
                    _sub(elem, flag)

    def _f_server_edit(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("elid", ""))
        if params.get("sok") != "ok":
            _texts(
                doc,
                elid=server.id,
                name=server.name,
                mac=server.mac,
                notes=server.notes,
                type=server.type,
                owner=server.owner,
                disabled="on" if server.disabled else "off",
            )
            return
        owner = self._owner(params.get("owner", ""))
        # the whole object is replaced: what is not sent is cleared
        server.name = params.get("name", "")
        server.mac = params.get("mac", "")
        server.notes = params.get("notes", "")
        server.type = params.get("type", "")
        server.owner = owner
        _texts(doc, id=server.id)
        _sub(doc, "ok")

    def _f_server_enable(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        self._set_enabled(params, doc, enabled=True)

    def _f_server_disable(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        self._set_enabled(params, doc, enabled=False)

    def _f_server_poweron(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("elid", ""))
        if server.power != "on":
            server.power_ons += 1
            self._power_change(server, "starting")
        _sub(doc, "ok")

    def _f_server_poweroff(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("elid", ""))
        if server.power != "off":
            self._power_change(server, "stopping")
        _sub(doc, "ok")

    def _f_server_reboot(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("elid", ""))
        server.reboots += 1
        self._power_change(server, "starting")
        _sub(doc, "ok")

    def _f_server_connection(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("elid", ""))
        for connection in server.connections:
            elem = _sub(doc, "elem")
            _texts(elem, id=connection.id, type=connection.type, name=connection.name)
            if connection.busy_until > time.monotonic():
                _sub(elem, "func_in_progress")

    def _f_server_connection_edit(
        self, params: dict[str, str], doc: etree._Element, _: SimUser
    ) -> None:
        connection = self._connection(params)
        address = "port" if connection.type == "Switch" else "ipmiip"
        if params.get("sok") != "ok":
            _texts(doc, elid=connection.id, name=connection.name, type=connection.type)
            _sub(doc, address, getattr(connection, address))
            return
        connection.name = params.get("name", "")
        setattr(connection, address, params.get(address, ""))
        _sub(doc, "ok")

    def _f_server_connection_on(
        self, params: dict[str, str], doc: etree._Element, _: SimUser
    ) -> None:
        self._switch(params, on=True)
        _sub(doc, "ok")

    def _f_server_connection_off(
        self, params: dict[str, str], doc: etree._Element, _: SimUser
    ) -> None:
        self._switch(params, on=False)
        _sub(doc, "ok")

    def _f_iplist(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("elid", ""))
        own = [ip for ip in self.ips.values() if ip.server_id == server.id]
        for ip in sorted(own, key=lambda ip: (ip.id != server.main_ip_id, int(ip.id))):
            elem = _sub(doc, "elem")
            _texts(elem, id=ip.id, ip=ip.ip, type=ip.type, domain=ip.domain, family=ip.family)

    def _f_iplist_edit(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("plid", ""))
        elid = params.get("elid")
        if elid:
            ip = self.ips.get(elid)
            if ip is None or ip.server_id != server.id or ip.type == "group":
                raise _Refused("missing", "ip", f"No address {elid} on server {server.id}")
            if params.get("sok") != "ok":
                _texts(doc, elid=ip.id, ip=ip.ip, family=ip.family, domain=ip.domain)
                _sub(doc, "iptype", ip.iptype)
                return
            ip.domain = params.get("domain", "")
            ip.iptype = params.get("iptype", "")
            _texts(doc, id=ip.id, ip=ip.ip)
            _sub(doc, "ok")
            return
        if params.get("sok") != "ok":
            _texts(doc, plid=server.id)
            return
        family = params.get("family", "ipv4")
        if family not in ("ipv4", "ipv6"):
            raise _Refused("value", "family", f"Invalid address family {family}")
        wanted = params.get("ip", "")
        free = [
            ip
            for ip in self.ips.values()
            if ip.server_id is None and ip.family == family and wanted in ("", ip.ip)
        ]
        if not free:
            message = f"The address {wanted} is not free" if wanted else "No free IP addresses"
            raise _Refused("value", "ip", f"{message} in the {family} pool")
        ip = free[0]
        ip.server_id = server.id
        ip.domain = params.get("domain", "")
        ip.iptype = params.get("iptype", "public")
        _texts(doc, id=ip.id, ip=ip.ip)
        _sub(doc, "ok")

    def _f_iplist_delete(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("plid", ""))
        ip = self.ips.get(params.get("elid", ""))
        if ip is None or ip.server_id != server.id or ip.type == "group":
            raise _Refused("missing", "ip", f"No address {params.get('elid')} on {server.id}")
        if ip.id == server.main_ip_id:
            raise _Refused("value", "ip", "The main address of a server cannot be deleted")
        ip.server_id = None
        ip.domain = ""
        ip.iptype = "public"
        _sub(doc, "ok")

    def _f_server_operations(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        server = self._server(params.get("elid", ""))
        if params.get("sok") != "ok":
            _texts(doc, elid=server.id)
            for name, values in (("ostemplate", OS_TEMPLATES), ("recipe", RECIPES)):
                slist = _sub(doc, "slist")
                slist.set("name", name)
                for key, title in values:
                    _sub(slist, "val", title).set("key", key)
            return
        if params.get("operation") != "ostemplate":
            raise _Refused("value", "operation", f"Unknown operation {params.get('operation')}")
        template = params.get("ostemplate", "")
        if template not in dict(OS_TEMPLATES):
            raise _Refused("value", "ostemplate", f"Unknown OS template {template}")
        recipe = params.get("recipe", "null")
        if recipe != "null" and recipe not in dict(RECIPES):
            raise _Refused("value", "recipe", f"Unknown recipe {recipe}")
        password = params.get("passwd", "")
        if not password:
            raise _Refused("empty", "passwd", "The root password is empty")
        if params.get("confirm") != password or params.get("checkpasswd") != password:
            raise _Refused("value", "confirm", "The passwords do not match")
        if server.install == "installing":
            raise _Refused("busy", "server", "An operation is in progress on the server")
        now = time.monotonic()
        server.install = "installing"
        server.install_started = now
        server.install_due = None if self.install_delay is None else now + self.install_delay
        server.os_template = template
        server.recipe = "" if recipe == "null" else recipe
        server.root_password = password
        server.installs += 1
        _sub(doc, "ok")

    def _f_user(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        for user in self.users.values():
            _texts(_sub(doc, "elem"), id=user.id, name=user.name, level=user.level)

    def _f_user_edit(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        elid = params.get("elid")
        if params.get("sok") != "ok":
            if not elid:
                return
            user = self._user(elid)
            _texts(doc, elid=user.id, name=user.name, level=_LEVEL_OF[user.level])
            return
        name = params.get("name", "")
        level = _LEVEL_NAMES.get(params.get("level", ""), params.get("level", ""))
        if not name:
            raise _Refused("empty", "name", "The user name is empty")
        if level not in _LEVEL_OF:
            raise _Refused("value", "level", f"Invalid level {params.get('level')}")
        if any(user.name == name and user.id != elid for user in self.users.values()):
            raise _Refused("exists", "user", f"The user {name} already exists")
        password = params.get("passwd")
        if "confirm" in params and params["confirm"] != password:
            raise _Refused("value", "confirm", "The passwords do not match")
        if not elid:
            if not password:
                raise _Refused("empty", "passwd", "The password is empty")
            _texts(doc, id=self._add_user(name, level, password).id)
            _sub(doc, "ok")
            return
        user = self._user(elid)
        user.name = name
        user.level = level
        if password:  # a password is never shown, so not sending one keeps it
            user.password = password
        _texts(doc, id=user.id)
        _sub(doc, "ok")

    def _f_user_delete(self, params: dict[str, str], doc: etree._Element, _: SimUser) -> None:
        user = self._user(params.get("elid", ""))
        if any(server.owner == user.id for server in self.servers.values()):
            raise _Refused("exists", "server", f"The user {user.name} owns servers")
        del self.users[user.id]
        _sub(doc, "ok")

    # helpers over the store

    def _server(self, server_id: str) -> SimServer:
        server = self.servers.get(server_id)
        if server is None:
            raise _Refused("missing", "server", f"No server with id {server_id}")
        return server

    def _user(self, user_id: str) -> SimUser:
        user = self.users.get(user_id)
        if user is None:
            raise _Refused("missing", "user", f"No user with id {user_id}")
        return user

    def _owner(self, owner: str) -> str:
        if owner in ("", "no_owner"):
            return ""
        if owner not in self.users:
            raise _Refused("value", "owner", f"No user with id {owner}")
        return owner

    def _connection(self, params: dict[str, str]) -> SimConnection:
        server = self._server(params.get("plid", ""))
        for connection in server.connections:
            if connection.id == params.get("elid"):
                return connection
        raise _Refused("missing", "connection", f"No connection {params.get('elid')}")

    def _set_enabled(self, params: dict[str, str], doc: etree._Element, *, enabled: bool) -> None:
        """Enabling or disabling a server switches its switch ports with it."""
        server = self._server(params.get("elid", ""))
        server.disabled = not enabled
        for connection in server.connections:
            if connection.type == "Switch":
                connection.on = enabled
        _sub(doc, "ok")

    def _switch(self, params: dict[str, str], *, on: bool) -> None:
        connection = self._connection(params)
        if connection.type != "Switch":
            raise _Refused("value", "connection", f"Connection {connection.id} is no switch port")
        if on and self._server(params.get("plid", "")).disabled:
            raise _Refused("disabled", "server", "The server is disabled")
        connection.on = on
        connection.busy_until = time.monotonic() + 0.02

    def _add_user(self, name: str, level: str, password: str) -> SimUser:
        user = SimUser(str(next(self._user_ids)), name, level, password)
        self.users[user.id] = user
        return user

    def _power_change(self, server: SimServer, state: str) -> None:
        server.power = state
        now = time.monotonic()
        server.power_due = None if self.power_delay is None else now + self.power_delay

    def _advance(self) -> None:
        now = time.monotonic()
        for server in self.servers.values():
            if server.power_due is not None and server.power_due <= now:
                if server.power == "stopping":
                    server.power = "off"
                    server.power_due = None
                elif server.power == "starting" and server.power_fault != "never":
                    server.power = "error" if server.power_fault == "error" else "on"
                    server.power_due = None
            if (
                server.install == "installing"
                and server.install_due is not None
                and server.install_due <= now
            ):
                server.install = "failed" if server.install_fails else "done"
                server.install_due = None
        self._sync_listeners()

    def _sync_listeners(self) -> None:
        """Listen on the main IP of every server that would answer a connection."""
        wanted = {
            self.ips[server.main_ip_id].ip
            for server in self.servers.values()
            if server.reachable and server.power == "on" and server.install != "installing"
        }
        for address in set(self._listeners) - wanted:
            self._listeners.pop(address).close()
        for address in wanted - set(self._listeners):
            if self._listen_port is None:
                continue  # not started yet
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, self._listen_port))
            listener.listen(64)
            listener.setblocking(False)
            self._listeners[address] = listener
        for listener in self._listeners.values():
            try:
                while True:
                    connection, _ = listener.accept()
                    connection.close()
            except (BlockingIOError, OSError):
                pass

    def _run_clock(self) -> None:
        while not self._stopping.wait(0.01):
            with self._lock:
                self._advance()

    def _fill_pool(self) -> None:
        for host in range(1, 41):
            ip_id = str(next(self._ip_ids))
            self.ips[ip_id] = SimIp(ip_id, f"127.{self._block}.1.{host}", "ipv4")
        for host in range(1, 41):
            ip_id = str(next(self._ip_ids))
            self.ips[ip_id] = SimIp(ip_id, f"fd00:{self._block:x}::{host:x}", "ipv6")

    def _seed(self) -> None:
        """The default inventory: three sellable servers (two R630, one X10DRi) and one of
        each kind that must not be sold."""
        customer = self._add_user("oldcustomer", USER_LEVEL, "old-Customer-pass").id
        self.add_server("R630", "Dell PowerEdge R630")
        self.add_server("R630", "Dell PowerEdge R630")
        self.add_server("X10DRi", "Supermicro X10DRi")
        self.add_server("R630", "Dell PowerEdge R630", domain="taken.example", owner=customer)
        self.add_server("R630", "Dell PowerEdge R630", hwproblem=True)
        self.add_server("R630", "Dell PowerEdge R630", blocked=True)
        self.add_server("R630", "Dell PowerEdge R630", diag_in_progress=True)
        self.add_server("R630", "Dell PowerEdge R630", domain="old.example")


def _doc(params: Mapping[str, str]) -> etree._Element:
    doc = etree.Element("doc")
    tparams = _sub(doc, "tparams")
    for name, value in params.items():
        if name.isidentifier():
            _sub(tparams, name, value)
    return doc


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, name)
    element.text = text or None
    return element


def _texts(parent: etree._Element, **values: str) -> None:
    for name, value in values.items():
        _sub(parent, name, value)


def _error(doc: etree._Element, refused: _Refused) -> None:
    error = _sub(doc, "error")
    error.set("type", refused.error_type)
    if refused.error_object:
        error.set("object", refused.error_object)
    _sub(error, "msg", refused.message)


def _json_of(element: etree._Element) -> dict[str, Any]:
    """ISPsystem's JSON form of an element: attributes as "$name", text as "$", children by
    name, a repeated one as a list."""
    value: dict[str, Any] = {f"${name}": text for name, text in element.attrib.items()}
    if element.text:
        value["$"] = element.text
    for child in element:
        converted = _json_of(child)
        if child.tag not in value:
            value[child.tag] = converted
        elif isinstance(value[child.tag], list):
            value[child.tag].append(converted)
        else:
            value[child.tag] = [value[child.tag], converted]
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many workers polling at once must not wait for a SYN retry
    simulator: DcimSimulator

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a slow answer has closed its socket; that is expected


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(body.decode("utf-8", "replace"))

    def do_GET(self) -> None:
        self._answer("")

    def _answer(self, body: str) -> None:
        url = urlsplit(self.path)
        if url.path != self.server.simulator.path:
            self._send(404, "text/html", b"<html><body>Not Found</body></html>")
            return
        params = {
            name: values[-1]
            for source in (url.query, body)
            for name, values in parse_qs(source, keep_blank_values=True).items()
        }
        answer = self.server.simulator.respond(params)
        if answer is None:
            self.close_connection = True
            return
        status, content_type, payload, wait = answer
        if wait:
            self.server.simulator.wait(wait)
        self._send(status, content_type, payload)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client timed out and went away

    def log_message(self, format: str, *args: object) -> None:
        pass
