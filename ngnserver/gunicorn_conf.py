"""gunicorn settings for ngnserver (the repository's ``gunicorn.conf.py`` loads these).

Sync workers: NGNPro clients speak HTTP/1.0 with ``Connection: close`` and sit behind a
proxy; threaded workers with keep-alive pinned all connections to one worker here (see
README, "Running it"). Every value can be overridden by the environment variable named.
"""

import multiprocessing
import os

bind = os.environ.get("NGNSERVER_BIND", "127.0.0.1:9200")
workers = int(os.environ.get("NGNSERVER_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
timeout = int(os.environ.get("NGNSERVER_WORKER_TIMEOUT", "30"))
graceful_timeout = 20
# X-Forwarded-Proto/For are trusted from these proxies only.
forwarded_allow_ips = os.environ.get("NGNSERVER_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("NGNSERVER_ACCESS_LOG", "-")
access_log_format = (
    '{"remote": "%(h)s", "request": "%(r)s", "status": %(s)s, "bytes": %(B)s, '
    '"ms": %(M)s, "agent": "%(a)s"}'
)
errorlog = "-"
loglevel = os.environ.get("NGNSERVER_LOG_LEVEL", "info").lower()
# gunicorn 27 opens a control socket in the home directory by default; we do not use it.
control_socket_disable = True
# a request line or header this large is no SOAP client of ours
limit_request_line = 8190
limit_request_fields = 100


def on_starting(server):  # type: ignore[no-untyped-def]
    """In the master, before any worker: prepare the state directory and migrate the
    database once, so workers never race to create the schema."""
    from ngnserver import config, logs

    settings = config.prepare_state(config.load())
    logs.setup(settings.log_level)
    database = settings.database()
    database.migrate()
    database.dispose()
