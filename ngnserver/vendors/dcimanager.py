"""Client for ISPsystem DCImanager 5: the pool of physical servers an operator sells as
dedicated servers and colocation.

Every call is one form ``POST`` of ``func=<function>``, ``out=xml`` (or ``out=json``) and the
function's parameters, all strings, to one URL (``https://<host>/dcimgr``; the path varies
between installs, so it is a setting). The answer is a ``<doc>``:

- a list is ``<doc><elem><id>1</id>...</elem>...</doc>``; a boolean column is the *presence*
  of an empty element (``<poweron/>``), so a row is read as a mapping in which a flag is a key;
- the ``*.edit`` functions view (``elid``), create (``sok=ok``) and update (``sok=ok&elid``)
  one object, children naming their parent with ``plid``; **an update replaces the whole
  object**: a field not sent is cleared. :meth:`DcimClient.update` therefore reads the object,
  merges the changes and writes every field back; every typed update here goes through it;
- an error comes inside an HTTP 200 as ``<doc><error type=".." object=".."><msg>..</msg>``
  and is raised as :class:`DcimApiError` carrying the three.

``out=json`` carries the same document as ``{"doc": {...}}`` with text under ``"$"`` and
attributes under ``"$name"``; it is turned back into the XML tree, so both formats are read by
one code path.

Authentication is either ``authinfo=<user>:<password>`` on every call, or a session:
``func=auth`` returns a session id sent as ``auth`` afterwards. A session expires after about
an hour idle and is bound to the client's IP; an expired one is answered with an ``access``
(or ``auth``) error, on which the client logs in again once and repeats the call.

Errors are split the way a job runner needs them:

- :class:`DcimTransientError`: the call may be retried: a timeout, a connection error, an
  HTTP 5xx (or 408/429), and an answer that is not a ``<doc>`` (:class:`DcimProtocolError`).
  A call that timed out may have been carried out;
- :class:`DcimApiError`: DCImanager refused the call (``<error>``); retrying the same request
  will not help. :class:`DcimNotFound` is its ``missing`` kind;
- :class:`DcimError` itself: a misconfiguration (a malformed URL, another HTTP 4xx, a
  certificate that does not verify).

Passwords, the ``authinfo``, session ids and keys never reach the debug log, which shows
every request and answer with those values replaced by ``***``.

Where no public source shows a detail (the field names of the ``user.edit`` and ``iplist.edit``
views, JSON for a single row, the error type of an expired session) the choice is marked
*assumed* and the simulator in ``tests/support`` makes the same one.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from lxml import etree
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ngnserver import metrics, safexml

DEFAULT_PATH = "/dcimgr"
DEFAULT_TIMEOUT = 60.0
FREE_DOMAIN = "free.ds"
"""The domain of a server's IPs while it is in the pool; ``hostname`` in the server list."""

NO_OWNER = "no_owner"
"""The ``owner`` written to ``server.edit`` to leave a server without one."""

USER_LEVEL = "16"
"""The ``level`` the user list shows for an ordinary (customer) user."""

PANEL_USERNAME_LENGTH = 16

# Errors an expired or foreign session is answered with (assumed: vendors.md 2.4 answers a
# failed authentication with "access"; COREmanager reports a bad login as "auth").
_SESSION_ERRORS = frozenset({"access", "auth"})

# Form fields and answer elements (lower-cased) whose values never reach the debug log.
_SECRET_NAMES = frozenset(
    {"authinfo", "auth", "password", "passwd", "confirm", "checkpasswd", "key", "newkey"}
)

# Children of an edit view that are not fields of the object: they are never written back.
_NOT_FIELDS = frozenset(
    {"elid", "plid", "sok", "func", "out", "auth", "authinfo", "ok", "error", "id", "tparams"}
)

_RETRYABLE_STATUS = frozenset({408, 429})
_PANEL_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9]")

# A document that declares a DOCTYPE is refused after parsing.
_PARSER = safexml.parser()

Record = dict[str, str]
"""One object or list row: field name -> text ('' for an empty element). A presence-flag
boolean is true exactly when its name is a key."""


