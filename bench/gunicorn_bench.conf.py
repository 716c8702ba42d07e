"""gunicorn settings for benchmarking ngnserver: exactly the package's (ngnserver.gunicorn_conf:
sync workers, its timeouts and limits, migration in on_starting) with the access log off.

The access log is set to None here because gunicorn 27 refuses NGNSERVER_ACCESS_LOG="" at
start ("'' isn't writable") and /dev/null still formats a line per request.

With BENCH_CPROFILE_DIR set, each worker runs under cProfile and writes
``<dir>/worker-<pid>.prof`` when it exits (used by ``bench_customer.py --cprofile``).
"""

import os

from ngnserver.gunicorn_conf import *

accesslog = None
control_socket_disable = True

_PROFILE_DIR = os.environ.get("BENCH_CPROFILE_DIR")

if _PROFILE_DIR:
    import cProfile

    _profiles = {}

    def post_fork(server, worker):  # type: ignore[no-untyped-def]
        profile = cProfile.Profile()
        _profiles[os.getpid()] = profile
        profile.enable()

    def worker_exit(server, worker):  # type: ignore[no-untyped-def]
        profile = _profiles.pop(os.getpid(), None)
        if profile is not None:
            profile.disable()
            profile.dump_stats(os.path.join(_PROFILE_DIR, f"worker-{os.getpid()}.prof"))
