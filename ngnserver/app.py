"""The WSGI application: the SOAP endpoint (default ``/ngnpro/``), its WSDL, and ``/health``.

``application`` (for gunicorn) is built from the environment on first use; tests and the
CLI build their own with ``create_app(settings)``.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from ngnserver import config, logs, metrics
from ngnserver.core import logins
from ngnserver.core.callers import authenticate
from ngnserver.core.errors import E, NGNError
from ngnserver.db import Database, Trouble, trouble
from ngnserver.models.job import Job, JobAttempt
from ngnserver.services import ALIASES, PORTS
from ngnserver.services.context import RequestContext
from ngnserver.services.types import AuthHeader
from ngnserver.soap.endpoint import Call, Invoker, SoapEndpoint
from ngnserver.soap.ports import Port, PortMap
from ngnserver.soap.wsdl import build_wsdl, encoding_schema
from ngnserver.xmlrpc.endpoint import XmlRpcEndpoint, credentials

log = logging.getLogger("ngnserver.access")
TRANSACTION_ATTEMPTS = 3  # a request the database broke off (deadlock) runs again up to this often

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
XML = "text/xml; charset=utf-8"
XMLRPC_PATH = "xmlrpc"  # under the SOAP endpoint's path: /ngnpro/xmlrpc
# (ok, response body, the call if it parsed, the error if any), as both endpoints answer
Handled = tuple[bool, bytes, Call | None, NGNError | None]


def build_port_map() -> PortMap:
    return PortMap([Port.build(name, ns, service) for name, ns, service in PORTS], ALIASES)


class NGNProApp:
    def __init__(self, settings: config.Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.sealer = settings.sealer()
        self.db = database or settings.database()
        self.ports = build_port_map()
        self.endpoint = SoapEndpoint(self.ports, AuthHeader, settings.max_request_bytes, settings.max_list_items)
        self.xmlrpc = XmlRpcEndpoint(self.ports, settings.max_request_bytes, settings.max_list_items)
        self.path = settings.endpoint_path
        self._wsdl_cache: dict[str, bytes] = {}
        self._proxies = config.TrustedProxies.parse(settings.forwarded_allow_ips)
        self._metrics_readers = config.TrustedProxies.parse(settings.metrics_allow_ips)

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "") or "/"
        query = environ.get("QUERY_STRING", "")
        if path == self.path or path + "/" == self.path:
            if method == "POST":
                return self._soap(environ, start_response)
            if method in ("GET", "HEAD") and query.lower() == "wsdl":
                return self._wsdl(environ, start_response)
            return _reply(start_response, "405 Method Not Allowed", "text/plain; charset=utf-8",
                          b"POST SOAP requests here; GET ?wsdl for the WSDL.\n", [("Allow", "GET, POST")])
        if path == self.path + XMLRPC_PATH:
            if method == "POST":
                return self._xmlrpc(environ, start_response)
            return _reply(start_response, "405 Method Not Allowed", "text/plain; charset=utf-8",
                          b"POST XML-RPC calls here (methods Port.operation; system.listMethods lists them).\n",
                          [("Allow", "POST")])  # fmt: skip
        if path == self.path + "wsdl" and method in ("GET", "HEAD"):
            return self._wsdl(environ, start_response)
        if path == self.path + "soap-encoding.xsd" and method in ("GET", "HEAD"):
            return _reply(start_response, "200 OK", XML, encoding_schema())
        if path == "/health" and method in ("GET", "HEAD"):
            return self._health(start_response)
        if path == "/metrics" and method in ("GET", "HEAD"):
            if not self._may_read_metrics(environ):
                return _reply(start_response, "403 Forbidden", "text/plain; charset=utf-8",
                              b"Metrics are for NGNSERVER_METRICS_ALLOW_IPS or NGNSERVER_METRICS_TOKEN.\n")  # fmt: skip
            body = metrics.exposition(self._jobs_by_state, self.db.health)
            return _reply(start_response, "200 OK", metrics.CONTENT_TYPE, body)
        return _reply(start_response, "404 Not Found", "text/plain; charset=utf-8", b"Not found\n")

    def _jobs_by_state(self) -> tuple[dict[Any, int], dict[Any, int]]:
        with self.db.transaction(write=False) as session:
            jobs = session.execute(select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state))
            attempts = session.execute(
                select(Job.kind, JobAttempt.outcome, func.count())
                .join(Job, Job.id == JobAttempt.job_id)
                .group_by(Job.kind, JobAttempt.outcome)
            )
            return {(k, s): n for k, s, n in jobs}, {(k, o): n for k, o, n in attempts}

    def _may_read_metrics(self, environ: dict[str, Any]) -> bool:
        token = self.settings.metrics_token
        if token and hmac.compare_digest(environ.get("HTTP_AUTHORIZATION", "").encode(), f"Bearer {token}".encode()):
            return True
        return self._metrics_readers.trusts(self.client_address(environ))

    def request_id(self, environ: dict[str, Any]) -> str:
        """The id a trusted proxy gave the request (X-Request-Id), else a new one."""
        given = environ.get("HTTP_X_REQUEST_ID", "")
        if given and len(given) <= 64 and given.isascii() and given.isprintable() and self._proxies.trusts(environ.get("REMOTE_ADDR")):
            return given
        return uuid.uuid4().hex[:16]

    def _soap(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def handle(body: bytes, invoke: Invoker) -> Handled:
            return self.endpoint.handle(body, invoke)

        return self._answer(environ, start_response, "soap", handle, self.endpoint.fault)

    def _xmlrpc(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def auth() -> dict[str, Any] | None:
            return credentials(environ.get("HTTP_AUTHORIZATION", ""), environ.get("QUERY_STRING", ""))

        def handle(body: bytes, invoke: Invoker) -> Handled:
            return self.xmlrpc.handle(body, invoke, auth)

        return self._answer(environ, start_response, "xmlrpc", handle, self.xmlrpc.fault)

    def _answer(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        transport: str,
        handle: Callable[[bytes, Invoker], Handled],
        fault: Callable[[NGNError], bytes],
    ) -> Iterable[bytes]:
        """One request of either transport: its id, its body within the limit, the call run
        by ``_invoke``, one log line and the metrics. SOAP answers a fault with 500,
        XML-RPC with 200 (each protocol's rule)."""
        started = time.perf_counter()
        request = self.request_id(environ)
        token = logs.REQUEST.set(request)  # every line logged while it runs names it
        try:
            body, too_large = _read_body(environ, self.settings.max_request_bytes)
            caller_holder: list[str] = []
            if too_large:
                ok, call = False, None
                error = NGNError(E.REQUEST_TOO_LARGE, f"The request is larger than {self.settings.max_request_bytes} bytes.")
                payload = fault(error)
            else:
                address = self.client_address(environ)
                ok, payload, call, error = handle(body, lambda c: self._invoke(c, caller_holder, address))
            port, name = (call.operation.port.name, call.operation.name) if call else (None, None)
            seconds = time.perf_counter() - started
            logs.info(
                log,
                transport,
                {
                    "operation": f"{port}.{name}" if call else None,
                    "caller": caller_holder[0] if caller_holder else None,
                    "errorcode": error.code if error else None,
                    "ms": round(seconds * 1000, 2),
                    "remote": environ.get("REMOTE_ADDR"),
                },
            )
            metrics.observe(port, name, error.code if error else None, seconds)
            status = "200 OK" if ok or transport == "xmlrpc" else "500 Internal Server Error"
            return _reply(start_response, status, XML, payload, [("X-Request-Id", request)])
        finally:
            logs.REQUEST.reset(token)

    def _invoke(self, call: Call, caller_holder: list[str], address: str | None = None) -> Any:
        """Run the call's operation, in one transaction, as the caller its auth header
        proves. A transaction the database broke off to resolve a deadlock (or a conflict
        between snapshots) wrote nothing, so it runs again, a few times."""
        operation = call.operation
        if not operation.login_required:
            return operation.function(None, *call.args)
        write = not operation.is_read_only
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with self.db.transaction(write=write) as session:
                    try:
                        caller = authenticate(session, call.auth, self.settings.admins, self.sealer, address)
                    except NGNError as exc:
                        if exc.error is not E.AUTH_FAILED:
                            raise
                        failed = exc
                    else:
                        caller_holder[:] = [caller.describe()]
                        ctx = RequestContext(caller, session, self.settings, self.sealer, self.db.backend)
                        return operation.function(ctx, *call.args)
                # outside the request's transaction, which may be read-only
                raise self._failed_login(call.auth or {}, address, failed)
            except DBAPIError as exc:
                meaning = trouble(exc)
                if meaning is Trouble.RETRY and attempt < TRANSACTION_ATTEMPTS:
                    log.info("%s.%s runs again after %s", operation.port.name, operation.name, exc.orig)
                    continue
                if meaning is Trouble.STORAGE and exc.connection_invalidated and attempt == 1:
                    continue  # on a fresh connection: the old one was opened while the file was read-only
                raise self._database_fault(operation, exc, meaning, write) from None
        raise AssertionError("unreachable")

    def _failed_login(self, auth: dict[str, Any], address: str | None, failed: NGNError) -> NGNError:
        """Count a failed login against its username and address; the fault to answer."""
        login_keys = logins.keys(str(auth.get("username") or ""), address, bool(auth.get("admin")))
        with self.db.transaction(write=True) as session:
            blocked = logins.note_failure(session, self.settings.login_brake, login_keys)
        if blocked is not None:
            log.warning("failed logins block %s for now", ", ".join(login_keys))
        return blocked or failed

    def client_address(self, environ: dict[str, Any]) -> str | None:
        """The client's address: the peer's, or the one a trusted proxy says it forwarded for
        (the last in X-Forwarded-For: the one that proxy added)."""
        peer = environ.get("REMOTE_ADDR")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded and self._proxies.trusts(peer):
            return forwarded.rsplit(",", 1)[-1].strip() or peer
        return peer

    def _database_fault(self, operation: Any, exc: DBAPIError, meaning: Trouble, write: bool) -> NGNError:
        """The Fault for a database error, logged with what the database said."""
        where = f"{operation.port.name}.{operation.name}"
        if meaning in (Trouble.UNAVAILABLE, Trouble.RETRY):
            log.error("database unavailable in %s: %s", where, exc.orig)
            return NGNError(E.DATABASE_UNAVAILABLE, "The database is unavailable; try again shortly.")
        if meaning is Trouble.STORAGE and write:
            log.error("database cannot store (%s): %s", where, exc.orig)
            self.db.note_storage_failure(str(exc.orig))
            return NGNError(
                E.DATABASE_CANNOT_STORE,
                "The database cannot store changes (it is read-only or out of space); the operator must fix it.",
            )
        log.error("database refused %s: %s", where, exc.orig)
        what = "change" if write else "request"
        return NGNError(E.INTERNAL_ERROR, f"The database refused the {what}; the fault is logged.")

    def _wsdl(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        url = self.endpoint_url(environ)
        document = self._wsdl_cache.get(url)
        if document is None:
            document = build_wsdl(self.ports, url, ("auth", AuthHeader))
            if len(self._wsdl_cache) < 64:  # bounded: Host headers are client-chosen
                self._wsdl_cache[url] = document
        return _reply(start_response, "200 OK", XML, document)

    def endpoint_url(self, environ: dict[str, Any]) -> str:
        """The endpoint's public address: configured, or as the client (or the proxy in
        front, via X-Forwarded-Proto/Host/Prefix) reached it."""
        if self.settings.public_url:
            return self.settings.public_url
        trusted = self._proxies.trusts(environ.get("REMOTE_ADDR"))

        def forwarded(name: str) -> str:
            return environ.get(name, "").split(",")[0].strip() if trusted else ""

        scheme = forwarded("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        host = forwarded("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST")
        if not host:
            host = f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        prefix = forwarded("HTTP_X_FORWARDED_PREFIX").rstrip("/") + environ.get("SCRIPT_NAME", "")
        return f"{scheme}://{host}{prefix}{self.path}"

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        problem = self.db.health()
        if problem is not None:
            log.error("health check: %s", problem)
            body = json.dumps({"status": "error", "database": problem}).encode()
            return _reply(start_response, "503 Service Unavailable", "application/json", body)
        return _reply(start_response, "200 OK", "application/json", b'{"status": "ok", "database": "ok"}')


def _read_body(environ: dict[str, Any], limit: int) -> tuple[bytes, bool]:
    """(body, too large). Keeps at most ``limit`` + 1 bytes.

    A declared body of up to twice the limit is read and thrown away, so that a client
    which writes its whole request before reading (PHP's PEAR SOAP does) gets the fault
    rather than a reset connection; a larger one is refused unread."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length > limit:
        if length <= 2 * limit:
            _discard(environ["wsgi.input"], length)
        return b"", True
    stream = environ["wsgi.input"]
    body = stream.read(length) if length >= 0 else stream.read(limit + 1)
    return body, len(body) > limit


def _discard(stream: Any, length: int, chunk: int = 64 * 1024) -> None:
    while length > 0:
        data = stream.read(min(chunk, length))
        if not data:
            return
        length -= len(data)


def _reply(
    start_response: StartResponse,
    status: str,
    content_type: str,
    body: bytes,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])]
    start_response(status, headers)
    return [body]


def create_app(settings: config.Settings | None = None) -> NGNProApp:
    """The application for these settings (or the environment's), with its state prepared."""
    from ngnserver import logs

    settings = config.prepare_state(settings or config.load())
    logs.setup(settings.log_level)
    return NGNProApp(settings)


_app: NGNProApp | None = None


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """gunicorn's entry point: ``gunicorn ngnserver.app:application``."""
    global _app
    if _app is None:
        _app = create_app()
    return _app(environ, start_response)
