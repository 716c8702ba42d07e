"""A throw-away PostgreSQL server for the test suite.

Typical use::

    with TemporaryPostgres() as pg:
        engine = sqlalchemy.create_engine(pg.url)           # database "ngnserver_test"
        other_url = pg.create_database("ngnserver_test_x")  # another, empty database

:meth:`TemporaryPostgres.start` runs ``initdb`` in a fresh temporary directory
and starts ``postgres`` listening on 127.0.0.1 on a free TCP port (its unix
socket lives inside the temporary directory too), with durability switched off
for speed.  :meth:`TemporaryPostgres.stop` shuts the server down with
``pg_ctl stop -m immediate`` and deletes the directory; it is also registered
with :mod:`atexit`, so a forgotten server does not outlive the interpreter.

The server binaries are taken from ``pg_config --bindir`` if that directory
holds them, else from the highest-versioned ``/usr/lib/postgresql/*/bin``
(Debian's layout).  If neither has them, :class:`PostgresUnavailable` is raised.

PostgreSQL refuses to run as root.  When the tests run as root, the temporary
directory is handed to the ``postgres`` system account and ``initdb``,
``postgres`` and ``pg_ctl`` are run as that account through ``setpriv``.

If the environment variable ``NGNSERVER_TEST_POSTGRES_URL`` holds an SQLAlchemy
URL, nothing is started: :attr:`TemporaryPostgres.url` is that URL and
:meth:`TemporaryPostgres.create_database` creates databases on that server.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from tests.support.loopback import free_port

#: Environment variable naming an existing server to use instead of starting one.
URL_ENV_VAR = "NGNSERVER_TEST_POSTGRES_URL"
#: Database created on the temporary server; :attr:`TemporaryPostgres.url` points at it.
DEFAULT_DATABASE = "ngnserver_test"
#: Database superuser created by ``initdb`` (authentication is "trust").
SUPERUSER = "postgres"
#: Operating-system account that runs the server when we are root.
SERVER_ACCOUNT = "postgres"
HOST = "127.0.0.1"
#: Seconds to wait for a freshly started server to accept connections.
STARTUP_TIMEOUT = 30.0
#: Server settings suited to tests: fast, not crash-safe.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
}
_SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_LOG_TAIL_LINES = 30


class PostgresUnavailable(RuntimeError):
    """PostgreSQL server binaries, or an account allowed to run them, are missing."""


class PostgresStartupError(RuntimeError):
    """The binaries exist but the temporary server could not be set up."""


def find_bindir() -> Path:
    """Return the directory that holds ``initdb``, ``pg_ctl`` and ``postgres``.

    ``pg_config --bindir`` is tried first, then ``/usr/lib/postgresql/*/bin``
    from the highest version down.
    """
    candidates: list[Path] = []
    try:
        result = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        )
        candidates.append(Path(result.stdout.strip()))
    except (OSError, subprocess.CalledProcessError):
        pass
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda bindir: _version_key(bindir.parent.name),
        reverse=True,
    )
    for bindir in candidates:
        if all(os.access(bindir / program, os.X_OK) for program in _SERVER_PROGRAMS):
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found via "
        "`pg_config --bindir` or in /usr/lib/postgresql/*/bin. Install them "
        f"(Debian: apt-get install postgresql) or set {URL_ENV_VAR} to the "
        "SQLAlchemy URL of an existing server."
    )


