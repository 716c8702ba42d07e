"""The psycopg connection ngnserver's PostgreSQL engine opens (``db.make_engine``): one that
waits a bounded time for each answer of the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

_answers = threading.local()  # .limit: this thread's bound on answers, over the connection's


@contextmanager
def answers_within(seconds: float | None) -> Iterator[None]:
    """Bound this thread's waits for PostgreSQL's answers by ``seconds`` (None: no bound)
    instead of ``Limits.answer`` for the block: a health check wants to know in seconds, a
    migration may take as long as it takes."""
    before = getattr(_answers, "limit", False)
    _answers.limit = seconds
    try:
        yield
    finally:
        _answers.limit = before


class BoundedConnection(psycopg.Connection):  # type: ignore[type-arg]
    """A psycopg connection that waits a bounded time for each answer of the server
    (``answer_timeout``, or ``answers_within``). libpq would wait forever on a server that
    stopped answering (its kernel still acknowledges what is sent); past the bound the
    connection is closed, and the request fails with a connection error, after which the
    pool opens a new connection."""

    answer_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is None:
            limit = getattr(_answers, "limit", False)
            timeout = self.answer_timeout if limit is False else limit
        try:
            return super().wait(gen, interval, timeout)
        except psycopg.errors._WaitTimeout:  # what wait(timeout=...) raises
            self.close()
            raise psycopg.OperationalError(f"the database did not answer within {timeout:g} s") from None
