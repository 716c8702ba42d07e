"""Benchmark of the CustomerPort through gunicorn on loopback (prints figures; not a test).

Drives getAccount, getCustomers (a page of 20 out of 100,000 customers: CDRTool's default
query, and the same filtered by reseller) and addAccount with wrk against ngnserver under
gunicorn (sync workers, access log off), beside a bare WSGI app answering a fixed getAccount
response under the same gunicorn settings (bench/bare_app.py: the HTTP ceiling), all in the
same run, repetitions interleaved. Prints requests/s, p50 and p99 of the median run, the
share of the ceiling, the getCustomers/getAccount time ratio and the machine.

    .venv/bin/python bench/bench_customer.py                       # SQLite, 3 x 10 s
    .venv/bin/python bench/bench_customer.py --backends sqlite,postgresql
    .venv/bin/python bench/bench_customer.py --duration 3 --repeat 1   # a quick look

Needs wrk (apt-get install wrk); --backends postgresql needs PostgreSQL's server binaries
(see tests/support/postgres.py). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from tests.support.loopback import free_port
from tests.support.wire import SoapFault, envelope, post, read_response

ADMIN = ("admin", "secret")
AUTH = {"username": ADMIN[0], "password": ADMIN[1], "admin": True}
LUA = BENCH / "soap_post.lua"
BARE_RESPONSE = BENCH / "getAccount-response.xml"
HOST = "127.0.0.1"
USERNAME_PLACEHOLDER = "@@USERNAME@@"

TARGET_SHARE_OF_CEILING = 0.35  # getAccount req/s >= 35% of the bare ceiling
TARGET_LIST_RATIO = 2.0  # getCustomers time per request <= 2 x getAccount's
TARGET_SIP_ADD_SHARE = 0.15  # SIP addAccount req/s >= 15% of the bare ceiling


class BenchError(SystemExit):
    """Stops the run with a message (after cleanup)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"\nBENCHMARK FAILED: {message}")


# -- data ------------------------------------------------------------------------------------

FIRST = ["Alice", "Bob", "Carla", "Dirk", "Eva", "Frank", "Greta", "Hans", "Ines", "Jan", "Katja", "Lars"]
LAST = ["Smith", "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Dekker"]
CITIES = [("Amsterdam", "NL", "Europe/Amsterdam", "nl"), ("Berlin", "DE", "Europe/Berlin", "de"),
          ("Bucharest", "RO", "Europe/Bucharest", "ro"), ("London", "GB", "Europe/London", "en"),
          ("Madrid", "ES", "Europe/Madrid", "es"), ("Paris", "FR", "Europe/Paris", "fr")]  # fmt: skip


@dataclass(frozen=True)
class Dataset:
    customers: int
    resellers: int
    sip_accounts: int = 100_000
    sip_domain: str = "bench.example.com"

    def reseller_of(self, customer_id: int) -> int:
        return customer_id if customer_id <= self.resellers else 1 + customer_id % self.resellers

    @property
    def account_id(self) -> int:
        """The customer getAccount asks for: an ordinary customer with two properties."""
        candidate = self.resellers + (self.customers - self.resellers) // 2
        return candidate - candidate % 4  # every 4th customer has properties

    @property
    def reseller_id(self) -> int:
        return min(7, self.resellers)