def _version_key(version: str) -> tuple[int, ...]:
    """Sort key for directory names such as ``"15"`` or ``"9.6"``."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _connect(url: URL) -> psycopg.Connection:
    """Open an autocommit psycopg connection to the database named by ``url``."""
    params: dict[str, Any] = {
        **url.translate_connect_args(username="user", database="dbname"),
        **url.query,  # e.g. ?sslmode=require on an override URL
    }
    return psycopg.connect(**params, autocommit=True)


class TemporaryPostgres:
    """A PostgreSQL server living in a temporary directory; see the module docstring."""

    def __init__(self) -> None:
        self._override_url: str | None = os.environ.get(URL_ENV_VAR) or None
        self._bindir: Path | None = None
        self._tmpdir: Path | None = None
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``ngnserver_test`` database (or the override URL)."""
        return self._server_url().render_as_string(hide_password=False)

    def start(self) -> Self:
        """Create and start the server unless it runs already or an override URL is set.

        Raises :class:`PostgresUnavailable` if there is nothing to run and
        :class:`PostgresStartupError` if the server fails to come up; in both
        cases nothing is left behind.
        """
        if self._override_url is not None or self._process is not None:
            return self
        self._bindir = find_bindir()
        account = self._server_account()
        self._tmpdir = Path(tempfile.mkdtemp(prefix="ngnserver-pg-"))
        atexit.register(self.stop)
        try:
            (self._tmpdir / "socket").mkdir()
            if account is not None:
                for path in (self._tmpdir, self._tmpdir / "socket"):
                    os.chown(path, account.pw_uid, account.pw_gid)
            self._initdb()
            self._launch()
            self._wait_until_ready()
            self._create(DEFAULT_DATABASE)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m immediate``) and delete its directory.

        Safe to call more than once, and a no-op when an override URL is used.
        """
        atexit.unregister(self.stop)
        if self._process is not None:
            subprocess.run(
                self._as_server_account(
                    [
                        self._program("pg_ctl"),
                        "stop",
                        "-D",
                        str(self._datadir),
                        "-m",
                        "immediate",
                        "-w",
                    ]
                ),
                cwd=self._tmpdir,
                capture_output=True,
                check=False,  # the server may have died already; it is waited for below
            )
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def create_database(self, name: str, encoding: str | None = None) -> str:
        """Create an empty database ``name`` on the server and return its SQLAlchemy URL;
        ``encoding`` (say ``LATIN1``): in that encoding, from ``template0``.

        A database of that name that exists already is dropped first (with
        ``WITH (FORCE)``, so open connections to it are terminated).
        """
        self._create(name, encoding)
        return self._server_url().set(database=name).render_as_string(hide_password=False)

    # -- helpers ----------------------------------------------------------------

    def _server_url(self) -> URL:
        """Parsed form of :attr:`url`."""
        if self._override_url is not None:
            return make_url(self._override_url)
        if self._port is None:
            raise RuntimeError("TemporaryPostgres has not been started")
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            host=HOST,
            port=self._port,
            database=DEFAULT_DATABASE,
        )

    def _create(self, name: str, encoding: str | None = None) -> None:
        """(Re)create database ``name``.

        The statements are sent through the override URL's database or, on our
        own server, through the ``postgres`` maintenance database.
        """
        url = self._server_url()
        if self._override_url is None:
            url = url.set(database="postgres")
        connection = _connect(url)
        try:
            with connection.cursor() as cursor:
                database = sql.Identifier(name)
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
                if encoding is None:
                    cursor.execute(sql.SQL("CREATE DATABASE {}").format(database))
                else:
                    cursor.execute(
                        sql.SQL("CREATE DATABASE {} ENCODING {} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'").format(
                            database, sql.Literal(encoding)
                        )
                    )
        finally:
            connection.close()

    @staticmethod
    def _server_account() -> pwd.struct_passwd | None:
        """The account to run the server as when we are root, else ``None``."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SERVER_ACCOUNT)
        except KeyError:
            raise PostgresUnavailable(
                f"PostgreSQL cannot run as root and there is no {SERVER_ACCOUNT!r} "
                "account to run it as (Debian's postgresql package creates it)."
            ) from None

    @staticmethod
    def _as_server_account(argv: list[str]) -> list[str]:
        """Prefix ``argv`` so that it runs as :data:`SERVER_ACCOUNT` when we are root."""
        if os.geteuid() != 0:
            return argv
        return [
            "setpriv",
            f"--reuid={SERVER_ACCOUNT}",
            f"--regid={SERVER_ACCOUNT}",
            "--init-groups",
            "--",
            *argv,
        ]

    def _program(self, name: str) -> str:
        assert self._bindir is not None
        return str(self._bindir / name)

    @property
    def _datadir(self) -> Path:
        assert self._tmpdir is not None
        return self._tmpdir / "data"

    @property
    def _logfile(self) -> Path:
        assert self._tmpdir is not None
        return self._tmpdir / "server.log"

    def _initdb(self) -> None:
        result = subprocess.run(
            self._as_server_account(
                [
                    self._program("initdb"),
                    "-D",
                    str(self._datadir),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            cwd=self._tmpdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresStartupError(
                f"initdb failed with exit status {result.returncode}:\n{result.stdout}"
            )

    def _launch(self) -> None:
        assert self._tmpdir is not None
        self._port = free_port()
        settings = {
            **SERVER_SETTINGS,
            "listen_addresses": HOST,
            "port": str(self._port),
            "unix_socket_directories": str(self._tmpdir / "socket"),
        }
        argv = [self._program("postgres"), "-D", str(self._datadir)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        with self._logfile.open("wb") as log:
            self._process = subprocess.Popen(
                self._as_server_account(argv),
                cwd=self._tmpdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait_until_ready(self) -> None:
        """Poll until the server accepts connections, or raise with its log's tail."""
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            status = self._process.poll()
            if status is not None:
                raise PostgresStartupError(
                    f"postgres exited with status {status} during startup; "
                    f"end of its log:\n{self._log_tail()}"
                )
            try:
                psycopg.connect(
                    host=HOST,
                    port=self._port,
                    user=SUPERUSER,
                    dbname="postgres",
                    connect_timeout=5,
                ).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresStartupError(
                        f"postgres did not accept connections within {STARTUP_TIMEOUT:.0f} s "
                        f"(last error: {str(exc).strip()}); end of its log:\n{self._log_tail()}"
                    ) from exc
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            lines = self._logfile.read_text(errors="replace").splitlines()
        except OSError as exc:
            return f"(log unreadable: {exc})"
        return "\n".join(lines[-_LOG_TAIL_LINES:])
