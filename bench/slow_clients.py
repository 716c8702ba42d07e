"""What a normal client sees while slow clients hold connections to ngnserver.

Starts ``ngnserver serve`` on SQLite in a temporary directory (the shipped gunicorn
settings, changed by ``--env NAME=VALUE`` and ``--workers``), opens ``--slow-headers``
connections that send a header line every ``--interval`` seconds and ``--slow-bodies``
connections that dribble their body, and then sends one normal SOAP request
(``Network.getStatus`` as admin) every ``--every`` seconds for ``--duration`` seconds.
Prints each request's time, a summary, how often the server closed a slow client and how
many workers gunicorn killed ("WORKER TIMEOUT" in its log). Asserts nothing.

    .venv/bin/python bench/slow_clients.py                       # the shipped settings
    .venv/bin/python bench/slow_clients.py --slow-headers 20 --slow-bodies 5
    .venv/bin/python bench/slow_clients.py --env NGNSERVER_WORKER_CLASS=sync   # the old way
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.gunicorn import ADMIN, Deployment
from tests.support.slow_clients import SlowBody, SlowHeaders, timed
from tests.support.wire import Client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow-headers", type=int, default=5, help="slow-header connections [5]")
    parser.add_argument("--slow-bodies", type=int, default=0, help="slow-body connections [0]")
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between a slow client's sends [5]"
    )
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds of normal requests [30]"
    )
    parser.add_argument(
        "--every", type=float, default=1.0, help="seconds between normal requests [1]"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds between opening slow clients and the first request [1]",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers [the shipped default]"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for the server"
    )
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.env)

    with tempfile.TemporaryDirectory(prefix="ngnserver-slow-") as tmp:
        deployment = Deployment("sqlite", Path(tmp), settings=settings, workers=args.workers)
        server = deployment.start()
        try:
            client = Client(server.url, *ADMIN)
            host, port = "127.0.0.1", server.port
            print(
                f"server: {settings or 'shipped settings'}, workers={args.workers or 'default'}; "
                f"{args.slow_headers} slow-header and {args.slow_bodies} slow-body clients, "
                f"one send every {args.interval:g} s",
                flush=True,
            )
            with (
                SlowHeaders(host, port, args.slow_headers, args.interval) as heads,
                SlowBody(host, port, args.slow_bodies, args.interval) as bodies,
            ):
                time.sleep(args.settle)
                times, failures = [], 0
                end = time.monotonic() + args.duration
                while time.monotonic() < end:
                    seconds, result = timed(lambda: client.call("Network", "getStatus"))
                    ok = not isinstance(result, Exception)
                    failures += not ok
                    times.append(seconds)
                    print(
                        f"  normal request: {seconds * 1000:8.1f} ms {'ok' if ok else repr(result)[:100]}",
                        flush=True,
                    )
                    time.sleep(max(0.0, args.every - seconds))
            log = server.output()
        finally:
            deployment.stop_all()
    print(
        f"normal requests: {len(times)}, failed {failures}; median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms, over 1 s: {sum(t > 1 for t in times)}"
    )
    print(
        f"slow clients: header connections opened {heads.connections_opened} (closed by the server "
        f"{heads.closed_by_server}), body connections opened {bodies.connections_opened} (closed "
        f"{bodies.closed_by_server})"
    )
    print(f"workers killed (WORKER TIMEOUT): {log.count('WORKER TIMEOUT')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
