"""Test fixtures: the real WSGI application served over real HTTP on 127.0.0.1, on SQLite
and on a PostgreSQL server the suite starts itself.

Every test that takes ``server`` runs once per database backend. Between tests the tables
are emptied, so each test starts from an empty database with fresh ids.

In CI (``CI=true``) a PostgreSQL that cannot be started fails the run instead of skipping.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from sqlalchemy import text

from ngnserver import config
from ngnserver.app import NGNProApp
from ngnserver.core.sealing import PasswordSealer
from ngnserver.db import Database
from ngnserver.models import Base
from tests.support.gunicorn import Deployment, Gunicorn
from tests.support.postgres import PostgresUnavailable, TemporaryPostgres
from tests.support.wire import Client

ADMIN = ("admin", "secret")
BACKENDS = ["sqlite", "postgresql"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class RunningServer:
    """A test server: ``url`` is the SOAP endpoint, ``app`` the application object."""

    backend: str
    url: str
    base_url: str
    app: NGNProApp
    database: Database

    def admin(self) -> Client:
        return Client(self.url, *ADMIN)

    def login(self, username: str, password: str) -> Client:
        return Client(self.url, username, password, admin=False)

    def reset(self) -> None:
        """Empty every table, so ids start at 1 again."""
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with self.database.engine.begin() as conn:
            if self.database.is_sqlite:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))
                conn.execute(text("DELETE FROM sqlite_sequence"))
            else:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    try:
        pg = TemporaryPostgres()
        pg.start()
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield pg
    pg.stop()


def make_settings(state_dir: Path, database_url: str, **overrides: object) -> config.Settings:
    overrides.setdefault("secret_key", PasswordSealer.new_key())
    return config.Settings(
        state_dir=state_dir,
        database_url=database_url,
        admins={ADMIN[0]: ADMIN[1]},
        **overrides,  # type: ignore[arg-type]
    )


def serve_app(app: NGNProApp) -> tuple[str, WSGIServer]:
    httpd = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_port}", httpd


def database_url(backend: str, request: pytest.FixtureRequest, tmp: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / (name + '.sqlite3')}"
    pg: TemporaryPostgres = request.getfixturevalue("postgres")
    return pg.create_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def _running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    settings = make_settings(tmp, database_url(backend, request, tmp, "ngnserver_main"))
    database = Database(settings.effective_database_url)
    database.migrate()
    app = NGNProApp(settings, database)
    base, httpd = serve_app(app)
    yield RunningServer(backend, base + settings.endpoint_path, base, app, database)
    httpd.shutdown()
    database.dispose()


@pytest.fixture
def server(_running: RunningServer) -> RunningServer:
    _running.reset()
    return _running


@pytest.fixture
def second(server: RunningServer) -> Iterator[Client]:
    """Admin's client of a second server (another host) on the same database as ``server``."""
    database = Database(server.app.settings.effective_database_url)
    app = NGNProApp(server.app.settings, database)
    base, httpd = serve_app(app)
    yield Client(base + server.app.settings.endpoint_path, *ADMIN)
    httpd.shutdown()
    database.dispose()


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Deployment, Gunicorn]]:
    """``ngnserver serve`` (gunicorn, two worker processes) on each backend, for the tests that
    race requests across processes; on PostgreSQL in a database named after the test module."""
    deployment = Deployment.on(request.param, request, tmp_path, request.module.__name__.rpartition(".")[2])
    server = deployment.start()
    yield deployment, server
    deployment.stop_all()
