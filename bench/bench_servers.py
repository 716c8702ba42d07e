"""Benchmark: dedicated servers ordered at once through SOAP, provisioned by 1 and then 4
``ngnserver worker`` processes on PostgreSQL against the DCImanager simulator.

For each worker count: a fresh database and a fresh simulator (in its own process, as
DCImanager runs on its own machine, so that its threads do not compete with this process
for one GIL) holding N free servers (default 200) and enough free addresses, with
``--latency`` (50 ms) added to every DCImanager call, power-on taking ``--power-delay`` and
an OS install ``--install-delay`` (5 s). N ``addServer`` calls go through ServerPort (8 at a
time); then the workers start and the clock runs until every server is ``active`` (or one
fails: the benchmark stops). Prints servers provisioned per minute, the wall time, how long
one server took from its first step to active, the job attempts, the CPU seconds the
workers, the simulator and everything else (PostgreSQL, other people's work on a shared
machine) used during the run, and the load average at its end. Asserts nothing about speed; fails when a server fails.

The poll intervals are lowered from the production defaults (30 s for power and install,
10 s for the reachability check), which would dominate a 5 s install: see --power-poll,
--install-poll, --check-poll and --worker-poll (``ngnserver worker --poll``).

    .venv/bin/python bench/bench_servers.py [--servers 200] [--workers 1,4]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Event, Process, Queue
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ngnserver.app import NGNProApp
from ngnserver.config import DcimSettings, Settings
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import Database
from ngnserver.models.job import Job, JobAttempt
from ngnserver.models.server import ServerService
from tests.conftest import serve_app
from tests.support.dcimanager_simulator import DcimSimulator
from tests.support.postgres import TemporaryPostgres
from tests.support.wire import Client

ADMIN = ("admin", "bench-Admin-pass")


def simulator_process(args: argparse.Namespace, ready: Queue, stop: Event, stats: Queue) -> None:
    """The simulator in its own process; when ``stop`` is set it reports what it saw."""
    with DcimSimulator(seed=False, power_delay=args.power_delay, install_delay=args.install_delay) as sim:
        sim.seed_free_servers(args.servers)
        sim.delay(args.latency)
        ready.put((sim.base_url, sim.username, sim.password, sim.listen_port))
        stop.wait()
        with sim._lock:
            calls = Counter(call.func for call in sim.calls)
            installs = [server.installs for server in sim.servers.values()]
            owned = sum(1 for server in sim.servers.values() if server.owner not in ("", "0"))
        times = os.times()
        stats.put({"calls": calls, "installs": installs, "owned": owned, "cpu": times.user + times.system})


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs, /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run(pg: TemporaryPostgres, workers: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url = pg.create_database(f"bench_servers_{workers}")
    database = Database(url)
    database.migrate()
    ready: Queue = Queue()
    stats: Queue = Queue()
    stop = Event()
    simulator = Process(target=simulator_process, args=(args, ready, stop, stats), daemon=True)
    simulator.start()
    procs: list[subprocess.Popen[bytes]] = []
    httpd = None
    try:
        sim_url, username, password, listen_port = ready.get(timeout=120)
        dcim = DcimSettings(
            url=sim_url, username=username, password=password, timeout=30,
            power_poll_seconds=args.power_poll, install_poll_seconds=args.install_poll,
            check_port=listen_port, check_poll_seconds=args.check_poll,
        )  # fmt: skip
        key = PasswordSealer.new_key()
        settings = Settings(state_dir=tmp, database_url=url, admins=dict([ADMIN]), secret_key=key, dcim=dcim)
        app = NGNProApp(settings, database)
        base, httpd = serve_app(app)
        endpoint = base + settings.endpoint_path
        admin = Client(endpoint, *ADMIN)
        account = ("CustomerAccount", {"username": "r", "password": "pw-reseller-1", "resellerActive": True})
        reseller = admin.call("Customer", "addAccount", account=account)["id"]
        customer = admin.call("Customer", "addAccount", account=("CustomerAccount", {
            "username": "c", "password": "pw-customer-1", "reseller": reseller}))["id"]  # fmt: skip
        admin.call("Customer", "setProperties", customer=reseller,
                   properties=[{"name": "server_credit", "value": str(args.servers)}])  # fmt: skip
        package = admin.call("Server", "addPackage", package=("ServerPackage", {
            "name": "R630 Debian", "kind": "dedicated", "template": "R630", "osTemplate": "Debian-12-amd64",
            "recipe": "lamp", "extraIpv4": 1, "extraIpv6": 1}))["id"]  # fmt: skip
        client = Client(endpoint, "r", "pw-reseller-1", admin=False)

        def order(n: int) -> int:
            server = {"customer": customer, "package": package, "hostname": f"web{n}.example.com",
                      "panelUsername": "ann.lee@example", "panelPassword": "panel-Pass-1234",
                      "rootPassword": "root-Pass-98765"}  # fmt: skip
            return client.call("Server", "addServer", server=("Server", server))["id"]

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(order, range(args.servers)))
        ordering = time.perf_counter() - started
        assert len(set(ids)) == args.servers

        env = {
            **os.environ, "PYTHONPATH": str(ROOT), "NGNSERVER_STATE_DIR": str(tmp), "NGNSERVER_DATABASE_URL": url,
            "NGNSERVER_SECRET_KEY": key.decode(), "NGNSERVER_LOG_LEVEL": "WARNING",
            "NGNSERVER_DCIM_URL": sim_url, "NGNSERVER_DCIM_USERNAME": username, "NGNSERVER_DCIM_PASSWORD": password,
            "NGNSERVER_DCIM_TIMEOUT": "30", "NGNSERVER_DCIM_CHECK_PORT": str(listen_port),
            "NGNSERVER_DCIM_POWER_POLL_SECONDS": str(args.power_poll),
            "NGNSERVER_DCIM_INSTALL_POLL_SECONDS": str(args.install_poll),
            "NGNSERVER_DCIM_CHECK_POLL_SECONDS": str(args.check_poll),
        }  # fmt: skip
        command = [sys.executable, "-c", "from ngnserver.cli import main; main()", "worker", "--poll",
                   str(args.worker_poll)]  # fmt: skip
        started, busy_before, own_before = time.perf_counter(), busy_seconds(), cpu_seconds(os.getpid())
        for n in range(workers):
            with open(tmp / f"worker-{workers}-{n}.log", "wb") as log:  # the child keeps its own copy
                procs.append(subprocess.Popen([*command, "--id", f"bench-{n}"], env=env, cwd=tmp, stdout=log,
                                              stderr=subprocess.STDOUT))  # fmt: skip
        first_active = None
        while True:
            with database.transaction(write=False) as session:
                states = dict(session.execute(
                    select(ServerService.state, func.count()).group_by(ServerService.state)).all())  # fmt: skip
            if states.get("active") and first_active is None:
                first_active = time.perf_counter() - started
            if states.get("failed"):
                raise SystemExit(f"{states['failed']} servers failed; worker logs in {tmp}")
            if states.get("active", 0) == args.servers:
                break
            if time.perf_counter() - started > args.timeout:
                raise SystemExit(f"not done after {args.timeout} s: {states}")
            time.sleep(0.2)
        wall = time.perf_counter() - started
        worker_cpu = sum(cpu_seconds(proc.pid) for proc in procs)
        busy = busy_seconds() - busy_before
        own = cpu_seconds(os.getpid()) - own_before
        load = os.getloadavg()[0]
        with database.transaction(write=False) as session:
            attempts = dict(session.execute(
                select(JobAttempt.outcome, func.count()).group_by(JobAttempt.outcome)).all())  # fmt: skip
            jobs_done = session.execute(select(func.count()).select_from(Job).where(Job.state == "done")).scalar_one()
            spans = []
            machines = set()
            for service in session.execute(select(ServerService)).scalars():
                steps = service.progress
                first = datetime.datetime.fromisoformat(steps[0]["at"])
                last = datetime.datetime.fromisoformat(steps[-1]["at"])
                spans.append((last - first).total_seconds())
                machines.add(service.dcim_server_id)
        got = client.call("Server", "getServer", id=ids[-1])
        assert got["state"] == "active" and got["mainIp"] in got["ips"], got
        assert len(machines) == args.servers, "two servers got the same machine"
        assert jobs_done == args.servers
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        stop.set()
        simulator_stats = stats.get(timeout=30) if simulator.is_alive() else None
        simulator.join(10)
        if httpd is not None:
            httpd.shutdown()
        database.dispose()
    assert simulator_stats is not None
    assert simulator_stats["owned"] == args.servers and set(simulator_stats["installs"]) == {1}, simulator_stats
    return {
        "workers": workers, "ordering": ordering, "wall": wall, "per_minute": args.servers / wall * 60,
        "first_active": first_active, "span_median": statistics.median(spans), "span_max": max(spans),
        "attempts": attempts, "calls": sum(simulator_stats["calls"].values()), "worker_cpu": worker_cpu,
        "simulator_cpu": simulator_stats["cpu"], "busy": busy, "load": load,
        # what the machine was busy with besides the workers, the simulator and this process:
        # PostgreSQL, and whatever else runs on the box (on a shared VM, other people's work)
        "other": busy - worker_cpu - simulator_stats["cpu"] - own,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--workers", default="1,4", help="comma-separated worker counts, one run each")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every DCImanager call")
    parser.add_argument("--install-delay", type=float, default=5.0, help="seconds an OS install takes")
    parser.add_argument("--power-delay", type=float, default=1.0, help="seconds power-on takes")
    parser.add_argument("--power-poll", type=float, default=0.5, help="NGNSERVER_DCIM_POWER_POLL_SECONDS")
    parser.add_argument("--install-poll", type=float, default=1.0, help="NGNSERVER_DCIM_INSTALL_POLL_SECONDS")
    parser.add_argument("--check-poll", type=float, default=0.5, help="NGNSERVER_DCIM_CHECK_POLL_SECONDS")
    parser.add_argument("--worker-poll", type=float, default=0.2, help="ngnserver worker --poll")
    parser.add_argument("--timeout", type=float, default=1800, help="give up a run after this many seconds")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-servers-") as tmp_name, TemporaryPostgres() as pg:
        for workers in (int(w) for w in args.workers.split(",")):
            results.append(run(pg, workers, args, Path(tmp_name)))
            r = results[-1]
            print(f"{workers} workers: {r['wall']:.1f} s, {r['per_minute']:.0f} servers/min", flush=True)
    print(f"\n{args.servers} dedicated servers ordered at once through ServerPort (PostgreSQL), DCImanager "
          f"simulator in its own process: +{args.latency * 1000:g} ms per call, power-on {args.power_delay:g} s, "
          f"OS install {args.install_delay:g} s; polls: power {args.power_poll:g} s, install {args.install_poll:g} s, "
          f"check {args.check_poll:g} s, worker queue {args.worker_poll:g} s")  # fmt: skip
    print(f"{'workers':>7}{'order s':>9}{'wall s':>9}{'servers/min':>13}{'x 1st':>7}{'first s':>9}"
          f"{'one server s (median/max)':>27}{'DCIM calls':>12}{'attempts (done/wait/other)':>28}"
          f"{'CPU s workers/sim/other':>25}{'load':>6}")  # fmt: skip
    for r in results:
        a = r["attempts"]
        other = sum(v for k, v in a.items() if k not in ("done", "wait"))
        counts = f"{a.get('done', 0)}/{a.get('wait', 0)}/{other}"
        cpu = f"{r['worker_cpu']:.0f}/{r['simulator_cpu']:.0f}/{r['other']:.0f}"
        print(f"{r['workers']:>7}{r['ordering']:>9.1f}{r['wall']:>9.1f}{r['per_minute']:>13.0f}"
              f"{r['per_minute'] / results[0]['per_minute']:>7.2f}{r['first_active']:>9.1f}"
              f"{r['span_median']:>15.1f} / {r['span_max']:<9.1f}{r['calls']:>12}"
              f"{counts:>28}{cpu:>25}{r['load']:>6.1f}")  # fmt: skip
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    print(f"\nmachine: {model}, {len(os.sched_getaffinity(0))} CPUs; Python {platform.python_version()}; "
          f"{datetime.date.today().isoformat()}")  # fmt: skip


if __name__ == "__main__":
    main()