def seed_sip(conn: Any, data: Dataset, sealer: Any, now: datetime) -> int:
    """One SIP domain of the reseller with ``data.sip_accounts`` accounts, and a sip_credit
    for the reseller large enough for SIP addAccount under load. Returns properties added."""
    from sqlalchemy import text, update

    from ngnserver.models import CustomerProperty
    from ngnserver.models.sip import SipAccount, SipDomain

    if not data.sip_accounts:
        return 0
    reseller = data.reseller_id
    conn.execute(SipDomain.__table__.insert(), [{"domain": data.sip_domain, "customer": reseller,
                                                  "reseller": reseller, "create_date": now, "change_date": now}])  # fmt: skip
    props = CustomerProperty.__table__
    conn.execute(update(props).where(props.c.customer_id == reseller, props.c.name == "sip_credit")
                 .values(value=str(10**9)))  # fmt: skip
    sealed = sealer.seal("sip-secret")
    accounts = SipAccount.__table__
    for first in range(0, data.sip_accounts, 5000):
        conn.execute(accounts.insert(), [
            {"username": f"{n:07d}", "domain": data.sip_domain, "password_sealed": sealed,
             "first_name": FIRST[n % len(FIRST)], "last_name": LAST[n % len(LAST)], "customer": reseller,
             "reseller": reseller, "owner": 0, "create_date": now, "change_date": now - timedelta(seconds=n)}
            for n in range(first, min(first + 5000, data.sip_accounts))
        ])  # fmt: skip
    if conn.dialect.name == "postgresql":
        for table in ("sip_accounts", "sip_domains"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    return 0


def seed(database_url: str, state_dir: Path, data: Dataset) -> tuple[float, int]:
    """Bulk-insert the customers (SQLAlchemy Core, executemany in batches) with passwords
    sealed under the state directory's key. Returns (seconds, properties inserted)."""
    from sqlalchemy import create_engine, text

    from ngnserver.config import KEY_FILE
    from ngnserver.core.sealing import PasswordSealer
    from ngnserver.models import Customer, CustomerProperty

    started = time.perf_counter()
    sealer = PasswordSealer((state_dir / KEY_FILE).read_bytes().strip())
    rng = random.Random(20261121)
    now = datetime(2026, 11, 21, 12, 0, 0)
    customers_table = Customer.__table__
    properties_table = CustomerProperty.__table__
    engine = create_engine(database_url)
    n_properties = 0
    batch = 5000
    with engine.begin() as conn:
        for first_id in range(1, data.customers + 1, batch):
            rows, props = [], []
            for cid in range(first_id, min(first_id + batch, data.customers + 1)):
                is_reseller = cid <= data.resellers
                first, last = rng.choice(FIRST), rng.choice(LAST)
                city, country, tz, lang = rng.choice(CITIES)
                created = now - timedelta(seconds=rng.randrange(3 * 365 * 86400))
                changed = created + timedelta(seconds=rng.randrange(int((now - created).total_seconds()) + 1))
                username = f"reseller{cid}" if is_reseller else f"{first.lower()}.{cid}"
                rows.append({
                    "id": cid, "reseller": data.reseller_of(cid), "impersonate": 0,
                    "reseller_active": is_reseller, "company_code": f"C{cid:06d}" if is_reseller else "",
                    "balance": round(rng.uniform(-50, 500), 2), "credit": float(rng.choice((0, 10, 50, 100))),
                    "username": username, "password_sealed": sealer.seal(secrets.token_urlsafe(9)),
                    "first_name": first, "last_name": last,
                    "organization": f"{last} {'Telecom' if is_reseller else 'BV'} {cid}",
                    "vat_number": f"{country}{rng.randrange(10**8, 10**9)}B01" if cid % 3 == 0 else "",
                    "email": f"{username}@example.com", "web": f"https://{username}.example.com" if cid % 5 == 0 else "",
                    "tel": f"+31{rng.randrange(10**8, 10**9)}", "fax": "", "mobile": f"+316{rng.randrange(10**7, 10**8)}",
                    "sip": f"{username}@sip.example.com", "enum": "", "address": f"Main street {cid % 200 + 1}",
                    "postcode": f"{1000 + cid % 9000} AB", "city": city, "state": "N/A", "country": country,
                    "timezone": tz, "language": lang, "bank_account": "", "billing_address": "",
                    "billing_email": f"billing+{username}@example.com" if cid % 7 == 0 else "",
                    "create_date": created, "change_date": changed,
                })  # fmt: skip
                if is_reseller:
                    for name, value in (("sip_credit", "1000"), ("sip_alias_credit", "1000"), ("pstn_access", "1")):
                        props.append({"customer_id": cid, "name": name, "value": value,
                                      "category": "sip" if name == "pstn_access" else "credit", "permission": "admin"})
                elif cid % 4 == 0:
                    props.append({"customer_id": cid, "name": "records_per_page", "value": "20",
                                  "category": "web", "permission": "customer"})
                    props.append({"customer_id": cid, "name": "sip_credit", "value": "5",
                                  "category": "credit", "permission": "admin"})
            conn.execute(customers_table.insert(), rows)
            if props:
                conn.execute(properties_table.insert(), props)
                n_properties += len(props)
        n_properties += seed_sip(conn, data, sealer, now)
        if engine.dialect.name == "postgresql":
            # explicit ids leave the id sequence at 1: move it past them for addAccount
            conn.execute(text("SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))"))
    if engine.dialect.name == "postgresql":
        # what autovacuum does shortly after a bulk load; SQLite gets nothing (nothing runs
        # ANALYZE for it in production either)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started, n_properties


# -- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    target: str  # "bare" or "ngnserver"
    body: bytes
    operation: str | None = None  # for checking a sample response
    unique_username: bool = False
    port: str = "Customer"


def scenarios(data: Dataset) -> list[Scenario]:
    get_account = envelope("Customer", "getAccount", {"id": data.account_id}, AUTH)
    # CDRTool's customer list as it first opens: empty filters, newest change first, 20 rows
    default_query = {
        "filter": {"username": "", "customer": 0, "reseller": 0, "only_resellers": ""},
        "orderBy": {"attribute": "changeDate", "direction": "DESC"},
        "range": {"start": 0, "count": 20},
    }
    reseller_query = {**default_query, "filter": {**default_query["filter"], "reseller": data.reseller_id}}
    account = {
        "username": USERNAME_PLACEHOLDER, "password": "pw-bench-1", "reseller": data.reseller_id,
        "firstName": "Alice", "lastName": "Smith", "organization": "Example BV", "tel": "+31123456789",
        "email": "alice@example.com", "address": "Unknown", "postcode": "Unknown", "city": "Unknown",
        "state": "N/A", "country": "NL", "timezone": "Europe/Amsterdam", "language": "en",
        "resellerActive": 0, "credit": 10.0, "balance": 0.0,
        "properties": [
            {"name": "sip_credit", "value": "5", "category": "credit", "permission": "admin"},
            {"name": "records_per_page", "value": "20", "category": "web", "permission": "customer"},
        ],
    }  # fmt: skip
    return [
        Scenario("bare WSGI (ceiling)", "bare", get_account),
        Scenario("getAccount", "ngnserver", get_account, "getAccount"),
        Scenario("getCustomers", "ngnserver",
                 envelope("Customer", "getCustomers", {"query": ("CustomerQuery", default_query)}, AUTH),
                 "getCustomers"),
        Scenario(f"getCustomers reseller={data.reseller_id}", "ngnserver",
                 envelope("Customer", "getCustomers", {"query": ("CustomerQuery", reseller_query)}, AUTH),
                 "getCustomers"),
        Scenario("addAccount", "ngnserver",
                 envelope("Customer", "addAccount", {"account": ("CustomerAccount", account)}, AUTH),
                 "addAccount", unique_username=True),
        *sip_scenarios(data),
    ]  # fmt: skip


def sip_scenarios(data: Dataset) -> list[Scenario]:
    """SIP addAccount as the reseller (admin impersonating it: the credit checks run) and a
    page of 20 of a domain with ``data.sip_accounts`` accounts."""
    if not data.sip_accounts:
        return []
    as_reseller = {**AUTH, "impersonate": data.reseller_id}
    account = {"id": {"username": USERNAME_PLACEHOLDER, "domain": data.sip_domain}, "password": "pw-sip",
               "firstName": "Bob", "lastName": "Jones", "email": "bob@example.com", "groups": ["voicemail"],
               "callLimit": 2, "properties": [{"name": "language", "value": "en"}]}  # fmt: skip
    query = {"filter": {"domain": data.sip_domain, "username": "", "owner": 0, "customer": 0, "reseller": 0},
             "orderBy": {"attribute": "changeDate", "direction": "DESC"}, "range": {"start": 0, "count": 20}}  # fmt: skip
    return [
        Scenario("SIP getAccounts", "ngnserver",
                 envelope("Sip", "getAccounts", {"query": ("SipQuery", query)}, AUTH), "getAccounts", port="Sip"),
        Scenario("SIP addAccount (credit checks)", "ngnserver",
                 envelope("Sip", "addAccount", {"account": ("SipAccount", account)}, as_reseller), "addAccount",
                 unique_username=True, port="Sip"),
    ]  # fmt: skip


def check_sample(url: str, scenario: Scenario, data: Dataset) -> tuple[int, Any]:
    """Send one request as CDRTool would and check the answer strictly (HTTP 200, no Fault,
    PEAR's encoding rules). Returns (response bytes, decoded value)."""
    body = scenario.body
    if scenario.unique_username:
        body = body.replace(USERNAME_PLACEHOLDER.encode(), f"sample-{secrets.token_hex(6)}".encode())
    http = post(url, body)
    try:
        response = read_response(http, scenario.port, scenario.operation) if scenario.operation else read_response(http)
    except SoapFault as fault:
        raise BenchError(f"{scenario.name}: sample request answered with a Fault: {fault}") from None
    except AssertionError as exc:
        raise BenchError(f"{scenario.name}: bad sample response (HTTP {http.status}): {exc}\n{http.body[:2000]!r}") from None
    value = response.value
    if scenario.operation == "getAccount" and value.get("id") != data.account_id:
        raise BenchError(f"getAccount returned customer {value.get('id')}, expected {data.account_id}")
    if scenario.operation == "getAccounts" and (len(value.get("accounts") or []) != 20
                                                or value.get("total") != data.sip_accounts):  # fmt: skip
        raise BenchError(f"{scenario.name}: expected 20 of {data.sip_accounts} accounts, got {value.get('total')}")
    if scenario.operation == "getCustomers":
        accounts = value.get("accounts") or []
        if len(accounts) != 20 or value.get("total", 0) < 20:
            raise BenchError(f"{scenario.name}: expected 20 accounts of many, got {len(accounts)} of {value.get('total')}")
    if scenario.operation is None and not (isinstance(value, dict) and value.get("id") and value.get("username")):
        raise BenchError("bare app: the fixed response is not a getAccount response")
    return len(http.body), value


# -- servers ---------------------------------------------------------------------------------


class Server:
    """A gunicorn master in its own session; stopped with SIGTERM (graceful) and waited for."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = log_path
        self.base = f"http://{HOST}:{self.port}"
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [*argv, "--bind", f"{HOST}:{self.port}"], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer /health within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"  {self.name}: still running 30 s after SIGTERM; killing it", file=sys.stderr)
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def gunicorn_argv(workers: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers)]


def start_bare(workdir: Path, workers: int) -> Server:
    argv = [*gunicorn_argv(workers), "--worker-class", "sync", "--no-control-socket",
            "--log-level", "warning", "--chdir", str(BENCH), "bare_app:application"]  # fmt: skip
    return Server("bare WSGI app", argv, dict(os.environ), workdir / "bare.log", BENCH)


def ngnserver_env(state_dir: Path, database_url: str, log_level: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NGNSERVER_")}
    env.update(
        NGNSERVER_STATE_DIR=str(state_dir),
        NGNSERVER_DATABASE_URL=database_url,
        NGNSERVER_ADMIN_USERNAME=ADMIN[0],
        NGNSERVER_ADMIN_PASSWORD=ADMIN[1],
        NGNSERVER_LOG_LEVEL=log_level,
    )
    return env


def _cli(env: dict[str, str], workdir: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "ngnserver.cli", *args], env=env,
                          capture_output=True, text=True, cwd=workdir, check=False)  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"ngnserver {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def install(env: dict[str, str], database_url: str, state_dir: Path, workdir: Path, data: Dataset) -> tuple[float, int]:
    """A database as the server under ``env`` (its ``PYTHONPATH`` picks the code) runs on:
    the schema and the sealing key as a real installation gets them, the dataset (``seed``:
    seconds taken, properties written), then the counters rebuilt, as an operator does after
    a bulk load that went in behind the server's back."""
    _cli(env, workdir, "db", "upgrade")
    seeded = seed(database_url, state_dir, data)
    _cli(env, workdir, "db", "recount")
    return seeded


def start_ngnserver(workdir: Path, env: dict[str, str], workers: int, label: str) -> Server:
    argv = [*gunicorn_argv(workers), "-c", str(BENCH / "gunicorn_bench.conf.py"), "ngnserver.app:application"]
    return Server(f"ngnserver ({label})", argv, env, workdir / f"ngnserver-{label}.log", workdir)


# -- other load on the machine ----------------------------------------------------------------

_HZ = os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> tuple[float, float]:
    """(busy CPU-seconds of all CPUs since boot, steal CPU-seconds) from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq) / _HZ, steal / _HZ


def _our_cpu() -> float:
    """CPU-seconds used by this process and everything it started: live descendants from
    /proc (gunicorn masters and workers, postgres), waited ones (wrk) from rusage."""
    import resource

    procs: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                rest = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            procs[int(entry.name)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
    me, live = os.getpid(), 0
    for ppid, ticks in procs.values():
        ancestor = ppid
        while ancestor > 1 and ancestor != me:
            ancestor = procs.get(ancestor, (0, 0))[0]
        if ancestor == me:
            live += ticks
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    return live / _HZ + own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


class CpuMeter:
    """Share of the machine's CPU used by processes that are not ours (and stolen by the
    hypervisor) while a measurement ran: anything else running makes the figures unfair."""

    def __enter__(self) -> Self:
        self.wall = time.monotonic()
        self.busy, self.steal = _machine_cpu()
        self.ours = _our_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.wall
        busy, steal = _machine_cpu()
        capacity = wall * len(os.sched_getaffinity(0))
        other = (busy - self.busy) - (_our_cpu() - self.ours)
        self.other_pct = max(0.0, 100.0 * other / capacity)
        self.steal_pct = 100.0 * (steal - self.steal) / capacity


# -- wrk -------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(text)
    return float(match[1]) * _UNITS[match[2]]


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    socket_errors: dict[str, int]
    other_pct: float  # CPU used by processes not ours during the run, % of the machine
    steal_pct: float

    @property
    def ms_per_request(self) -> float:
        return 1000.0 / self.rps


def parse_wrk(output: str) -> tuple[Run, int]:
    """(the run, non-2xx/3xx responses) from wrk --latency output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (rps and p50 and p99):
        raise BenchError(f"cannot read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    stats = json.loads(re.search(r"^BENCH_JSON (.*)$", output, re.MULTILINE)[1])
    errors = {k: stats[k] for k in ("connect", "read", "write", "timeout") if stats[k]}
    run = Run(float(rps[1]), _ms(p50[1]), _ms(p99[1]), stats["requests"], errors, 0.0, 0.0)
    return run, int(non_2xx[1]) if non_2xx else 0


def run_wrk(url: str, body_file: Path, args: argparse.Namespace, duration: int, prefix: str | None) -> Run:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--latency",
            "--timeout", "10s", "-s", str(LUA), url, "--", str(body_file)]  # fmt: skip
    if prefix:
        argv.append(prefix)
    with CpuMeter() as meter:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    run, non_2xx = parse_wrk(result.stdout)
    run.other_pct, run.steal_pct = meter.other_pct, meter.steal_pct
    if non_2xx:
        raise BenchError(f"wrk saw {non_2xx} non-2xx/3xx responses of {run.requests} ({url}):\n{result.stdout}")
    if run.socket_errors and not args.allow_socket_errors:
        raise BenchError(f"wrk saw socket errors {run.socket_errors} ({url}):\n{result.stdout}")
    return run


