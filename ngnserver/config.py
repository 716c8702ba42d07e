"""Settings: environment variables, an optional TOML file, and the state the first start
creates (the password-sealing key and, when none is configured, an admin login).

Environment variables win over the file. See docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ngnserver.core.logins import Brake
from ngnserver.core.properties import CREDIT_NAMES
from ngnserver.core.sealing import PasswordSealer

if TYPE_CHECKING:
    from ngnserver.db import Database

log = logging.getLogger("ngnserver.config")

ENV_PREFIX = "NGNSERVER_"
ADMIN_FILE = "admin-credentials"
KEY_FILE = "secret.key"
DATABASE_FILE = "ngnserver.sqlite3"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class IkanoSettings:
    """The Ikano (DSL) account: NGNSERVER_IKANO_* variables."""

    url: str = ""
    keyid: str = ""
    username: str = "admin"
    password: str = ""
    check_networks: tuple[str, ...] = ("ATT", "ATTTAS", "VERTAS", "VER")
    import_mode: bool = False
    debug: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    def __repr__(self) -> str:  # never print the password
        return f"IkanoSettings(url={self.url!r}, username={self.username!r}, import_mode={self.import_mode})"

    @property
    def configured(self) -> bool:
        """Whether an Ikano account is set up (NGNSERVER_IKANO_URL names one)."""
        return bool(self.url)


@dataclass(frozen=True)
class DcimSettings:
    """The DCImanager account (dedicated servers): NGNSERVER_DCIM_* variables or a ``[dcim]``
    table. Poll intervals and limits are seconds; ``check_port`` is the TCP port the
    reachability check of a freshly installed server connects to."""

    url: str = ""
    path: str = ""
    username: str = "admin"
    password: str = ""
    verify_tls: bool = True
    timeout: float = 60.0
    debug: bool = False
    power_poll_seconds: float = 30.0
    power_limit_seconds: float = 600.0
    install_poll_seconds: float = 30.0
    install_limit_seconds: float = 7200.0
    check_port: int = 22
    check_poll_seconds: float = 10.0
    check_limit_seconds: float = 300.0
    check_timeout_seconds: float = 5.0

    def __repr__(self) -> str:  # never print the password
        return f"DcimSettings(url={self.url!r}, username={self.username!r}, verify_tls={self.verify_tls})"


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _verify_tls(value: Any, name: str) -> bool | str:
    """TLS verification: on (``true``), off (``false``: self-signed certificates), or the
    path of a CA bundle or certificate to verify against."""
    text = str(value).strip()
    if text.lower() in ("1", "true", "yes", "on", ""):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    if not Path(text).is_file():
        raise ConfigError(f"{name}: {text!r} is neither true, false nor a certificate file")
    return text


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_interval(value: Any, name: str) -> float | None:
    """Seconds between periodic runs from ``300``, ``90s``, ``5m`` or ``1h``; None for ``0``,
    ``off`` or ``never`` (no periodic run)."""
    text = str(value).strip().lower()
    if text in ("", "0", "off", "never", "false", "no"):
        return None
    unit = _DURATION_UNITS.get(text[-1]) if text[-1].isalpha() else 1
    number = text[:-1] if text[-1].isalpha() else text
    try:
        seconds = float(number) * unit if unit else -1.0
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"{name}: {value!r} is not an interval (say 300, 90s, 5m, 1h or off)")
    return seconds


@dataclass(frozen=True)
class IxcSettings:
    """The IXC Provedor webservice the syncs read: NGNSERVER_IXC_* variables."""

    url: str = ""
    token: str = ""
    verify_tls: bool | str = True
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    retries: int = 3
    backoff: float = 1.0
    page_size: int = 10_000

    def __repr__(self) -> str:  # never print the token
        return f"IxcSettings(url={self.url!r}, verify_tls={self.verify_tls!r})"


@dataclass(frozen=True)
class BqnSettings:
    """The Bequant BQN the IXC -> BQN sync writes: NGNSERVER_BQN_* variables.
    ``write_connections``: writes sent at once; ``dual_stack``: a group ``DS-<login>`` per
    login with an IPv6 prefix."""

    url: str = ""
    user: str = ""
    password: str = ""
    verify_tls: bool | str = True
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5
    write_connections: int = 8
    dual_stack: bool = False

    def __repr__(self) -> str:  # never print the password
        return f"BqnSettings(url={self.url!r}, user={self.user!r}, dual_stack={self.dual_stack})"


@dataclass(frozen=True)
class OzmapSettings:
    """The OZmap tenant the OZmap <-> IXC syncs read and write: NGNSERVER_OZMAP_* variables or
    an ``[ozmap]`` table. ``key``: an API key made in OZmap's UI; or ``user`` and ``password``
    of a user the client logs in with (and again after a 401)."""

    url: str = ""
    key: str = ""
    user: str = ""
    password: str = ""
    verify_tls: bool | str = True
    connect_timeout: float = 10.0
    read_timeout: float = 240.0
    retries: int = 3
    backoff: float = 5.0
    page_size: int = 500
    write_connections: int = 4

    def __repr__(self) -> str:  # never print the key or the password
        return f"OzmapSettings(url={self.url!r}, user={self.user!r})"

    @property
    def configured(self) -> bool:
        return bool(self.url and (self.key or (self.user and self.password)))


@dataclass(frozen=True)
class OzmapIxcSettings:
    """The options of the OZmap <-> IXC syncs (vendors.md 5; OZmap's own IXC integration has
    the same): NGNSERVER_OZMAP_IXC_* variables or an ``[ozmap_ixc]`` table.

    - ``consider_olt``: a box's IXC transmitter is the IXC ``radpop_radio`` whose IP is the
      IP of the OZmap OLT feeding the box; off: every box is sent with transmitter 0;
    - ``transmitter_required``: a box whose OLT matches no transmitter is left out (off: it
      is sent with transmitter 0); only with ``consider_olt``;
    - ``consider_project``: a box goes to the IXC project named exactly as its OZmap project
      (case-sensitive) and is left out when there is none; off: the box goes without a
      project (``id_projeto`` 0) and is matched by name alone;
    - ``splitter_as_box``: one IXC box per drop splitter (else one per box, its capacity the
      sum of the drop splitters' ports);
    - ``condominiums``: one IXC box per splitter of each condominium, ``<building>-<splitter>``;
    - ``remove_deleted_boxes``: an IXC box whose OZmap box was deleted is set inactive (I);
    - ``box_style``: ``codigo_estilo_caixa`` of the boxes created; ``box_type``: their ``tipo``;
    - the client features, each on its own: ``create_clients``, ``update_client_port``,
      ``update_client_coords``, ``disconnect_clients``, ``implant_clients``,
      ``update_client_power``, ``update_client_status``; ``first_free_port``: a client whose
      IXC login names no port is created on the box's first free port;
    - ``removal_scan_interval``: seconds between full listings of OZmap's box ids, which find
      deleted boxes (None: never; 0 is refused: say ``1s`` for every run)."""

    consider_olt: bool = True
    transmitter_required: bool = True
    consider_project: bool = True
    splitter_as_box: bool = False
    condominiums: bool = False
    remove_deleted_boxes: bool = True
    box_style: str = ""
    box_type: str = "P"
    create_clients: bool = True
    update_client_port: bool = True
    update_client_coords: bool = True
    disconnect_clients: bool = False
    implant_clients: bool = True
    update_client_power: bool = True
    update_client_status: bool = True
    first_free_port: bool = False
    removal_scan_interval: float | None = 3600.0


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose forwarded headers are believed: ``*`` (any), or addresses and
    networks separated by commas (``127.0.0.1,::1,10.0.0.0/8``)."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    anyone: bool = False

    @classmethod
    def parse(cls, text: str, variable: str = "NGNSERVER_FORWARDED_ALLOW_IPS") -> TrustedProxies:
        entries = [entry.strip() for entry in text.split(",") if entry.strip()]
        if "*" in entries:
            return cls(anyone=True)
        try:
            return cls(tuple(ipaddress.ip_network(entry, strict=False) for entry in entries))
        except ValueError as exc:
            raise ConfigError(f"{variable}: {exc}") from None

    def trusts(self, address: str | None) -> bool:
        if self.anyone:
            return True
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False  # a Unix socket, or no address at all
        return any(ip in network for network in self.networks)


@dataclass(frozen=True)
class Settings:
    state_dir: Path = Path("var")
    database_url: str = ""
    admins: dict[str, str] = field(default_factory=dict, repr=False)
    secret_key: bytes = field(default=b"", repr=False)
    public_url: str = ""
    endpoint_path: str = "/ngnpro/"
    max_request_bytes: int = 2 * 1024 * 1024
    query_max_rows: int = 1000
    # the most items one list of a request may hold (properties, ACL, groups, mappings...),
    # and the most properties one customer keeps and their total size (names and values)
    max_list_items: int = 100
    max_properties_bytes: int = 32 * 1024
    reseller_default_credits: dict[str, int] = field(default_factory=dict)
    log_level: str = "INFO"
    ikano: IkanoSettings = field(default_factory=lambda: IkanoSettings())
    dcim: DcimSettings = field(default_factory=lambda: DcimSettings())
    worker_lease_seconds: float = 300.0
    worker_backoff_seconds: float = 5.0
    worker_max_attempts: int = 8
    # PostgreSQL: statements a connection runs often are prepared (psycopg's
    # prepare_threshold); turn off behind a pooler in transaction mode (PgBouncer)
    prepared_statements: bool = True
    # seconds: to connect, for one statement (PostgreSQL), for any answer (PostgreSQL)
    database_connect_timeout: float = 5.0
    database_statement_timeout: float = 10.0
    database_answer_timeout: float = 12.0
    # proxies whose X-Forwarded-Proto/Host/Prefix are believed: addresses or networks, "*" any
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # who may read /metrics: these addresses, or a request with "Authorization: Bearer <token>"
    metrics_allow_ips: str = "127.0.0.1,::1"
    metrics_token: str = field(default="", repr=False)
    # the brake on password guessing (core/logins.py)
    login_brake: Brake = field(default_factory=lambda: Brake())
    ixc: IxcSettings = field(default_factory=lambda: IxcSettings())
    bqn: BqnSettings = field(default_factory=lambda: BqnSettings())
    ozmap: OzmapSettings = field(default_factory=lambda: OzmapSettings())
    ozmap_ixc: OzmapIxcSettings = field(default_factory=lambda: OzmapIxcSettings())
    # seconds between the runs the worker starts itself (None: none); the default applies
    # once both ends are configured
    sync_ixc_bqn_interval: float | None = 300.0
    sync_ozmap_ixc_interval: float | None = 300.0
    sync_ixc_ozmap_interval: float | None = 300.0
    # object errors after which a sync run stops (failed) instead of going on
    sync_max_errors: int = 100

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.state_dir / DATABASE_FILE).resolve()}"

    def database(self) -> Database:
        """The database these settings name."""
        from ngnserver.db import Database, Limits

        limits = Limits(self.database_connect_timeout, self.database_statement_timeout, self.database_answer_timeout)
        return Database(self.effective_database_url, limits, prepared=self.prepared_statements)

    def sealer(self) -> PasswordSealer:
        return PasswordSealer(self.secret_key)


def _parse_credits(text: str) -> dict[str, int]:
    """``sip_credit=10,dns_zone_credit=2`` -> {"sip_credit": 10, "dns_zone_credit": 2}."""
    credits: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in CREDIT_NAMES or not (value.strip().isascii() and value.strip().isdigit()):
            raise ConfigError(f"bad reseller default credit {item!r}: use NAME=N with NAME one of {sorted(CREDIT_NAMES)}")
        credits[name] = int(value)
    return credits


def load(environ: dict[str, str] | None = None) -> Settings:
    """Settings from the environment and the file named by NGNSERVER_CONFIG."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    config_file = env.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        try:
            values.update(tomllib.loads(Path(config_file).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {config_file}: {exc}") from exc

    def get(name: str, default: Any = None) -> Any:
        return env.get(ENV_PREFIX + name.upper(), values.get(name, default))

    def number(kind: type[int | float], name: str, default: float, table: str = "") -> Any:
        """The setting ``name`` (in the file's ``[table]`` when given) as ``kind``; a
        ConfigError names the variable (or the file's key) and the value."""
        variable = f"{ENV_PREFIX}{table.upper()}{'_' if table else ''}{name.upper()}"
        section = (values.get(table) or {}) if table else values
        raw = env.get(variable, section.get(name, default))
        try:
            if isinstance(raw, bool) or (kind is int and isinstance(raw, float)):
                raise ValueError
            return kind(raw)
        except (TypeError, ValueError):
            where = variable if variable in env else f"{table + '.' if table else ''}{name} in {config_file}"
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{where} must be {what}, not {raw!r}") from None

    admins = {str(k): str(v) for k, v in (values.get("admins") or {}).items()}
    username, password = get("admin_username"), get("admin_password")
    if username or password:
        if not (username and password):
            raise ConfigError("set both NGNSERVER_ADMIN_USERNAME and NGNSERVER_ADMIN_PASSWORD, or neither")
        admins[username] = password

    credits = get("reseller_default_credits", {})
    ikano_table = values.get("ikano") or {}

    def ikano(name: str, default: Any) -> Any:
        return env.get(f"{ENV_PREFIX}IKANO_{name.upper()}", ikano_table.get(name, default))

    dcim_table = values.get("dcim") or {}

    def dcim(name: str, default: Any) -> Any:
        return env.get(f"{ENV_PREFIX}DCIM_{name.upper()}", dcim_table.get(name, default))

    def vendor(table: str) -> Any:
        section = values.get(table) or {}

        def setting(name: str, default: Any) -> Any:
            return env.get(f"{ENV_PREFIX}{table.upper()}_{name.upper()}", section.get(name, default))

        return setting

    ixc, bqn = vendor("ixc"), vendor("bqn")
    ozmap, ozmap_ixc = vendor("ozmap"), vendor("ozmap_ixc")
    networks = ikano("check_networks", "ATT,ATTTAS,VERTAS,VER")
    if isinstance(networks, str):
        networks = [n.strip().upper() for n in networks.split(",") if n.strip()]
    TrustedProxies.parse(str(get("forwarded_allow_ips", "127.0.0.1,::1")))  # refused here, not in a worker
    TrustedProxies.parse(str(get("metrics_allow_ips", "127.0.0.1,::1")), "NGNSERVER_METRICS_ALLOW_IPS")
    log_level = str(get("log_level", "INFO")).upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"NGNSERVER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    return Settings(
        state_dir=Path(get("state_dir", "var")),
        database_url=get("database_url", ""),
        admins=admins,
        secret_key=str(get("secret_key", "")).encode(),
        public_url=get("public_url", ""),
        max_request_bytes=number(int, "max_request_bytes", 2 * 1024 * 1024),
        query_max_rows=number(int, "query_max_rows", 1000),
        max_list_items=number(int, "max_list_items", 100),
        max_properties_bytes=number(int, "max_properties_bytes", 32 * 1024),
        reseller_default_credits=_parse_credits(credits) if isinstance(credits, str) else dict(credits),
        log_level=log_level,
        prepared_statements=_flag(get("prepared_statements", True)),
        database_connect_timeout=number(float, "database_connect_timeout", 5),
        database_statement_timeout=number(float, "database_statement_timeout", 10),
        database_answer_timeout=number(float, "database_answer_timeout", 12),
        forwarded_allow_ips=str(get("forwarded_allow_ips", "127.0.0.1,::1")),
        metrics_allow_ips=str(get("metrics_allow_ips", "127.0.0.1,::1")),
        metrics_token=str(get("metrics_token", "")),
        login_brake=Brake(
            max_failures=number(int, "login_max_failures", 10),
            max_failures_per_address=number(int, "login_max_failures_per_address", 50),
            backoff=number(float, "login_backoff_seconds", 30),
            max_backoff=number(float, "login_max_backoff_seconds", 900),
            window=number(float, "login_failure_window_seconds", 900),
        ),
        ikano=IkanoSettings(
            url=ikano("url", ""),
            keyid=str(ikano("keyid", "")),
            username=ikano("username", "admin"),
            password=ikano("password", ""),
            check_networks=tuple(networks),
            import_mode=_flag(ikano("import_mode", False)),
            debug=_flag(ikano("debug", False)),
            connect_timeout=number(float, "connect_timeout", 10, "ikano"),
            read_timeout=number(float, "read_timeout", 120, "ikano"),
        ),
        dcim=DcimSettings(
            url=str(dcim("url", "")),
            path=str(dcim("path", "")),
            username=str(dcim("username", "admin")),
            password=str(dcim("password", "")),
            verify_tls=_flag(dcim("verify_tls", True)),
            timeout=number(float, "timeout", 60, "dcim"),
            debug=_flag(dcim("debug", False)),
            power_poll_seconds=number(float, "power_poll_seconds", 30, "dcim"),
            power_limit_seconds=number(float, "power_limit_seconds", 600, "dcim"),
            install_poll_seconds=number(float, "install_poll_seconds", 30, "dcim"),
            install_limit_seconds=number(float, "install_limit_seconds", 7200, "dcim"),
            check_port=number(int, "check_port", 22, "dcim"),
            check_poll_seconds=number(float, "check_poll_seconds", 10, "dcim"),
            check_limit_seconds=number(float, "check_limit_seconds", 300, "dcim"),
            check_timeout_seconds=number(float, "check_timeout_seconds", 5, "dcim"),
        ),
        worker_lease_seconds=number(float, "worker_lease_seconds", 300),
        worker_backoff_seconds=number(float, "worker_backoff_seconds", 5),
        worker_max_attempts=number(int, "worker_max_attempts", 8),
        ixc=IxcSettings(
            url=str(ixc("url", "")),
            token=str(ixc("token", "")),
            verify_tls=_verify_tls(ixc("verify_tls", True), "NGNSERVER_IXC_VERIFY_TLS"),
            connect_timeout=number(float, "connect_timeout", 10, "ixc"),
            read_timeout=number(float, "read_timeout", 120, "ixc"),
            retries=number(int, "retries", 3, "ixc"),
            backoff=number(float, "backoff", 1, "ixc"),
            page_size=number(int, "page_size", 10_000, "ixc"),
        ),
        bqn=BqnSettings(
            url=str(bqn("url", "")),
            user=str(bqn("user", "")),
            password=str(bqn("password", "")),
            verify_tls=_verify_tls(bqn("verify_tls", True), "NGNSERVER_BQN_VERIFY_TLS"),
            connect_timeout=number(float, "connect_timeout", 10, "bqn"),
            read_timeout=number(float, "read_timeout", 60, "bqn"),
            retries=number(int, "retries", 3, "bqn"),
            backoff=number(float, "backoff", 0.5, "bqn"),
            write_connections=number(int, "write_connections", 8, "bqn"),
            dual_stack=_flag(bqn("dual_stack", False)),
        ),
        ozmap=OzmapSettings(
            url=str(ozmap("url", "")),
            key=str(ozmap("key", "")),
            user=str(ozmap("user", "")),
            password=str(ozmap("password", "")),
            verify_tls=_verify_tls(ozmap("verify_tls", True), "NGNSERVER_OZMAP_VERIFY_TLS"),
            connect_timeout=number(float, "connect_timeout", 10, "ozmap"),
            read_timeout=number(float, "read_timeout", 240, "ozmap"),
            retries=number(int, "retries", 3, "ozmap"),
            backoff=number(float, "backoff", 5, "ozmap"),
            page_size=number(int, "page_size", 500, "ozmap"),
            write_connections=number(int, "write_connections", 4, "ozmap"),
        ),
        ozmap_ixc=OzmapIxcSettings(
            consider_olt=_flag(ozmap_ixc("consider_olt", True)),
            transmitter_required=_flag(ozmap_ixc("transmitter_required", True)),
            consider_project=_flag(ozmap_ixc("consider_project", True)),
            splitter_as_box=_flag(ozmap_ixc("splitter_as_box", False)),
            condominiums=_flag(ozmap_ixc("condominiums", False)),
            remove_deleted_boxes=_flag(ozmap_ixc("remove_deleted_boxes", True)),
            box_style=str(ozmap_ixc("box_style", "")),
            box_type=str(ozmap_ixc("box_type", "P")),
            create_clients=_flag(ozmap_ixc("create_clients", True)),
            update_client_port=_flag(ozmap_ixc("update_client_port", True)),
            update_client_coords=_flag(ozmap_ixc("update_client_coords", True)),
            disconnect_clients=_flag(ozmap_ixc("disconnect_clients", False)),
            implant_clients=_flag(ozmap_ixc("implant_clients", True)),
            update_client_power=_flag(ozmap_ixc("update_client_power", True)),
            update_client_status=_flag(ozmap_ixc("update_client_status", True)),
            first_free_port=_flag(ozmap_ixc("first_free_port", False)),
            removal_scan_interval=parse_interval(
                ozmap_ixc("removal_scan_interval", "1h"), "NGNSERVER_OZMAP_IXC_REMOVAL_SCAN_INTERVAL"
            ),
        ),
        sync_ixc_bqn_interval=parse_interval(get("sync_ixc_bqn_interval", "5m"), "NGNSERVER_SYNC_IXC_BQN_INTERVAL"),
        sync_ozmap_ixc_interval=parse_interval(get("sync_ozmap_ixc_interval", "5m"), "NGNSERVER_SYNC_OZMAP_IXC_INTERVAL"),
        sync_ixc_ozmap_interval=parse_interval(get("sync_ixc_ozmap_interval", "5m"), "NGNSERVER_SYNC_IXC_OZMAP_INTERVAL"),
        sync_max_errors=number(int, "sync_max_errors", 100),
    )


def _read_or_create(path: Path, make: Any) -> bytes:
    """The file's content; created with ``make()`` (mode 0600) if it does not exist yet.
    Safe when several processes start at once: one creates, the others read."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            content = path.read_bytes()
            if content:
                return content
            time.sleep(0.02)
        raise ConfigError(f"{path} is empty; delete it and start again") from None
    content = make()
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    return content


def prepare_state(settings: Settings, create: bool = True) -> Settings:
    """Settings completed with what the first start creates in ``state_dir``: the key that
    seals customer passwords (unless NGNSERVER_SECRET_KEY is set) and an admin login
    (unless one is configured).

    ``create=False`` (the commands that work on an existing server's state) creates nothing:
    a missing state directory, key or default SQLite database is a ConfigError saying where
    ngnserver looked, since a fresh key and an empty database would only hide that the
    command runs against the wrong state. A missing admin login is left unset."""
    if not create:
        require_state(settings)
    else:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    changes: dict[str, Any] = {}
    if not settings.secret_key:
        changes["secret_key"] = _read_or_create(settings.state_dir / KEY_FILE, PasswordSealer.new_key).strip()
    try:
        PasswordSealer(changes.get("secret_key", settings.secret_key))
    except ValueError as exc:
        raise ConfigError("the secret key must be 32 random bytes, URL-safe base64 encoded (ngnserver makes one on first start)") from exc
    if not settings.admins and (create or (settings.state_dir / ADMIN_FILE).exists()):
        changes["admins"] = _admin_login(settings.state_dir / ADMIN_FILE)
    return replace(settings, **changes) if changes else settings


def _admin_login(path: Path) -> dict[str, str]:
    created = not path.exists()
    content = _read_or_create(path, lambda: f"admin:{secrets.token_urlsafe(18)}\n".encode())
    username, _, password = content.decode().strip().partition(":")
    if created:
        log.warning(
            "no admin login configured: created admin login %r, its password is in %s",
            username,
            path.resolve(),
        )
    return {username: password}


def require_state(settings: Settings, key: bool = True) -> None:
    """Refuse (ConfigError) when the state a command needs from ``state_dir`` is not there:
    the default SQLite database (unless NGNSERVER_DATABASE_URL is set) and, with ``key``,
    the sealing key (unless NGNSERVER_SECRET_KEY is set)."""
    needed = []
    if key and not settings.secret_key:
        needed.append(KEY_FILE)
    if not settings.database_url:
        needed.append(DATABASE_FILE)
    missing = [name for name in needed if not (settings.state_dir / name).exists()]
    if not missing:
        return
    folder = settings.state_dir.resolve()
    what = f"no state directory {folder}" if not folder.is_dir() else f"no {' or '.join(missing)} in {folder}"
    raise ConfigError(
        f"{what}: set NGNSERVER_STATE_DIR to the server's state directory (or run where the server "
        "runs); `ngnserver serve` or `ngnserver db upgrade` creates a new one"
    )
