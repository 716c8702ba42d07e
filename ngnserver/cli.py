"""The ``ngnserver`` command: run the server, manage the database, list error codes."""

from __future__ import annotations

import sys

import click

from ngnserver import config


def _settings() -> config.Settings:
    try:
        return config.prepare_state(config.load())
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="ngnserver")
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

    _settings()  # fail early, with a clear message, on bad configuration
    Server().run()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the schema or bring it to the newest revision."""

    settings = _settings()
    settings.database().migrate()
    click.echo("database is at the newest revision")


@db.command("recount")
def db_recount() -> None:
    """Rebuild the counters behind customer totals and credit usage from the rows (after
    loading customers or records with SQL)."""
    from ngnserver.core import credits
    from ngnserver.core.customers import recount_reseller_sizes

    database = _settings().database()
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
    from ngnserver import logs
    from ngnserver.worker import make_worker, run_forever

    settings = _settings()
    logs.setup(settings.log_level)
    database = settings.database()
    database.migrate()
    ran = run_forever(make_worker(settings, database, worker_id), poll, once)
    click.echo(f"ran {ran} jobs")


@main.group(invoke_without_command=True)
@click.option("--state", type=click.Choice(["queued", "running", "done", "failed"]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def jobs(ctx: click.Context, state: str | None, limit: int) -> None:
    """List vendor jobs, newest first (``jobs retry ID`` runs a job again)."""
    if ctx.invoked_subcommand:
        return
    from sqlalchemy import select

    from ngnserver.models.job import Job

    database = _settings().database()
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(Job.state == state)
    with database.transaction(write=False) as session:
        for job in session.execute(stmt).scalars():
            click.echo(
                f"{job.id:>6}  {job.state:<8} {job.kind:<14} {job.record_kind} {job.record_id}  "
                f"attempts {job.attempts}/{job.max_attempts}  step {job.step or '-'}  "
                f"next {job.next_run_at:%Y-%m-%d %H:%M:%S}  {job.last_error}"
            )
    database.dispose()


@jobs.command("retry")
@click.argument("job_id", type=int)
def jobs_retry(job_id: int) -> None:
    """Queue a failed job again, with fresh attempts."""
    from ngnserver.core import jobs as job_queue

    database = _settings().database()
    try:
        with database.transaction(write=True) as session:
            job_queue.retry(session, job_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"job {job_id} queued")


@main.command("pull-dsl")
@click.option("--threshold", type=float, default=0, help="Skip services pulled less than this many seconds ago.")
def pull_dsl(threshold: float) -> None:
    """Sync every monitored DSL service with the vendor (safe to run from cron)."""
    from ngnserver import logs
    from ngnserver.core import dsl
    from ngnserver.db import AlreadyRunning
    from ngnserver.worker import WorkerContext

    settings = _settings()
    logs.setup(settings.log_level)
    database = settings.database()
    context = WorkerContext(settings, settings.sealer())
    try:
        with database.exclusive(dsl.PULL_LOCK):
            report = dsl.pull_monitored(database, context.dsl, threshold)
    except AlreadyRunning as exc:
        click.echo(f"pull-dsl: {exc}; nothing done")
        return
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
    from ngnserver.core.sync import ixc_bqn

    _run_sync(ixc_bqn.NAME, dry_run, verbose)


def _run_sync(name: str, dry_run: bool, verbose: bool) -> None:
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from ngnserver import logs
    from ngnserver.core import sync
    from ngnserver.db import AlreadyRunning, DatabaseUnsuitable

    settings = _settings()
    logs.setup("DEBUG" if verbose else settings.log_level)
    try:
        runner = sync.create(name, settings)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    database = settings.database()
    bar = _ProgressBar(f"sync {name}") if sys.stdout.isatty() and not dry_run else None
    try:
        database.migrate()
        result = sync.execute(
            database, runner, dry_run=dry_run, connections=settings.bqn.write_connections,
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
               f"{what} in {result.seconds:.1f} s" + (f"; {result.message}" if result.message else ""))  # fmt: skip
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

    database = _settings().database()
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

    settings = _settings()
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for column, value in ((AuditEntry.kind, kind), (AuditEntry.record_key, key), (AuditEntry.login, login)):
        if value:
            stmt = stmt.where(column == value)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    database = settings.database()
    with database.transaction(write=False) as session:
        for entry in session.execute(stmt).scalars():
            who = f"{'admin ' if entry.admin_login else ''}{entry.login}"
            if entry.acting_as is not None and entry.admin_login:
                who += f" as {entry.acting_as}"
            if as_json:
                click.echo(json.dumps({
                    "at": entry.at.isoformat(sep=" "), "login": entry.login, "admin": entry.admin_login,
                    "acting_as": entry.acting_as, "action": entry.action, "kind": entry.kind,
                    "key": entry.record_key, "changes": entry.changes,
                }))  # fmt: skip
            else:
                changes = ", ".join(f"{k}={v}" for k, v in entry.changes.items())
                click.echo(f"{entry.at:%Y-%m-%d %H:%M:%S}  {who:<24} {entry.action:<6} {entry.kind} {entry.record_key}  {changes}")
    database.dispose()


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
    """Print the error code table (Markdown, as in the README)."""
    click.echo(errorcode_table(), nl=False)


def errorcode_table() -> str:
    from ngnserver.core.errors import all_codes

    lines = ["| code | faultcode | faultstring | meaning |", "|---|---|---|---|"]
    for c in all_codes():
        lines.append(f"| {c.code} | {c.side.value} | {c.faultstring} | {c.meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
