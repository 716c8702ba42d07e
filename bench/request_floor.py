"""What the database part of a getAccount costs in CPU, by the shape of its conversation with
PostgreSQL, in one process against a PostgreSQL of its own: client CPU (this process) and
server CPU (the PostgreSQL processes) per request.

    .venv/bin/python bench/request_floor.py [--customers 20000] [--requests 3000]

- ``one statement, autocommit``: the account read alone, no transaction (the shape of the
  old hand-built storage: one statement a request, credentials known without a read);
- ``raw psycopg, request's shape``: what a read request sends today (a read-only
  REPEATABLE READ transaction whose BEGIN travels with the authentication's read, the
  account read, COMMIT), through psycopg alone, SQLAlchemy's compiled SQL run as is;
- ``ngnserver.db``: the same through ``Database.transaction``, ``read_first`` and
  SQLAlchemy Core, as a request runs it.

The first two lines bound what any layer above the driver can reach with each shape. The
whole request (SOAP, logging) adds the same to each; bench/ab_compare.py measures that.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import bench_customer as bc

_HZ = os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU-seconds used so far by every PostgreSQL process on the machine."""
    total = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            if "(postgres)" in stat:
                fields = stat.rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
    return total / _HZ


def measure(run: Callable[[], None], requests: int) -> tuple[float, float]:
    """(client ms, server ms) of CPU per call of ``run``, after a warm-up (which also lets
    psycopg prepare the statements)."""
    for _ in range(300):
        run()
    client, server = time.process_time(), postgres_cpu()
    for _ in range(requests):
        run()
    return (1000 * (time.process_time() - client) / requests, 1000 * (postgres_cpu() - server) / requests)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=20000)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=3, help="measurements of each shape, alternating [3]")
    args = p.parse_args(argv)

    import psycopg
    from sqlalchemy.dialects import postgresql

    from ngnserver.core import logins
    from ngnserver.core.callers import Role
    from ngnserver.core.customers import _ACCOUNT_IN_SCOPE
    from ngnserver.db import Database, read_first
    from tests.support.postgres import TemporaryPostgres

    data = bc.Dataset(args.customers, 50, 0)
    with tempfile.TemporaryDirectory(prefix="ngn-floor-") as tmp, TemporaryPostgres() as pg:
        state = Path(tmp) / "state"
        bc.install(bc.ngnserver_env(state, pg.url, "warning"), pg.url, state, Path(tmp), data)
        dialect = postgresql.psycopg.dialect()
        account_statement = _ACCOUNT_IN_SCOPE[Role.ADMIN]
        brake, account = logins.BLOCKED_UNTIL.compile(dialect=dialect), account_statement.compile(dialect=dialect)
        brake_values = logins.bound(logins.keys("admin", "127.0.0.1", admin=True))
        account_values = {"id": data.account_id, "scope": None}
        driver_url = pg.url.replace("postgresql+psycopg://", "postgresql://")

        alone = psycopg.connect(driver_url, autocommit=True, prepare_threshold=5)

        def one_statement() -> None:
            with alone.cursor() as cursor:
                cursor.execute(account.string, account.construct_params(account_values))
                cursor.fetchall()

        raw = psycopg.connect(driver_url, prepare_threshold=5)
        raw.isolation_level, raw.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True

        def raw_request() -> None:
            with raw.pipeline(), raw.cursor() as cursor:
                cursor.execute(brake.string, brake.construct_params(brake_values))
                cursor.fetchone()
            with raw.cursor() as cursor:
                cursor.execute(account.string, account.construct_params(account_values))
                cursor.fetchall()
            raw.commit()

        database = Database(pg.url)

        def through_db() -> None:
            with database.transaction(write=False) as session:
                read_first(session, logins.BLOCKED_UNTIL, brake_values)
                session.connection().execute(account_statement, account_values).all()

        shapes = {
            "one statement, autocommit": one_statement,
            "raw psycopg, request's shape": raw_request,
            "ngnserver.db, request's shape": through_db,
        }
        print(f"getAccount's database part, {args.requests} calls a measurement, CPU ms per call")
        for round_ in range(args.rounds):
            for name, run in shapes.items():
                client, server = measure(run, args.requests)
                print(f"  {round_ + 1}  {name:32s} client {client:.3f}  PostgreSQL {server:.3f}  "
                      f"total {client + server:.3f}", flush=True)  # fmt: skip
        alone.close()
        raw.close()
        database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