def wait_for_quiet(args: argparse.Namespace) -> float:
    """Wait (up to --quiet-timeout s) until processes not started here use less than
    --max-other-load % of the CPUs over one second; returns the last sample."""
    deadline = time.monotonic() + args.quiet_timeout
    told = False
    while True:
        with CpuMeter() as meter:
            time.sleep(1)
        if meter.other_pct + meter.steal_pct < args.max_other_load:
            return meter.other_pct
        if time.monotonic() > deadline:
            print(f"  machine still busy after {args.quiet_timeout} s (other load {meter.other_pct:.0f}%, "
                  f"steal {meter.steal_pct:.0f}%): measuring anyway")
            return meter.other_pct
        if not told:
            print(f"  waiting for other processes to go quiet (other load {meter.other_pct:.0f}%, "
                  f"steal {meter.steal_pct:.0f}%)...", flush=True)
            told = True


def measure(url: str, body_file: Path, args: argparse.Namespace, prefix: str | None) -> Run:
    """One measured run, redone (up to --retries times) when other processes took more than
    --max-other-load % of the CPUs meanwhile; the last attempt is kept either way."""
    for attempt in range(args.retries + 1):
        wait_for_quiet(args)
        run = run_wrk(url, body_file, args, args.duration, f"{prefix}-{attempt}" if prefix else None)
        if run.other_pct + run.steal_pct <= args.max_other_load or attempt == args.retries:
            return run
        print(f"  (discarded a run at {run.rps:.0f} req/s: other processes used {run.other_pct:.0f}% of the CPUs, "
              f"hypervisor steal {run.steal_pct:.0f}%)", flush=True)  # fmt: skip
    raise AssertionError("unreachable")


