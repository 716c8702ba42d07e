"""Plumbing shared by the JSON-over-HTTP vendor clients (IXC, BQN, OZmap): a keep-alive
connection pool whose retries are bounded and logged, and the masking of secrets in what the
clients log.

Retries are urllib3's :class:`~urllib3.util.Retry` on the pool: a bounded number
of new attempts, with exponential backoff, after a connection error, a read timeout or a 5xx
(or 429) answer. Which methods may be retried after the request was sent is the caller's
choice: a connection that could not be opened is always retried (nothing was sent), a lost or
failed answer only for the methods given in ``retry_methods``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.util.retry import Retry

from ngnserver import metrics

log = logging.getLogger("ngnserver.vendors")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Answers worth another attempt: the server is overloaded, restarting or behind a proxy that
lost it."""

MAX_RETRY_AFTER = 30.0
"""The longest wait before a new attempt, whether from the backoff or from a ``Retry-After``
header: a run never sleeps for an hour on a server's say-so."""

SECRET_KEYS = frozenset({"senha", "password", "passwd", "token", "secret", "authorization"})
"""Keys (lower-cased) whose values never reach a log: IXC keeps login and device passwords in
``senha``."""


class BoundedRetry(Retry):
    """urllib3's Retry, logging every new attempt at WARNING (method, path, cause and attempts
    left) and never waiting longer than :data:`MAX_RETRY_AFTER` for a ``Retry-After``."""

    def increment(self, method=None, url=None, response=None, error=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        retry = super().increment(method, url, response, error, *args, **kwargs)
        cause = f"HTTP {response.status}" if response is not None else type(error).__name__
        log.warning(
            "%s %s failed (%s); retrying, %s attempts left",
            method,
            urlsplit(url or "").path,
            cause,
            retry.total,
        )
        return retry

    def get_retry_after(self, response):  # type: ignore[no-untyped-def]
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def _retry(retries: int, backoff: float, retry_methods: Collection[str]) -> BoundedRetry:
    """The retry rule of :class:`Pool`."""
    if retries < 0:
        raise ValueError(f"retries cannot be negative: {retries}")
    after_send = frozenset(method.upper() for method in retry_methods)
    return BoundedRetry(
        total=retries,
        connect=retries,  # nothing was sent: always safe
        read=retries if after_send else False,
        status=retries if after_send else 0,
        other=0,  # a TLS failure (a bad certificate) does not mend itself
        redirect=0,
        # (urllib3 reads an empty collection as "every method"; nothing is retried after
        # sending anyway when it is empty: read is False and no status is retried)
        allowed_methods=after_send or None,
        status_forcelist=RETRY_STATUSES if after_send else frozenset(),
        backoff_factor=backoff,
        backoff_max=MAX_RETRY_AFTER,
        raise_on_status=False,  # the last 5xx answer comes back, so its status can be reported
        raise_on_redirect=False,
    )


class Pool:
    """The connections to one vendor endpoint ``base_url`` (its scheme, host and port;
    requests name a path): one urllib3 connection pool, not a requests session, because a
    sync's calls are many and small (the BQN sync writes one object a call, up to 100,000 a
    run) and requests' own work per call (preparing, merging settings, cookies, hooks) was
    the largest part of a sync's CPU. ``retries`` new attempts at most (0: none), waiting
    ``backoff`` x 2^(n-1) seconds before the n-th after the first (only for
    ``retry_methods`` once a request was sent); ``verify`` checks the TLS certificate (True),
    or not (False), or against a CA bundle (its path); ``pool_size`` connections are kept
    alive, and a thread that needs one more waits for one to be free; ``timeout`` is
    (connect, read) seconds. No proxy or netrc is picked up from the environment. Every call
    is counted in the metrics as the ``vendor``'s. Answers are urllib3's responses
    (``status``, ``reason``, ``data``, ``json()``, ``retries``), read whole; failures are
    urllib3's exceptions (:class:`urllib3.exceptions.HTTPError`)."""

    def __init__(
        self,
        base_url: str,
        *,
        retries: int,
        backoff: float,
        verify: bool | str,
        pool_size: int,
        retry_methods: Collection[str],
        headers: Mapping[str, str],
        vendor: str,
        timeout: tuple[float, float],
    ) -> None:
        if verify is False:
            tls: dict[str, Any] = {"cert_reqs": "CERT_NONE"}
        else:
            tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": certifi.where() if verify is True else verify}
        if urlsplit(base_url).scheme != "https":
            tls = {}
        self._pool = urllib3.connection_from_url(
            base_url,
            maxsize=pool_size,
            block=True,
            retries=_retry(retries, backoff, retry_methods),
            headers=dict(headers),
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            **tls,
        )
        self._vendor = vendor

    def request(
        self, method: str, path: str, *, body: bytes | None, headers: Mapping[str, str] | None = None
    ) -> urllib3.BaseHTTPResponse:
        """Send ``method`` to ``path`` (absolute: it starts with /) of the endpoint, with
        ``headers`` besides the pool's own."""
        started = time.perf_counter()
        sent = {**self._pool.headers, **headers} if headers else None  # None: the pool's own
        try:
            response = self._pool.urlopen(
                method, path, body=body, headers=sent, redirect=False, assert_same_host=False
            )
        except urllib3.exceptions.HTTPError as exc:
            metrics.vendor_call(self._vendor, time.perf_counter() - started, type(cause(exc)).__name__)
            raise
        error = f"HTTP {response.status}" if response.status >= 500 else None
        metrics.vendor_call(self._vendor, time.perf_counter() - started, error)
        return response

    def close(self) -> None:
        self._pool.close()


def cause(failure: urllib3.exceptions.HTTPError) -> BaseException:
    """What made a :meth:`Pool.request` fail: the last attempt's error when the retries ran
    out (urllib3's MaxRetryError wraps it), else the failure itself."""
    if isinstance(failure, urllib3.exceptions.MaxRetryError) and failure.reason is not None:
        return failure.reason
    return failure


def tls_failed(failure: urllib3.exceptions.HTTPError) -> bool:
    """Whether a :meth:`Pool.request` failed on TLS (a certificate that does not verify),
    which no retry mends, rather than on a timeout or a refused or dropped connection."""
    return isinstance(cause(failure), urllib3.exceptions.SSLError)


def pool(base_url: str, **options: Any) -> Pool:
    """A :class:`Pool` for the endpoint ``base_url`` (the options are its own)."""
    return Pool(base_url, **options)


def check_base_url(url: str, vendor: str) -> str:
    """The base URL without a trailing slash; refuses a URL that is not http(s) or that carries
    credentials (they would show in every error message)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the {vendor} URL must be an http or https URL, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"the {vendor} URL must not carry credentials; configure them apart")
    return url.rstrip("/")


def redacted(value: Any) -> Any:
    """A copy of a JSON value with the values of :data:`SECRET_KEYS` replaced by ``***``."""
    if isinstance(value, Mapping):
        return {
            key: "***" if str(key).lower() in SECRET_KEYS else redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value


def attempts(response: urllib3.BaseHTTPResponse) -> int:
    """How many times the request of ``response`` was sent, the last one included."""
    retries = getattr(response, "retries", None)
    return 1 + (len(retries.history) if retries is not None else 0)