class DcimError(Exception):
    """Any failure talking to DCImanager. Raised as such for a misconfiguration no retry mends:
    a malformed URL, a certificate that does not verify, an HTTP 4xx such as a wrong path."""


class DcimTransientError(DcimError):
    """No usable answer (timeout, connection error, HTTP 5xx, 408 or 429); a job may retry.
    The call may have been carried out before the answer was lost."""


class DcimProtocolError(DcimTransientError):
    """The answer is not a DCImanager document: not XML or JSON, no ``<doc>`` root, or a
    ``<doc>`` without what the function always returns."""


class DcimApiError(DcimError):
    """DCImanager answered ``<error type=.. object=..><msg>..</msg></error>``. ``error_type``
    is its kind (``access``, ``exists``, ``missing``, ``value``, ...), ``error_object`` what it
    is about ('' when absent) and ``message`` the text of ``msg``."""

    def __init__(self, func: str, error_type: str, error_object: str, message: str) -> None:
        about = f" ({error_object})" if error_object else ""
        super().__init__(f"DCImanager {func}: {error_type}{about}: {message}")
        self.func = func
        self.error_type = error_type
        self.error_object = error_object
        self.message = message


class DcimNotFound(DcimApiError):
    """The object named does not exist: an ``<error type="missing">``, or a server id absent
    from the server list."""


@dataclass(frozen=True)
class Server:
    """A row of the server list (``func=server``). ``hostname`` is the domain of the main
    IP (``ip``), ``free.ds`` while the server is in the pool; ``owner`` is as the list shows it
    ('' for none). The booleans are the presence flags of the row; ``fields`` is the whole
    row."""

    id: str
    hostname: str
    owner: str
    type: str
    chassis_templ: str
    ip: str
    rack: str
    poweron: bool
    poweroff: bool
    powererror: bool
    blocked: bool
    disabled: bool
    hwproblem: bool
    diag_in_progress: bool
    install_in_progress: bool
    operation_failed: bool
    fields: Record = field(repr=False)

    def is_free(self, template: str) -> bool:
        """BILLmanager's rule for a server that may be sold: no owner, of this chassis template
        or server type, hostname ``free.ds``, not blocked, no hardware problem and no
        diagnostics running."""
        return (
            not self.owner
            and template in (self.chassis_templ, self.type)
            and self.hostname == FREE_DOMAIN
            and not (self.blocked or self.hwproblem or self.diag_in_progress)
        )

    @property
    def install_finished(self) -> bool:
        """The last OS install is over and did not fail (the WHMCS module's poll condition)."""
        return not self.install_in_progress and not self.operation_failed


@dataclass(frozen=True)
class ServerSettings:
    """A server as ``server.edit`` shows it. ``owner`` is a user id ('' for none);
    ``fields`` is every field of the form, what an update must send back."""

    id: str
    name: str
    mac: str
    notes: str
    type: str
    owner: str
    disabled: bool
    fields: Record = field(repr=False)


@dataclass(frozen=True)
class User:
    """A panel user (``func=user``). ``level`` is ``16`` for an ordinary user."""

    id: str
    name: str
    level: str
    fields: Record = field(repr=False)


@dataclass(frozen=True)
class Connection:
    """A connection of a server (``server.connection``): a switch port (``type`` Switch), an
    IPMI or PDU. ``func_in_progress`` is set while an operation on it runs."""

    id: str
    type: str
    name: str
    func_in_progress: bool
    fields: Record = field(repr=False)

    @property
    def is_switch(self) -> bool:
        return self.type == "Switch"


@dataclass(frozen=True)
class IpAddress:
    """An address of a server (``iplist``). Rows of ``type`` ``group`` are subnets, not
    addresses: every operation on "the server's IPs" skips them."""

    id: str
    ip: str
    type: str
    domain: str
    family: str
    fields: Record = field(repr=False)

    @property
    def is_group(self) -> bool:
        return self.type == "group"


