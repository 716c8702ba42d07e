"""The ``ngnserver`` command: run the server, manage the database, list error codes.

An expected failure (bad configuration, the wrong state directory, a database that does not
answer or has no schema, a vendor that is not configured) ends the command with one
sentence naming what to fix and exit status 1, never a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from ngnserver import config

if TYPE_CHECKING:
    from ngnserver.db import Database

_DATABASE = "ngnserver.database"  # click's ctx.meta: the database the command works on


class _Commands(click.Group):
    """The command group: turns expected failures into one-line ClickExceptions."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import DBAPIError

        from ngnserver.db import DatabaseUnsuitable, Trouble, trouble

        try:
            return super().invoke(ctx)
        except (config.ConfigError, DatabaseUnsuitable) as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            if trouble(exc) is Trouble.REFUSED:
                raise  # a statement of ours the database refused: a bug, worth its traceback
            cause = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
            name = ctx.meta.get(_DATABASE, "the database")
            raise click.ClickException(f"cannot use {name}: {cause} (check NGNSERVER_DATABASE_URL)") from None


def _settings(create: bool = False, key: bool = True) -> config.Settings:
    """The settings. ``create``: the command may create a new state directory (serve, db
    upgrade); the others refuse to, so that run from the wrong directory they say so
    instead of working on a fresh key and an empty database. ``key=False``: the command
    does not seal or open passwords, and needs no key (nor admin login)."""
    if key:
        return config.prepare_state(config.load(), create=create)
    settings = config.load()
    config.require_state(settings, key=False)
    return settings


def _database(settings: config.Settings, migrated: bool = True) -> Database:
    """The settings' database; ``migrated``: refuse (ClickException) one without the newest
    schema."""
    from sqlalchemy.engine import make_url

    database = settings.database()
    url = make_url(database.url)
    if database.is_sqlite:
        name = f"the SQLite database {url.database}"
        if migrated and url.database and url.database != ":memory:" and not os.path.exists(url.database):
            raise click.ClickException(f"{name} does not exist (check NGNSERVER_DATABASE_URL)")
    else:
        name = f"the database {url.render_as_string(hide_password=True)}"
    click.get_current_context().meta[_DATABASE] = name
    if migrated:
        problem = _schema_problem(database)
        if problem:
            database.dispose()
            raise click.ClickException(f"{name} {problem}")
    return database


def _schema_problem(database: Database) -> str | None:
    """What keeps the database's schema from being this ngnserver's, or None."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from ngnserver.db import alembic_config

    with database.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    scripts = ScriptDirectory.from_config(alembic_config(database.url))
    heads = set(scripts.get_heads())
    if current == heads:
        return None
    if not current:
        return "has no ngnserver schema: run `ngnserver db upgrade`, or point NGNSERVER_DATABASE_URL at the server's database"
    known = {revision.revision for revision in scripts.walk_revisions()}
    if current <= known:
        return f"is at schema revision {', '.join(sorted(current))}, older than this ngnserver's: run `ngnserver db upgrade`"
    return f"is at schema revision {', '.join(sorted(current))}, which this ngnserver does not know: upgrade ngnserver"


@click.group(cls=_Commands)
@click.version_option(None, "-V", "--version", package_name="ngnserver")
def main() -> None:
    """ngnserver: NGNPro-compatible provisioning server."""


@main.command()
@click.option("--bind", default=None, help="HOST:PORT to listen on [127.0.0.1:9200].")
@click.option("--workers", type=int, default=None, help="Worker processes [2 x CPUs + 1].")
def serve(bind: str | None, workers: int | None) -> None:
    """Run the server under gunicorn (settings of gunicorn.conf.py)."""
    from gunicorn.app.base import BaseApplication

    from ngnserver import gunicorn_conf

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name in dir(gunicorn_conf):
                if name in self.cfg.settings and not name.startswith("_"):
                    self.cfg.set(name, getattr(gunicorn_conf, name))
            if bind:
                self.cfg.set("bind", bind)
            if workers:
                self.cfg.set("workers", workers)

        def load(self):  # type: ignore[no-untyped-def]
            from ngnserver.app import application

            return application

    _settings(create=True)  # fail early, with a clear message, on bad configuration
    Server().run()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the schema or bring it to the newest revision."""

    _database(_settings(create=True), migrated=False).migrate()
    click.echo("database is at the newest revision")


