"""Benchmark of the OZmap <-> IXC syncs: a generated fiber plant (``generate_plant``: boxes,
their splitters, client properties) in the OZmap simulator and its IXC side
(``populate_fiber``: projects, transmitters, fiber logins) in the IXC simulator, latency
added to every call of both, a SQLite state. For each direction, a first run and a second
run with nothing changed: wall time, objects/s, calls made to each side (writes among
them), the peak resident memory and the CPU time of the sync's process. Each simulator runs
in a process of its own, so that its work does not share the sync's interpreter lock.

    PYTHONPATH=. python bench/bench_sync_ozmap_ixc.py --boxes 20000 --logins 50000 --latency 0.002

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

from remote import Remote, cpu_seconds, objects, peak_mib

from ngnserver.config import IxcSettings, OzmapIxcSettings, OzmapSettings, Settings
from ngnserver.core import sync
from ngnserver.core.sync import ixc_ozmap, ozmap_ixc
from ngnserver.db import Database
from tests.support.ixc_simulator import IxcSimulator, populate_fiber
from tests.support.ozmap_simulator import OzmapSimulator, generate_plant

TRANSMITTERS = 20


def ozmap_simulator(boxes: int, splitters: int, logins: int, latency: float) -> tuple[OzmapSimulator, tuple[str, ...]]:
    simulator = OzmapSimulator(keep_calls=False)
    generate_plant(simulator, boxes=boxes, splitters_per_box=splitters, olts=TRANSMITTERS, clients=logins)
    simulator.latency = latency
    return simulator, (simulator.key,)


def ixc_simulator(logins: int, latency: float, **_: Any) -> tuple[IxcSimulator, tuple[str, ...]]:
    simulator = IxcSimulator(keep_calls=False)
    populate_fiber(simulator, transmitters=TRANSMITTERS, logins=logins)
    simulator.latency = latency
    return simulator, (simulator.token,)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, default=20_000)
    parser.add_argument("--splitters", type=int, default=3, help="splitters per box [3]")
    parser.add_argument("--logins", type=int, default=50_000, help="IXC logins, one OZmap client each")
    parser.add_argument("--latency", type=float, default=0.002, help="seconds added to every call")
    parser.add_argument("--connections", type=int, default=4, help="write connections to each side")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    print(f"OZmap: {args.boxes} boxes, {args.boxes * args.splitters} splitters, {args.logins} clients;"
          f" IXC: {args.logins} logins; {args.latency * 1000:g} ms per call; {args.connections} write connections")  # fmt: skip
    print(f"{'direction':<10} {'run':<9} {'status':<7} {'seconds':>8} {'objects':>8} {'objects/s':>10}"
          f" {'OZmap calls':>12} {'writes':>7} {'IXC calls':>10} {'writes':>7} {'peak MiB':>9} {'CPU s':>6}")  # fmt: skip
    options = {"boxes": args.boxes, "splitters": args.splitters, "logins": args.logins, "latency": args.latency}
    ozmap, ixc = Remote(ozmap_simulator, **options), Remote(ixc_simulator, **options)
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{tmp}/bench.sqlite3")
        database.migrate()
        settings = Settings(
            state_dir=Path(tmp),
            ozmap=OzmapSettings(url=ozmap.url, key=ozmap.credentials[0], write_connections=args.connections),
            ixc=IxcSettings(url=ixc.url, token=ixc.credentials[0]),
            ozmap_ixc=OzmapIxcSettings(box_style="bench"),
        )
        for direction, build in (("ozmap-ixc", ozmap_ixc.build), ("ixc-ozmap", ixc_ozmap.build)):
            for label in ("first", "no change"):
                before = ozmap.counts(), ixc.counts()
                runner = build(settings)
                began, cpu = time.perf_counter(), cpu_seconds()
                try:
                    result = sync.execute(database, runner, connections=args.connections, max_errors=10**9)
                finally:
                    runner.close()
                seconds = time.perf_counter() - began
                (oz_calls, oz_writes), (ixc_calls, ixc_writes) = (
                    (after[0] - was[0], after[1] - was[1]) for after, was in zip((ozmap.counts(), ixc.counts()), before)
                )
                print(f"{direction:<10} {label:<9} {result.status:<7} {seconds:>8.1f} {objects(result):>8}"
                      f" {objects(result) / seconds:>10.0f} {oz_calls:>12} {oz_writes:>7} {ixc_calls:>10}"
                      f" {ixc_writes:>7} {peak_mib():>9.0f} {cpu_seconds() - cpu:>6.1f}")  # fmt: skip
        database.dispose()
    ozmap.stop()
    ixc.stop()


if __name__ == "__main__":
    main()