@dataclass(frozen=True)
class OsTemplate:
    """An OS template a server can be installed with: ``name`` is what ``install_os`` takes,
    ``title`` how the panel shows it."""

    name: str
    title: str


def panel_username(name: str) -> str:
    """The DCImanager user name for a customer name, as BILLmanager makes it: every character
    but ASCII letters and digits removed, at most 16 characters."""
    return _PANEL_NAME_CHARACTERS.sub("", name)[:PANEL_USERNAME_LENGTH]


def unique_panel_username(name: str, taken: Collection[str]) -> str:
    """:func:`panel_username`, with a number replacing its tail when that name is in
    ``taken`` (compared case-insensitively), still within 16 characters. A name with no letter
    or digit left becomes ``user``."""
    base = panel_username(name) or "user"
    taken_lower = {existing.lower() for existing in taken}
    candidate = base
    number = 1
    while candidate.lower() in taken_lower:
        number += 1
        suffix = str(number)
        candidate = base[: PANEL_USERNAME_LENGTH - len(suffix)] + suffix
    return candidate


class DcimClient:
    """One DCImanager administrator account.

    ``base_url`` is the scheme, host and port (``https://dcim.example.net:1500``) and ``path``
    the panel's path on it (``/dcimgr``, ``/manager/dcimgr``); without ``path``, a
    ``base_url`` that has a path is used as it is (``https://host/manager/dcimgr``) and one
    that has none gets ``/dcimgr``. ``auth`` chooses ``authinfo`` on every call or a
    ``session`` opened by ``func=auth``. ``output`` is the answer format asked for.
    ``timeout`` bounds each call in seconds (a call may override it), ``connect_timeout`` the
    connection; a connection that cannot be opened is retried ``connect_retries`` times
    (nothing was sent, so this is safe for any function). ``verify_tls`` False accepts any
    certificate; ``ca_bundle`` names the CA file to verify against instead of the system's.
    ``http_session`` replaces the ``requests`` session the client makes (and its connection
    retries). ``debug_log`` receives every request and answer at DEBUG level with the secrets
    masked.

    A client may be shared by threads: the session is renewed under a lock."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        path: str | None = None,
        auth: Literal["authinfo", "session"] = "authinfo",
        output: Literal["xml", "json"] = "xml",
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = 10.0,
        connect_retries: int = 2,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        http_session: requests.Session | None = None,
        debug_log: logging.Logger | None = None,
    ) -> None:
        if auth not in ("authinfo", "session"):
            raise ValueError(f"auth must be authinfo or session, not {auth!r}")
        if output not in ("xml", "json"):
            raise ValueError(f"output must be xml or json, not {output!r}")
        self.url = _endpoint(base_url, path)
        self.username = username
        self._password = password
        self.auth_mode = auth
        self.output = output
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._http = http_session or _http_session(connect_retries)
        self._verify: bool | str = (ca_bundle or True) if verify_tls else False
        self._debug_log = debug_log
        self._session_id: str | None = None
        self._session_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DcimClient(url={self.url!r}, username={self.username!r}, auth={self.auth_mode!r})"

    # the protocol

    def call(
        self,
        func: str,
        params: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> etree._Element:
        """Call one function and return the answer's ``<doc>`` (an ``out=json`` answer is
        turned into the same tree). An ``<error>`` is raised as :class:`DcimApiError`; with a
        session, an ``access``/``auth`` error logs in again once and repeats the call."""
        values = dict(params or {})
        if self.auth_mode == "authinfo":
            return self._checked(func, self._send(func, values, authinfo=True, timeout=timeout))
        session_id = self._current_session(timeout)
        doc = self._send(func, values, session_id=session_id, timeout=timeout)
        error = _error_of(doc)
        if error is not None and error[0] in _SESSION_ERRORS:
            self._log(f"DCImanager {func}: the session was refused ({error[0]}); logging in again")
            doc = self._send(
                func, values, session_id=self._renew_session(session_id, timeout), timeout=timeout
            )
        return self._checked(func, doc)

    def login(self) -> None:
        """Open a new session now (session mode only; calls open one when they need it)."""
        if self.auth_mode != "session":
            raise DcimError("login() needs a client in session mode")
        with self._session_lock:
            self._session_id = self._open_session(None)

    def view(self, func: str, elid: str, *, plid: str | None = None) -> Record:
        """The fields of one object as its ``*.edit`` form shows them (``elid``; ``plid`` for
        a child object)."""
        return _form_fields(self.call(func, _ids(elid, plid)))

    def create(
        self, func: str, values: Mapping[str, str], *, plid: str | None = None
    ) -> etree._Element:
        """Create an object with a ``*.edit`` function (``sok=ok``, no ``elid``) and return the
        answer, which holds the new object's key (``<id>``, ``<ip>``)."""
        return self.call(func, {**values, **_ids(None, plid), "sok": "ok"})

    def update(
        self,
        func: str,
        elid: str,
        changes: Mapping[str, str],
        *,
        plid: str | None = None,
        keep: Iterable[str] | None = None,
    ) -> Record:
        """Change some fields of an object without clearing the others: DCImanager replaces
        the whole object on ``sok=ok``, so this reads the ``*.edit`` view, merges ``changes``
        and writes every field back. ``keep`` limits what is sent back to those fields (plus
        the changes), for a form whose view shows fields it does not take. Returns what was
        written."""
        current = self.view(func, elid, plid=plid)
        if keep is not None:
            kept = set(keep)
            current = {name: value for name, value in current.items() if name in kept}
        written = {**current, **changes}
        self.call(func, {**written, **_ids(elid, plid), "sok": "ok"})
        return written

    def rows(self, func: str, params: Mapping[str, str] | None = None) -> list[Record]:
        """The ``elem`` rows of a list function."""
        return [_record(elem) for elem in self.call(func, params).findall("elem")]

    # servers

    def servers(self) -> list[Server]:
        """Every server of the pool (the list has no server-side filter; see
        :meth:`free_servers` and :meth:`server`)."""
        return [_server(row) for row in self.rows("server")]

    def server(self, server_id: str) -> Server:
        """One row of the server list: its power, install and problem flags and main IP. Raises
        :class:`DcimNotFound` when no server has that id."""
        for server in self.servers():
            if server.id == server_id:
                return server
        raise DcimNotFound("server", "missing", "server", f"no server with id {server_id}")

    def free_servers(self, template: str) -> list[Server]:
        """The servers that may be sold for a package of this chassis template or server type
        (:meth:`Server.is_free`), in the list's order. Two callers may see the same server:
        choosing one without a race is the caller's business."""
        return [server for server in self.servers() if server.is_free(template)]

    def server_settings(self, server_id: str) -> ServerSettings:
        """The server as ``server.edit`` shows it (name, MAC, notes, type, owner id)."""
        fields = self.view("server.edit", server_id)
        return ServerSettings(
            id=server_id,
            name=fields.get("name", ""),
            mac=fields.get("mac", ""),
            notes=fields.get("notes", ""),
            type=fields.get("type", ""),
            owner=fields.get("owner", ""),
            disabled=fields.get("disabled", "off") not in ("", "off"),
            fields=fields,
        )

    def update_server(self, server_id: str, changes: Mapping[str, str]) -> Record:
        """Change fields of ``server.edit`` (``name``, ``mac``, ``notes``, ``type``, ``owner``)
        keeping the others: read, merge, write the whole server."""
        return self.update("server.edit", server_id, changes)

    def set_owner(self, server_id: str, user_id: str | None) -> None:
        """Make a user (by id) the server's owner, or leave it without one (None)."""
        self.update_server(server_id, {"owner": user_id or NO_OWNER})

    def add_note(self, server_id: str, note: str) -> str:
        """Append a line to the server's notes (where a failure reason goes), keeping what
        is there. Returns the notes written."""
        notes = self.server_settings(server_id).notes.rstrip("\n")
        written = f"{notes}\n{note}" if notes else note
        self.update_server(server_id, {"notes": written})
        return written

    def enable_server(self, server_id: str) -> None:
        """``server.enable``: the server may be used again (its switch ports come back)."""
        self.call("server.enable", {"elid": server_id})

    def disable_server(self, server_id: str) -> None:
        """``server.disable``: take the server out of service (switch ports off, power left
        as it is)."""
        self.call("server.disable", {"elid": server_id})

    def power_on(self, server_id: str) -> None:
        """Start powering the server on; poll :meth:`server` until ``poweron``."""
        self.call("server.poweron", {"elid": server_id})

    def power_off(self, server_id: str) -> None:
        """Start powering the server off; poll :meth:`server` until ``poweroff`` (or
        ``powererror``)."""
        self.call("server.poweroff", {"elid": server_id})

    def reboot(self, server_id: str) -> None:
        """Reset the server's power (``server.reboot``)."""
        self.call("server.reboot", {"elid": server_id})

    # switch ports and other connections

    def connections(self, server_id: str) -> list[Connection]:
        """The server's connections: switch ports, IPMI, PDU."""
        return [
            Connection(
                id=row.get("id", ""),
                type=row.get("type", ""),
                name=row.get("name", ""),
                func_in_progress="func_in_progress" in row,
                fields=row,
            )
            for row in self.rows("server.connection", {"elid": server_id})
        ]

    def connection_settings(self, server_id: str, connection_id: str) -> Record:
        """One connection as ``server.connection.edit`` shows it (a switch's ``port``, an
        IPMI's address)."""
        return self.view("server.connection.edit", connection_id, plid=server_id)

    def switch_port_on(self, server_id: str, connection_id: str) -> None:
        self.call("server.connection.on", {"plid": server_id, "elid": connection_id})

    def switch_port_off(self, server_id: str, connection_id: str) -> None:
        self.call("server.connection.off", {"plid": server_id, "elid": connection_id})

    def switch_ports_on(self, server_id: str) -> list[str]:
        """Turn on every switch port of the server (resume); returns the connection ids."""
        switches = [c.id for c in self.connections(server_id) if c.is_switch]
        for connection_id in switches:
            self.switch_port_on(server_id, connection_id)
        return switches

    def switch_ports_off(self, server_id: str) -> list[str]:
        """Turn off every switch port of the server (suspend); returns the connection ids."""
        switches = [c.id for c in self.connections(server_id) if c.is_switch]
        for connection_id in switches:
            self.switch_port_off(server_id, connection_id)
        return switches

    # IP addresses

    def ips(self, server_id: str, *, include_groups: bool = False) -> list[IpAddress]:
        """The server's addresses, main IP included; subnet rows only if asked for."""
        addresses = [
            IpAddress(
                id=row.get("id", ""),
                ip=row.get("ip", ""),
                type=row.get("type", ""),
                domain=row.get("domain", ""),
                family=row.get("family", ""),
                fields=row,
            )
            for row in self.rows("iplist", {"elid": server_id})
        ]
        return [ip for ip in addresses if include_groups or not ip.is_group]

    def find_ip(self, server_id: str, address: str) -> IpAddress | None:
        """The server's row for one address, None when the server does not have it."""
        for ip in self.ips(server_id):
            if ip.ip == address:
                return ip
        return None

    def set_ip_domain(self, server_id: str, ip_id: str, domain: str) -> None:
        """Set the domain (the reverse name) of one address, keeping its other fields."""
        self.update("iplist.edit", ip_id, {"domain": domain}, plid=server_id)

    def set_domain(self, server_id: str, domain: str) -> list[str]:
        """Set the domain on every address of the server (``free.ds`` returns it to the
        pool); returns the addresses changed."""
        addresses = self.ips(server_id)
        for ip in addresses:
            self.set_ip_domain(server_id, ip.id, domain)
        return [ip.ip for ip in addresses]

    def add_ip(
        self,
        server_id: str,
        domain: str,
        *,
        family: Literal["ipv4", "ipv6"] = "ipv4",
        ip: str = "",
        iptype: str = "public",
    ) -> str:
        """Give the server one more address (``ip`` '' takes the next free one of the pool)
        and return it. An empty pool is a :class:`DcimApiError`. Not idempotent: after a
        transient error, look for the address before adding again."""
        if family not in ("ipv4", "ipv6"):
            raise ValueError(f"family must be ipv4 or ipv6, not {family!r}")
        doc = self.create(
            "iplist.edit",
            {"domain": domain, "iptype": iptype, "ip": ip, "family": family},
            plid=server_id,
        )
        address = _text(doc, "ip")
        if not address:
            raise DcimProtocolError("DCImanager iplist.edit: the answer names no new ip")
        return address

    def delete_ip(self, server_id: str, ip_id: str) -> None:
        """Take one address (by its row id) from the server back to the pool."""
        self.call("iplist.delete", {"elid": ip_id, "plid": server_id})

    def delete_extra_ips(self, server_id: str) -> list[str]:
        """Take every address but the main one from the server; returns those removed."""
        main_ip = self.server(server_id).ip
        if not main_ip:
            raise DcimProtocolError(f"DCImanager server {server_id} shows no main ip")
        extras = [ip for ip in self.ips(server_id) if ip.ip != main_ip]
        for ip in extras:
            self.delete_ip(server_id, ip.id)
        return [ip.ip for ip in extras]

    # OS install

    def os_templates(self, server_id: str) -> list[OsTemplate]:
        """The OS templates the server can be installed with."""
        return [OsTemplate(key, title) for key, title in self._slist(server_id, "ostemplate")]

    def recipes(self, server_id: str) -> list[OsTemplate]:
        """The recipes (post-install scripts) that may run after an install."""
        return [OsTemplate(key, title) for key, title in self._slist(server_id, "recipe")]

    def install_os(
        self, server_id: str, template: str, password: str, *, recipe: str | None = None
    ) -> None:
        """Start installing an OS with this root password (and recipe, if any); poll
        :meth:`server` until :attr:`Server.install_finished` or ``operation_failed``."""
        self.call(
            "server.operations",
            {
                "elid": server_id,
                "sok": "ok",
                "operation": "ostemplate",
                "ostemplate": template,
                "passwd": password,
                "confirm": password,
                "checkpasswd": password,
                "recipe": recipe or "null",
            },
        )

    # users

    def users(self) -> list[User]:
        """Every panel user, administrators included."""
        return [
            User(row.get("id", ""), row.get("name", ""), row.get("level", ""), row)
            for row in self.rows("user")
        ]

    def find_user(self, name: str) -> User | None:
        """The ordinary (level 16) user of that name, None if there is none."""
        for user in self.users():
            if user.name == name and user.level == USER_LEVEL:
                return user
        return None

    def user_id(self, name: str) -> str:
        """The id of any user by name (the administrator too: it owns servers while they are
        provisioned). Raises :class:`DcimNotFound`."""
        for user in self.users():
            if user.name == name:
                return user.id
        raise DcimNotFound("user", "missing", "user", f"no user named {name}")

    def create_user(self, name: str, password: str) -> str:
        """Create an ordinary user and return its id. An existing name is a
        :class:`DcimApiError` of type ``exists``."""
        doc = self.create("user.edit", {"level": "lvUser", "name": name, "passwd": password})
        user_id = _text(doc, "id")
        if not user_id:
            raise DcimProtocolError("DCImanager user.edit: the answer names no new id")
        return user_id

    def change_password(self, user_id: str, password: str) -> None:
        """Set a user's panel password, keeping the user's other fields."""
        self.update("user.edit", user_id, {"passwd": password, "confirm": password})

    def delete_user(self, user_id: str) -> None:
        self.call("user.delete", {"elid": user_id})

    # internals

    def _slist(self, server_id: str, name: str) -> list[tuple[str, str]]:
        doc = self.call("server.operations", {"elid": server_id})
        return [
            (val.get("key", ""), (val.text or "").strip())
            for slist in doc.findall("slist")
            if slist.get("name") == name
            for val in slist.findall("val")
        ]

    def _current_session(self, timeout: float | None) -> str:
        with self._session_lock:
            if self._session_id is None:
                self._session_id = self._open_session(timeout)
            return self._session_id

    def _renew_session(self, refused: str, timeout: float | None) -> str:
        """A new session, unless another thread already replaced the refused one."""
        with self._session_lock:
            if self._session_id in (None, refused):
                self._session_id = self._open_session(timeout)
            return self._session_id

    def _open_session(self, timeout: float | None) -> str:
        doc = self._checked(
            "auth",
            self._send(
                "auth", {"username": self.username, "password": self._password}, timeout=timeout
            ),
        )
        auth = doc.find("auth")
        session_id = "" if auth is None else (auth.get("id") or (auth.text or "").strip())
        if not session_id:
            raise DcimProtocolError("DCImanager auth: the answer holds no session id")
        return session_id

    def _send(
        self,
        func: str,
        params: Mapping[str, str],
        *,
        authinfo: bool = False,
        session_id: str | None = None,
        timeout: float | None = None,
    ) -> etree._Element:
        """POST one call and return the parsed ``<doc>``, errors still inside."""
        form = {"func": func, "out": self.output, **params}
        if authinfo:
            form["authinfo"] = f"{self.username}:{self._password}"
        if session_id is not None:
            form["auth"] = session_id
        self._log(f"DCImanager {func} request: {_redacted_form(form)}")
        read_timeout = self.timeout if timeout is None else timeout
        try:
            reply = self._http.post(
                self.url,
                data=form,
                timeout=(min(self.connect_timeout, read_timeout), read_timeout),
                verify=self._verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            raise DcimError(f"DCImanager {func}: TLS failed: {exc}") from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise DcimTransientError(f"DCImanager {func}: no answer: {exc}") from exc
        except requests.RequestException as exc:
            raise DcimError(f"DCImanager {func}: cannot send the request: {exc}") from exc
        status_line = f"{reply.status_code} {reply.reason}"
        if not 200 <= reply.status_code < 300:
            self._log(f"DCImanager {func} response: {status_line}")
            message = f"DCImanager {func}: HTTP {status_line}"
            if reply.status_code >= 500 or reply.status_code in _RETRYABLE_STATUS:
                raise DcimTransientError(message)
            raise DcimError(message)
        doc = _parse(reply.content, self.output)
        if doc is None:
            self._log(f"DCImanager {func} response: {len(reply.content)} bytes, not a <doc>")
            raise DcimProtocolError(f"DCImanager {func}: the answer is not a DCImanager document")
        if self._debug_log is not None and self._debug_log.isEnabledFor(logging.DEBUG):
            self._log(f"DCImanager {func} response: {_redacted_doc(doc, self.output)}")
        return doc

    @staticmethod
    def _checked(func: str, doc: etree._Element) -> etree._Element:
        error = _error_of(doc)
        if error is None:
            return doc
        error_type, error_object, message = error
        kind = DcimNotFound if error_type == "missing" else DcimApiError
        raise kind(func, error_type, error_object, message)

    def _log(self, message: str) -> None:
        if self._debug_log is not None and self._debug_log.isEnabledFor(logging.DEBUG):
            self._debug_log.debug("%s", message)


def _endpoint(base_url: str, path: str | None) -> str:
    base = base_url.rstrip("/")
    if path is None:
        path = "" if urlsplit(base).path else DEFAULT_PATH
    path = path.strip("/")
    return f"{base}/{path}" if path else base


def _http_session(connect_retries: int) -> requests.Session:
    """A session that retries only connections that could not be opened: nothing was sent,
    so no function runs twice. Reads and statuses are never retried here."""
    http = requests.Session()
    retry = Retry(
        total=connect_retries,
        connect=connect_retries,
        read=0,
        status=0,
        other=0,
        redirect=0,
        allowed_methods=None,
        backoff_factor=0.2,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return metrics.instrument(http, "dcimanager")


def _ids(elid: str | None, plid: str | None) -> dict[str, str]:
    ids = {}
    if elid is not None:
        ids["elid"] = elid
    if plid is not None:
        ids["plid"] = plid
    return ids


def _parse(content: bytes, output: str) -> etree._Element | None:
    """The ``<doc>`` of an answer in either format, None when it is not one."""
    if output == "json":
        try:
            data = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("doc"), dict):
            return None
        try:
            return _from_json("doc", data["doc"])
        except (TypeError, ValueError):  # a nested text value, a key that is no XML name
            return None
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if root.getroottree().docinfo.doctype or root.tag != "doc":
        return None
    return root


def _from_json(name: str, value: Any) -> etree._Element:
    """ISPsystem's JSON form of an element back into the element: ``"$"`` is its text,
    ``"$x"`` its attribute ``x``, any other key a child (a list: one child per item)."""
    element = etree.Element(name)
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$":
                element.text = _scalar(item)
            elif key.startswith("$"):
                element.set(key[1:], _scalar(item))
            elif isinstance(item, list):
                element.extend(_from_json(key, each) for each in item)
            else:
                element.append(_from_json(key, item))
    elif value is not None:
        element.text = _scalar(value)
    return element


def _scalar(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise TypeError("a text value is not a scalar")
    return "" if value is None else str(value)


def _to_json(element: etree._Element) -> dict[str, Any]:
    """The inverse of :func:`_from_json`, for the debug log of a JSON answer."""
    value: dict[str, Any] = {f"${key}": text for key, text in element.attrib.items()}
    if element.text and element.text.strip():
        value["$"] = element.text
    for child in element:
        converted = _to_json(child)
        if child.tag in value:
            existing = value[child.tag]
            value[child.tag] = (
                [*existing, converted]
                if isinstance(existing, list)
                else [
                    existing,
                    converted,
                ]
            )
        else:
            value[child.tag] = converted
    return value


def _error_of(doc: etree._Element) -> tuple[str, str, str] | None:
    error = doc.find("error")
    if error is None:
        return None
    return error.get("type", ""), error.get("object", ""), _text(error, "msg")


def _text(element: etree._Element, name: str) -> str:
    found = element.find(name)
    return "" if found is None else (found.text or "").strip()


def _record(element: etree._Element) -> Record:
    """The simple children of an element as name -> text: an empty one ('') is a set flag."""
    return {
        child.tag: (child.text or "").strip()
        for child in element
        if isinstance(child.tag, str) and len(child) == 0
    }


def _form_fields(doc: etree._Element) -> Record:
    """The fields of an edit view: its simple children but the call's own parameters."""
    return {name: value for name, value in _record(doc).items() if name not in _NOT_FIELDS}


def _server(row: Record) -> Server:
    return Server(
        id=row.get("id", ""),
        hostname=row.get("hostname", ""),
        owner=row.get("owner", ""),
        type=row.get("type", ""),
        chassis_templ=row.get("chassis_templ", ""),
        ip=row.get("ip", ""),
        rack=row.get("rack", ""),
        poweron="poweron" in row,
        poweroff="poweroff" in row,
        powererror="powererror" in row,
        blocked="blocked" in row,
        disabled="disabled" in row,
        hwproblem="hwproblem" in row,
        diag_in_progress="diag_in_progress" in row,
        install_in_progress="install_in_progress" in row,
        operation_failed="operation_failed" in row,
        fields=row,
    )


def _redacted_form(form: Mapping[str, str]) -> str:
    return " ".join(
        f"{name}={'***' if name.lower() in _SECRET_NAMES else value}"
        for name, value in form.items()
    )


def _redacted_doc(doc: etree._Element, output: str) -> str:
    shown = copy.deepcopy(doc)
    for element in shown.iter(etree.Element):
        if element.tag.lower() in _SECRET_NAMES:  # <auth id="SESSION">SESSION</auth> too
            element.text = "***"
            for attribute in element.attrib:
                element.set(attribute, "***")
    if output == "json":
        return json.dumps({"doc": _to_json(shown)}, ensure_ascii=False)
    return etree.tostring(shown, encoding="unicode")