@db.command("recount")
def db_recount() -> None:
    """Rebuild the counters behind customer totals and credit usage from the rows (after
    loading customers or records with SQL)."""
    from ngnserver.core import credits
    from ngnserver.core.customers import recount_reseller_sizes

    database = _database(_settings(key=False))
    with database.transaction(write=True) as session:
        n = recount_reseller_sizes(session)
        usage = credits.recount(session)
    click.echo(f"counted the customers of {n} resellers and {usage} credit usage counters")


@db.command("sql")
@click.option("--dialect", default="postgresql", show_default=True)
def db_sql(dialect: str) -> None:
    """Print the schema as SQL (this is how sql/postgresql-schema.sql is made)."""
    click.echo(schema_sql(dialect), nl=False)


def schema_sql(dialect: str = "postgresql") -> str:
    import io

    from alembic import command

    from ngnserver.db import alembic_config

    buffer = io.StringIO()
    cfg = alembic_config(f"{dialect}://")
    cfg.output_buffer = buffer
    command.upgrade(cfg, "head", sql=True)
    return buffer.getvalue()


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then stop.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks at the queue.")
@click.option("--id", "worker_id", default=None, help="Worker name in job attempts [host:pid].")
def worker(once: bool, poll: float, worker_id: str | None) -> None:
    """Run vendor jobs (DSL orders, ...). Several may run against PostgreSQL; one on SQLite."""
    settings = _settings()
    _count_vendor_calls(settings)
    from ngnserver import logs
    from ngnserver.worker import make_worker, run_forever

    logs.setup(settings.log_level)
    database = _database(settings, migrated=False)
    database.migrate()
    ran = run_forever(make_worker(settings, database, worker_id), poll, once)
    click.echo(f"ran {ran} jobs")


def _count_vendor_calls(settings: config.Settings) -> None:
    """Have this process's vendor calls counted in ``/metrics`` (``ngnserver.metrics``): its
    counts go to the folder the server's workers write theirs to. Before prometheus-client
    is imported, which reads the setting once."""
    if "prometheus_client" not in sys.modules:
        folder = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.state_dir.resolve() / "metrics"))
        os.makedirs(folder, exist_ok=True)


JOB_STATES = ("queued", "running", "done", "failed")


