"""What a client sees while PostgreSQL stops answering: ngnserver under gunicorn (the
shipped configuration) on a PostgreSQL server of its own, which is stopped with SIGSTOP for
``--stop`` seconds (default 40) and then let go. Throughout, one client calls getAccount
and another GETs /health, each about twice a second; the script prints, per second, what
each saw (answer or errorcode, and how long it waited), then a summary. Not a test: it
asserts nothing.

    .venv/bin/python bench/hung_database.py [--stop 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import bench_customer as bc

from tests.support.postgres import TemporaryPostgres
from tests.support.wire import Client, SoapFault, http_exchange


@dataclass
class Seen:
    at: float  # seconds since the database was stopped (negative: before)
    what: str  # "ok", "9002", "503", ...
    waited: float


def server_processes(pg: TemporaryPostgres) -> list[int]:
    root = pg._process.pid
    found = [root]
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1]) == root:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stop", type=float, default=40.0, help="seconds the database is stopped [40]")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ngn-hung-"))
    with TemporaryPostgres() as pg:
        url = pg.create_database("hung")
        env = bc.ngnserver_env(tmp / "state", url, "WARNING")
        bc._cli(env, tmp, "db", "upgrade")
        argv = [*bc.gunicorn_argv(args.workers), "-c", str(BENCH.parent / "gunicorn.conf.py"), "ngnserver.app:application"]
        server = bc.Server("ngnserver", argv, env, tmp / "server.log", tmp)
        try:
            admin = Client(server.base + "/ngnpro/", *bc.ADMIN)
            me = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "me", "password": "pw"}))["id"]
            stopped_at = time.monotonic() + 3.0
            end = stopped_at + args.stop + 8.0
            seen: dict[str, list[Seen]] = {"getAccount": [], "/health": []}

            def soap() -> None:
                while time.monotonic() < end:
                    started = time.monotonic()
                    try:
                        admin.call("Customer", "getAccount", id=me)
                        what = "ok"
                    except SoapFault as fault:
                        what = str(fault.errorcode)
                    except OSError as exc:
                        what = type(exc).__name__
                    seen["getAccount"].append(Seen(started - stopped_at, what, time.monotonic() - started))
                    time.sleep(0.5)

            def health() -> None:
                while time.monotonic() < end:
                    started = time.monotonic()
                    try:
                        status = http_exchange(server.base, b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n", timeout=60).status
                        what = "ok" if status == 200 else str(status)
                    except OSError as exc:
                        what = type(exc).__name__
                    seen["/health"].append(Seen(started - stopped_at, what, time.monotonic() - started))
                    time.sleep(0.5)

            threads = [threading.Thread(target=soap), threading.Thread(target=health)]
            for thread in threads:
                thread.start()
            time.sleep(max(0.0, stopped_at - time.monotonic()))
            processes = server_processes(pg)
            for pid in processes:
                os.kill(pid, signal.SIGSTOP)
            time.sleep(args.stop)
            for pid in processes:
                os.kill(pid, signal.SIGCONT)
            for thread in threads:
                thread.join()
            killed = server.log_tail(10_000).count("WORKER TIMEOUT")
        finally:
            server.stop()
    print(f"PostgreSQL stopped (SIGSTOP) at t=0 for {args.stop:g} s; gunicorn {args.workers} workers, shipped settings")
    for name, entries in seen.items():
        print(f"\n{name}: t (s)  answer  waited (s)")
        for entry in entries:
            print(f"  {entry.at:7.1f}  {entry.what:>6}  {entry.waited:6.2f}")
    print("\nsummary:")
    for name, entries in seen.items():
        during = [e for e in entries if 0 <= e.at < args.stop]
        after = [e for e in entries if e.at >= args.stop and e.what == "ok"]
        longest = max((e.waited for e in during), default=0.0)
        answers = sorted({e.what for e in during})
        back = f"{after[0].at - args.stop:.1f} s after" if after else "not"
        print(f"  {name}: {len(during)} calls while stopped, answers {answers}, longest wait {longest:.1f} s; ok again {back} the database came back")
    print(f"  workers killed by gunicorn's timeout: {killed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
