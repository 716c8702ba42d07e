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
    from ngnserver.db import Database

    settings = _settings()
    Database(settings.effective_database_url).migrate()
    click.echo("database is at the newest revision")


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
