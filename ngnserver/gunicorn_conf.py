"""gunicorn settings for ngnserver (the repository's ``gunicorn.conf.py`` loads these).

Threaded workers that read each request whole in their event loop before a thread runs it
(``ngnserver.gunicorn_worker``): a slow client costs a socket, not a worker or a thread, and
one that has not sent its whole request within ``NGNSERVER_CLIENT_TIMEOUT`` seconds is
answered 408. See docs/deployment.md. Every value can be overridden by the environment
variable named.
"""

import multiprocessing
import os
import sys


def _number(kind, name, default):  # type: ignore[no-untyped-def]
    """The environment variable ``name`` as ``kind``; a bad value stops the start with a
    sentence naming it, not a traceback."""
    raw = os.environ.get(name) or default
    try:
        return kind(raw)
    except ValueError:
        sys.exit(f"Error: {name} must be a {'whole ' if kind is int else ''}number, not {raw!r}")


bind = os.environ.get("NGNSERVER_BIND", "127.0.0.1:9200")
workers = _number(int, "NGNSERVER_WORKERS", multiprocessing.cpu_count() * 2 + 1)
# "sync" (or "gthread") only behind a proxy that buffers whole requests: see docs/deployment.md
worker_class = os.environ.get("NGNSERVER_WORKER_CLASS", "ngnserver.gunicorn_worker.BufferingWorker")
# requests one worker runs at once; each holds a database connection while it runs (the
# PostgreSQL pool holds 10 per process, see ngnserver/db.py)
threads = _number(int, "NGNSERVER_THREADS", 4)
# seconds a client has to send a whole request (head and body), and for each socket
# operation on it afterwards; not a gunicorn setting (BufferingWorker reads it)
client_timeout = _number(float, "NGNSERVER_CLIENT_TIMEOUT", 30)
keepalive = _number(int, "NGNSERVER_KEEPALIVE", 2)
timeout = _number(int, "NGNSERVER_WORKER_TIMEOUT", 30)
graceful_timeout = 20
# X-Forwarded-Proto/For are trusted from these proxies only.
forwarded_allow_ips = os.environ.get("NGNSERVER_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# ngnserver logs every SOAP call itself (one JSON line, with its request id); gunicorn's own
# access log is off unless NGNSERVER_ACCESS_LOG names a file ("-": stderr)
accesslog = os.environ.get("NGNSERVER_ACCESS_LOG") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("NGNSERVER_LOG_LEVEL", "info").lower()
# gunicorn's own lines as JSON, like ngnserver's
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "ngnserver.logs.JsonLines"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"handlers": ["stderr"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
# gunicorn 27 opens a control socket in the home directory by default; we do not use it.
control_socket_disable = True
# a request line or header this large is no SOAP client of ours
limit_request_line = 8190
limit_request_fields = 100


def on_starting(server):  # type: ignore[no-untyped-def]
    """In the master, before any worker: prepare the state directory and migrate the
    database once, so workers never race to create the schema."""
    from sqlalchemy.exc import DBAPIError

    from ngnserver import config, logs
    from ngnserver.db import DatabaseUnsuitable

    try:
        settings = config.prepare_state(config.load())
    except config.ConfigError as exc:
        sys.exit(f"Error: {exc}")
    logs.setup(settings.log_level)
    database = settings.database()
    try:
        database.migrate()
    except (DBAPIError, DatabaseUnsuitable) as exc:  # one sentence, not gunicorn's traceback
        reason = getattr(exc, "orig", exc)
        sys.exit(f"Error: cannot prepare the database ({str(reason).splitlines()[0]}); check NGNSERVER_DATABASE_URL")
    finally:
        database.dispose()
    # the workers' metrics, added up at a scrape (ngnserver/metrics.py): set before any
    # worker imports prometheus_client, emptied of an earlier run's files
    folder = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.state_dir.resolve() / "metrics"))
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):  # the files of processes that are gone (a job worker's stay)
        pid = name.rpartition("_")[2].removesuffix(".db")
        if name.endswith(".db") and pid.isdigit() and not _alive(int(pid)):
            os.remove(os.path.join(folder, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker that is gone stops counting in the live gauges (prometheus-client)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
