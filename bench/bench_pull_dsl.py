"""Benchmark: ``pull-dsl`` over many monitored DSL services against the Ikano simulator.

Seeds N services (default 10,000) whose orders the simulator holds (a third NEW, a third
PENDING, a third COMPLETED with static IPs and two notes), then runs the same pull the
``ngnserver pull-dsl`` command runs (one ORDERSTATUS over real HTTP on loopback and one
transaction per service) and prints services/s. Prints figures; asserts nothing about speed.

    .venv/bin/python bench/bench_pull_dsl.py [--services 10000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sqlite3
import sys
import tempfile
import time
from multiprocessing import Event, Process, Queue
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ngnserver.config import IkanoSettings, Settings
from ngnserver.core import dsl
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import Database
from ngnserver.models import Customer
from ngnserver.models.dsl import DslPackage, DslService
from ngnserver.worker import WorkerContext
from tests.support.ikano_simulator import IkanoSimulator, SimulatedNote, SimulatedOrder


def _order_id(n: int) -> str:
    return str(200000 + n)


def _tn(n: int) -> str:
    return f"212{5550000 + n:07d}"


def simulator_process(count: int, ready: Queue, stop: Event) -> None:
    """The simulator in its own process, as Ikano is on its own machine: it would otherwise
    compete with the pull for this interpreter's GIL."""
    today = datetime.date.today()
    with IkanoSimulator() as sim:
        for n in range(count):
            status = ("NEW", "PENDING", "COMPLETED")[n % 3]
            order = SimulatedOrder(
                order_id=_order_id(n), order_type="NEW", status=status, product_ids=["ATT-6M"], phone_number=_tn(n),
                virtual_phone_number="", password="ppp", first_name="First", last_name=f"Last{n}",
                company_name="", username=f"user{n}", dsl_service_id=str(900000 + n), date_to_order=today,
                activation_date=today if status != "NEW" else None,
            )  # fmt: skip
            if status == "COMPLETED":
                order.static_ips = [f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"]
                order.notes = [SimulatedNote("Accepted", "ikano", False, datetime.datetime(2026, 11, 1, 9)),
                               SimulatedNote("Activated", "ikano", False, datetime.datetime(2026, 11, 2, 9))]
            sim.orders[order.order_id] = order
        ready.put((sim.url, sim.keyid, sim.username, sim.password))
        stop.wait()


def seed(database: Database, sealer: PasswordSealer, count: int) -> None:
    sealed = sealer.seal("ppp")
    with database.transaction(write=True) as session:
        session.add(Customer(id=1, reseller=1, username="reseller", reseller_active=True))
        session.add(DslPackage(id=1, name="ATT 6M", vendor_package_id="ATT-6M"))
        session.flush()
        rows = [
            {
                "customer": 1, "reseller": 1, "owner": 0, "package_id": 1, "state": "pending",
                "phone_number": _tn(n), "loop_type": "LS", "first_name": "First", "last_name": f"Last{n}",
                "order_type": "NEW", "vendor_order_id": _order_id(n), "vendor_order_status": "NEW",
                "password_sealed": sealed, "monitored": True, "static_ips": [],
            }
            for n in range(count)
        ]
        for start in range(0, len(rows), 2000):
            session.execute(insert(DslService), rows[start : start + 2000])


def run(backend: str, url: str, count: int, tmp: Path) -> dict[str, float]:
    database = Database(url)
    database.migrate()
    ready: Queue = Queue()
    stop = Event()
    simulator = Process(target=simulator_process, args=(count, ready, stop), daemon=True)
    simulator.start()
    try:
        sim_url, keyid, username, password = ready.get(timeout=120)
        settings = Settings(
            state_dir=tmp, database_url=url, admins={"admin": "x"}, secret_key=PasswordSealer.new_key(),
            ikano=IkanoSettings(url=sim_url, keyid=keyid, username=username, password=password),
        )  # fmt: skip
        sealer = settings.sealer()
        seed(database, sealer, count)
        adapter = WorkerContext(settings, sealer).dsl
        started = time.perf_counter()
        report = dsl.pull_monitored(database, adapter)
        elapsed = time.perf_counter() - started
        again = time.perf_counter()
        second = dsl.pull_monitored(database, adapter)
        elapsed_again = time.perf_counter() - again
    finally:
        stop.set()
        simulator.join(10)
    database.dispose()
    assert report.failed == 0 and report.pulled == count, report
    return {
        "backend": backend, "services": count, "seconds": elapsed, "per_second": count / elapsed,
        "second_pulled": second.pulled, "second_per_second": second.pulled / elapsed_again,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite,postgresql")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{tmp / 'pull.sqlite3'}"
                results.append(run(backend, url, args.services, tmp))
            else:
                from tests.support.postgres import TemporaryPostgres

                with TemporaryPostgres() as pg:
                    results.append(run(backend, pg.url, args.services, tmp))
    print(f"\npull-dsl over {args.services:,} monitored services (Ikano simulator on 127.0.0.1)")
    print(f"{'backend':<12}{'first pull s':>14}{'services/s':>12}{'second pull (still monitored)':>32}")
    for r in results:
        second = f"{r['second_pulled']:,} at {r['second_per_second']:,.0f}/s"
        print(f"{r['backend']:<12}{r['seconds']:>14.1f}{r['per_second']:>12,.0f}{second:>32}")
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    print(f"\nmachine: {model}, {len(os.sched_getaffinity(0))} CPUs; Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}")  # fmt: skip


if __name__ == "__main__":
    main()