def verify_added(backend: Backend, run_id: str) -> None:
    """Every addAccount wrk counted as answered (2xx) must have stored one customer."""
    sent = sum(r.requests for name, runs in backend.results.items() if name == "addAccount" for r in runs)
    if not sent:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(backend.database_url)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM customers WHERE username LIKE :p AND username NOT LIKE :w"),
            {"p": f"{run_id}-%", "w": f"{run_id}-w-%"},
        ).scalar_one()
    engine.dispose()
    # wrk stops with requests in flight: the server may have stored a few it never counted
    if stored < sent:
        raise BenchError(f"{backend.name}: wrk counted {sent} addAccount answers but only {stored} customers were stored")
    print(f"{backend.name}: addAccount stored {stored} customers for {sent} answers counted by wrk")


# -- reporting -------------------------------------------------------------------------------


def median_run(runs: list[Run]) -> Run:
    """The run with the median requests/s (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


def machine_info(pg_version: str | None) -> list[tuple[str, str]]:
    from importlib.metadata import version

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.splitlines()
    info = [
        ("nproc", f"{len(os.sched_getaffinity(0))} (os.cpu_count {os.cpu_count()})"),
        ("CPU", model),
        ("kernel", platform.release()),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
    ]
    if pg_version:
        info.append(("PostgreSQL", pg_version))
    info += [
        ("packages", ", ".join(f"{p} {version(p)}" for p in ("gunicorn", "spyne", "lxml", "SQLAlchemy", "psycopg"))),
        ("wrk", wrk_version[0].split(" [")[0] if wrk_version else "?"),
    ]
    return info


def print_table(label: str, results: dict[str, list[Run]], sizes: dict[str, int], args: argparse.Namespace) -> list[str]:
    """Print one backend's table; return verdict lines."""
    bare = median_run(results["bare WSGI (ceiling)"])
    print(f"\n== {label}: median of {args.repeat} x {args.duration:g} s, wrk -t{args.threads} -c{args.connections}, "
          f"gunicorn {args.workers} sync workers ==")  # fmt: skip
    header = (f"{'scenario':<26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'% bare':>7} {'ms/req':>7} "
              f"{'resp B':>7} {'other':>6}  runs (req/s)")  # fmt: skip
    print(header)
    print("-" * len(header))
    for name, runs in results.items():
        m = median_run(runs)
        share = 100.0 * m.rps / bare.rps
        all_runs = " ".join(f"{r.rps:.0f}" for r in runs)
        print(f"{name:<26} {m.rps:>9.1f} {m.p50_ms:>8.2f} {m.p99_ms:>8.2f} {share:>6.1f}% "
              f"{m.ms_per_request:>7.3f} {sizes.get(name, 0):>7} {m.other_pct + m.steal_pct:>5.1f}%  {all_runs}")  # fmt: skip
    verdicts = []
    if "getAccount" in results:
        get_account = median_run(results["getAccount"])
        share = get_account.rps / bare.rps
        verdicts.append(
            f"{label}: getAccount at {100 * share:.1f}% of the bare ceiling "
            f"(target >= {100 * TARGET_SHARE_OF_CEILING:.0f}%): {'MET' if share >= TARGET_SHARE_OF_CEILING else 'MISSED'}"
        )
        for name, runs in results.items():
            if not name.startswith("getCustomers"):
                continue
            ratio = get_account.rps / median_run(runs).rps  # = time per request ratio
            line = f"{label}: {name} ({args.customers} customers, page of 20) / getAccount, time per request = {ratio:.2f}"
            if name == "getCustomers":
                line += f" (target <= {TARGET_LIST_RATIO:.1f}): {'MET' if ratio <= TARGET_LIST_RATIO else 'MISSED'}"
            verdicts.append(line)
    sip_add = next((runs for name, runs in results.items() if name.startswith("SIP addAccount")), None)
    if sip_add:
        share = median_run(sip_add).rps / bare.rps
        verdicts.append(
            f"{label}: SIP addAccount at {100 * share:.1f}% of the bare ceiling "
            f"(target >= {100 * TARGET_SIP_ADD_SHARE:.0f}%): {'MET' if share >= TARGET_SIP_ADD_SHARE else 'MISSED'}"
        )
    busiest = max(r.other_pct + r.steal_pct for runs in results.values() for r in runs)
    steal = max(r.steal_pct for runs in results.values() for r in runs)
    print("(ms/req = 1000 / req/s; other = CPU used by processes not started by this benchmark, plus hypervisor"
          " steal, during the median run, % of all CPUs)")
    if busiest > args.max_other_load:
        print(f"WARNING: other processes and hypervisor steal took up to {busiest:.0f}% of the CPUs (steal up to "
              f"{steal:.0f}%) during a run kept after {args.retries} redos: its figures are not reliable.")
    print()
    for line in verdicts:
        print("  " + line)
    return verdicts


