"""Benchmark of the IXC -> BQN sync: a generated ISP (``populate``) in the IXC simulator, an
empty BQN simulator with latency added to every call, a SQLite run log. For each number of
write connections, a first run (every object created) and a second run with nothing changed
in IXC (no write expected): wall time, objects/s, writes/s (of the whole run, and of its
writing alone, after reading both sides and planning) and the peak resident memory of
the sync's process. Each simulator runs in a process of its own, so that its work does not
share the sync's interpreter lock.

    PYTHONPATH=. python bench/bench_sync_ixc_bqn.py --logins 20000 --latency 0.002 --connections 1,8

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from remote import Remote, objects, peak_mib

from ngnserver.config import BqnSettings, IxcSettings, Settings
from ngnserver.core import sync
from ngnserver.core.sync import ixc_bqn
from ngnserver.db import Database
from tests.support.bqn_simulator import BqnSimulator
from tests.support.ixc_simulator import IxcSimulator, populate


def ixc_simulator(**options: Any) -> tuple[IxcSimulator, tuple[str, ...]]:
    simulator = IxcSimulator(keep_calls=False)
    populate(simulator, **options)
    return simulator, (simulator.token,)


def bqn_simulator(latency: float) -> tuple[BqnSimulator, tuple[str, ...]]:
    simulator = BqnSimulator(keep_calls=False)
    simulator.latency = latency
    return simulator, (simulator.user, simulator.password)


def one_run(
    database: Database, settings: Settings, connections: int
) -> tuple[sync.RunResult, float]:
    runner = ixc_bqn.from_settings(settings)
    began = time.perf_counter()
    try:
        result = sync.execute(database, runner, connections=connections, max_errors=10**9)
    finally:
        runner.close()
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logins", type=int, default=20_000)
    parser.add_argument("--plans", type=int, default=200)
    parser.add_argument("--contracts", type=int, default=None, help="[as many as logins]")
    parser.add_argument(
        "--latency", type=float, default=0.002, help="seconds added to every BQN call"
    )
    parser.add_argument(
        "--connections", default="1,8", help="write connections to try, comma-separated"
    )
    parser.add_argument("--dual-stack", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    print(f"IXC: {args.logins} logins (90% online), {args.plans} plans, {args.contracts or args.logins} contracts;"
          f" BQN latency {args.latency * 1000:g} ms; dual stack {'on' if args.dual_stack else 'off'}")  # fmt: skip
    print(f"{'conn':>4}  {'run':<9} {'status':<7} {'seconds':>8} {'objects/s':>10} {'writes':>7} "
          f"{'writes/s':>9} {'reading s':>9} {'writing s':>9} {'writes/s writing':>16} {'peak MiB':>9}")  # fmt: skip
    contracts = args.contracts or args.logins
    ixc = Remote(ixc_simulator, logins=args.logins, plans=args.plans, contracts=contracts)
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{tmp}/bench.sqlite3")
        database.migrate()
        for connections in (int(n) for n in args.connections.split(",")):
            bqn = Remote(bqn_simulator, latency=args.latency)
            settings = Settings(
                state_dir=Path(tmp),
                ixc=IxcSettings(url=ixc.url, token=ixc.credentials[0]),
                bqn=BqnSettings(url=bqn.url, user=bqn.credentials[0], password=bqn.credentials[1],
                                write_connections=connections, dual_stack=args.dual_stack),
            )  # fmt: skip
            for label in ("first", "no change"):
                before = bqn.writes()
                result, seconds = one_run(database, settings, connections)
                writes = bqn.writes() - before
                print(f"{connections:>4}  {label:<9} {result.status:<7} {seconds:>8.2f} "
                      f"{objects(result) / seconds:>10.0f} {writes:>7} {writes / seconds:>9.0f} "
                      f"{result.plan_seconds:>9.2f} {seconds - result.plan_seconds:>9.2f} "
                      f"{writes / max(seconds - result.plan_seconds, 1e-9):>16.0f} {peak_mib():>9.0f}")  # fmt: skip
            bqn.stop()
        database.dispose()
    ixc.stop()


if __name__ == "__main__":
    main()