@main.group(invoke_without_command=True)
@click.option("--state", type=click.Choice(JOB_STATES), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def jobs(ctx: click.Context, state: str | None, limit: int) -> None:
    """List vendor jobs, newest first (``jobs retry ID`` runs a job again)."""
    if ctx.invoked_subcommand:
        return
    from sqlalchemy import select

    from ngnserver.models.job import Job

    database = _database(_settings(key=False))
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(Job.state == state)
    with database.transaction(write=False) as session:
        found = list(session.execute(stmt).scalars())
    database.dispose()
    if not found:
        click.echo(f"no {state} jobs" if state else "no jobs")
        return
    line = "{:>6}  {:<8} {:<14} {:<24} {:<9} {:<16} {:<19}  {}"
    click.echo(line.format("ID", "STATE", "KIND", "RECORD", "ATTEMPTS", "STEP", "NEXT RUN (UTC)", "LAST ERROR"))
    for job in found:
        click.echo(line.format(
            job.id, job.state, job.kind, f"{job.record_kind} {job.record_id}",
            f"{job.attempts}/{job.max_attempts}", job.step or "-", f"{job.next_run_at:%Y-%m-%d %H:%M:%S}",
            job.last_error,
        ).rstrip())  # fmt: skip


@jobs.command("retry")
@click.argument("job_id", type=int)
def jobs_retry(job_id: int) -> None:
    """Queue a failed job again, with fresh attempts."""
    from ngnserver.core import jobs as job_queue

    database = _database(_settings(key=False))
    try:
        with database.transaction(write=True) as session:
            job_queue.retry(session, job_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"job {job_id} queued")


@main.command("pull-dsl")
@click.option("--threshold", type=float, default=0, help="Skip services pulled less than this many seconds ago.")
def pull_dsl(threshold: float) -> None:
    """Sync every monitored DSL service with the vendor (safe to run from cron)."""
    settings = _settings()
    _count_vendor_calls(settings)
    from ngnserver import logs
    from ngnserver.core import dsl
    from ngnserver.core.jobs import PermanentError
    from ngnserver.db import AlreadyRunning
    from ngnserver.worker import WorkerContext

    logs.setup(settings.log_level)
    try:
        adapter = WorkerContext(settings, settings.sealer()).dsl
    except PermanentError as exc:  # the vendor is not configured
        raise click.ClickException(str(exc)) from None
    database = _database(settings)
    try:
        with database.exclusive(dsl.PULL_LOCK):
            report = dsl.pull_monitored(database, adapter, threshold)
    except AlreadyRunning as exc:
        click.echo(f"pull-dsl: {exc}; nothing done")
        return
    finally:
        database.dispose()
    click.echo(f"pulled {report.pulled}, failed {report.failed}, skipped {report.skipped}")


@main.command("pull-servers")
def pull_servers() -> None:
    """Bring the addresses of every provisioned dedicated server up to date with DCImanager
    (safe to run from cron: while a pull is going, another does nothing and says so)."""
    from ngnserver import logs
    from ngnserver.core import servers
    from ngnserver.core.jobs import PermanentError
    from ngnserver.db import AlreadyRunning
    from ngnserver.worker import WorkerContext

    settings = _settings()
    logs.setup(settings.log_level)
    try:
        adapter = WorkerContext(settings, settings.sealer()).servers
    except PermanentError as exc:  # DCImanager is not configured
        raise click.ClickException(str(exc)) from None
    database = _database(settings)
    try:
        with database.exclusive(servers.PULL_LOCK):
            report = servers.pull_all(database, adapter)
    except AlreadyRunning as exc:
        click.echo(f"pull-servers: {exc}; nothing done")
        return
    finally:
        database.dispose()
    click.echo(f"pulled {report.pulled}, failed {report.failed}, skipped {report.skipped}")


@main.group("sync")
def sync_group() -> None:
    """Syncs between the systems ngnserver connects (``sync ixc-bqn``), and their run log."""


@sync_group.command("ixc-bqn")
@click.option("--dry-run", is_flag=True, help="Compute and print the writes; make none.")
@click.option("--verbose", is_flag=True, help="Print every write and every object that failed.")
def sync_ixc_bqn(dry_run: bool, verbose: bool) -> None:
    """IXC plans and online logins -> BQN policies and subscribers (safe to run from cron:
    while a run is going, another does nothing and says so)."""
    _count_vendor_calls(_settings(key=False))
    from ngnserver.core.sync import ixc_bqn

    _run_sync(ixc_bqn.NAME, dry_run, verbose)


@sync_group.command("ozmap-ixc")
@click.option("--dry-run", is_flag=True, help="Compute and print the writes; make none.")
@click.option("--verbose", is_flag=True, help="Print every write and every object that failed.")
@click.option("--only", "only", metavar="BOX_ID", default=None,
              help="Sync this one OZmap box (or building) now, whatever the cursors say.")  # fmt: skip
def sync_ozmap_ixc(dry_run: bool, verbose: bool, only: str | None) -> None:
    """OZmap service boxes -> IXC FTTH boxes, and the box, port and coordinates of OZmap's
    clients -> their IXC logins (only what changed since the last run)."""
    _count_vendor_calls(_settings(key=False))
    from ngnserver.core.sync import ozmap_ixc

    factory = (lambda settings: ozmap_ixc.build(settings, only=only)) if only else None
    _run_sync(ozmap_ixc.NAME, dry_run, verbose, factory)


@sync_group.command("ixc-ozmap")
@click.option("--dry-run", is_flag=True, help="Compute and print the writes; make none.")
@click.option("--verbose", is_flag=True, help="Print every write and every object that failed.")
@click.option("--only", "only_login", metavar="LOGIN_ID", default=None,
              help="Sync this one IXC login (radusuarios id) now.")  # fmt: skip
def sync_ixc_ozmap(dry_run: bool, verbose: bool, only_login: str | None) -> None:
    """IXC fiber logins -> OZmap clients on their boxes and ports: creation, name,
    activation, withdrawal and cancellation, status and power (only what differs from what
    the last runs wrote)."""
    _count_vendor_calls(_settings(key=False))
    from ngnserver.core.sync import ixc_ozmap

    factory = (lambda settings: ixc_ozmap.build(settings, only=only_login)) if only_login else None
    _run_sync(ixc_ozmap.NAME, dry_run, verbose, factory)


def _run_sync(name: str, dry_run: bool, verbose: bool, factory: Any = None) -> None:
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from ngnserver import logs
    from ngnserver.core import sync
    from ngnserver.db import AlreadyRunning, DatabaseUnsuitable

    settings = _settings(key=False)  # a sync seals nothing
    logs.setup("DEBUG" if verbose else settings.log_level)
    try:
        runner = factory(settings) if factory else sync.create(name, settings)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    database = _database(settings)
    bar = _ProgressBar(f"sync {name}") if sys.stdout.isatty() and not dry_run else None
    try:
        result = sync.execute(
            database, runner, dry_run=dry_run,
            connections=runner.write_connections or settings.bqn.write_connections,
            max_errors=settings.sync_max_errors, started_by=f"cli {sync.who()}",
            progress=bar.update if bar else None,
        )  # fmt: skip
    except AlreadyRunning as exc:
        click.echo(f"sync {name}: {exc}; nothing done")
        return
    except (SQLAlchemyError, DatabaseUnsuitable, OSError) as exc:  # one sentence, not a traceback
        raise click.ClickException(f"sync {name} could not run: {exc}") from None
    finally:
        if bar:
            bar.close()
        runner.close()
        database.dispose()
    if dry_run:
        for write in result.planned:
            body = "" if write.body is None else " " + json.dumps(write.body, ensure_ascii=False, sort_keys=True)
            click.echo(f"would {write}{body}")
    if verbose:
        for error in result.errors:
            click.echo(f"failed {error.action} {error.kind} {error.key}: {error.message}")
    click.echo(_table(sync.summary(result.counts, runner.kinds)))
    what = "planned" if dry_run else "made"
    click.echo(f"run {result.run_id}: {result.status}, {len(result.planned) if dry_run else result.writes} writes "
               f"{what} in {result.seconds:.1f} s ({result.plan_seconds:.1f} s reading and planning)"
               + (f"; {result.message}" if result.message else ""))  # fmt: skip
    if result.status == "failed":
        raise click.ClickException(f"sync {name} failed: {result.message}")
    if result.status == "errors":
        raise click.ClickException(
            f"sync {name}: {result.error_count} objects could not be written (ngnserver sync runs --errors {result.run_id})"
        )


class _ProgressBar:
    """click's progress bar, fed with (done, total) from the sync's progress callback."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar = None
        self.done = 0

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)  # fmt: skip


@sync_group.command("runs")
@click.option("--name", default=None, help="Only the runs of this sync (ixc-bqn, ...).")
@click.option("--limit", type=int, default=20, show_default=True, help="Newest N runs.")
@click.option("--errors", "errors_of", type=int, default=None, metavar="RUN_ID",
              help="List the objects this run could not write.")  # fmt: skip
def sync_runs(name: str | None, limit: int, errors_of: int | None) -> None:
    """List the recent sync runs, newest first: when, how they ended, what they wrote."""
    from sqlalchemy.exc import SQLAlchemyError

    from ngnserver.core import sync

    database = _database(_settings(key=False))
    try:
        with database.transaction(write=False) as session:
            if errors_of is not None:
                rows = [["KIND", "KEY", "ACTION", "AT", "ERROR"]]
                rows += [[e.object_kind, e.object_key, e.action, f"{e.at:%Y-%m-%d %H:%M:%S}", e.message]
                         for e in sync.run_errors(session, errors_of)]  # fmt: skip
            else:
                rows = [["ID", "SYNC", "STATUS", "STARTED", "FINISHED", "WRITES", "ERRORS", "BY", "COUNTS"]]
                rows += [_run_row(run) for run in sync.runs(session, name, limit)]
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the run log: {exc}") from None
    finally:
        database.dispose()
    click.echo(_table(rows))


def _run_row(run) -> list[str]:  # type: ignore[no-untyped-def]
    when = "{:%Y-%m-%d %H:%M:%S}"
    counts = " ".join(
        f"{kind}:" + ",".join(f"{action}={n}" for action, n in outcomes.items())
        for kind, outcomes in (run.counts or {}).items()
    )
    status = run.status + (" (dry run)" if run.dry_run else "")
    return [str(run.id), run.sync_name, status, when.format(run.started_at) if run.started_at else "-",
            when.format(run.finished_at) if run.finished_at else "-", str(run.writes), str(run.error_count),
            run.started_by, counts + (f"  {run.message}" if run.message else "")]  # fmt: skip


@main.command()
@click.option("--kind", help="customer, sip_domain, sip_account, sip_alias, enum_range, ...")
@click.option("--key", help="The record's key: a customer id, user@domain, a zone name, ...")
@click.option("--login", help="Only changes made by this login.")
@click.option("--since", type=click.DateTime(), help="Only changes at or after this time (UTC).")
@click.option("--limit", type=int, default=50, show_default=True, help="Newest N entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit(kind: str | None, key: str | None, login: str | None, since, limit: int, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """List the change history, newest first."""
    import json

    from sqlalchemy import select

    from ngnserver.models.audit import AuditEntry

    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for column, value in ((AuditEntry.kind, kind), (AuditEntry.record_key, key), (AuditEntry.login, login)):
        if value:
            stmt = stmt.where(column == value)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    database = _database(_settings(key=False))
    with database.transaction(write=False) as session:
        entries = list(session.execute(stmt).scalars())
        # the history's kinds are the known ones: each area records its own, none is listed
        kinds = [] if entries or not kind else sorted(session.execute(select(AuditEntry.kind).distinct()).scalars())
    database.dispose()
    if kind and not entries and kind not in kinds:
        held = ", ".join(kinds) if kinds else "nothing yet"
        raise click.ClickException(f"no change of kind {kind!r} is recorded; the history holds: {held}")
    if not entries:
        click.echo("no changes match", err=as_json)  # JSON lines on stdout stay parseable
        return
    line = "{:<19}  {:<24} {:<6} {:<14} {:<24} {}"
    if not as_json:
        click.echo(line.format("AT (UTC)", "WHO", "ACTION", "KIND", "KEY", "CHANGES"))
    for entry in entries:
        if as_json:
            click.echo(json.dumps({
                "at": entry.at.isoformat(sep=" "), "login": entry.login, "admin": entry.admin_login,
                "acting_as": entry.acting_as, "action": entry.action, "kind": entry.kind,
                "key": entry.record_key, "changes": entry.changes,
            }))  # fmt: skip
            continue
        who = f"{'admin ' if entry.admin_login else ''}{entry.login}"
        if entry.acting_as is not None and entry.admin_login:
            who += f" as {entry.acting_as}"
        changes = ", ".join(f"{k}={v}" for k, v in entry.changes.items())
        click.echo(line.format(f"{entry.at:%Y-%m-%d %H:%M:%S}", who, entry.action, entry.kind, entry.record_key,
                               changes).rstrip())  # fmt: skip


@main.group()
def vouchers() -> None:
    """Prepaid cards (vouchers) that add to the balance of prepaid SIP accounts."""


@vouchers.command("create")
@click.option("--count", type=int, required=True, help="How many vouchers to make (1 to 1000).")
@click.option("--value", required=True, help="What each adds to a balance (up to 4 decimals), e.g. 25.00.")
@click.option("--reseller", type=int, default=0, help="The reseller whose accounts they redeem on [0: the operator's own].")
def vouchers_create(count: int, value: str, reseller: int) -> None:
    """Make vouchers and print them, one per line: ID NUMBER VALUE. The numbers are shown
    this once (the server keeps only a keyed digest of each)."""
    from ngnserver.core.callers import Caller, Role
    from ngnserver.core.errors import NGNError
    from ngnserver.core.prepaid import make_vouchers

    settings = _settings()
    database = _database(settings)
    caller = Caller(role=Role.ADMIN, login="ngnserver vouchers create", admin_login=True)
    try:
        with database.transaction(write=True) as session:
            made = make_vouchers(session, caller, settings.sealer(), count, value, reseller)
    except NGNError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        database.dispose()
    for voucher in made:
        click.echo(f"{voucher.id} {voucher.number} {voucher.value}")
    click.echo(f"made {len(made)} vouchers of {made[0].value} for reseller {made[0].reseller}", err=True)


@main.command()
@click.option("--url", default="http://127.0.0.1:9200/ngnpro/", show_default=True, help="Endpoint address.")
def wsdl(url: str) -> None:
    """Print the WSDL for an endpoint address (wsdl/ngnpro.wsdl is this for the default)."""
    click.echo(wsdl_document(url).decode(), nl=False)


def wsdl_document(url: str) -> bytes:
    from ngnserver.app import build_port_map
    from ngnserver.services.types import AuthHeader
    from ngnserver.soap.wsdl import build_wsdl

    return build_wsdl(build_port_map(), url, ("auth", AuthHeader))


@main.command()
def errorcodes() -> None:
    """Print the error code table (Markdown, as in docs/errors.md)."""
    click.echo(errorcode_table(), nl=False)


def errorcode_table() -> str:
    from ngnserver.core.errors import all_codes

    lines = ["| code | faultcode | faultstring | meaning |", "|---|---|---|---|"]
    for c in all_codes():
        lines.append(f"| {c.code} | {c.side.value} | {c.faultstring} | {c.meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
