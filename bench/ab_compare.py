"""Compare two versions of ngnserver under load, one scenario, runs alternating A, B, B, A...

On a shared VM the machine's speed drifts by 20-50% within minutes, so two benchmark runs
minutes apart (one per version) cannot show a 5% change. Here both versions run at once,
each as gunicorn (the benchmark's settings) on its own database with the same dataset, and
short wrk runs alternate between them; the median of the per-round ratios B/A is the answer.
Each round also reports the CPU time each version used per request (its gunicorn processes
and, on PostgreSQL, the server processes of its own database): on a machine whose CPUs the
load fills, that is what throughput is the inverse of, and it moves less with the
neighbours' load than req/s does.

    git worktree add /tmp/base HEAD~1          # A: any checkout of the repository
    .venv/bin/python bench/ab_compare.py /tmp/base --backend postgresql
    .venv/bin/python bench/ab_compare.py /tmp/base --scenario getAccount --rounds 10
    .venv/bin/python bench/ab_compare.py . --a-env NGNSERVER_PREPARED_STATEMENTS=false   # a setting

B is the code this script belongs to. Each server imports ngnserver from its own tree
(PYTHONPATH); the schema comes from each version's own migrations. Needs wrk, and for
PostgreSQL the server binaries tests/support/postgres.py uses (one server, two databases).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import bench_customer as bc


def start(label: str, tree: Path, url: str, state: Path, workdir: Path, args: argparse.Namespace) -> bc.Server:
    env = bc.ngnserver_env(state, url, args.log_level)
    env["PYTHONPATH"] = str(tree)
    env.update(args.a_env if label == "A" else args.b_env)
    bc.install(env, url, state, workdir, bc.Dataset(args.customers, args.resellers, args.sip_accounts))
    argv = [*bc.gunicorn_argv(args.workers), "-c", str(BENCH / "gunicorn_bench.conf.py"), "ngnserver.app:application"]
    return bc.Server(f"{label} ({tree})", argv, env, workdir / f"{label}.log", workdir)


_HZ = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(server: bc.Server, database: str | None) -> float:
    """CPU-seconds used so far by ``server``'s gunicorn processes (its master and workers)
    and, with ``database``, by the PostgreSQL processes serving that database."""
    total = 0
    master = server.process.pid
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes() if database else b""
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry.name), int(rest[1])
        ours = pid == master or ppid == master
        if database and not ours and stat.split(" (", 1)[1].startswith("postgres)"):
            ours = f" {database} ".encode() in cmdline.replace(b"\0", b" ")
        if ours:
            total += int(rest[11]) + int(rest[12])
    return total / _HZ


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a_tree", type=Path, help="a checkout of the version to compare against (A)")
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    p.add_argument("--scenario", default="SIP addAccount (credit checks)", help="a bench_customer.py scenario name")
    p.add_argument("--rounds", type=int, default=8, help="runs of each version [8]")
    p.add_argument("--duration", type=int, default=5, help="whole seconds per wrk run [5]")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--resellers", type=int, default=20)
    p.add_argument("--sip-accounts", type=int, default=20000)
    p.add_argument("--log-level", default="info")
    for label in "ab":
        p.add_argument(f"--{label}-env", action="append", default=[], metavar="NAME=VALUE",
                       help=f"an environment variable for {label.upper()}'s server only (repeatable)")  # fmt: skip
    args = p.parse_args(argv)
    for name in ("a_env", "b_env"):
        pairs = [item.partition("=") for item in getattr(args, name)]
        if any(not key or not sep for key, sep, _ in pairs):
            p.error(f"--{name.replace('_', '-')} takes NAME=VALUE")
        setattr(args, name, {key: value for key, _, value in pairs})
    a_tree = args.a_tree.resolve()
    if not (a_tree / "ngnserver" / "__init__.py").exists():
        p.error(f"{a_tree} is not a checkout of ngnserver")
    wrk_args = argparse.Namespace(threads=args.threads, connections=args.connections, allow_socket_errors=False)
    data = bc.Dataset(args.customers, args.resellers, args.sip_accounts)
    scenario = {s.name: s for s in bc.scenarios(data)}.get(args.scenario)
    if scenario is None or scenario.target != "ngnserver":
        p.error(f"no ngnserver scenario {args.scenario!r}")

    with tempfile.TemporaryDirectory(prefix="ngn-ab-") as tmp:
        workdir = Path(tmp)
        pg = None
        servers: dict[str, bc.Server] = {}
        try:
            if args.backend == "postgresql":
                from tests.support.postgres import TemporaryPostgres

                pg = TemporaryPostgres().start()
            for label, tree in (("A", a_tree), ("B", ROOT)):
                state = workdir / f"state-{label}"
                # a plain postgresql:// URL: each version picks its own driver
                url = (pg.create_database(f"ab_{label.lower()}").replace("postgresql+psycopg://", "postgresql://")
                       if pg else f"sqlite:///{state / 'ngnserver.sqlite3'}")  # fmt: skip
                servers[label] = start(label, tree, url, state, workdir, args)
            body = workdir / "body.xml"
            body.write_bytes(scenario.body)

            def run(label: str, seconds: int, tag: str) -> tuple[float, float]:
                """(req/s, server CPU ms per request)."""
                prefix = f"{tag}{label}" if scenario.unique_username else None
                database = f"ab_{label.lower()}" if pg else None
                before = _cpu_seconds(servers[label], database)
                result = bc.run_wrk(servers[label].base + "/ngnpro/", body, wrk_args, seconds, prefix)
                used = _cpu_seconds(servers[label], database) - before
                return result.rps, 1000 * used / max(1, result.requests)

            for label in "AB":
                run(label, 2, "w")
            rates: dict[str, list[float]] = {"A": [], "B": []}
            cpu: dict[str, list[float]] = {"A": [], "B": []}
            print(f"{args.scenario} on {args.backend}; A = {a_tree} {args.a_env or ''}, B = {ROOT} {args.b_env or ''}")
            for i in range(args.rounds):
                for label in "AB" if i % 2 == 0 else "BA":
                    rate, ms = run(label, args.duration, f"r{i}")
                    rates[label].append(rate)
                    cpu[label].append(ms)
                a, b = rates["A"][-1], rates["B"][-1]
                print(f"  round {i + 1}: A {a:7.1f} req/s  B {b:7.1f} req/s  B/A {b / a:.3f}   "
                      f"CPU ms/req A {cpu['A'][-1]:.3f} B {cpu['B'][-1]:.3f} B/A {cpu['B'][-1] / cpu['A'][-1]:.3f}", flush=True)  # fmt: skip
            ratios = [b / a for a, b in zip(rates["A"], rates["B"], strict=True)]
            cpu_ratios = [b / a for a, b in zip(cpu["A"], cpu["B"], strict=True)]
            print(f"median: A {statistics.median(rates['A']):.1f} req/s, B {statistics.median(rates['B']):.1f} req/s, "
                  f"B/A {statistics.median(ratios):.3f} (per-round ratios {min(ratios):.3f}-{max(ratios):.3f})")  # fmt: skip
            print(f"server CPU per request: A {statistics.median(cpu['A']):.3f} ms, B {statistics.median(cpu['B']):.3f} ms, "
                  f"B/A {statistics.median(cpu_ratios):.3f} (per-round ratios {min(cpu_ratios):.3f}-{max(cpu_ratios):.3f})")  # fmt: skip
        finally:
            for server in servers.values():
                server.stop()
            if pg is not None:
                pg.stop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
