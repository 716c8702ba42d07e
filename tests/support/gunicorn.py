"""Running ``ngnserver serve`` (gunicorn, two workers) as an operator does, for tests:
a ``Deployment`` is a state directory, a database URL and an admin login; ``start()`` runs a
server on a free port and waits until it answers, ``stop_all()`` stops it with SIGTERM."""


from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support.loopback import free_port
from tests.support.wire import HttpResponse, http_exchange

ADMIN = ("admin", "secret")  # the credentials the captures carry
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def _command() -> list[str]:
    script = Path(sys.executable).parent / "ngnserver"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ngnserver.cli"]


@dataclass
class Gunicorn:
    """One running ``ngnserver serve``."""

    process: subprocess.Popen[bytes]
    base_url: str
    state_dir: Path
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        return self.base_url + "/ngnpro/"

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def output(self) -> str:
        """Everything the server wrote (stdout: access log; stderr: error and app log)."""
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def get(self, path: str) -> HttpResponse:
        return http_exchange(
            self.base_url,
            f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode(),
            10,
        )

    def workers(self) -> list[int]:
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            children = []
            for stat_file in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat_file.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == pid:
                    children.append(int(stat_file.parent.name))
            return children

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(
                    f"the server did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM:\n{self.output()[-3000:]}"
                )
        return self.process.returncode


@dataclass
class Deployment:
    """What an operator configures: a state directory, a database URL (empty: SQLite in
    the state directory) and optionally the admin login; ``start()`` runs the server."""

    backend: str
    root: Path
    database_url: str = ""
    admin: tuple[str, str] | None = ADMIN
    servers: list[Gunicorn] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # more NGNSERVER_* variables
    workers: int | None = 2  # None: the shipped default (NGNSERVER_WORKERS, else 2 x CPUs + 1)

    @classmethod
    def on(
        cls, backend: str, request: pytest.FixtureRequest, root: Path, database: str, settings: dict[str, str] | None = None
    ) -> Deployment:
        """A deployment on ``backend``: SQLite in its state directory, or ``database``, a new
        database of the suite's PostgreSQL server."""
        url = request.getfixturevalue("postgres").create_database(database) if backend == "postgresql" else ""
        return cls(backend, root, url, settings=dict(settings or {}))

    def query(self, sql: str, **params: Any) -> list[Any]:
        """The rows of ``sql``, read straight from the deployment's database (behind the
        server's back, as an operator's psql would)."""
        engine = create_engine(self.engine_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params).all())
        finally:
            engine.dispose()

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def engine_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'ngnserver.sqlite3'}"

    def start(self, ready_path: str = "/health") -> Gunicorn:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NGNSERVER_")}
        env.update(
            NGNSERVER_STATE_DIR=str(self.state_dir),
            HOME=str(self.home),  # gunicorn's control socket would land here if it were on
            XDG_RUNTIME_DIR=str(self.home),
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            env["NGNSERVER_DATABASE_URL"] = self.database_url
        if self.admin:
            env["NGNSERVER_ADMIN_USERNAME"], env["NGNSERVER_ADMIN_PASSWORD"] = self.admin
        env.update(self.settings)
        n = len(self.servers)
        port = free_port()
        stdout, stderr = self.root / f"stdout-{n}.log", self.root / f"stderr-{n}.log"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [*_command(), "serve", "--bind", f"127.0.0.1:{port}", *self._workers_option()],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        server = Gunicorn(process, f"http://127.0.0.1:{port}", self.state_dir, stdout, stderr)
        self.servers.append(server)
        self._wait_until_ready(server, ready_path)
        return server

    def _workers_option(self) -> list[str]:
        return [] if self.workers is None else ["--workers", str(self.workers)]

    @staticmethod
    def _wait_until_ready(server: Gunicorn, path: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(
                    f"ngnserver serve exited with status {server.process.returncode} while starting:\n"
                    f"{server.output()[-5000:]}"
                )
            try:
                response = server.get(path)
                if response.status == 200:
                    return
                last = f"HTTP {response.status}: {response.body[:200]!r}"
            except (OSError, ValueError, IndexError) as exc:
                last = repr(exc)
            time.sleep(0.1)
        server.stop()
        pytest.fail(
            f"ngnserver serve was not ready within {STARTUP_TIMEOUT:.0f} s ({last}):\n{server.output()[-5000:]}"
        )

    def stop_all(self) -> None:
        for server in self.servers:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in self.servers:
            try:
                server.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


