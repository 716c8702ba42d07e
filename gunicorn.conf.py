"""gunicorn configuration: ``gunicorn -c gunicorn.conf.py ngnserver.app:application``.
The settings live in the package so that ``ngnserver serve`` uses the same ones."""

from ngnserver.gunicorn_conf import *  # noqa: F403