# -- main ------------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    state_dir: Path
    database_url: str
    server: Server | None = None
    pg: Any = None
    results: dict[str, list[Run]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=10, help="whole seconds per measured wrk run [10]")
    p.add_argument("--repeat", type=int, default=3, help="measured runs per scenario; the median is reported [3]")
    p.add_argument("--warmup", type=int, default=2, help="whole seconds of unmeasured load per scenario first [2]")
    p.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    p.add_argument("--connections", type=int, default=8, help="wrk connections [8]")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers, for both servers [2]")
    p.add_argument("--customers", type=int, default=100_000, help="customers seeded [100000]")
    p.add_argument("--resellers", type=int, default=100, help="of which resellers [100]")
    p.add_argument("--sip-accounts", type=int, default=100_000,
                   help="SIP accounts seeded in one domain of the reseller (0: no SIP scenarios) [100000]")
    p.add_argument("--backends", default="sqlite", help="comma-separated: sqlite, postgresql [sqlite]")
    p.add_argument("--postgres", action="store_true", help="same as --backends sqlite,postgresql")
    p.add_argument("--log-level", default="info",
                   help="NGNSERVER_LOG_LEVEL (info logs one JSON line per call, as in production) [info]")
    p.add_argument("--only", default="", help="comma-separated scenario names to run (the ceiling always runs)")
    p.add_argument("--max-other-load", type=float, default=10.0, metavar="PCT",
                   help="redo a run if processes not started here (plus hypervisor steal) used more than "
                        "PCT%% of the CPUs; 100 turns this off [10]")
    p.add_argument("--retries", type=int, default=3, help="redos of a run spoilt by other load [3]")
    p.add_argument("--quiet-timeout", type=int, default=600, metavar="S",
                   help="before each run, wait up to S seconds for other load to drop below --max-other-load [600]")
    p.add_argument("--allow-socket-errors", action="store_true", help="report wrk socket errors instead of failing")
    p.add_argument("--cprofile", metavar="DIR", help="run ngnserver's workers under cProfile, write .prof files to DIR")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, logs)")
    p.add_argument("--write-bare-response", action="store_true",
                   help=f"save the sample getAccount response as {BARE_RESPONSE.name} (the ceiling's reply)")
    args = p.parse_args(argv)
    if args.postgres:
        args.backends = "sqlite,postgresql"
    if args.duration < 1 or args.repeat < 1 or args.warmup < 0:
        p.error("wrk takes whole seconds: --duration >= 1, --repeat >= 1, --warmup >= 0")
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        p.error(f"unknown backend(s) {', '.join(sorted(unknown))}")
    if args.resellers < 1 or args.customers < max(args.resellers * 2, 40):
        p.error("need at least 1 reseller and enough customers for pages of 20 under one reseller")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    if args.cprofile:
        Path(args.cprofile).mkdir(parents=True, exist_ok=True)

    # SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, through the cleanup below
    def _interrupted(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _interrupted)

    workdir = Path(tempfile.mkdtemp(prefix="ngnserver-bench-"))
    data = Dataset(args.customers, args.resellers, args.sip_accounts)
    all_scenarios = scenarios(data)
    if args.only:
        wanted = {s.strip() for s in args.only.split(",")}
        all_scenarios = [s for s in all_scenarios if s.target == "bare" or s.name in wanted or s.operation in wanted]
    bodies = {}
    for i, s in enumerate(all_scenarios):
        bodies[s.name] = workdir / f"body-{i}.xml"
        bodies[s.name].write_bytes(s.body)

    backends: list[Backend] = []
    bare: Server | None = None
    pg_version = None
    verdicts: list[str] = []
    run_id = f"b{int(time.time())}{secrets.token_hex(2)}"
    try:
        print(f"wrk -t{args.threads} -c{args.connections}; gunicorn --workers {args.workers} (sync) for both servers; "
              f"wrk and the servers share this machine's {len(os.sched_getaffinity(0))} CPU(s)")  # fmt: skip
        print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"dataset: {data.customers} customers, {data.resellers} resellers (id == reseller), "
              f"getAccount id={data.account_id}, reseller filter={data.reseller_id}")
        for name in args.backends:
            state_dir = workdir / f"state-{name}"
            if name == "sqlite":
                url = f"sqlite:///{state_dir / 'ngnserver.sqlite3'}"
                backend = Backend(name, state_dir, url)
            else:
                from tests.support.postgres import TemporaryPostgres

                pg = TemporaryPostgres().start()
                backend = Backend(name, state_dir, pg.url, pg=pg)
                from sqlalchemy import create_engine, text

                engine = create_engine(pg.url)
                with engine.connect() as conn:
                    pg_version = conn.execute(text("SHOW server_version")).scalar_one()
                engine.dispose()
            backends.append(backend)
            env = ngnserver_env(state_dir, backend.database_url, args.log_level)
            if args.cprofile:
                env["BENCH_CPROFILE_DIR"] = str(Path(args.cprofile).resolve())
            seconds, n_props = install(env, backend.database_url, state_dir, workdir, data)
            print(f"{name}: seeded {data.customers} customers and {n_props} properties in {seconds:.1f} s")
            backend.server = start_ngnserver(workdir, env, args.workers, name)

        # one strict sample of every scenario before any load
        for backend in backends:
            for s in all_scenarios:
                if s.target == "ngnserver":
                    backend.sizes[s.name] = check_sample(backend.server.base + "/ngnpro/", s, data)[0]
        if args.write_bare_response or not BARE_RESPONSE.exists():
            s = next(s for s in scenarios(data) if s.operation == "getAccount")
            BARE_RESPONSE.write_bytes(post(backends[0].server.base + "/ngnpro/", s.body).body)
            print(f"wrote {BARE_RESPONSE.name} ({BARE_RESPONSE.stat().st_size} B) from {backends[0].name}'s getAccount")
        bare = start_bare(workdir, args.workers)
        for backend in backends:
            bare_scenario = next(s for s in all_scenarios if s.target == "bare")
            backend.sizes[bare_scenario.name] = check_sample(bare.base + "/ngnpro/", bare_scenario, data)[0]
            real, fixed = backend.sizes.get("getAccount"), backend.sizes.get(bare_scenario.name)
            print(f"{backend.name}: sample responses OK (getAccount {real} B, bare app's fixed reply {fixed} B)")

        plan = [(b, s) for b in backends for s in all_scenarios]
        if args.warmup > 0:
            print(f"warming up ({args.warmup:g} s per scenario)...")
            for backend, s in plan:
                target = bare if s.target == "bare" else backend.server
                prefix = f"{run_id}-w-{backend.name}" if s.unique_username else None
                run_wrk(target.base + "/ngnpro/", bodies[s.name], args, args.warmup, prefix)
        for rep in range(1, args.repeat + 1):
            for backend, s in plan:
                target = bare if s.target == "bare" else backend.server
                prefix = f"{run_id}-{rep}-{backend.name}" if s.unique_username else None
                run = measure(target.base + "/ngnpro/", bodies[s.name], args, prefix)
                backend.results.setdefault(s.name, []).append(run)
                errors = f" socket errors {run.socket_errors}" if run.socket_errors else ""
                print(f"  run {rep}/{args.repeat} {backend.name:<10} {s.name:<26} {run.rps:>8.1f} req/s "
                      f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms  other load {run.other_pct:4.1f}%"
                      f" steal {run.steal_pct:4.1f}%"
                      f"{errors}", flush=True)  # fmt: skip

        for backend in backends:
            verify_added(backend, run_id)
        for backend in backends:
            verdicts += print_table(backend.name, backend.results, backend.sizes, args)
            # what the workers logged beyond the per-call INFO lines
            problems = [
                line for line in backend.server.log_path.read_text(errors="replace").splitlines()
                if '"level": "ERROR"' in line or '"level": "WARNING"' in line or "Traceback" in line
                or "[ERROR]" in line or "[CRITICAL]" in line
            ]  # fmt: skip
            if problems:
                print(f"  {backend.name}: the server logged {len(problems)} warning/error line(s), e.g. {problems[0][:300]}")
    finally:
        for backend in backends:
            if backend.server is not None:
                backend.server.stop()
            if backend.pg is not None:
                backend.pg.stop()
        if bare is not None:
            bare.stop()
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print("\nmachine:")
    for key, value in machine_info(pg_version):
        print(f"  {key:<9} {value}")
    if args.cprofile:
        print(f"\ncProfile output in {args.cprofile} (python -m pstats FILE; sort cumtime / tottime)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("\ninterrupted: servers stopped, temporary files removed")
